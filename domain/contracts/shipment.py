"""One parcel (包裹): outbound to the customer, re-shipped, or an aftersales return.

``ShipmentWorkflow`` (id ``{owner}~S{n}``, also the carrier's idempotency key for the e-waybill)
makes the waybill, follows the carrier's pushes until the parcel is signed or comes back, raises
transit reviews when it stalls, and reports to the workflow that owns it (a fulfilment part or an
aftersales case): ``shipment_report`` when the waybill is made (and when a return is collected), its
result when it ends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from domain.contracts import Query, Signal, Update, WorkflowType
from domain.logistics import Shipment, TrackingEvent, Waybill, WaybillRequest
from domain.policy import PartPolicy
from domain.review import ReviewDecision, ReviewTask
from domain.timeline import TimelineEvent

SHIPMENT_MARK = "~S"


def shipment_id(owner_id: str, n: int) -> str:
    return f"{owner_id}{SHIPMENT_MARK}{n}"


class ShipmentStatus(StrEnum):
    WAYBILLING = "waybilling"  # asking the carrier for the e-waybill
    HELD = "held"  # the carrier refused the waybill: a person decides
    IN_TRANSIT = "in_transit"  # waybill made, parcel with the carrier
    DELIVERED = "delivered"  # signed for
    RETURNED = "returned"  # the carrier brought it back to the sender
    NOT_COLLECTED = "not_collected"  # a return the customer never handed over in time
    REFUSED = "refused"  # no waybill: the reviewer gave up on it
    STOPPED = "stopped"  # the owner no longer needs it (e.g. the return was brought in by hand)

    @property
    def final(self) -> bool:
        return self not in (ShipmentStatus.WAYBILLING, ShipmentStatus.HELD, ShipmentStatus.IN_TRANSIT)


class ShipmentInput(BaseModel):
    shipment_id: str
    order_id: str
    owner_id: str  # the part or case told about this parcel
    direction: Literal["outbound", "return"] = "outbound"
    request: WaybillRequest  # request.order_id == shipment_id: the carrier's idempotency key
    policy: PartPolicy = PartPolicy()  # review timers, console link, transit alert hours
    collect_within_days: int | None = None  # returns: no collection by then → not_collected


class ShipmentReport(BaseModel):
    """Signal ``shipment_report`` to the owner: ``waybill`` (made: the parcel is on its way out, or for
    a return, waiting to be collected), ``collected`` (a return is with the carrier), ``held`` (the
    carrier refused the waybill: a person decides) or ``resumed`` (decided, trying again)."""

    shipment_id: str
    kind: Literal["waybill", "collected", "held", "resumed"]
    waybill: Waybill | None = None
    shipped_at: datetime | None = None
    reason: str = ""


class ShipmentResult(BaseModel):
    shipment_id: str
    status: ShipmentStatus
    waybill: Waybill | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    signed_within_48h: bool = False
    reason: str = ""


class ShipmentView(BaseModel):
    shipment_id: str
    order_id: str
    owner_id: str
    direction: str
    status: ShipmentStatus
    carrier: str
    shipment: Shipment | None = None  # waybill, events, alerts once the waybill is made
    reviews: list[ReviewTask] = []
    timeline: list[TimelineEvent] = []


class StopShipment(BaseModel):
    reason: str


SHIPMENT: WorkflowType[ShipmentInput, ShipmentResult] = WorkflowType("Shipment", ShipmentInput, ShipmentResult)
TRACKING_EVENT: Signal[TrackingEvent] = Signal("tracking_event", TrackingEvent)
STOP: Signal[StopShipment] = Signal("stop", StopShipment)
SHIPMENT_REPORT: Signal[ShipmentReport] = Signal("shipment_report", ShipmentReport)  # to the owner
DECIDE_REVIEW: Update[ReviewDecision, ReviewTask] = Update("decide_review", ReviewDecision, ReviewTask)
STATE: Query[ShipmentView] = Query("state", ShipmentView)
