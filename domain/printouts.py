"""What goes on the floor's paper: pick lists (波次拣货单), packing slips (发货单) and bin labels (库位标签).

Pure page models, built from what the read model and the order already hold; the PDF rendering
(``activities/printing.py``) only lays them out. Everything a person reads is Chinese here
(labels from ``domain/labels.py``), the barcodes carry the codes the scanners and devices read:
the wave number, the bin code, the order id and the waybill number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, Field

from domain import labels
from domain.order import CleanOrder
from domain.warehouse import parse_bin, try_parse_bin, walking_order

CN_TZ = timezone(timedelta(hours=8))  # what the floor's clocks show; China has no DST


def beijing(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the floor reads it (Beijing); '-' when there is none. Naive times are UTC."""
    if at is None:
        return "-"
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(CN_TZ).strftime(fmt)


def masked_phone(phone: str | None) -> str:
    """+8613812345678 → 138****5678: enough for the packer to match a call, not to copy the number."""
    digits = re.sub(r"[^\d]", "", phone or "")
    if (phone or "").strip().startswith("+86") or (len(digits) == 13 and digits.startswith("86")):
        digits = digits[2:]
        if not (len(digits) == 11 and digits.startswith("1")):  # a landline: its trunk 0 (0571…)
            digits = "0" + digits
    if len(digits) < 7:
        return "****"
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# ---------------------------------------------------------------- 波次拣货单


class PickRow(BaseModel):
    """One stop on the walking path: go to ``bin``, take ``quantity`` of ``sku``."""

    seq: int
    bin: str
    sku: str
    name: str = ""
    quantity: int
    notes: list[str] = []
    order_ids: list[str] = []
    qc_required: bool = False
    state: str = "pending"

    @property
    def state_label(self) -> str:
        return labels.task_state(self.state)


class PickList(BaseModel):
    """One wave's pick list: its header and its stops in walking order."""

    wave_id: str
    wave_no: str  # B26-07: printed big and as the Code128 at the top
    warehouse: str
    carrier: str
    cutoff_at: datetime | None = None
    printed_at: datetime
    order_ids: list[str] = []
    rows: list[PickRow] = []

    @property
    def warehouse_label(self) -> str:
        return labels.warehouse(self.warehouse)

    @property
    def carrier_label(self) -> str:
        return labels.carrier(self.carrier)

    @property
    def total_quantity(self) -> int:
        return sum(r.quantity for r in self.rows)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _str(v: Any) -> str:
    return str(getattr(v, "value", v) if v is not None else "")


def pick_list(wave: Any, *, printed_at: datetime) -> PickList:
    """The pick list of a wave: the read model's wave (``activities.warehouse.get_wave``: a dict with
    its ``tasks``) or a ``WaveSnapshot``. Only pick tasks; sorted by their walking-path ``seq``
    (tasks without one by ``walking_order`` of their bins); the orders each stop serves from the
    task's allocations."""
    tasks = [t for t in _get(wave, "tasks", []) or [] if _str(_get(t, "kind", "pick")) == "pick"]
    path = {b: i for i, b in enumerate(walking_order(_str(_get(t, "bin")) for t in tasks))}

    def key(t: Any) -> tuple[int, str]:
        seq = _get(t, "seq")
        return (seq if isinstance(seq, int) else 10**6 + path.get(_str(_get(t, "bin")), 0), _str(_get(t, "sku")))

    rows = []
    for i, t in enumerate(sorted(tasks, key=key), start=1):
        allocs = _get(t, "allocations", []) or []
        order_ids = list(dict.fromkeys(_str(_get(a, "order_id")) for a in allocs if _get(a, "order_id")))
        seq = _get(t, "seq")
        rows.append(PickRow(
            seq=seq if isinstance(seq, int) else i, bin=_str(_get(t, "bin")), sku=_str(_get(t, "sku")),
            name=_str(_get(t, "name", "")), quantity=int(_get(t, "quantity", 0)),
            notes=[str(n) for n in _get(t, "notes", []) or []], order_ids=order_ids,
            qc_required=bool(_get(t, "qc_required", False)), state=_str(_get(t, "state", "pending")) or "pending",
        ))
    return PickList(
        wave_id=_str(_get(wave, "wave_id")), wave_no=_str(_get(wave, "wave_no")), warehouse=_str(_get(wave, "warehouse")),
        carrier=_str(_get(wave, "carrier")), cutoff_at=_get(wave, "cutoff_at"), printed_at=printed_at,
        order_ids=[str(o) for o in _get(wave, "order_ids", []) or []], rows=rows,
    )


# ---------------------------------------------------------------- 发货单


class SlipItem(BaseModel):
    line_no: int
    sku: str
    name: str = ""
    quantity: int
    vehicle_model: str | None = None  # catalogue code; printed as its Chinese name

    @property
    def vehicle_label(self) -> str:
        return labels.vehicle_model(self.vehicle_model) if self.vehicle_model else ""


class PackingSlip(BaseModel):
    """What goes in the box with one order (or one warehouse part of a split order)."""

    order_id: str  # Code128 + QR
    channel: str
    channel_order_id: str = ""
    part_no: int | None = None  # 包裹 1/2 when the order ships in parts
    parts: int | None = None
    customer_name: str
    phone_masked: str
    address: str
    items: list[SlipItem] = Field(min_length=1)
    warehouse: str = ""
    carrier: str = ""
    waybill_no: str | None = None  # Code128 when the waybill is made
    note: str = ""
    ordered_at: datetime | None = None
    printed_at: datetime

    @property
    def channel_label(self) -> str:
        return labels.channel(self.channel)

    @property
    def carrier_label(self) -> str:
        return labels.carrier(self.carrier) if self.carrier else "-"

    @property
    def warehouse_label(self) -> str:
        return labels.warehouse(self.warehouse) if self.warehouse else "-"

    @property
    def part_text(self) -> str:
        return f"包裹 {self.part_no}/{self.parts}" if self.part_no and self.parts and self.parts > 1 else ""

    @property
    def total_quantity(self) -> int:
        return sum(i.quantity for i in self.items)


def packing_slip(order: CleanOrder, *, printed_at: datetime, warehouse: str = "", carrier: str = "",
                 waybill_no: str | None = None, line_nos: Iterable[int] | None = None, part_no: int | None = None,
                 parts: int | None = None) -> PackingSlip:
    """The slip of a cleansed order, or of the part holding ``line_nos``; the phone is masked."""
    wanted = set(line_nos) if line_nos is not None else None
    items = [SlipItem(line_no=ln.line_no, sku=ln.sku, name=ln.name, quantity=ln.quantity, vehicle_model=ln.vehicle_model)
             for ln in order.lines if wanted is None or ln.line_no in wanted]
    return PackingSlip(
        order_id=order.order_id, channel=_str(order.channel), channel_order_id=order.channel_order_id,
        part_no=part_no, parts=parts, customer_name=order.customer_name, phone_masked=masked_phone(order.phone),
        address=order.address.text if order.address else order.address_raw, items=items, warehouse=warehouse,
        carrier=carrier, waybill_no=waybill_no, note=order.note, ordered_at=order.ordered_at, printed_at=printed_at,
    )


def packing_slips_from_view(view: Mapping[str, Any], *, printed_at: datetime) -> list[PackingSlip]:
    """The slips of an order as ``GET /v1/orders/{id}`` shows it (its ``state`` or ``OrderView``
    JSON): one per warehouse part when the order has parts, else one for the whole order."""
    order = view.get("order") if isinstance(view.get("order"), Mapping) else None
    src = order or view  # the state query nests the cleansed order; the OrderView is flat
    lines = src.get("lines") or []
    address = src.get("address")
    text = (address.get("text") if isinstance(address, Mapping) else None) or src.get("address_raw") \
        or view.get("address_text") or ""
    raw_shipment = view.get("shipment")
    shipment: Mapping[str, Any] = raw_shipment if isinstance(raw_shipment, Mapping) else {}
    raw_waybill = shipment.get("waybill")
    waybill: Mapping[str, Any] = raw_waybill if isinstance(raw_waybill, Mapping) else {}
    base: dict[str, Any] = dict(  # the view is JSON: PackingSlip validates what is passed
        order_id=str(view.get("order_id") or src.get("order_id") or ""), channel=_str(src.get("channel") or view.get("channel")),
        channel_order_id=str(src.get("channel_order_id") or view.get("channel_order_id") or ""),
        customer_name=str(src.get("customer_name") or view.get("customer_name") or ""),
        phone_masked=masked_phone(src.get("phone") or view.get("phone")), address=text,
        note=str(src.get("note") or view.get("note") or ""), ordered_at=src.get("ordered_at") or view.get("ordered_at"),
        printed_at=printed_at,
    )

    def items_of(wanted: set[int] | None, quantities: Mapping[int, int] | None = None) -> list[SlipItem]:
        out = []
        for i, ln in enumerate(lines, start=1):
            no = int(ln.get("line_no") or i)
            if wanted is not None and no not in wanted:
                continue
            qty = int((quantities or {}).get(no) or ln.get("quantity") or 0)
            out.append(SlipItem(line_no=no, sku=str(ln.get("sku", "")), name=str(ln.get("name", "")), quantity=qty,
                                vehicle_model=ln.get("vehicle_model")))
        return out

    parts = [p for p in view.get("parts") or [] if _str(p.get("status")) not in ("cancelled", "rejected")]
    if len(parts) > 1:
        slips = []
        for p in parts:
            plines = p.get("lines") or []
            wanted = {int(pl.get("line_no")) for pl in plines if pl.get("line_no") is not None}
            qty = {int(pl["line_no"]): int(pl["quantity"]) for pl in plines if pl.get("line_no") is not None
                   and pl.get("quantity") is not None}
            slips.append(PackingSlip(**base, items=items_of(wanted or None, qty), part_no=p.get("part_no"),
                                     parts=len(parts), warehouse=str(p.get("warehouse") or ""),
                                     carrier=str(p.get("carrier") or ""), waybill_no=p.get("waybill_no")))
        return slips
    return [PackingSlip(**base, items=items_of(None), warehouse=str(view.get("warehouse") or ""),
                        carrier=str(view.get("carrier") or ""),
                        waybill_no=view.get("waybill_no") or waybill.get("waybill_no"))]


# ---------------------------------------------------------------- 库位标签


class BinLabel(BaseModel):
    code: str  # A-03-12: printed big, as Code128 and as QR
    warehouse: str = ""

    @property
    def caption(self) -> str:
        """A区 03巷 12位: the code said in words, for a temporary worker."""
        loc = try_parse_bin(self.code)
        return f"{loc.zone}区 {loc.aisle:02d}巷 {loc.slot:02d}位" if loc else ""

    @property
    def warehouse_label(self) -> str:
        return labels.warehouse(self.warehouse) if self.warehouse else ""


def bin_labels(codes: Iterable[str], *, warehouse: str = "") -> list[BinLabel]:
    """Labels for bins, normalised ('a-3-12' → A-03-12), once each, in shelf order (zone, aisle,
    slot: how a sheet is stuck along an aisle); a code that is no bin raises ValueError naming it."""
    locs = {}
    for c in codes:
        loc = parse_bin(c)  # ValueError: 库位 'x' 不是 区-巷道-货位 格式
        locs[loc.code] = loc
    return [BinLabel(code=code, warehouse=warehouse)
            for code, _ in sorted(locs.items(), key=lambda kv: (kv[1].zone, kv[1].aisle, kv[1].slot))]
