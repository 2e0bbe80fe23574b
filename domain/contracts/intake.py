"""Intake stage: cleansing, the duplicate check and recorded rejections (activities the order calls)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.cleansing import CleansingResult
from domain.contracts import Activity
from domain.errors import FieldError
from domain.order import OrderSubmission, ResolvedAddress


class DuplicateCheck(BaseModel):
    order_id: str
    phone: str
    skus: list[str]
    ordered_at: datetime
    window_seconds: int


class ClosedAnchorNotice(BaseModel):
    """A duplicate folded into an order whose workflow has already closed (it can no longer be
    signalled): the anchor's read-model row is marked instead."""

    anchor_order_id: str
    duplicate_order_id: str
    skus: list[str]
    at: datetime
    reason: str


class RejectionIn(BaseModel):
    source: str
    submission: OrderSubmission
    errors: list[FieldError]


CLEANSE_ORDER: Activity[OrderSubmission, CleansingResult] = Activity("cleanse_order", OrderSubmission, CleansingResult)
RESOLVE_ADDRESS: Activity[str, ResolvedAddress | None] = Activity("resolve_address", str, ResolvedAddress | None)
FIND_DUPLICATE: Activity[DuplicateCheck, str | None] = Activity("find_duplicate", DuplicateCheck, str | None)
RECORD_REJECTION: Activity[RejectionIn, int] = Activity("record_rejection", RejectionIn, int)
FLAG_CLOSED_ANCHOR: Activity[ClosedAnchorNotice, bool] = Activity("flag_closed_anchor", ClosedAnchorNotice, bool)
