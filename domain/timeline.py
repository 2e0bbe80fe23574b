"""Timeline events: the order's life trajectory, each with when, what, who and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class TimelineEvent(BaseModel):
    seq: int  # per order, from 1; with the order id it is the read model's idempotency key
    at: datetime
    event: str  # machine name, e.g. status.validated, review.opened, duplicate.merged
    status: str  # order status after the event
    actor: str  # system, a reviewer's name, a channel, a device
    reason: str = ""
    data: dict[str, Any] = {}
    source: str = ""  # the workflow that recorded it, when not the order itself (a part, a parcel)
