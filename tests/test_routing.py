"""Routing against the default rules: every rule, its edges, and the carrier choice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.default_rules import build_default_rules
from domain.order import CleanLine, CleanOrder, ResolvedAddress
from domain.routing import RoutingInput, RoutingLine, compiled, decision_graph, route
from domain.routing_rules import RuleSet, WarehouseRule

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RULES = build_default_rules()


def line(price: str, category: str = "刹车片", qty: int = 1) -> RoutingLine:
    return RoutingLine(sku="SKU-1", category=category, unit_price=Decimal(price), quantity=qty)


def order(place: str, *lines: RoutingLine, kg: str = "1", sla: int | None = None, at: datetime = NOW) -> RoutingInput:
    province, city, district = place.split("/")
    return RoutingInput(province=province, city=city, district=district, lines=list(lines) or [line("100")],
                        total_weight_kg=Decimal(kg), required_sla_days=sla, ordered_at=at)


XIHU, XIAOSHAN, YUHANG = "浙江省/杭州市/西湖区", "浙江省/杭州市/萧山区", "浙江省/杭州市/余杭区"


def where(d) -> tuple:
    return d.rule_id, d.warehouse, d.ship_mode


# ---- rule 1: 西湖区 and amount ≥ 2000 → HZ-DIRECT


def test_r1_xihu_2000_ships_direct():
    d = route(RULES, order(XIHU, line("1000", qty=2)))
    assert d.matched and where(d) == ("R1", "HZ-DIRECT", "direct")
    assert "R1" in d.reason and "西湖区" in d.reason


def test_r1_not_below_2000():
    assert where(route(RULES, order(XIHU, line("1999.99")))) == ("R3", "HZ-CLOUD", "cloud")


def test_r1_only_in_xihu():
    assert where(route(RULES, order(YUHANG, line("5000"))))[0] == "R3"
    assert where(route(RULES, order("江西省/南昌市/西湖区", line("5000"))))[0] == "R3"  # same name, other city: 华东 only


# ---- rule 2: 萧山区 and a line with unit price > 500 of category 发动机总成 → HZ-DIRECT


def test_r2_xiaoshan_engine_over_500_ships_direct():
    d = route(RULES, order(XIAOSHAN, line("500.01", "发动机总成"), kg="45"))
    assert where(d) == ("R2", "HZ-DIRECT", "direct")


def test_r2_not_at_exactly_500():
    assert where(route(RULES, order(XIAOSHAN, line("500", "发动机总成"))))[0] == "R3"


def test_r2_not_for_other_categories():
    assert where(route(RULES, order(XIAOSHAN, line("800", "变速箱总成"))))[0] == "R3"


def test_r2_needs_one_line_both_expensive_and_engine():
    assert where(route(RULES, order(XIAOSHAN, line("400", "发动机总成"), line("900", "轮胎"))))[0] == "R3"
    assert where(route(RULES, order(XIAOSHAN, line("400", "发动机总成"), line("900", "发动机总成"))))[0] == "R2"


def test_r2_only_in_xiaoshan():
    assert where(route(RULES, order(YUHANG, line("9000", "发动机总成"))))[0] == "R3"


# ---- rules 3 and 4: regions to cloud warehouses; rule 5: the rest to review


@pytest.mark.parametrize("place", ["浙江省/宁波市/鄞州区", "江苏省/南京市/鼓楼区", "上海市/上海市/浦东新区", "安徽省/合肥市/蜀山区",
                                   "福建省/厦门市/思明区", "江西省/南昌市/红谷滩区", "山东省/济南市/历下区"])
def test_r3_east_china_to_hangzhou_cloud(place):
    """华东 as the national division has it (domain/regions.py): 山东, 江西 and 福建 included."""
    assert where(route(RULES, order(place))) == ("R3", "HZ-CLOUD", "cloud")


@pytest.mark.parametrize("place", ["广东省/广州市/天河区", "广东省/东莞市/长安镇", "广西壮族自治区/南宁市/青秀区", "海南省/海口市/美兰区"])
def test_r4_south_china_to_guangzhou_cloud(place):
    assert where(route(RULES, order(place))) == ("R4", "GZ-CLOUD", "cloud")


@pytest.mark.parametrize("place", ["北京市/北京市/朝阳区", "四川省/成都市/武侯区", "湖北省/武汉市/洪山区"])
def test_r5_everything_else_to_review(place):
    d = route(RULES, order(place, line("9999")))
    assert not d.matched and d.needs_review
    assert (d.rule_id, d.warehouse, d.ship_mode) == ("R5", None, None)
    assert "review" in d.reason


def test_no_rule_at_all_matches():
    rs = RuleSet(warehouse_rules=RULES.warehouse_rules[:1], carriers=RULES.carriers)
    d = route(rs, order("四川省/成都市/武侯区"))
    assert not d.matched and d.rule_id is None and "no warehouse rule" in d.reason


def test_first_hit_by_priority():
    r3_first = [r.model_copy(update={"priority": 5}) if r.rule_id == "R3" else r for r in RULES.warehouse_rules]
    rs = RULES.model_copy(update={"warehouse_rules": r3_first})
    assert where(route(rs, order(XIHU, line("2000"))))[0] == "R3"
    assert compiled(rs) is not compiled(RULES)  # different content, different decision
    assert decision_graph(rs)["nodes"][1]["content"]["hitPolicy"] == "first"


def test_compiled_once_per_content_and_version_reported():
    assert compiled(build_default_rules()) is compiled(RULES)
    d = route(RULES.model_copy(update={"version": 7}), order(XIHU))
    assert d.rule_version == 7 and "v7" in d.reason


# ---- carriers


def test_light_parcel_goes_cheapest_zto():
    d = route(RULES, order(XIHU))
    assert (d.carrier, d.freight) == ("ZTO", Decimal("8.00"))
    assert "cheapest" in d.carrier_reason and "SF: 更贵 more expensive" in d.carrier_reason
    assert "DEBANG: 低于最低重量 under min weight" in d.carrier_reason


def test_sla_two_days_goes_jd_one_day_sf():
    d = route(RULES, order(XIHU, sla=2))
    assert d.carrier == "JD" and "ZTO: 时效太慢 SLA too slow" in d.carrier_reason
    assert route(RULES, order(XIHU, sla=1)).carrier == "SF"


def test_jd_suspended_in_yuhang():
    d = route(RULES, order(YUHANG, sla=2))
    assert d.carrier == "SF"
    assert "JD: 停运 suspended in 浙江省杭州市余杭区 until 2028-01-01" in d.carrier_reason
    after = datetime(2028, 1, 1, 0, 0, tzinfo=UTC)  # 08:00 China time, suspension over
    assert route(RULES, order(YUHANG, sla=2, at=after)).carrier == "JD"
    assert route(RULES, order("浙江省/杭州市/拱墅区", sla=2)).carrier == "JD"  # only 余杭区


def test_heavy_goes_debang():
    d = route(RULES, order(XIAOSHAN, line("800", "发动机总成"), kg="40"))
    assert (d.carrier, d.freight) == ("DEBANG", Decimal("118.50"))
    assert "ZTO: 超重 over weight limit: 40 kg > 30 kg" in d.carrier_reason


def test_debang_not_serving_province():
    d = route(RULES, order("新疆维吾尔自治区/乌鲁木齐市/天山区", kg="40"))
    assert d.carrier == "JD" and "DEBANG: 不服务新疆维吾尔自治区 does not serve" in d.carrier_reason


def test_no_carrier_fits_means_review():
    d = route(RULES, order(XIHU, line("3000"), kg="60", sla=1))
    assert d.matched and d.carrier is None and d.needs_review
    assert "no eligible carrier" in d.carrier_reason
    assert {o.code for o in d.carrier_options if o.excluded} == {"SF", "ZTO", "JD", "DEBANG"}


def test_freight_first_kg_then_each_started_kg():
    sf = next(c for c in RULES.carriers if c.code == "SF")
    assert sf.freight(Decimal("0.2")) == Decimal("23.00")
    assert sf.freight(Decimal("2.3")) == Decimal("47.00")  # 23 + 2 × 12


def test_weight_from_lines_when_no_total():
    inp = RoutingInput(province="浙江省", city="杭州市", district="西湖区", ordered_at=NOW,
                       lines=[RoutingLine(sku="E", category="发动机总成", unit_price=Decimal("800"), quantity=1,
                                          weight_kg=Decimal("45"))])
    assert route(RULES, inp).carrier == "DEBANG"


def test_from_clean_order():
    clean = CleanOrder(
        order_id="order-manual-1", channel="manual", channel_order_id="1", ordered_at=NOW, customer_id="c",
        customer_name="张三", phone="+8613800000000", address_raw="x",
        address=ResolvedAddress(province="浙江省", city="杭州市", district="萧山区", adcode="330109", detail="", text="x"),
        lines=[CleanLine(line_no=1, sku="ENG", name="发动机", category="发动机总成", quantity=1, unit_price=Decimal("8000"),
                         weight_kg=Decimal("45"))],
        coupon=None, freight=Decimal("0"), paid_amount=Decimal("8000"), note="",
    )
    d = route(RULES, RoutingInput.from_order(clean))
    assert (d.rule_id, d.carrier) == ("R2", "DEBANG")


def test_route_from_many_threads():
    inputs = [order(XIHU, line("2000")), order(YUHANG, sla=2), order("北京市/北京市/朝阳区")] * 50
    expected = [(route(RULES, i).rule_id, route(RULES, i).carrier) for i in inputs]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: (lambda d: (d.rule_id, d.carrier))(route(RULES, i)), inputs))
    assert got == expected


def test_rule_with_blank_warehouse_is_a_review_rule():
    rs = RuleSet(warehouse_rules=[WarehouseRule(rule_id="ALL", priority=1, note="manual")], carriers=RULES.carriers)
    d = route(rs, order(XIHU))
    assert not d.matched and d.rule_id == "ALL" and d.carrier == "ZTO"  # carrier still suggested


def test_bench_smoke():
    import io

    from rich.console import Console
    from zhongshu_devtools.bench_routing import run

    rows = dict(run(300, console=Console(file=io.StringIO(), width=100)))
    assert rows["decisions"] == "300"
    assert sum(int(v) for k, v in rows.items() if k.startswith("rule ")) == 300
    assert {"rule R1", "rule R3", "rule R5", "carrier ZTO", "carrier DEBANG"} <= set(rows)
