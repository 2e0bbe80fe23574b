"""On-site installation (预约上门安装), the pure part: kit lines for the pick list, the delivery ETA a
technician can be booked after, the work-order request, the appointment and the customer's notice.

No I/O here: the order workflow (sandboxed) builds the request and the notice, the
``book_installation`` activity sends the request to the technician app.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel, Field, field_validator

from domain.catalogue import Category
from domain.order import CleanOrder
from domain.warehouse import CN_TZ, WaveLine, WaveOrder

KIT_NOTE = "随货附安装套件"
KIT_PREFIX = "KIT-"

# carrier → days from ship to delivery within one province; another province adds a day
_TRANSIT_DAYS = {"SF": 1, "JD": 1, "ZTO": 2, "DEBANG": 3}
_DEFAULT_TRANSIT_DAYS = 3  # a carrier we have no figure for: assume the slow end
DELIVERY_HOUR = time(12, 0)  # parcels are out for delivery in the morning: book from the afternoon
DEFAULT_ORIGIN_PROVINCE = "浙江省"  # our warehouses are in Hangzhou


# ---------------------------------------------------------------- kit lines for the warehouse


def _category_code(category: str) -> str:
    """'刹车片' → BRAKE_PADS; a category outside the catalogue keeps its own (upper-cased) text."""
    try:
        return Category(category).name
    except ValueError:
        for c in Category:
            if category in (c.name, c.name.lower()):
                return c.name
        return category.strip().upper() or Category.ACCESSORY.name


def kit_sku(category: str) -> str:
    return f"{KIT_PREFIX}{_category_code(category)}"


def installation_kit_lines(order: CleanOrder) -> list[WaveLine]:
    """One installation kit per installed line (kits of one category summed into one pick line)."""
    kits: dict[str, WaveLine] = {}
    for line in order.lines:
        if not line.needs_installation:
            continue
        category = str(getattr(line.category, "value", line.category))
        sku = kit_sku(category)
        if sku in kits:
            kits[sku].quantity += 1
        else:
            kits[sku] = WaveLine(sku=sku, name=f"安装套件({category})", category=Category.ACCESSORY.value,
                                 quantity=1, note=KIT_NOTE)
    return list(kits.values())


def with_installation_kits(wave_order: WaveOrder, order: CleanOrder) -> WaveOrder:
    """The order's wave entry with its kit lines added (unchanged when nothing is installed or the
    kits are already there, so calling it twice is harmless)."""
    have = {ln.sku for ln in wave_order.lines}
    kits = [k for k in installation_kit_lines(order) if k.sku not in have]
    if not kits:
        return wave_order
    note = wave_order.note if KIT_NOTE in wave_order.note else "；".join(p for p in (wave_order.note, KIT_NOTE) if p)
    return wave_order.model_copy(update={"lines": [*wave_order.lines, *kits], "note": note})


def needs_installation(order: CleanOrder) -> bool:
    return any(line.needs_installation for line in order.lines)


# ---------------------------------------------------------------- delivery ETA


def transit_days(carrier: str, province: str | None, origin_province: str = DEFAULT_ORIGIN_PROVINCE) -> int:
    days = _TRANSIT_DAYS.get((carrier or "").strip().upper(), _DEFAULT_TRANSIT_DAYS)
    if province and origin_province and province.strip() != origin_province.strip():
        days += 1
    return days


def delivery_eta(carrier: str, shipped_at: datetime, province: str | None,
                 origin_province: str = DEFAULT_ORIGIN_PROVINCE) -> datetime:
    """When the parcel is expected at the customer (UTC): noon (Beijing) of the delivery day.

    SF and JD next day, ZTO 2 days, DEBANG 3 days, unknown carriers 3 days; one more day when the
    destination province is not the warehouse's. ZTO across provinces is therefore 3 days ("2-3")."""
    if shipped_at.tzinfo is None:
        raise ValueError("shipped_at needs a timezone")
    day = shipped_at.astimezone(CN_TZ).date() + timedelta(days=transit_days(carrier, province, origin_province))
    return datetime.combine(day, DELIVERY_HOUR, tzinfo=CN_TZ).astimezone(UTC)


# ---------------------------------------------------------------- the work order and the appointment


class InstallLine(BaseModel):
    sku: str
    name: str
    category: str = ""
    quantity: int = Field(gt=0)
    vehicle_model: str | None = None


class InstallationRequest(BaseModel):
    """What the technician app needs to dispatch someone: who, where, what, and not before when."""

    order_id: str = Field(min_length=1)
    customer_name: str = Field(min_length=1)
    phone: str = Field(min_length=5, description="the customer's real number (E.164): the technician calls it")
    address: str = Field(min_length=1, description="the full official address text")
    adcode: str = ""
    lines: list[InstallLine] = Field(min_length=1)
    earliest: datetime = Field(description="not before the parcel arrives (delivery_eta)")

    @field_validator("earliest")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("earliest needs a timezone")
        return v.astimezone(UTC)

    @property
    def phone_masked(self) -> str:
        p = self.phone
        return p[:-8] + "****" + p[-4:] if len(p) >= 8 else "****"


def installation_request_for(order: CleanOrder, earliest: datetime) -> InstallationRequest | None:
    """The work-order request for an order's installed lines; None when nothing is installed."""
    lines = [InstallLine(sku=ln.sku, name=ln.name, category=str(getattr(ln.category, "value", ln.category)),
                         quantity=ln.quantity, vehicle_model=ln.vehicle_model)
             for ln in order.lines if ln.needs_installation]
    if not lines:
        return None
    if order.address is None:
        raise ValueError(f"{order.order_id}: address not resolved; a technician needs a full address")
    return InstallationRequest(order_id=order.order_id, customer_name=order.customer_name, phone=order.phone,
                               address=order.address.text, adcode=order.address.adcode, lines=lines,
                               earliest=earliest)


class Appointment(BaseModel):
    work_order_no: str
    technician_name: str
    technician_phone: str
    slot_start: datetime
    slot_end: datetime
    items: list[str] = []  # what will be installed, e.g. "博世刹车片(前)×2"


def _cn_phone(phone: str) -> str:
    """+8613812345678 → 138-1234-5678 (how people read a mobile number); others unchanged."""
    digits = phone[3:] if phone.startswith("+86") else phone
    if len(digits) == 11 and digits.isdigit() and digits.startswith("1"):
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return phone


def appointment_notice(appointment: Appointment, order_id: str) -> tuple[str, str]:
    """(title, text) for the customer: who comes and when, in Beijing time."""
    start = appointment.slot_start.astimezone(CN_TZ)
    end = appointment.slot_end.astimezone(CN_TZ)
    when = f"{start.month}月{start.day}日 {start:%H:%M}-{end:%H:%M}"
    what = "、".join(appointment.items) if appointment.items else "您购买的配件"
    title = f"上门安装预约成功 · {order_id}"
    text = (f"师傅{appointment.technician_name} ({_cn_phone(appointment.technician_phone)}) 将于 {when} "
            f"上门安装{what}。工单号 {appointment.work_order_no}。如需改约请直接联系师傅。")
    return title, text
