"""One warehouse's part of an order (履约包裹): supplier stock, the wave, dispatch and the parcel.

``FulfilmentWorkflow`` (id ``{order_id}~F{n}``, a child of the order) reserves supplier stock for its
supplier-sourced lines, joins its warehouse's wave and waits for pick and pack, then waits for the
order to release it (``release``: the customer confirmed, nothing holds the order), starts the parcel
(``ShipmentWorkflow``), books installation, and ends when the parcel is signed for — or it is
cancelled by the order before release. It reports every step to the order (``part_report``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from domain.contracts import Query, Signal, Update, WorkflowType
from domain.installation import Appointment
from domain.order import CleanOrder
from domain.policy import PartPolicy
from domain.review import ReviewDecision, ReviewTask
from domain.split import PartLine
from domain.supplier import Reservation
from domain.timeline import TimelineEvent

PART_MARK = "~F"


def part_id(order_id: str, n: int) -> str:
    return f"{order_id}{PART_MARK}{n}"


class PartStatus(StrEnum):
    PICKING = "picking"  # in its warehouse's wave (or reserving supplier stock)
    HELD = "held"  # a person decides (short pick, supplier out of stock, waybill refused)
    PACKED = "packed"  # packed: waiting for the order to release it
    SHIPPED = "shipped"  # waybill made, with the carrier
    DELIVERED = "delivered"
    RETURNED = "returned"  # came back to us and was not re-shipped
    HANDED_OVER = "handed_over"  # released with shipping off: handed over without a tracked parcel
    CANCELLED = "cancelled"  # by the order, before release
    REJECTED = "rejected"  # a reviewer gave up on it (no stock, no waybill)

    @property
    def final(self) -> bool:
        return self in (PartStatus.DELIVERED, PartStatus.RETURNED, PartStatus.HANDED_OVER, PartStatus.CANCELLED,
                        PartStatus.REJECTED)

    @property
    def dispatched(self) -> bool:
        return self in (PartStatus.SHIPPED, PartStatus.DELIVERED, PartStatus.RETURNED)


class FulfilmentInput(BaseModel):
    part_id: str
    order_id: str
    part_no: int
    parts: int  # how many parts the order has
    order: CleanOrder  # the order with only this part's lines (its waybill and pick list)
    lines: list[PartLine]
    warehouse: str
    carrier: str | None
    policy: PartPolicy


class PartReport(BaseModel):
    """Signal ``part_report`` to the order (and the part's result when it ends)."""

    part_id: str
    part_no: int
    status: PartStatus
    warehouse: str
    carrier: str | None = None
    wave_no: str | None = None
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    signed_within_48h: bool = False
    lines: list[PartLine] = []
    reason: str = ""


class Release(BaseModel):
    """Signal ``release`` from the order: ship now, to this address (the order as it stands)."""

    order: CleanOrder
    carrier: str | None


class Redirect(BaseModel):
    """Signal ``redirect``: the address changed before dispatch and this part keeps its warehouse."""

    order: CleanOrder
    carrier: str | None
    by: str


class CancelPart(BaseModel):
    reason: str
    by: str = "system"


class PartView(BaseModel):
    part_id: str
    order_id: str
    part_no: int
    status: PartStatus
    warehouse: str
    carrier: str | None
    lines: list[PartLine]
    wave_no: str | None = None
    shipment_ids: list[str] = []
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    reservations: list[Reservation] = []
    supplier_eta: datetime | None = None
    appointment: Appointment | None = None
    reviews: list[ReviewTask] = []
    timeline: list[TimelineEvent] = []


FULFILMENT: WorkflowType[FulfilmentInput, PartReport] = WorkflowType("Fulfilment", FulfilmentInput, PartReport)
RELEASE: Signal[Release] = Signal("release", Release)
REDIRECT: Signal[Redirect] = Signal("redirect", Redirect)
CANCEL: Signal[CancelPart] = Signal("cancel_part", CancelPart)
PART_REPORT: Signal[PartReport] = Signal("part_report", PartReport)  # to the order
DECIDE_REVIEW: Update[ReviewDecision, ReviewTask] = Update("decide_review", ReviewDecision, ReviewTask)
STATE: Query[PartView] = Query("state", PartView)
