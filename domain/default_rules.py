"""The default routing rules, built in code so they are reviewable in a diff, and written to
rules/default_rules.xlsx (the workbook a fresh database starts from; operations edit a copy).

Regenerate with ``python -m domain.default_rules``; the file is byte-reproducible.

Prices are chosen so the expected carrier is unambiguous: a light parcel goes ZTO (cheapest,
3 days); needing ≤ 2 days it goes JD, ≤ 1 day SF; in 杭州市余杭区 JD is suspended so ≤ 2 days
means SF; over 30 kg ZTO refuses and DEBANG (heavy goods from 30 kg, cheap per kg) wins.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from domain.catalogue import Category
from domain.regions import provinces_of
from domain.routing_rules import CHINA_TZ, Carrier, CarrierSuspension, RuleSet, ShipMode, WarehouseRule, export_workbook

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[1] / "rules" / "default_rules.xlsx"

EAST_CHINA = provinces_of("华东")  # 上海 江苏 浙江 安徽 福建 江西 山东: the national division (domain/regions.py)
SOUTH_CHINA = provinces_of("华南")  # 广东 广西 海南
DEBANG_AREA = EAST_CHINA + ["广东省", "北京市", "天津市", "河北省", "河南省", "湖北省", "湖南省"]


def build_default_rules() -> RuleSet:
    D = Decimal
    rules = [
        WarehouseRule(rule_id="R1", priority=10, provinces=["浙江省"], cities=["杭州市"], districts=["西湖区"],
                      min_amount=D("2000"), warehouse="HZ-DIRECT", ship_mode=ShipMode.DIRECT,
                      note="西湖区大额订单自营仓直发 large orders in 西湖区 ship direct from our own warehouse"),
        WarehouseRule(rule_id="R2", priority=20, provinces=["浙江省"], cities=["杭州市"], districts=["萧山区"],
                      line_unit_price_gt=D("500"), line_category=Category.ENGINE_ASSEMBLY,
                      warehouse="HZ-DIRECT", ship_mode=ShipMode.DIRECT,
                      note="萧山区单价>500的发动机总成直发 engine assemblies over ¥500 in 萧山区 ship direct"),
        WarehouseRule(rule_id="R3", priority=30, provinces=EAST_CHINA, warehouse="HZ-CLOUD", ship_mode=ShipMode.CLOUD,
                      note="华东其他订单走杭州云仓 the rest of East China: Hangzhou third-party cloud warehouse"),
        WarehouseRule(rule_id="R4", priority=40, provinces=SOUTH_CHINA, warehouse="GZ-CLOUD", ship_mode=ShipMode.CLOUD,
                      note="华南走广州云仓 South China: Guangzhou cloud warehouse"),
        WarehouseRule(rule_id="R5", priority=90,
                      note="其余地区人工分单 everything else: manual routing review (blank warehouse)"),
    ]
    carriers = [
        Carrier(code="SF", name="顺丰速运", provinces=["*"], first_weight_price=D("23"), price_per_kg=D("12"),
                sla_days=1, max_weight_kg=D("50")),
        Carrier(code="ZTO", name="中通快递", provinces=["*"], first_weight_price=D("8"), price_per_kg=D("3"),
                sla_days=3, max_weight_kg=D("30")),
        Carrier(code="JD", name="京东快递", provinces=["*"], first_weight_price=D("15"), price_per_kg=D("6"),
                sla_days=2, max_weight_kg=D("50")),
        Carrier(code="DEBANG", name="德邦快递", provinces=DEBANG_AREA, first_weight_price=D("60"), price_per_kg=D("1.5"),
                sla_days=3, min_weight_kg=D("30"), max_weight_kg=D("1000")),
    ]
    suspensions = [
        CarrierSuspension(carrier="JD", province="浙江省", city="杭州市", district="余杭区",
                          valid_from=datetime(2026, 1, 1, tzinfo=CHINA_TZ), until=datetime(2028, 1, 1, tzinfo=CHINA_TZ),
                          reason="京东余杭区站点停运 JD Express suspended in 余杭区"),
    ]
    return RuleSet(warehouse_rules=rules, carriers=carriers, suspensions=suspensions)


def write_default(path: Path = DEFAULT_RULES_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export_workbook(build_default_rules()))
    return path


if __name__ == "__main__":
    print(write_default())
