"""Review tasks: the one mechanism by which an order waits for a person.

Address, routing and risk holds all create a ``ReviewTask`` and wait durably for a
``ReviewDecision``; validation of a decision lives here so the workflow's update validator and
the API say the same thing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain import labels


class ReviewKind(StrEnum):
    ADDRESS = "address"
    ROUTING = "routing"
    RISK = "risk"
    STOCK = "stock"  # short pick in the wave: re-pick after replenishment, another warehouse, or reject
    TRANSIT = "transit"  # no tracking event for too long: someone calls the carrier
    CARRIER = "carrier"  # the carrier refused the e-waybill: try again, another carrier, or reject
    RETURNED = "returned"  # the carrier brought the parcel back: ship again, or not
    FOLLOW_UP = "follow_up"  # a partner could not do its part (e.g. no installation slot): someone arranges it
    OPS = "ops"  # an activity kept failing past its bound (the order is stuck): approve retries it after the fix


class ReviewState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REROUTE = "reroute"  # to a named warehouse (routing/risk)
    CORRECT_ADDRESS = "correct_address"  # address reviews: a fixed address text


ALLOWED_DECISIONS: dict[ReviewKind, frozenset[Decision]] = {
    ReviewKind.ADDRESS: frozenset({Decision.CORRECT_ADDRESS, Decision.APPROVE, Decision.REJECT}),
    ReviewKind.ROUTING: frozenset({Decision.REROUTE, Decision.REJECT}),
    ReviewKind.RISK: frozenset({Decision.APPROVE, Decision.REJECT, Decision.REROUTE}),
    ReviewKind.STOCK: frozenset({Decision.APPROVE, Decision.REROUTE, Decision.REJECT}),
    ReviewKind.TRANSIT: frozenset({Decision.APPROVE}),  # acknowledged: the parcel is being chased
    ReviewKind.FOLLOW_UP: frozenset({Decision.APPROVE}),  # acknowledged: arranged by hand
    ReviewKind.RETURNED: frozenset({Decision.APPROVE, Decision.REJECT}),  # re-ship / do not
    ReviewKind.CARRIER: frozenset({Decision.APPROVE, Decision.REROUTE, Decision.REJECT}),  # retry / carrier / stop
    ReviewKind.OPS: frozenset({Decision.APPROVE, Decision.REJECT}),  # retry now / give the order up
}


class ReviewDecision(BaseModel):
    review_id: str
    decision: Decision
    reviewer: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=500)
    warehouse: str | None = Field(default=None, description="for reroute")
    carrier: str | None = Field(default=None, description="for reroute: optional carrier code (else the cheapest eligible)")
    address: str | None = Field(default=None, description="for correct_address: the fixed address text")
    override: bool = Field(default=False, description="for reroute: take this carrier although the carrier table "
                                                     "refuses it (does not serve the district, suspended there); "
                                                     "needs a note saying why, and is recorded")


class ReviewTask(BaseModel):
    review_id: str
    order_id: str
    kind: ReviewKind
    reason: str
    features: list[str] = []
    state: ReviewState = ReviewState.OPEN
    created_at: datetime
    escalated_at: datetime | None = None
    red_at: datetime | None = None
    decided_at: datetime | None = None
    decision: Decision | None = None
    reviewer: str | None = None
    note: str | None = None


class InvalidDecision(ValueError):
    pass


class UnknownReview(InvalidDecision):
    """The order has no review of that id (the API answers 404, not 409)."""


def already_decided(review_id: str, decision: str | None, reviewer: str | None, kind: str | None = None) -> str:
    """The refusal of a second decision, Chinese first (what the first one was, and by whom)."""
    first = f": {labels.decision(decision, kind)} ({decision}), {reviewer}" if decision else ""
    return f"审核任务已处理{first} — review {review_id} is already decided" + (f" ({decision} by {reviewer})" if decision else "")


def validate_decision(task: ReviewTask | None, d: ReviewDecision) -> None:
    """Raise InvalidDecision with a message a reviewer can act on (Chinese first, the codes after)."""
    if task is None:
        raise UnknownReview(f"审核任务不存在或不属于本订单 — review {d.review_id} does not belong to this order")
    if task.state == ReviewState.DECIDED:
        raise InvalidDecision(already_decided(d.review_id, task.decision, task.reviewer, task.kind))
    if task.state != ReviewState.OPEN:
        raise InvalidDecision(f"审核任务{labels.review_state(task.state)} — review {d.review_id} is already {task.state}")
    if d.decision not in ALLOWED_DECISIONS[task.kind]:
        allowed = sorted(ALLOWED_DECISIONS[task.kind])
        said = "、".join(f"{labels.decision(a, task.kind)} ({a})" for a in allowed)
        raise InvalidDecision(f"{labels.review_kind(task.kind)}不能选「{labels.decision(d.decision)}」, 可选: {said} — "
                              f"{d.decision} is not a decision for a {task.kind} review; use one of: {', '.join(allowed)}")
    if d.decision == Decision.REROUTE and task.kind == ReviewKind.CARRIER:
        if not (d.carrier and d.carrier.strip()):
            raise InvalidDecision("换承运商需要指定承运商 (SF, ZTO, JD, DEBANG) — reroute of a refused e-waybill needs the other carrier")
    elif d.decision == Decision.REROUTE and not (d.warehouse and d.warehouse.strip()):
        raise InvalidDecision("改派需要指定目标仓库 (warehouse) — reroute needs the target warehouse")
    if d.decision == Decision.REROUTE and d.override and not (d.carrier and d.note.strip()):
        raise InvalidDecision("强制指定承运商需要写明承运商和原因 an override needs the carrier and a note saying why")
    if d.decision == Decision.CORRECT_ADDRESS and not (d.address and d.address.strip()):
        raise InvalidDecision("更正地址需要填写新的地址 (address) — correct_address needs the corrected address text")
