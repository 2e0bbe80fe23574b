"""Intake stage: cleansing, the duplicate check and recorded rejections (activities the order calls).

``INTAKE_ORDER`` is the stage in one call (orders started since 2026-12-03, ``workflows/order.py``),
with the assessment riding along for a clean order: one activity — one workflow task — where there
were six."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.cleansing import CleansingResult
from domain.contracts import Activity
from domain.contracts.assessment import Assessment
from domain.errors import FieldError
from domain.order import OrderSubmission, ResolvedAddress
from domain.risk import RiskThresholds


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


class IntakeRequest(BaseModel):
    """Cleanse; a refusal is recorded, else the duplicate check runs and the rules version is pinned."""

    submission: OrderSubmission
    source: str  # who sent it (for the recorded rejection)
    window_seconds: int  # the duplicate window
    pin_rules: bool = True  # False: the order has its version already (an un-merged duplicate)
    assess: AssessAhead | None = None  # None: the order is assessed on its own (or not at all: a replacement)


class AssessAhead(BaseModel):
    """Asked with the intake: a clean, new order with a district is assessed in the same call."""

    flags: list[str] = []
    thresholds: RiskThresholds
    rule_version: int | None = None  # the order's version when it has one already (else the one pinned now)
    redeem_coupon: bool = True  # the order's coupon, if it has one, is redeemed when nothing holds it
    check_trust: bool = False  # whether the address is a trusted repeat one (for the re-confirmation)
    despite_duplicate: bool = False  # an order split back out of a merge: assessed even though it has an anchor


class IntakeResult(BaseModel):
    cleansing: CleansingResult
    rejection_id: int | None = None  # the recorded rejection when cleansing refused the order
    anchor: str | None = None  # the order this one duplicates
    rule_version: int | None = None  # pinned for the order's routing and risk
    assessment: Assessment | None = None  # when asked and the order was clean, new and had a district


CLEANSE_ORDER: Activity[OrderSubmission, CleansingResult] = Activity("cleanse_order", OrderSubmission, CleansingResult)
RESOLVE_ADDRESS: Activity[str, ResolvedAddress | None] = Activity("resolve_address", str, ResolvedAddress | None)
FIND_DUPLICATE: Activity[DuplicateCheck, str | None] = Activity("find_duplicate", DuplicateCheck, str | None)
RECORD_REJECTION: Activity[RejectionIn, int] = Activity("record_rejection", RejectionIn, int)
FLAG_CLOSED_ANCHOR: Activity[ClosedAnchorNotice, bool] = Activity("flag_closed_anchor", ClosedAnchorNotice, bool)
INTAKE_ORDER: Activity[IntakeRequest, IntakeResult] = Activity("intake_order", IntakeRequest, IntakeResult)
