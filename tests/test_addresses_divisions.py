"""The current division table (domain/divisions.py), the one region table (domain/regions.py), and
routing rules validated against both: a rule can only name a place an order can be in."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from domain import divisions, regions
from domain.routing_rules import PROVINCES, CarrierSuspension, WarehouseRule


def test_the_table_has_every_current_county_level_unit_once():
    t = divisions.table()
    counties = [d for d in t.by_code.values() if d.level == divisions.COUNTY]
    assert len(counties) >= 2840
    assert all(len(d.code) == 6 and d.code.isdigit() for d in t.by_code.values())
    for code, name in (("330113", "临平区"), ("330114", "钱塘区"), ("330112", "临安区"), ("440311", "光明区"),
                       ("370116", "莱芜区"), ("360113", "红谷滩区"), ("350405", "沙县区"), ("350605", "长泰区"),
                       ("659012", "白杨市"), ("653228", "和康县"), ("500157", "两江新区")):
        assert t.by_code[code].name == name
    for gone in ("330185", "330103", "330104", "360105", "350402", "500105", "500112"):  # 临安市 下城 江干 湾里 梅列 江北 渝北
        assert gone not in t.by_code
    assert {d.name for d in t.by_code.values() if d.level == divisions.CITY and not d.has_children} == {
        "东莞市", "中山市", "儋州市", "嘉峪关市"}


def test_every_province_is_in_exactly_one_region():
    counts = Counter(p for ps in regions.REGIONS.values() for p in ps)
    assert set(counts) == set(PROVINCES) and set(counts.values()) == {1}
    assert {d.name for d in divisions.table().provinces()} <= set(counts)
    assert regions.provinces_of("华东") == ["上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省"]
    assert regions.region_of("山东省") == "华东" and regions.region_of(None) == regions.UNKNOWN
    assert regions.REGION_NAMES[-1] == "未知"


def test_health_and_default_rules_use_the_one_region_table():
    from domain import health
    from domain.default_rules import EAST_CHINA, SOUTH_CHINA, build_default_rules

    assert health.REGIONS is regions.REGIONS and health.region_of("江西省") == "华东"
    assert EAST_CHINA == regions.provinces_of("华东") and SOUTH_CHINA == regions.provinces_of("华南")
    r3 = next(r for r in build_default_rules().warehouse_rules if r.rule_id == "R3")
    assert set(r3.provinces) == set(regions.REGIONS["华东"])


def test_rules_accept_current_names_and_towns_standing_for_districts():
    WarehouseRule(rule_id="N1", priority=1, provinces=["浙江省"], cities=["杭州市"], districts=["临平区", "钱塘区"],
                  warehouse="HZ-DIRECT", ship_mode="direct")
    WarehouseRule(rule_id="N2", priority=2, provinces=["广东省"], cities=["东莞市"], districts=["长安镇", "虎门镇"],
                  warehouse="GZ-CLOUD", ship_mode="cloud")
    WarehouseRule(rule_id="N3", priority=3, provinces=["湖北省"], cities=["仙桃市"], districts=["仙桃市"],
                  warehouse="GZ-CLOUD", ship_mode="cloud")
    CarrierSuspension(carrier="JD", province="重庆市", city="重庆市", district="两江新区", valid_from="2026-01-01")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"province": "浙江省", "city": "杭州市", "district": "江干区"}, ["未知区县", "江干区", "上城区", "钱塘区"]),
        ({"province": "浙江省", "city": "杭州市", "district": "下城区"}, ["未知区县", "拱墅区"]),
        ({"province": "浙江省", "city": "杭州市", "district": "临安市"}, ["未知区县", "临安区"]),
        ({"province": "山东省", "city": "莱芜市"}, ["未知城市", "济南市"]),
        ({"province": "浙江省", "city": "杭州市", "district": "西湖区区"}, ["未知区县"]),
    ],
)
def test_a_suspension_naming_a_former_division_is_refused_in_chinese_with_the_current_name(kwargs, words):
    with pytest.raises(ValidationError) as exc:
        CarrierSuspension(carrier="JD", valid_from="2026-01-01", **kwargs)
    text = str(exc.value)
    assert all(w in text for w in words), text


def test_the_workbook_names_the_row_of_a_former_district():
    import io

    import openpyxl

    from domain.default_rules import build_default_rules
    from domain.routing_rules import SHEET_SUSPENSIONS, RulesWorkbookError, export_workbook, parse_workbook

    wb = openpyxl.load_workbook(io.BytesIO(export_workbook(build_default_rules())))
    ws = wb[SHEET_SUSPENSIONS]
    col = next(c.column_letter for c in ws[2] if c.value == "district")
    ws[f"{col}3"] = "江干区"
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(RulesWorkbookError) as exc:
        parse_workbook(buf.getvalue())
    [err] = exc.value.errors
    assert (err.sheet, err.row, err.column) == (SHEET_SUSPENSIONS, 3, col)
    assert "江干区" in err.message and "上城区" in err.message and "钱塘区" in err.message
