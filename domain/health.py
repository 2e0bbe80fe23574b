"""The order health index (订单健康度), exactly as the field defined it, as pure arithmetic on counts.

    timeliness = on-time shipped / due to ship            × 0.4
               + signed within 48 h / shipped             × 0.3
               + exceptions answered within 15 min / exceptions × 0.3
    data       = field completeness                       × 0.5
               + orders whose status synced in < 30 s / orders measured × 0.5
    experience = customer status enquiries / orders × 100  (lower is better)

Every ratio keeps its numerator and denominator; a ratio whose denominator is 0 is **no data**
(``None``), never 0 and never a division by zero. A weighted component is only stated when *all*
its ratios have data — anything else would not be the user's formula. For a period where part of
the data is missing (e.g. before the shipping stage records anything) the component also carries
``partial``: the same weights renormalised over the ratios that do have data, clearly labelled as
such, so a dashboard can show a trend without pretending it is the index.

The overall score on the 0–100 scale the field quotes ("92.7 against a baseline of 80") is the
mean of timeliness and data ×100 (``INDEX_WEIGHTS``). The user defined the three components, not
how they combine; experience is a rate where lower is better and is reported beside the score, not
folded into it. Arithmetic is exact (``Fraction``); rounding happens only when presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, Field

from domain import regions

BASELINE = 80  # the field's baseline on the 0–100 scale
ON_TIME_WEIGHT, SIGNED_WEIGHT, ANSWERED_WEIGHT = Fraction(4, 10), Fraction(3, 10), Fraction(3, 10)
COMPLETENESS_WEIGHT, SYNC_WEIGHT = Fraction(1, 2), Fraction(1, 2)
INDEX_WEIGHTS = {"timeliness": Fraction(1, 2), "data": Fraction(1, 2)}

SIGNED_WITHIN_SECONDS = 48 * 3600
ANSWERED_WITHIN_SECONDS = 15 * 60
SYNCED_WITHIN_SECONDS = 30

NO_DATA = "no data"


class HealthCounts(BaseModel):
    """What the read model counts for one period (and channel/warehouse)."""

    orders: int = Field(0, ge=0, description="orders placed in the period")
    due: int = Field(0, ge=0, description="orders due to ship")
    shipped_on_time: int = Field(0, ge=0, description="of those, shipped by their deadline")
    shipped: int = Field(0, ge=0, description="orders shipped")
    signed_48h: int = Field(0, ge=0, description="of those, signed for within 48 h of shipping")
    exceptions: int = Field(0, ge=0, description="exceptions raised (review tasks)")
    answered_15m: int = Field(0, ge=0, description="of those, answered (decided) within 15 min")
    fields_required: int = Field(0, ge=0, description="standardized fields expected, summed over orders")
    fields_filled: int = Field(0, ge=0, description="of those, filled")
    sync_measured: int = Field(0, ge=0, description="orders whose status syncs could be timed")
    synced_30s: int = Field(0, ge=0, description="of those, every status synced in < 30 s")
    enquiries: int = Field(0, ge=0, description="status enquiries about these orders")

    def __add__(self, other: HealthCounts) -> HealthCounts:
        return HealthCounts(**{k: getattr(self, k) + getattr(other, k) for k in HealthCounts.model_fields})


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        if self.denominator == 0:
            return None
        return Fraction(self.numerator, self.denominator)

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        v = self.value
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": None if v is None else round(float(v), digits),
            "no_data": v is None,
        }


@dataclass(frozen=True)
class Component:
    """A weighted sum of ratios; ``value`` only when every ratio has data."""

    name: str
    terms: tuple[tuple[str, Fraction, Ratio], ...]  # (term name, weight, ratio)

    @property
    def value(self) -> Fraction | None:
        vals = [r.value for _, _, r in self.terms]
        known = [v for v in vals if v is not None]
        if len(known) < len(vals):
            return None
        return sum((w * v for (_, w, _), v in zip(self.terms, known, strict=True)), Fraction(0))

    @property
    def partial(self) -> Fraction | None:
        """The weights renormalised over the ratios that have data; None if none has."""
        have = [(w, r.value) for _, w, r in self.terms if r.value is not None]
        if not have:
            return None
        wsum = sum(w for w, _ in have)
        return sum((w * v for w, v in have), Fraction(0)) / wsum

    @property
    def missing(self) -> list[str]:
        return [name for name, _, r in self.terms if r.value is None]

    def as_dict(self) -> dict[str, Any]:
        v, p = self.value, self.partial
        return {
            "value": None if v is None else round(float(v), 4),
            "score": None if v is None else round(float(v * 100), 1),
            "no_data": v is None,
            "partial": None if p is None else round(float(p), 4),
            "missing": self.missing,
            "terms": {name: {"weight": float(w), **r.as_dict()} for name, w, r in self.terms},
        }


@dataclass(frozen=True)
class HealthIndex:
    counts: HealthCounts
    timeliness: Component
    data: Component
    experience_ratio: Ratio  # enquiries / orders; ×100 for the index

    @property
    def experience(self) -> Fraction | None:
        v = self.experience_ratio.value
        return None if v is None else v * 100

    @property
    def score(self) -> Fraction | None:
        """0–100: mean of timeliness and data ×100; no data unless both have data."""
        timeliness, data = self.timeliness.value, self.data.value
        if timeliness is None or data is None:
            return None
        parts = {"timeliness": timeliness, "data": data}
        return sum((INDEX_WEIGHTS[k] * v for k, v in parts.items()), Fraction(0)) * 100

    @property
    def partial_score(self) -> Fraction | None:
        parts = [(INDEX_WEIGHTS[k], c.partial) for k, c in (("timeliness", self.timeliness), ("data", self.data))]
        have = [(w, v) for w, v in parts if v is not None]
        if not have:
            return None
        return sum((w * v for w, v in have), Fraction(0)) / sum(w for w, _ in have) * 100

    def as_dict(self) -> dict[str, Any]:
        score, partial, exp = self.score, self.partial_score, self.experience
        return {
            "score": None if score is None else round(float(score), 1),
            "partial_score": None if partial is None else round(float(partial), 1),
            "baseline": BASELINE,
            "above_baseline": None if score is None else score >= BASELINE,
            "no_data": score is None,
            "timeliness": self.timeliness.as_dict(),
            "data": self.data.as_dict(),
            "experience": {
                "value": None if exp is None else round(float(exp), 2),
                "no_data": exp is None,
                "lower_is_better": True,
                **{k: v for k, v in self.experience_ratio.as_dict().items() if k in ("numerator", "denominator")},
            },
            "counts": self.counts.model_dump(),
        }


class OrderFacts(BaseModel):
    """Everything the index needs to know about one order; the store reads these, ``aggregate``
    counts them (so a hand-computed fixture is a list of these)."""

    order_id: str
    fields_required: int = 0
    fields_filled: int = 0
    due: bool = False  # reached fulfilment and its ship-by deadline has passed (or it shipped)
    shipped_on_time: bool = False
    shipped: bool = False
    signed_48h: bool = False
    exceptions: int = 0
    answered_15m: int = 0
    sync_measured: bool = False
    synced_30s: bool = False
    enquiries: int = 0


def aggregate(facts: list[OrderFacts]) -> HealthCounts:
    return HealthCounts(
        orders=len(facts),
        due=sum(f.due for f in facts),
        shipped_on_time=sum(f.due and f.shipped_on_time for f in facts),
        shipped=sum(f.shipped for f in facts),
        signed_48h=sum(f.shipped and f.signed_48h for f in facts),
        exceptions=sum(f.exceptions for f in facts),
        answered_15m=sum(min(f.answered_15m, f.exceptions) for f in facts),
        fields_required=sum(f.fields_required for f in facts),
        fields_filled=sum(min(f.fields_filled, f.fields_required) for f in facts),
        sync_measured=sum(f.sync_measured for f in facts),
        synced_30s=sum(f.sync_measured and f.synced_30s for f in facts),
        enquiries=sum(f.enquiries for f in facts),
    )


def health_index(c: HealthCounts) -> HealthIndex:
    timeliness = Component(
        "timeliness",
        (
            ("on_time_shipped", ON_TIME_WEIGHT, Ratio(c.shipped_on_time, c.due)),
            ("signed_within_48h", SIGNED_WEIGHT, Ratio(c.signed_48h, c.shipped)),
            ("exceptions_answered_15m", ANSWERED_WEIGHT, Ratio(c.answered_15m, c.exceptions)),
        ),
    )
    data = Component(
        "data",
        (
            ("field_completeness", COMPLETENESS_WEIGHT, Ratio(c.fields_filled, c.fields_required)),
            ("status_synced_30s", SYNC_WEIGHT, Ratio(c.synced_30s, c.sync_measured)),
        ),
    )
    return HealthIndex(counts=c, timeliness=timeliness, data=data, experience_ratio=Ratio(c.enquiries, c.orders))


def fmt(value: Fraction | float | None, digits: int = 1) -> str:
    """'no data' for None: what the console and the Excel export print."""
    return NO_DATA if value is None else f"{float(value):.{digits}f}"


# ---------------------------------------------------------------- regions (大区) for breakdowns

REGIONS = regions.REGIONS  # one table: domain/regions.py
region_of = regions.region_of


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None for an empty list."""
    if not values:
        return None
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))  # ceil(n·p/100), at least the first
    return s[int(k) - 1]
