"""What an order looks like from outside: its read-model row, its lines, its one view, and the slice of
it that a warehouse part ships. Pure: the order workflow and the store both build ``OrderView`` here
and nowhere else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.contracts.fulfilment import PartStatus
from domain.contracts.order import LineView, OrderRecord, OrderView, PartSummary
from domain.order import CleanOrder
from domain.split import PartLine
from domain.timeline import TimelineEvent


def part_order(order: CleanOrder, lines: list[PartLine]) -> CleanOrder:
    """The order with only the lines of one part (its pick list, waybill weight and declared value)."""
    wanted = {ln.line_no for ln in lines}
    return order.model_copy(update={"lines": [ln for ln in order.lines if ln.line_no in wanted]})


def _money(v: Any) -> str | None:
    return None if v is None else str(v)


def order_row(rec: OrderRecord) -> dict[str, Any]:
    """The ``orders`` row as JSON values; the order projects only the columns that changed."""
    o, sub = rec.order, rec.submission
    addr = o.address if o else None
    shipped = [p for p in rec.parts if p.waybill_no]
    first = shipped[0] if shipped else None
    delivered = [p.delivered_at for p in rec.parts if p.delivered_at]
    live = [p for p in rec.parts if p.status not in (PartStatus.CANCELLED, PartStatus.REJECTED)]
    row: dict[str, Any] = {
        "channel": sub.channel.value, "channel_order_id": sub.channel_order_id, "status": rec.status.value,
        "customer_id": sub.customer.id, "customer_name": o.customer_name if o else sub.customer.name,
        "phone": o.phone if o else sub.customer.phone,
        "province": addr.province if addr else None, "city": addr.city if addr else None,
        "district": addr.district if addr else None, "adcode": addr.adcode if addr else None,
        "address_text": (addr.text if addr else o.address_raw if o else sub.address.as_text())[:300],
        "goods_amount": _money(o.goods_amount) if o else None,
        "coupon_code": sub.coupon.code if sub.coupon else None, "coupon_amount": _money(sub.coupon.amount) if sub.coupon else None,
        "freight": _money(sub.freight), "paid_amount": _money(sub.paid_amount),
        "flags": list(rec.flags), "risk_level": rec.risk_level, "merged_into": rec.merged_into,
        "warehouse": ",".join(dict.fromkeys(p.warehouse for p in live)) if len(live) > 1 else rec.warehouse,
        "carrier": rec.carrier, "ordered_at": sub.ordered_at.isoformat(), "created_at": rec.created_at.isoformat(),
        "updated_at": rec.updated_at.isoformat(), "rule_version": rec.rule_version,
        "waybill_no": first.waybill_no if first else None,
        "shipped_at": first.shipped_at.isoformat() if first and first.shipped_at else None,
        "delivered_at": max(delivered).isoformat() if delivered and len(delivered) == len(live) else None,
        "parts": len(live), "stuck": rec.stuck.model_dump(mode="json") if rec.stuck else None,
    }
    if rec.erp_doc_no:  # written by the ERP push itself too; never projected back to empty
        row["erp_doc_no"] = rec.erp_doc_no
    return row


def order_lines(rec: OrderRecord) -> list[dict[str, Any]] | None:
    if rec.order is None:
        return None
    return [{"line_no": ln.line_no, "sku": ln.sku, "name": ln.name, "category": ln.category, "quantity": ln.quantity,
             "unit_price": str(ln.unit_price), "vehicle_model": ln.vehicle_model} for ln in rec.order.lines]


def order_view(rec: OrderRecord, timeline: list[TimelineEvent]) -> OrderView:
    """The view the live workflow gives (its own timeline; the read model's adds its parts' events)."""
    o, sub = rec.order, rec.submission
    lines = ([LineView(**ln.model_dump(include=set(LineView.model_fields))) for ln in o.lines] if o else
             [LineView(line_no=i + 1, sku=ln.sku, name=ln.name, category=str(ln.category), quantity=ln.quantity,
                       unit_price=ln.unit_price, vehicle_model=ln.vehicle_model) for i, ln in enumerate(sub.lines)])
    row = order_row(rec)
    return OrderView(
        order_id=rec.order_id, source="workflow", status=rec.status, channel=sub.channel.value,
        channel_order_id=sub.channel_order_id, customer_id=sub.customer.id, customer_name=row["customer_name"],
        phone=row["phone"], address=o.address if o else None,
        address_raw=o.address_raw if o else sub.address.as_text(), lines=lines,
        goods_amount=o.goods_amount if o else sum((ln.unit_price * ln.quantity for ln in sub.lines), Decimal(0)),
        coupon_code=sub.coupon.code if sub.coupon else None, coupon_amount=sub.coupon.amount if sub.coupon else None,
        freight=sub.freight, paid_amount=sub.paid_amount, ordered_at=sub.ordered_at, created_at=rec.created_at,
        updated_at=rec.updated_at, flags=rec.flags, risk_level=rec.risk_level, risk_hits=rec.risk_hits,
        merged_into=rec.merged_into, merged_duplicates=rec.merged_duplicates, errors=rec.errors, warehouse=row["warehouse"],
        carrier=rec.carrier, rule_version=rec.rule_version, routing=rec.routing, erp_doc_no=rec.erp_doc_no,
        wave_no=next((p.wave_no for p in rec.parts if p.wave_no), None), waybill_no=row["waybill_no"],
        shipped_at=row["shipped_at"], delivered_at=row["delivered_at"], replacement_of=rec.replacement_of,
        confirm_round=rec.confirm_round, address_confirmed_at=rec.address_confirmed_at, delivery_point=rec.delivery_point,
        parts=[PartSummary(part_id=p.part_id, part_no=p.part_no, status=p.status.value, warehouse=p.warehouse,
                           carrier=p.carrier, wave_no=p.wave_no, waybill_no=p.waybill_no, shipped_at=p.shipped_at,
                           delivered_at=p.delivered_at, lines=[ln.model_dump() for ln in p.lines]) for p in rec.parts],
        aftersales=rec.aftersales, stuck=rec.stuck, reviews=rec.reviews, timeline=timeline,
    )
