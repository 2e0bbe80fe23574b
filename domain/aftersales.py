"""Aftersales (售后联动): exchange, return, refund-only and reissue cases opened on a shipped order.

Pure: the request and its validation against what was ordered, the case's statuses and state, the
exact refund amount (integer fen, the order's own coupon/freight allocation) and the replacement
order an exchange or reissue sends. ``OrderWorkflow`` and ``AftersalesWorkflow`` both import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain import labels
from domain.allocation import AllocationError, allocate, allocate_order, from_fen, to_fen
from domain.errors import FieldError
from domain.order import AddressIn, CleanLine, CleanOrder, Customer, LineIn, OrderSubmission, order_id_for
from domain.policy import OrderPolicy


class AftersalesType(StrEnum):
    EXCHANGE = "exchange"
    RETURN = "return"
    REFUND_ONLY = "refund_only"
    REISSUE = "reissue"

    @property
    def label(self) -> str:
        return TYPE_LABELS[self]

    @property
    def needs_return(self) -> bool:
        """The customer sends goods back first (and the warehouse checks them)."""
        return self in (AftersalesType.EXCHANGE, AftersalesType.RETURN)

    @property
    def refunds(self) -> bool:
        return self in (AftersalesType.RETURN, AftersalesType.REFUND_ONLY)

    @property
    def replaces(self) -> bool:
        return self in (AftersalesType.EXCHANGE, AftersalesType.REISSUE)


TYPE_LABELS = {t: labels.aftersales_type(t) for t in AftersalesType}  # the words live in domain/labels.py


class CaseStatus(StrEnum):
    AWAITING_RETURN = "awaiting_return"
    RETURN_IN_TRANSIT = "return_in_transit"
    QC_PENDING = "qc_pending"
    REFUNDING = "refunding"
    REPLACEMENT_SENT = "replacement_sent"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def terminal(self) -> bool:
        return self in (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.CANCELLED)


STATUS_LABELS = {s: labels.case_status(s) for s in CaseStatus}  # the words live in domain/labels.py


def initial_status(kind: AftersalesType) -> CaseStatus:
    """The status a new case is in when the order answers the request."""
    if kind.needs_return:
        return CaseStatus.AWAITING_RETURN
    return CaseStatus.REFUNDING if kind == AftersalesType.REFUND_ONLY else CaseStatus.REPLACEMENT_SENT


class AftersalesLine(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=100000)


class AftersalesRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    type: AftersalesType
    lines: list[AftersalesLine] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500, description="why, in the customer's words, e.g. 刹车片异响")
    requested_by: str = Field(default="api", min_length=1, max_length=64)


class AftersalesTicket(BaseModel):
    """The order's answer to a request: a case opened, or (not shipped yet) the order cancelled."""

    case_id: str
    order_id: str
    kind: Literal["cancellation", "aftersales"]
    workflow_id: str  # the case's AftersalesWorkflow, or the order itself for a cancellation
    status: str  # CaseStatus for a case, the order's status for a cancellation
    message: str = ""


class CaseClosed(BaseModel):
    """Signal ``aftersales_closed`` from a case to its order: the units of a cancelled or rejected
    case are free again (for later requests and refunds)."""

    case_id: str
    status: str


class QcVerdict(BaseModel):
    """The warehouse's quality check of the returned parcel (待质检 → passed or failed)."""

    model_config = ConfigDict(str_strip_whitespace=True)
    passed: bool
    inspector: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=300)


class CaseEvent(BaseModel):
    at: datetime
    event: str  # machine name, e.g. return.signed, qc.passed, refund.recorded
    status: str  # the case status after the event
    actor: str = "system"
    reason: str = ""


class AftersalesInput(BaseModel):
    case_id: str  # also the workflow id: {order_id}~AS{n}
    order: CleanOrder  # the original order as cleansed
    request: AftersalesRequest
    warehouse: str | None = None  # where returns go back to (the original order's warehouse)
    carrier: str | None = None  # the carrier that collects the return parcel
    policy: OrderPolicy = OrderPolicy()  # for the replacement order of an exchange/reissue
    return_deadline_days: int = Field(default=7, ge=1, le=90)
    already_refunded: dict[str, int] = {}  # SKU → units refunded by earlier cases of the order


class AftersalesState(BaseModel):
    case_id: str
    order_id: str
    type: AftersalesType
    status: CaseStatus
    lines: list[AftersalesLine]
    reason: str
    requested_by: str
    customer_id: str
    refund_amount: Decimal | None = None
    refund_no: str | None = None
    replacement_order_id: str | None = None
    return_waybill_no: str | None = None
    return_carrier: str | None = None
    qc: QcVerdict | None = None
    timeline: list[CaseEvent] = []
    created_at: datetime
    updated_at: datetime


def case_id_for(order_id: str, n: int) -> str:
    return f"{order_id}~AS{n}"


def order_id_of_case(case_id: str) -> str:
    return case_id.rpartition("~")[0]


# ---------------------------------------------------------------- validation


class _Line(Protocol):
    @property
    def sku(self) -> str: ...

    @property
    def quantity(self) -> int: ...


class Ordered(Protocol):
    """What a request is checked against: a cleansed order, or an order's view."""

    @property
    def order_id(self) -> str: ...

    @property
    def lines(self) -> Sequence[_Line]: ...


def ordered_quantities(order: Ordered) -> dict[str, int]:
    out: dict[str, int] = {}
    for ln in order.lines:
        out[ln.sku] = out.get(ln.sku, 0) + ln.quantity
    return out


def validate_request(order: Ordered, req: AftersalesRequest, already_requested: dict[str, int]) -> list[FieldError]:
    """Every requested SKU was ordered, and no more units than ordered minus earlier cases."""
    ordered = ordered_quantities(order)
    asked: dict[str, int] = {}
    errors: list[FieldError] = []
    for i, ln in enumerate(req.lines):
        if ln.sku not in ordered:
            errors.append(FieldError(
                field=f"lines[{i}].sku",
                message=f"订单 {order.order_id} 中没有 SKU {ln.sku} (ordered: {', '.join(sorted(ordered))})",
            ))
            continue
        earlier = already_requested.get(ln.sku, 0)
        left = ordered[ln.sku] - earlier - asked.get(ln.sku, 0)
        if ln.quantity > left:
            errors.append(FieldError(
                field=f"lines[{i}].quantity",
                message=f"{ln.sku} 最多还可申请 {max(left, 0)} 件: ordered {ordered[ln.sku]}, "
                f"earlier aftersales {earlier}" + (f", earlier lines of this request {asked[ln.sku]}" if asked.get(ln.sku) else ""),
            ))
            continue
        asked[ln.sku] = asked.get(ln.sku, 0) + ln.quantity
    return errors


def requested_quantities(cases: list[tuple[AftersalesType | str, str, list[AftersalesLine]]]) -> dict[str, int]:
    """Units already claimed by earlier cases: (type, status, lines); closed-without-effect cases
    (cancelled: nothing came back; rejected: QC failed) free their units again."""
    out: dict[str, int] = {}
    for _kind, status, lines in cases:
        if status in (CaseStatus.CANCELLED, CaseStatus.REJECTED):
            continue
        for ln in lines:
            out[ln.sku] = out.get(ln.sku, 0) + ln.quantity
    return out


# ---------------------------------------------------------------- money


def _unit_shares(order: CleanOrder) -> tuple[dict[str, list[int]], int]:
    """Per SKU, what each ordered unit cost the customer in fen (goods − its coupon share), in line
    order, split exactly (largest remainder); and the freight in fen."""
    goods = [(ln.line_no, max(to_fen(ln.unit_price), 0) * ln.quantity) for ln in order.lines]
    coupon = to_fen(order.coupon.amount) if order.coupon else 0
    try:
        alloc = allocate_order(goods, min(coupon, sum(g for _, g in goods)), 0)
        nets = [la.goods_fen - la.coupon_fen for la in alloc.lines]
    except AllocationError:
        nets = [g for _, g in goods]
    units: dict[str, list[int]] = {}
    for ln, net in zip(order.lines, nets, strict=True):
        units.setdefault(ln.sku, []).extend(allocate(net, [1] * ln.quantity))
    return units, to_fen(order.freight)


def refund_fen_for(order: CleanOrder, lines: list[AftersalesLine], already_refunded: dict[str, int] | None = None) -> int:
    """The refund in fen. Units are taken in line order after those refunded earlier, each at what
    it cost after its coupon share; the freight comes back with the case that refunds the last
    unit. The refunds of all cases of an order therefore sum to the amount paid, to the fen."""
    already = dict(already_refunded or {})
    units, freight = _unit_shares(order)
    total = 0
    for ln in lines:
        shares = units.get(ln.sku, [])
        start = already.get(ln.sku, 0)
        total += sum(shares[start:start + ln.quantity])
        already[ln.sku] = start + ln.quantity
    if all(already.get(sku, 0) >= len(shares) for sku, shares in units.items()):
        total += freight
    return min(total, to_fen(order.paid_amount))


def refund_amount_for(order: CleanOrder, lines: list[AftersalesLine], already_refunded: dict[str, int] | None = None) -> Decimal:
    """``refund_fen_for`` in yuan (two places)."""
    return from_fen(refund_fen_for(order, lines, already_refunded))


# ---------------------------------------------------------------- replacement order


def replacement_channel_order_id(channel_order_id: str, case_id: str) -> str:
    """``<original>-AS1``; shortened with a hash when the channel's limit (64) would be passed."""
    suffix = case_id.rpartition("~")[2] or "AS"
    out = f"{channel_order_id}-{suffix}"
    if len(out) <= 64:
        return out
    digest = hashlib.sha1(channel_order_id.encode()).hexdigest()[:8]
    return f"{channel_order_id[:64 - len(suffix) - 10]}-{digest}-{suffix}"


def replacement_order_id(order: CleanOrder, case_id: str) -> str:
    return order_id_for(order.channel, replacement_channel_order_id(order.channel_order_id, case_id))


def replacement_submission(
    order: CleanOrder, case_id: str, lines: list[AftersalesLine], at: datetime | None = None,
    kind: AftersalesType = AftersalesType.EXCHANGE,
) -> OrderSubmission:
    """The new fulfilment of an exchange/reissue: same customer and address, the requested units at
    their original prices, nothing to pay (paid_amount 0: the customer paid on the original)."""
    by_sku: dict[str, CleanLine] = {}
    for ln in order.lines:
        by_sku.setdefault(ln.sku, ln)
    new_lines = []
    for wanted in lines:
        src = by_sku[wanted.sku]
        new_lines.append(LineIn(
            sku=src.sku, name=src.name, category=src.category, quantity=wanted.quantity, unit_price=src.unit_price,
            vehicle_model=src.vehicle_model, weight_kg=src.weight_kg, needs_installation=src.needs_installation,
            supplier=src.supplier,
        ))
    if order.address is not None:
        a = order.address
        address = AddressIn(province=a.province, city=a.city, district=a.district, detail=a.detail)
    else:
        address = AddressIn(raw=order.address_raw)
    return OrderSubmission(
        channel=order.channel,
        channel_order_id=replacement_channel_order_id(order.channel_order_id, case_id),
        ordered_at=at or order.ordered_at,
        customer=Customer(id=order.customer_id, name=order.customer_name, phone=order.phone),
        address=address,
        lines=new_lines,
        coupon=None,
        freight=Decimal("0"),
        paid_amount=Decimal("0"),
        note=f"{kind.label} for {order.order_id} ({case_id})"[:500],
    )
