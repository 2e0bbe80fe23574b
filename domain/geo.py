"""Offline geocoding to the district centroid, and the "is this point near the address" check.

No geocoding service: the centroids come from the ``cpca`` package's own table
(``cpca/resources/adcodes.csv``: adcode, name, longitude, latitude), the same data that resolved the
address. A district centroid is coarse (萧山区 is ~30 km across), so the radius is a plausibility
check — "the pin is in the right district, not in another city" — not a street-level match.

The table is read once, lazily, without importing ``cpca`` itself (pandas, jieba: heavy and not
sandbox-friendly). The first read may happen inside a workflow (an update handler checking a point):
it goes through ``io.open`` because the sandbox guards ``builtins.open`` against non-deterministic
I/O, and a read-only data file shipped with an installed package is deterministic. Calling
``load()`` at worker start keeps even that read out of workflow code.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
from functools import lru_cache

from pydantic import BaseModel

from domain.confirmation import LatLng
from domain.order import ResolvedAddress

EARTH_RADIUS_KM = 6371.0088


class PointCheck(BaseModel):
    ok: bool
    distance_km: float | None = None
    centroid: LatLng | None = None
    place: str = ""  # the name of the area whose centroid was used (萧山区)
    reason: str = ""


def _csv_path() -> str:
    spec = importlib.util.find_spec("cpca")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca package is not installed; its adcodes.csv holds the district centroids")
    return os.path.join(list(spec.submodule_search_locations)[0], "resources", "adcodes.csv")


@lru_cache(maxsize=1)
def load() -> dict[str, tuple[str, LatLng]]:
    """6-digit adcode → (name, centroid); rows without coordinates are left out."""
    table: dict[str, tuple[str, LatLng]] = {}
    with io.open(_csv_path(), encoding="utf-8", newline="") as f:  # see the module docstring
        for row in csv.DictReader(f):
            try:
                lat, lng = float(row["latitude"]), float(row["longitude"])
            except (TypeError, ValueError):
                continue
            table[row["adcode"][:6]] = (row["name"], LatLng(lat=lat, lng=lng))
    return table


def _lookup(adcode: str) -> tuple[str, LatLng] | None:
    code = "".join(ch for ch in str(adcode) if ch.isdigit())[:6]
    if len(code) < 2:
        return None
    code = code.ljust(6, "0")
    table = load()
    for candidate in (code, code[:4] + "00", code[:2] + "0000"):  # district → city → province
        if candidate in table:
            return table[candidate]
    return None


def centroid(adcode: str) -> LatLng | None:
    """The district's centroid; the city's, then the province's, when the district has none."""
    hit = _lookup(adcode)
    return hit[1] if hit else None


def place_name(adcode: str) -> str:
    hit = _lookup(adcode)
    return hit[0] if hit else ""


def distance_km(a: LatLng, b: LatLng) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def check_point(address: ResolvedAddress | None, point: LatLng, radius_km: float) -> PointCheck:
    """Is ``point`` within ``radius_km`` of the address's district centroid?

    An address we cannot place (unresolved, or an adcode without coordinates) is not held against
    the customer: the point is accepted and the reason says it was not checked.
    """
    hit = _lookup(address.adcode) if address is not None else None
    if hit is None:
        return PointCheck(ok=True, reason="地址无法离线定位,未校验距离 / address has no known centroid; distance not checked")
    name, center = hit
    place = address.district or name
    d = round(distance_km(center, point), 2)
    if d <= radius_km:
        return PointCheck(ok=True, distance_km=d, centroid=center, place=place,
                          reason=f"距{place}中心 {d:.1f} 公里,在 {radius_km:g} 公里范围内 / {d:.1f} km from {place}, within {radius_km:g} km")
    return PointCheck(
        ok=False, distance_km=d, centroid=center, place=place,
        reason=(f"所选位置距{place}中心 {d:.1f} 公里,超出 {radius_km:g} 公里,请重新选择 / "
                f"the point is {d:.1f} km from {place}, more than {radius_km:g} km: pick again"),
    )
