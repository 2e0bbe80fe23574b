"""The order (订单): one ``OrderWorkflow`` per channel order, id ``order-{channel}-{channel_order_id}``.

It takes the order in (cleansing, duplicates, address), assesses it (risk, coupon, routing, the split
into warehouse parts), keeps it open through its release window, then runs one ``FulfilmentWorkflow``
child per warehouse part, gates their dispatch on the customer's confirmation and on holds, and stays
open for aftersales once every part is signed for. Its messages and its one view are declared here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from domain.aftersales import AftersalesRequest, AftersalesTicket, CaseClosed
from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult, LatLng
from domain.contracts import Query, Signal, Update, WorkflowType
from domain.contracts.fulfilment import PartReport
from domain.errors import FieldError
from domain.installation import Appointment
from domain.order import CleanOrder, OrderSubmission, ResolvedAddress
from domain.policy import OrderWorkflowInput
from domain.redelivery import DeliveryVersion, VersionedSubmission
from domain.review import ReviewDecision, ReviewTask
from domain.risk import RiskHit
from domain.routing import RoutingDecision
from domain.state import Admission, CaseRef
from domain.status import OrderStatus
from domain.supplier import Reservation
from domain.timeline import TimelineEvent

OrderInput = OrderWorkflowInput


class CancelRequest(BaseModel):
    reason: str
    actor: str


class DuplicateNotice(BaseModel):
    duplicate_order_id: str
    skus: list[str]
    channel: str
    unmerged_by: str | None = None  # set: a person split this duplicate back out (no longer merged here)


class BurstNotice(BaseModel):
    """Sent by the order that tripped the burst breaker to the earlier orders of the burst."""

    by_order_id: str
    count: int
    reason: str


class Stuck(BaseModel):
    """An activity of this order kept failing past its bound; an ops task retries it."""

    activity: str
    error: str
    since: datetime
    review_id: str


class OrderRecord(BaseModel):
    """What the order workflow holds (its parts hold their own warehouse and parcel facts)."""

    order_id: str
    status: OrderStatus
    submission: OrderSubmission
    order: CleanOrder | None = None
    flags: list[str] = []
    risk_level: str = "none"
    risk_hits: list[RiskHit] = []
    merged_into: str | None = None
    merged_duplicates: list[str] = []
    errors: list[FieldError] = []
    reviews: list[ReviewTask] = []
    rule_version: int | None = None
    routing: RoutingDecision | None = None
    warehouse: str | None = None
    carrier: str | None = None
    coupon_redeemed: bool = False
    erp_doc_no: str | None = None
    replacement_of: str | None = None
    confirm_round: int = 0
    address_confirmed_at: datetime | None = None
    delivery_point: LatLng | None = None
    parts: list[PartReport] = []
    aftersales: list[CaseRef] = []
    stuck: Stuck | None = None
    deliveries: int = 0
    channel_version: DeliveryVersion | None = None  # the channel's version of the copy the order last applied
    created_at: datetime
    updated_at: datetime


class LineView(BaseModel):
    line_no: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    vehicle_model: str | None = None
    supplier: str | None = None
    needs_installation: bool = False
    weight_kg: Decimal | None = None  # per unit, as the channel gave it (carrier minimum weights)


class PartSummary(BaseModel):
    part_id: str
    part_no: int
    status: str
    warehouse: str
    carrier: str | None = None
    wave_no: str | None = None
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    lines: list[dict[str, int | str]] = []


class ShipmentSummary(BaseModel):
    shipment_id: str
    owner_id: str
    direction: str
    status: str
    carrier: str | None = None
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None


class OrderView(BaseModel):
    """The one shape of an order for people and callers: ``GET /v1/orders/{id}``, the ``state``
    query and the console. ``source`` says whether the live workflow or the read model answered."""

    order_id: str
    source: str = "workflow"
    status: OrderStatus
    channel: str
    channel_order_id: str
    customer_id: str
    customer_name: str
    phone: str
    address: ResolvedAddress | None = None
    address_raw: str = ""
    lines: list[LineView] = []
    goods_amount: Decimal | None = None
    coupon_code: str | None = None
    coupon_amount: Decimal | None = None
    freight: Decimal | None = None
    paid_amount: Decimal | None = None
    ordered_at: datetime
    created_at: datetime
    updated_at: datetime
    flags: list[str] = []
    risk_level: str = "none"
    risk_hits: list[RiskHit] = []
    merged_into: str | None = None
    merged_duplicates: list[str] = []
    errors: list[FieldError] = []
    warehouse: str | None = None
    carrier: str | None = None
    rule_version: int | None = None
    routing: RoutingDecision | None = None  # the decision (rule, carrier options and why); live view only
    erp_doc_no: str | None = None
    wave_no: str | None = None
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    replacement_of: str | None = None
    confirm_round: int = 0
    address_confirmed_at: datetime | None = None
    delivery_point: LatLng | None = None
    parts: list[PartSummary] = []
    shipments: list[ShipmentSummary] = []
    reservations: list[Reservation] = []
    appointment: Appointment | None = None
    aftersales: list[CaseRef] = []
    stuck: Stuck | None = None
    reviews: list[ReviewTask] = []
    timeline: list[TimelineEvent] = []

    def open_review(self) -> ReviewTask | None:
        return next((r for r in self.reviews if r.state == "open"), None)


class OrderOutcome(BaseModel):
    """The order workflow's result (its whole view stays available through the ``state`` query)."""

    order_id: str
    status: OrderStatus
    merged_into: str | None = None
    parts: int = 0
    waybills: list[str] = []


ORDER: WorkflowType[OrderInput, OrderOutcome] = WorkflowType("Order", OrderInput, OrderOutcome)
CANCEL: Signal[CancelRequest] = Signal("cancel", CancelRequest)
DUPLICATE_MERGED: Signal[DuplicateNotice] = Signal("duplicate_merged", DuplicateNotice)
BURST_HOLD: Signal[BurstNotice] = Signal("burst_hold", BurstNotice)
CHANNEL_REDELIVERED: Signal[VersionedSubmission] = Signal("channel_redelivered", VersionedSubmission)
AFTERSALES_CLOSED: Signal[CaseClosed] = Signal("aftersales_closed", CaseClosed)
DECIDE_REVIEW: Update[ReviewDecision, ReviewTask] = Update("decide_review", ReviewDecision, ReviewTask)
ADMIT: Update[None, Admission] = Update("admit", None, Admission)
CONFIRM_ADDRESS: Update[AddressConfirmation, ConfirmationResult] = Update(
    "confirm_address", AddressConfirmation, ConfirmationResult)
CHANGE_ADDRESS: Update[AddressChange, ConfirmationResult] = Update("change_address", AddressChange, ConfirmationResult)
REQUEST_AFTERSALES: Update[AftersalesRequest, AftersalesTicket] = Update(
    "request_aftersales", AftersalesRequest, AftersalesTicket)
STATE: Query[OrderView] = Query("state", OrderView)


def owner_of_review(review_id: str) -> str:
    """The workflow that holds a review task: ``order-…~risk-1`` → the order, ``order-…~F1~stock-1`` →
    its part, ``order-…~F1~S1~transit-1`` → that parcel, ``order-…~AS1~qc-1`` → the case."""
    return review_id.rsplit("~", 1)[0]
