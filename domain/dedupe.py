"""The duplicate rule: same phone + same SKU within the window → the later order is a duplicate.

The read model stores one key per (phone, sku) with the order time; this module decides which
stored key, if any, an incoming order collides with. A person can split a merged order back out
(``Unmerge``): the order runs again under its own id, as an order of its own, without the duplicate check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel


class DedupeKey(BaseModel):
    order_id: str
    phone: str
    sku: str
    ordered_at: datetime


def dedupe_keys(order_id: str, phone: str, skus: list[str], ordered_at: datetime) -> list[DedupeKey]:
    return [DedupeKey(order_id=order_id, phone=phone, sku=s, ordered_at=ordered_at) for s in sorted(set(skus))]


def first_collision(mine: list[DedupeKey], existing: list[DedupeKey], window: timedelta) -> DedupeKey | None:
    """The earliest other order sharing phone and SKU within ``window`` of ours, or None.

    ``existing`` holds keys of orders processed before ours (merged duplicates store no keys), so
    the order that arrived first stays the anchor and every later one folds into it.
    """
    hits = [
        e
        for m in mine
        for e in existing
        if e.order_id != m.order_id
        and e.phone == m.phone
        and e.sku == m.sku
        and abs(e.ordered_at - m.ordered_at) <= window
    ]
    return min(hits, key=lambda e: (e.ordered_at, e.order_id), default=None)


class Unmerge(BaseModel):
    """Split a merged duplicate back out of its anchor: the order's workflow runs again (a new run of
    the same workflow id) after what its first run projected, so its timeline and read-model row go on."""

    anchor: str  # the order it had been merged into
    actor: str  # the signed-in person who split it
    note: str = ""
    projected_seq: int = 0  # the read-model row's last projection number from the first run
    events: int = 0  # timeline events the first run wrote

    def reason(self) -> str:
        return f"从 {self.anchor} 拆回为独立订单 (split back out of the order it was merged into)" + (
            f": {self.note}" if self.note else "")
