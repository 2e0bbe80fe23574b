"""Logistics (物流履约): e-waybill requests, waybills, carrier tracking events and the shipment an
order workflow keeps until the parcel is signed for.

Pure (pydantic + stdlib): the activity, the webhook route, the fake carriers and the order workflow
all import it. The carrier wire signature lives here too, so both ends of every test sign alike:

    sign = hex(HMAC-SHA256(secret, app_key + timestamp + body))

with headers ``X-Carrier-AppKey``, ``X-Carrier-Timestamp`` (unix seconds) and ``X-Carrier-Sign``;
a timestamp more than 5 minutes off is refused (a replayed push is not a fresh one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain import labels

SIGNED_WITHIN = timedelta(hours=48)  # the health index's "signed within 48 h of shipping"
MAX_SIGNATURE_AGE_SECONDS = 300

HEADER_APP_KEY = "X-Carrier-AppKey"
HEADER_TIMESTAMP = "X-Carrier-Timestamp"
HEADER_SIGN = "X-Carrier-Sign"


class CarrierCode(StrEnum):
    """The routing's carrier codes (domain/default_rules.py)."""

    SF = "SF"
    ZTO = "ZTO"
    JD = "JD"
    DEBANG = "DEBANG"

    @property
    def name_zh(self) -> str:
        return CARRIER_NAMES[self]


CARRIER_NAMES = {c: labels.carrier(c) for c in CarrierCode}  # the names live in domain/labels.py

# what each carrier's waybill numbers look like (the fake issues exactly these)
WAYBILL_PATTERNS = {
    CarrierCode.SF: re.compile(r"^SF\d{12}$"),
    CarrierCode.ZTO: re.compile(r"^7\d{11}$"),
    CarrierCode.JD: re.compile(r"^JDVA\d{11}$"),
    CarrierCode.DEBANG: re.compile(r"^DPK\d{12}$"),
}


def parse_carrier(value: str) -> CarrierCode:
    """A carrier code, case-insensitively; a clear error naming the known ones otherwise."""
    try:
        return CarrierCode(str(value).strip().upper())
    except ValueError:
        raise ValueError(f"unknown carrier {value!r}; one of {', '.join(c.value for c in CarrierCode)}") from None


class WaybillError(ValueError):
    """An order that cannot be waybilled yet; the message says which field and why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------- waybill request


class Party(BaseModel):
    """Sender or receiver as the waybill prints it (full official address text)."""

    model_config = ConfigDict(str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=5, max_length=32)
    address: str = Field(min_length=4, max_length=300)
    adcode: str | None = Field(default=None, pattern=r"^\d{6}$")


class WaybillRequest(BaseModel):
    """What we ask a carrier for. ``order_id`` is the carrier's idempotency key: the same id always
    yields the same waybill (an aftersales return parcel uses its case id)."""

    model_config = ConfigDict(str_strip_whitespace=True)
    order_id: str = Field(min_length=1, max_length=100)
    carrier: CarrierCode
    direction: Literal["outbound", "return"] = "outbound"
    warehouse: str | None = Field(default=None, max_length=32)
    sender: Party
    receiver: Party
    weight_kg: Annotated[Decimal, Field(gt=0, max_digits=9, decimal_places=3)]
    parcels: int = Field(default=1, ge=1, le=99)
    items: str = Field(min_length=1, max_length=200, description="item summary printed on the label")
    declared_value: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] = Decimal("0")


# Warehouses as senders. The routing's warehouses (domain/default_rules.py) plus the ones a
# reviewer may pick by hand; an unknown warehouse is an error, never a made-up address.
WAREHOUSE_SENDERS: dict[str, Party] = {
    "HZ-DIRECT": Party(name="中枢汽配杭州自营仓", phone="0571-86001234",
                       address="浙江省杭州市西湖区三墩镇西园八路8号", adcode="330106"),
    "HZ-CLOUD": Party(name="杭州云仓(中枢汽配)", phone="0571-82805678",
                      address="浙江省杭州市萧山区经济技术开发区建设三路733号", adcode="330109"),
    "GZ-CLOUD": Party(name="广州云仓(中枢汽配)", phone="020-36781234",
                      address="广东省广州市白云区太和镇北太路1633号", adcode="440111"),
    "SH-CLOUD": Party(name="上海云仓(中枢汽配)", phone="021-69171234",
                      address="上海市嘉定区马陆镇宝安公路2999号", adcode="310114"),
    "BJ-CLOUD": Party(name="北京云仓(中枢汽配)", phone="010-80481234",
                      address="北京市顺义区空港街道裕华路28号", adcode="110113"),
}

DEFAULT_WEIGHT_KG = Decimal("1.000")  # lines without a weight: the carrier still needs one


def waybill_request_for(state: Any, *, direction: Literal["outbound", "return"] = "outbound",
                        order_id: str | None = None) -> WaybillRequest:
    """The e-waybill request of an order: ``state`` is anything with ``order`` (a CleanOrder),
    ``warehouse`` and ``carrier`` — ``OrderState`` or an aftersales case's input. The warehouse sends
    to the customer; ``direction="return"`` swaps them (``order_id`` then is the aftersales case id)."""
    o = state.order
    if o is None:
        raise WaybillError("order", "the order has not been cleansed yet")
    if o.address is None:
        raise WaybillError("order.address", "the delivery address is not resolved to province/city/district")
    if not state.carrier:
        raise WaybillError("carrier", "no carrier chosen; routing must decide one first")
    try:
        carrier = parse_carrier(state.carrier)
    except ValueError as exc:
        raise WaybillError("carrier", str(exc)) from None
    if not state.warehouse:
        raise WaybillError("warehouse", "no warehouse chosen; routing must decide one first")
    sender = WAREHOUSE_SENDERS.get(state.warehouse)
    if sender is None:
        raise WaybillError("warehouse", f"no sender address for warehouse {state.warehouse!r}; "
                                        f"known: {', '.join(sorted(WAREHOUSE_SENDERS))}")
    customer = Party(name=o.customer_name, phone=o.phone, address=o.address.text, adcode=o.address.adcode)
    weight = sum(((ln.weight_kg or Decimal("0")) * ln.quantity for ln in o.lines), Decimal("0"))
    weight = weight.quantize(Decimal("0.001")) if weight > 0 else DEFAULT_WEIGHT_KG
    items = "、".join(f"{ln.name}×{ln.quantity}" for ln in o.lines)
    if len(items) > 200:
        items = items[:197] + "…"
    return WaybillRequest(
        order_id=order_id or o.order_id,
        carrier=carrier,
        direction=direction,
        warehouse=state.warehouse,
        sender=sender if direction == "outbound" else customer,
        receiver=customer if direction == "outbound" else sender,
        weight_kg=weight,
        parcels=1,
        items=items,
        declared_value=o.goods_amount.quantize(Decimal("0.01")),
    )


class Waybill(BaseModel):
    """A carrier's e-waybill: the number to track and the label to print."""

    order_id: str
    carrier: CarrierCode
    waybill_no: str
    direction: Literal["outbound", "return"] = "outbound"
    label_url: str = ""
    label_zpl: str = ""  # ZPL for thermal printers (^CI28: UTF-8)
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def valid_waybill_no(carrier: CarrierCode | str, waybill_no: str) -> bool:
    return bool(WAYBILL_PATTERNS[parse_carrier(carrier)].match(waybill_no))


# ---------------------------------------------------------------- tracking


class TrackingCode(StrEnum):
    COLLECTED = "collected"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    OUT_FOR_DELIVERY = "out_for_delivery"
    SIGNED = "signed"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED_TO_SENDER = "returned_to_sender"
    EXCEPTION = "exception"

    @property
    def label(self) -> str:
        return TRACKING_LABELS[self]


TRACKING_LABELS = {c: labels.tracking(c) for c in TrackingCode}  # the words live in domain/labels.py
# codes that need a person even before the stall timer fires
ATTENTION_CODES = frozenset({TrackingCode.DELIVERY_FAILED, TrackingCode.RETURNED_TO_SENDER, TrackingCode.EXCEPTION})
# after these no further movement is expected: no stall timer
FINAL_CODES = frozenset({TrackingCode.SIGNED, TrackingCode.RETURNED_TO_SENDER})


class TrackingEvent(BaseModel):
    """One carrier push, as the carrier sends it and as the order workflow receives it."""

    model_config = ConfigDict(str_strip_whitespace=True)
    event_id: str = Field(min_length=1, max_length=100, description="the carrier's id; (carrier, event_id) is unique")
    carrier: CarrierCode
    waybill_no: str = Field(min_length=1, max_length=40)
    order_id: str = Field(min_length=1, max_length=100, description="the idempotency key the waybill was made with")
    code: TrackingCode
    at: datetime
    location: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=300)

    @field_validator("carrier", mode="before")
    @classmethod
    def _carrier(cls, v: Any) -> Any:
        return parse_carrier(v) if isinstance(v, str) else v

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("at needs a timezone, e.g. 2026-11-27T10:00:00+08:00")
        return v.astimezone(UTC)

    @property
    def label(self) -> str:
        return self.code.label


AlertKind = Literal["stalled", "delivery_failed", "returned_to_sender", "exception"]
# the alert each of the ATTENTION_CODES raises
_ALERT_KINDS: dict[TrackingCode, AlertKind] = {TrackingCode.DELIVERY_FAILED: "delivery_failed",
                                               TrackingCode.RETURNED_TO_SENDER: "returned_to_sender",
                                               TrackingCode.EXCEPTION: "exception"}


class TransitAlert(BaseModel):
    """Something about the parcel needs a person: it stalled, or the carrier reported a problem."""

    at: datetime
    kind: AlertKind
    reason: str
    event_id: str | None = None


class Shipment(BaseModel):
    """What the order workflow keeps from dispatch to signature (``OrderState.shipment``)."""

    waybill: Waybill
    shipped_at: datetime
    events: list[TrackingEvent] = []  # ordered by time
    last_event_at: datetime | None = None
    delivered_at: datetime | None = None
    alerts: list[TransitAlert] = []

    def apply(self, event: TrackingEvent) -> bool:
        """Add a pushed event; False (nothing changes) for a re-sent event id or another parcel's
        event. A signed event sets ``delivered_at`` (the first signature stands)."""
        if event.waybill_no != self.waybill.waybill_no or event.carrier != self.waybill.carrier:
            return False
        if any(e.event_id == event.event_id for e in self.events):
            return False
        self.events.append(event)
        self.events.sort(key=lambda e: e.at)
        self.last_event_at = max(self.last_event_at or event.at, event.at)
        if event.code == TrackingCode.SIGNED and self.delivered_at is None:
            self.delivered_at = event.at
        return True

    def alert_for(self, event: TrackingEvent) -> TransitAlert | None:
        """The alert a problem event raises (delivery failed, returned, exception), else None."""
        if event.code not in ATTENTION_CODES:
            return None
        where = f"({event.location})" if event.location else ""
        return TransitAlert(at=event.at, kind=_ALERT_KINDS[event.code], event_id=event.event_id,
                            reason=f"{self.waybill.carrier.name_zh} {self.waybill.waybill_no} {event.label}{where}"
                                   f"{': ' + event.description if event.description else ''}")

    @property
    def latest(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None

    @property
    def is_delivered(self) -> bool:
        return self.delivered_at is not None

    @property
    def is_final(self) -> bool:
        return self.is_delivered or (self.latest is not None and self.latest.code in FINAL_CODES)

    @property
    def signed_within_48h(self) -> bool:
        return self.delivered_at is not None and self.delivered_at - self.shipped_at <= SIGNED_WITHIN

    def stalled_deadline(self, hours: float) -> datetime | None:
        """When the parcel counts as stalled if nothing new arrives: ``hours`` after the last event
        (or dispatch); None once it is signed or returned."""
        if self.is_final:
            return None
        return (self.last_event_at or self.shipped_at) + timedelta(hours=hours)

    def stall_alert(self, now: datetime, hours: float) -> TransitAlert:
        since = self.last_event_at or self.shipped_at
        last = f"最后轨迹 last: {self.latest.label} {self.latest.location}".strip() if self.latest else "发货后无任何轨迹 no event since dispatch"
        return TransitAlert(at=now, kind="stalled",
                            reason=f"{self.waybill.carrier.name_zh} {self.waybill.waybill_no} 超过{hours:g}小时无物流更新 "
                                   f"no tracking event for {hours:g} h (since {since.isoformat()}); {last}")


def render_transit_alert(order_id: str, shipment: Shipment, alert: TransitAlert, console_url: str = "") -> str:
    """The WeCom markdown of an in-transit alert (the review task carries the same reason)."""
    link = f"\n[在控制台处理 open in console]({console_url.rstrip('/')}/?order_id={order_id})" if console_url else ""
    return (f"**物流异常 in-transit alert** <font color=\"warning\">{alert.kind}</font>\n"
            f"> 订单 order: {order_id}\n> 运单 waybill: {shipment.waybill.carrier.name_zh} {shipment.waybill.waybill_no}\n"
            f"> {alert.reason}{link}")


# ---------------------------------------------------------------- signature


def sign(secret: str, app_key: str, timestamp: str | int, body: bytes) -> str:
    msg = f"{app_key}{timestamp}".encode() + body
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def check_signature(secret: str, app_key: str, timestamp: str | None, body: bytes, signature: str | None,
                    *, now: float | None = None, max_age: int = MAX_SIGNATURE_AGE_SECONDS) -> str | None:
    """None when the signature is good; otherwise why not (for the 401 and the attempt log)."""
    if not secret:
        return "carrier secret not configured"
    if not timestamp or not str(timestamp).isdigit():
        return f"missing or non-numeric {HEADER_TIMESTAMP}"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > max_age:
        return f"{HEADER_TIMESTAMP} more than {max_age} s off (stale or replayed)"
    if not signature or not hmac.compare_digest(sign(secret, app_key, timestamp, body), signature.strip().lower()):
        return f"{HEADER_SIGN} does not match"
    return None


def verify(secret: str, app_key: str, timestamp: str | None, body: bytes, signature: str | None,
           *, now: float | None = None, max_age: int = MAX_SIGNATURE_AGE_SECONDS) -> bool:
    return check_signature(secret, app_key, timestamp, body, signature, now=now, max_age=max_age) is None


def signed_headers(secret: str, app_key: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if now is None else now))
    return {HEADER_APP_KEY: app_key, HEADER_TIMESTAMP: ts, HEADER_SIGN: sign(secret, app_key, ts, body),
            "Content-Type": "application/json; charset=utf-8"}


RESHIP_MARK = "~RS"  # a re-shipped parcel's idempotency key at the carrier: {order_id}~RS{n}


def reship_key(order_id: str, n: int) -> str:
    return f"{order_id}{RESHIP_MARK}{n}"


def workflow_id_of(waybill_order_id: str) -> str:
    """The workflow a carrier's event belongs to: the order (also for its re-shipped parcels) or the
    aftersales case (return parcels are waybilled under the case id, which is its workflow id)."""
    return waybill_order_id.split(RESHIP_MARK, 1)[0]
