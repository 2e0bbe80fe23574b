"""Writes (idempotent projections of workflow state) and reads (lists for the API and console).

Every write is keyed by what the workflow already knows (order id, event seq, review id), so an
activity retry or a replayed projection changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, overload

from sqlalchemy import Engine, and_, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from domain.contracts.order import LineView, OrderView, PartSummary, ShipmentSummary, Stuck
from domain.dedupe import DedupeKey
from domain.order import OrderSubmission, ResolvedAddress
from domain.review import ReviewTask
from domain.state import OrderState
from domain.status import OrderStatus
from domain.timeline import TimelineEvent
from store.db import is_postgres
from store.schema import (
    dedupe_keys,
    order_lines,
    order_parts,
    orders,
    rejected_payloads,
    review_tasks,
    shipments,
    timeline_events,
)


def _insert(engine: Engine, table):
    return (postgresql.insert if is_postgres(engine) else sqlite.insert)(table)


@overload
def _utc(dt: datetime) -> datetime: ...
@overload
def _utc(dt: None) -> None: ...
def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def shipment_columns(state: OrderState) -> dict[str, Any]:
    """waybill_no / shipped_at / delivered_at from ``state.shipment`` (domain.logistics.Shipment);
    read defensively so states without the field (older workflows, older code) project as None."""
    shipment = getattr(state, "shipment", None)
    if shipment is None:
        return {"waybill_no": None, "shipped_at": None, "delivered_at": None}
    return {
        "waybill_no": shipment.waybill.waybill_no,
        "shipped_at": shipment.shipped_at,
        "delivered_at": shipment.delivered_at,
    }


def record_received(engine: Engine, sub: OrderSubmission, at: datetime | None = None) -> None:
    """Make an accepted order visible at once (status received), before its workflow's first
    projection, which supersedes this row (sequence 0) and never loses to it: a row already there
    (the workflow projected first) is left as it is. One plain insert — the accept path's only write."""
    now = at or datetime.now(UTC)
    row = order_row(OrderState(order_id=sub.order_id, status=OrderStatus.RECEIVED, submission=sub,
                               created_at=now, updated_at=now))
    with engine.begin() as conn:
        conn.execute(_insert(engine, orders).on_conflict_do_nothing(index_elements=[orders.c.order_id]), row)


def order_row(state: OrderState) -> dict[str, Any]:
    """The ``orders`` row of a whole order state (the first shape's projection, and the received row)."""
    o = state.order
    sub = state.submission
    last_seq = state.timeline[-1].seq if state.timeline else 0
    return {
        "order_id": state.order_id,
        "channel": sub.channel.value,
        "channel_order_id": sub.channel_order_id,
        "status": state.status.value,
        "customer_id": sub.customer.id,
        "customer_name": o.customer_name if o else sub.customer.name,
        "phone": o.phone if o else sub.customer.phone,
        "province": o.address.province if o and o.address else None,
        "city": o.address.city if o and o.address else None,
        "district": o.address.district if o and o.address else None,
        "adcode": o.address.adcode if o and o.address else None,
        "address_text": (o.address.text if o and o.address else o.address_raw if o else sub.address.as_text())[:300],
        "goods_amount": o.goods_amount if o else None,
        "coupon_code": sub.coupon.code if sub.coupon else None,
        "coupon_amount": sub.coupon.amount if sub.coupon else None,
        "freight": sub.freight,
        "paid_amount": sub.paid_amount,
        "flags": list(state.flags),
        "risk_level": state.risk_level,
        "merged_into": state.merged_into,
        "warehouse": state.warehouse,
        "carrier": state.carrier,
        "ordered_at": sub.ordered_at,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "last_seq": last_seq,
        "projected_at": datetime.now(UTC),
        **shipment_columns(state),
    }


def project_order(engine: Engine, state: OrderState) -> None:
    """Upsert the order row, its lines, new timeline events and its review tasks."""
    o = state.order
    row = order_row(state)
    with engine.begin() as conn:
        ins = _insert(engine, orders).values(**row)
        update_cols = {k: ins.excluded[k] for k in row if k != "order_id"}
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[orders.c.order_id],
                set_=update_cols,
                where=orders.c.last_seq <= ins.excluded.last_seq,
            )
        )
        if o:
            lines = [
                {
                    "order_id": state.order_id,
                    "line_no": ln.line_no,
                    "sku": ln.sku,
                    "name": ln.name,
                    "category": ln.category,
                    "quantity": ln.quantity,
                    "unit_price": ln.unit_price,
                    "vehicle_model": ln.vehicle_model,
                }
                for ln in o.lines
            ]
            conn.execute(delete(order_lines).where(order_lines.c.order_id == state.order_id))
            conn.execute(order_lines.insert(), lines)
        if state.timeline:
            events = [
                {
                    "order_id": state.order_id,
                    "seq": e.seq,
                    "at": e.at,
                    "event": e.event,
                    "status": e.status,
                    "actor": e.actor,
                    "reason": e.reason,
                    "data": e.data,
                }
                for e in state.timeline
            ]
            conn.execute(_insert(engine, timeline_events).values(events).on_conflict_do_nothing())
        for r in state.reviews:
            rrow = r.model_dump(mode="json")
            rrow.update(
                created_at=r.created_at, escalated_at=r.escalated_at, red_at=r.red_at, decided_at=r.decided_at
            )
            ins = _insert(engine, review_tasks).values(**rrow)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[review_tasks.c.review_id],
                    set_={k: ins.excluded[k] for k in rrow if k != "review_id"},
                )
            )


_DEAD_ANCHOR_STATUSES = (OrderStatus.REJECTED.value, OrderStatus.CANCELLED.value)


def claim_dedupe(engine: Engine, keys: list[DedupeKey], window: timedelta) -> list[DedupeKey]:
    """Keys of other live orders colliding with ``keys`` (same phone + SKU within the window).

    Serialised per phone (advisory lock on PostgreSQL; SQLite serialises writers) so two copies of
    a brushing order arriving together cannot both miss each other. The caller stores its own keys
    with ``store_dedupe`` only when it is not itself a duplicate.
    """
    if not keys:
        return []
    phone = keys[0].phone
    lo = min(k.ordered_at for k in keys) - window
    hi = max(k.ordered_at for k in keys) + window
    with engine.begin() as conn:
        if is_postgres(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": phone})
        rows = conn.execute(
            select(dedupe_keys).where(
                and_(
                    dedupe_keys.c.phone == phone,
                    dedupe_keys.c.sku.in_([k.sku for k in keys]),
                    dedupe_keys.c.ordered_at.between(lo, hi),
                    dedupe_keys.c.order_id != keys[0].order_id,
                    # a rejected or cancelled order never ships: a copy of it is a new order, not
                    # its duplicate (otherwise a customer's re-order would fold into a dead one)
                    dedupe_keys.c.order_id.not_in(
                        select(orders.c.order_id).where(orders.c.status.in_(_DEAD_ANCHOR_STATUSES))),
                )
            )
        ).all()
        found = [
            DedupeKey(order_id=r.order_id, phone=r.phone, sku=r.sku, ordered_at=_utc(r.ordered_at)) for r in rows
        ]
        if not found:
            # nobody to collide with: ours become the anchor, in the same locked transaction
            conn.execute(_insert(engine, dedupe_keys).on_conflict_do_nothing(), [k.model_dump() for k in keys])
        return found


def flag_closed_anchor(engine: Engine, *, anchor_order_id: str, duplicate_order_id: str, skus: list[str],
                       at: datetime, reason: str) -> bool:
    """Mark a closed anchor's row as the target of a brushing duplicate: the flag and a
    ``duplicate.merged`` event under the duplicate's own source (the anchor's sequence numbers stay
    its own; ``merged_duplicates`` already follows from the duplicate's ``merged_into``). Idempotent;
    False when the anchor has no row."""
    with engine.begin() as conn:
        row = conn.execute(select(orders.c.flags, orders.c.status).where(orders.c.order_id == anchor_order_id)).first()
        if row is None:
            return False
        flags = list(row.flags or [])
        if "suspected_brushing" not in flags:
            conn.execute(orders.update().where(orders.c.order_id == anchor_order_id)
                         .values(flags=[*flags, "suspected_brushing"]))
        ins = _insert(engine, timeline_events).values(
            order_id=anchor_order_id, source=duplicate_order_id, seq=1, at=at, event="duplicate.merged",
            status=row.status, actor="system", reason=reason,
            data={"duplicate_order_id": duplicate_order_id, "skus": skus, "anchor_closed": True})
        conn.execute(ins.on_conflict_do_nothing())
    return True


def record_rejection(
    engine: Engine,
    *,
    source: str,
    payload: Any,
    errors: list[dict],
    channel: str | None = None,
    channel_order_id: str | None = None,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            rejected_payloads.insert().values(
                received_at=datetime.now(UTC),
                source=source,
                channel=channel,
                channel_order_id=channel_order_id,
                payload=payload,
                errors=errors,
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT always has one
        return int(key[0])


# ---------- reads ----------


def paged(engine: Engine, columns, *, conds: list, order_by: list, limit: int, offset: int,
          count_from) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, one page of rows as dicts): what every list endpoint answers."""
    where = and_(*conds) if conds else None
    with engine.connect() as conn:
        q, c = select(*columns), select(func.count()).select_from(count_from)
        if where is not None:
            q, c = q.where(where), c.where(where)
        total = conn.execute(c).scalar_one()
        return total, [_row(r) for r in conn.execute(q.order_by(*order_by).limit(limit).offset(offset))]


def _row(r) -> dict[str, Any]:
    d = dict(r._mapping)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = _utc(v)
    return d


def list_orders(
    engine: Engine,
    *,
    status: str | None = None,
    channel: str | None = None,
    customer_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    conds = []
    if status:
        conds.append(orders.c.status == status)
    if channel:
        conds.append(orders.c.channel == channel)
    if customer_id:
        conds.append(orders.c.customer_id == customer_id)
    return paged(engine, [orders], conds=conds, order_by=[orders.c.updated_at.desc(), orders.c.order_id],
                 limit=limit, offset=offset, count_from=orders)


def get_order(engine: Engine, order_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(orders).where(orders.c.order_id == order_id)).first()
        if r is None:
            return None
        d = _row(r)
        d["lines"] = [
            _row(x)
            for x in conn.execute(
                select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
            )
        ]
        d["timeline"] = [
            _row(x)
            for x in conn.execute(
                select(timeline_events).where(timeline_events.c.order_id == order_id)
                .order_by(timeline_events.c.at, timeline_events.c.source, timeline_events.c.seq)
            )
        ]
        d["reviews"] = [
            _row(x)
            for x in conn.execute(
                select(review_tasks).where(review_tasks.c.order_id == order_id).order_by(review_tasks.c.created_at)
            )
        ]
        d["merged_duplicates"] = [
            x.order_id for x in conn.execute(select(orders.c.order_id).where(orders.c.merged_into == order_id))
        ]
        return d


def list_reviews(
    engine: Engine, *, state: str | None = None, kind: str | None = None, order_id: str | None = None, limit: int = 200
):
    with engine.connect() as conn:
        q = select(review_tasks)
        if order_id:
            q = q.where(review_tasks.c.order_id == order_id)
        if state:
            q = q.where(review_tasks.c.state == state)
        if kind:
            q = q.where(review_tasks.c.kind == kind)
        return [_row(r) for r in conn.execute(q.order_by(review_tasks.c.created_at).limit(limit))]


def get_review(engine: Engine, review_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(review_tasks).where(review_tasks.c.review_id == review_id)).first()
        return _row(r) if r else None


def list_rejections(engine: Engine, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    return paged(engine, [rejected_payloads], conds=[], order_by=[rejected_payloads.c.id.desc()], limit=limit,
                 offset=offset, count_from=rejected_payloads)


def get_rejection(engine: Engine, rejection_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(rejected_payloads).where(rejected_payloads.c.id == rejection_id)).first()
        return _row(r) if r else None


def mark_rejection_replayed(engine: Engine, rejection_id: int, order_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            rejected_payloads.update()
            .where(rejected_payloads.c.id == rejection_id)
            .values(replayed_at=datetime.now(UTC), replay_order_id=order_id)
        )


def status_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {s: n for s, n in conn.execute(select(orders.c.status, func.count()).group_by(orders.c.status))}


# ---------- the one view of an order (domain.contracts.order.OrderView) ----------


def order_view(engine: Engine, order_id: str) -> OrderView | None:
    """The order as the read model has it: its row, lines, every workflow's timeline events in time
    order (the order's, its parts', its parcels'), review tasks, parts and parcels."""
    d = get_order(engine, order_id)
    if d is None:
        return None
    with engine.connect() as conn:
        parts = [_row(r) for r in conn.execute(select(order_parts).where(order_parts.c.order_id == order_id)
                                               .order_by(order_parts.c.part_no))]
        parcels = [_row(r) for r in conn.execute(select(shipments).where(shipments.c.order_id == order_id)
                                                 .order_by(shipments.c.shipment_id))]
    address = None
    if d.get("adcode"):
        address = ResolvedAddress(province=d["province"], city=d["city"], district=d["district"], adcode=d["adcode"],
                                  detail="", text=d["address_text"] or "")
    events = sorted(d["timeline"], key=lambda e: (e["at"], e.get("source") or "", e["seq"]))
    return OrderView(
        order_id=order_id, source="read_model", status=d["status"], channel=d["channel"],
        channel_order_id=d["channel_order_id"], customer_id=d["customer_id"], customer_name=d.get("customer_name") or "",
        phone=d.get("phone") or "", address=address, address_raw=d.get("address_text") or "",
        lines=[LineView(**{k: ln[k] for k in ("line_no", "sku", "name", "category", "quantity", "unit_price", "vehicle_model")})
               for ln in d["lines"]],
        goods_amount=d.get("goods_amount"), coupon_code=d.get("coupon_code"), coupon_amount=d.get("coupon_amount"),
        freight=d.get("freight"), paid_amount=d.get("paid_amount"), ordered_at=d["ordered_at"], created_at=d["created_at"],
        updated_at=d["updated_at"], flags=d.get("flags") or [], risk_level=d.get("risk_level") or "none",
        merged_into=d.get("merged_into"), merged_duplicates=d.get("merged_duplicates", []), warehouse=d.get("warehouse"),
        carrier=d.get("carrier"), rule_version=d.get("rule_version"), erp_doc_no=d.get("erp_doc_no"),
        waybill_no=d.get("waybill_no"), shipped_at=d.get("shipped_at"), delivered_at=d.get("delivered_at"),
        wave_no=next((p["wave_no"] for p in parts if p.get("wave_no")), None),
        parts=[PartSummary(**{k: p[k] for k in ("part_id", "part_no", "status", "warehouse", "carrier", "wave_no",
                                                "waybill_no", "shipped_at", "delivered_at")}, lines=p.get("lines") or [])
               for p in parts],
        shipments=[ShipmentSummary(**{k: s[k] for k in ("shipment_id", "owner_id", "direction", "status", "carrier",
                                                        "waybill_no", "shipped_at", "delivered_at", "last_event",
                                                        "last_event_at")}) for s in parcels],
        stuck=Stuck.model_validate(d["stuck"]) if d.get("stuck") else None,
        reviews=[ReviewTask.model_validate({k: v for k, v in r.items() if k in ReviewTask.model_fields}) for r in d["reviews"]],
        timeline=[TimelineEvent(seq=e["seq"], at=e["at"], event=e["event"], status=e["status"], actor=e["actor"],
                                reason=e["reason"] or "", data=e["data"] or {}, source=e.get("source") or "") for e in events],
    )
