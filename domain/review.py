"""Review tasks: the one mechanism by which an order waits for a person.

Address, routing and risk holds all create a ``ReviewTask`` and wait durably for a
``ReviewDecision``; validation of a decision lives here so the workflow's update validator and
the API say the same thing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


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


def validate_decision(task: ReviewTask | None, d: ReviewDecision) -> None:
    """Raise InvalidDecision with a message a reviewer can act on."""
    if task is None:
        raise InvalidDecision(f"review {d.review_id} does not belong to this order")
    if task.state != ReviewState.OPEN:
        raise InvalidDecision(
            f"review {d.review_id} is already {task.state}"
            + (f" ({task.decision} by {task.reviewer})" if task.decision else "")
        )
    if d.decision not in ALLOWED_DECISIONS[task.kind]:
        allowed = ", ".join(sorted(ALLOWED_DECISIONS[task.kind]))
        raise InvalidDecision(f"{d.decision} is not a decision for a {task.kind} review; use one of: {allowed}")
    if d.decision == Decision.REROUTE and task.kind == ReviewKind.CARRIER:
        if not (d.carrier and d.carrier.strip()):
            raise InvalidDecision("reroute of a refused e-waybill needs the other carrier (SF, ZTO, JD, DEBANG)")
    elif d.decision == Decision.REROUTE and not (d.warehouse and d.warehouse.strip()):
        raise InvalidDecision("reroute needs the target warehouse")
    if d.decision == Decision.REROUTE and d.override and not (d.carrier and d.note.strip()):
        raise InvalidDecision("强制指定承运商需要写明承运商和原因 an override needs the carrier and a note saying why")
    if d.decision == Decision.CORRECT_ADDRESS and not (d.address and d.address.strip()):
        raise InvalidDecision("correct_address needs the corrected address text")
