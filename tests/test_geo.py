"""Offline geocoding to the district centroid (cpca's adcodes.csv) and the distance check."""

from __future__ import annotations

import pytest

from domain import geo
from domain.confirmation import LatLng
from domain.order import ResolvedAddress

XIAOSHAN = ResolvedAddress(province="浙江省", city="杭州市", district="萧山区", adcode="330109000000",
                           detail="北干街道金城路1号", text="浙江省杭州市萧山区北干街道金城路1号")


def test_xiaoshan_centroid():
    c = geo.centroid("330109")
    assert c is not None and c.lat == pytest.approx(30.18, abs=0.01) and c.lng == pytest.approx(120.26, abs=0.01)
    assert geo.centroid("330109000000") == c  # cpca's 12-digit form
    assert geo.place_name("330109") == "萧山区"


def test_prefix_fallbacks():
    assert geo.centroid("330199") == geo.centroid("330100")  # unknown district → 杭州市
    assert geo.place_name("330199") == "杭州市"
    assert geo.centroid("339999") == geo.centroid("330000")  # unknown city → 浙江省
    # a district row without coordinates (贵州遵义 市辖区) falls back to its city
    assert geo.centroid("520301") == geo.centroid("520300") is not None
    assert geo.centroid("990101") is None and geo.centroid("") is None and geo.centroid("x") is None


def test_distance():
    beijing, shanghai = LatLng(lat=39.9042, lng=116.4074), LatLng(lat=31.2304, lng=121.4737)
    assert geo.distance_km(beijing, shanghai) == pytest.approx(1067, abs=10)
    assert geo.distance_km(shanghai, shanghai) == 0
    assert geo.distance_km(LatLng(lat=0, lng=0), LatLng(lat=0, lng=1)) == pytest.approx(111.2, abs=0.2)


def test_check_point_near_and_far():
    near = geo.check_point(XIAOSHAN, LatLng(lat=30.20, lng=120.28), 15)
    assert near.ok and near.distance_km < 3 and near.place == "萧山区"
    far = geo.check_point(XIAOSHAN, LatLng(lat=31.23, lng=121.47), 15)  # 上海
    assert not far.ok and far.distance_km > 150
    assert "萧山区" in far.reason and "重新选择" in far.reason and "pick again" in far.reason
    assert far.centroid == geo.centroid("330109")


def test_check_point_without_centroid_is_not_held_against_the_customer():
    nowhere = XIAOSHAN.model_copy(update={"adcode": "990101"})
    chk = geo.check_point(nowhere, LatLng(lat=1, lng=1), 15)
    assert chk.ok and chk.distance_km is None and "not checked" in chk.reason
    assert geo.check_point(None, LatLng(lat=1, lng=1), 15).ok
