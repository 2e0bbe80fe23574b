"""Two deliveries of the same channel order: which is newer, and what changed.

A channel re-sends an order the customer edited; it also re-sends *old* copies (a push retried late,
an overlapping sync window). ``freshness`` decides, from the channel's own update time / version,
whether a delivery is newer than the one the order already has — the caller applies it before it
signals the order, so a late copy never reverts newer data. ``changes`` says, in words a person
reads, what differs; the order workflow applies an address change before dispatch and puts the rest
on the timeline for a person.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, Field

from domain.order import OrderSubmission


class DeliveryVersion(BaseModel):
    """What the channel says about how new its copy of an order is: its update time (Douyin
    ``update_time``, Tmall ``modified``) and, where the channel numbers its changes, a version."""

    updated_at: datetime | None = None
    version: int | None = None

    @property
    def known(self) -> bool:
        return self.updated_at is not None or self.version is not None

    def text(self) -> str:
        parts = []
        if self.updated_at is not None:
            parts.append(f"update_time {self.updated_at.isoformat()}")
        if self.version is not None:
            parts.append(f"version {self.version}")
        return ", ".join(parts) or "unknown"


class Freshness(StrEnum):
    NEWER = "newer"  # apply it
    SAME = "same"  # the copy the order already has: nothing to apply
    OLDER = "older"  # a late copy: never applied
    UNKNOWN = "unknown"  # the channel gives no version: compare contents as before


def freshness(incoming: DeliveryVersion | None, current: DeliveryVersion | None) -> Freshness:
    """Is ``incoming`` newer than ``current`` (what the order already has)?

    The version decides when both carry one, else the update time. No version on either side →
    UNKNOWN (the caller falls back to comparing contents). An incoming copy without a version after
    a versioned one cannot be placed in time → UNKNOWN as well."""
    if incoming is None or not incoming.known:
        return Freshness.UNKNOWN
    if current is None or not current.known:
        return Freshness.NEWER
    if incoming.version is not None and current.version is not None:
        return _compared(incoming.version, current.version)
    if incoming.updated_at is not None and current.updated_at is not None:
        return _compared(incoming.updated_at, current.updated_at)
    return Freshness.UNKNOWN


_Ordered = TypeVar("_Ordered", int, datetime)


def _compared(a: _Ordered, b: _Ordered) -> Freshness:
    return Freshness.NEWER if a > b else Freshness.SAME if a == b else Freshness.OLDER


class VersionedSubmission(OrderSubmission):
    """An ``OrderSubmission`` with the channel's version of it: what ``channel_redelivered`` carries.

    A subclass so an order workflow that reads the signal as a plain ``OrderSubmission`` ignores the
    extra field, and one that reads it as this model can refuse an older copy itself (see
    ``freshness``)."""

    channel_version: DeliveryVersion | None = Field(default=None, description="the channel's update time / version")


class Change(BaseModel):
    field: str
    before: str
    after: str

    def text(self) -> str:
        return f"{self.field}: {self.before or '-'} → {self.after or '-'}"


def _lines(sub: OrderSubmission) -> str:
    return ", ".join(f"{ln.sku}×{ln.quantity}" for ln in sub.lines)


def changes(before: OrderSubmission, after: OrderSubmission) -> list[Change]:
    """Differences that matter to fulfilment or money, in a stable order (address first)."""
    pairs = [
        ("address", before.address.as_text(), after.address.as_text()),
        ("customer.name", before.customer.name, after.customer.name),
        ("customer.phone", before.customer.phone, after.customer.phone),
        ("lines", _lines(before), _lines(after)),
        ("paid_amount", str(before.paid_amount), str(after.paid_amount)),
        ("coupon", before.coupon.code if before.coupon else "", after.coupon.code if after.coupon else ""),
        ("note", before.note, after.note),
    ]
    return [Change(field=f, before=b, after=a) for f, b, a in pairs if b.strip() != a.strip()]
