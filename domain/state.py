"""The order's live state as its workflow holds it: what a query returns and what the read model
projects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.errors import FieldError
from domain.order import CleanOrder, OrderSubmission
from domain.review import ReviewTask
from domain.risk import RiskHit
from domain.routing import RoutingDecision
from domain.status import OrderStatus
from domain.timeline import TimelineEvent


class OrderState(BaseModel):
    order_id: str
    status: OrderStatus
    submission: OrderSubmission
    order: CleanOrder | None = None
    flags: list[str] = []
    risk_level: str = "none"
    merged_into: str | None = None
    merged_duplicates: list[str] = []
    errors: list[FieldError] = []
    reviews: list[ReviewTask] = []
    timeline: list[TimelineEvent] = []
    warehouse: str | None = None
    carrier: str | None = None
    rule_version: int | None = None  # pinned at first routing; reroutes use the same version
    routing: RoutingDecision | None = None
    risk_hits: list[RiskHit] = []
    coupon_redeemed: bool = False
    erp_doc_no: str | None = None  # the ERP's sales order number once pushed
    deliveries: int = 0  # how many times the channel delivered this order (idempotent intake)
    created_at: datetime
    updated_at: datetime

    def open_review(self) -> ReviewTask | None:
        return next((r for r in self.reviews if r.state == "open"), None)


class Admission(BaseModel):
    """The answer to a delivery: which order, in what state, and whether it was new."""

    order_id: str
    status: OrderStatus
    created: bool
    merged_into: str | None = None
    errors: list[FieldError] = []
