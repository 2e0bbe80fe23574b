"""The order's live state as its workflow holds it: what a query returns and what the read model
projects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.aftersales import AftersalesLine
from domain.confirmation import LatLng
from domain.errors import FieldError
from domain.installation import Appointment
from domain.logistics import Shipment
from domain.order import CleanOrder, OrderSubmission
from domain.review import ReviewTask
from domain.risk import RiskHit
from domain.routing import RoutingDecision
from domain.status import OrderStatus
from domain.supplier import Reservation
from domain.timeline import TimelineEvent


class CaseRef(BaseModel):
    """An aftersales case of this order (its own AftersalesWorkflow, a child of the order)."""

    case_id: str
    type: str
    lines: list[AftersalesLine]
    opened_at: datetime
    status: str = "open"  # the case's final status once it closed (cancelled/rejected free the units)


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
    wave_no: str | None = None  # the warehouse wave that picked it (B26-07 style)
    replacement_of: str | None = None  # an exchange/reissue: the original order
    confirm_round: int = 0  # confirmation cards sent for successive addresses (0: none yet)
    address_confirmed_at: datetime | None = None
    delivery_point: LatLng | None = None  # where the customer said the parcel goes
    reservations: list[Reservation] = []  # supplier stock held for supplier-sourced lines
    supplier_eta: datetime | None = None  # when the supplier-sourced lines are expected
    shipment: Shipment | None = None  # e-waybill and tracking
    earlier_shipments: list[Shipment] = []  # parcels the carrier brought back (re-shipped since)
    appointment: Appointment | None = None  # installation technician
    aftersales: list[CaseRef] = []
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
