"""Applying the workflows' thin projections: one delta (changed columns, new events, changed review
tasks) per call, idempotent by the workflow's projection number.

A row only takes a delta newer than the one it holds (``last_seq``), events are keyed by (order,
writing workflow, sequence) and inserted once, review tasks are upserted by id. A retried or replayed
activity therefore changes nothing; a delta that arrives late never overwrites a newer one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.contracts.projection import ProjectionDelta, StuckAlert
from store.db import is_postgres
from store.schema import order_lines, order_parts, orders, review_tasks, shipments, stuck_alerts, timeline_events


class _Row(BaseModel):
    """Column values as the database takes them (JSON from the workflow → datetimes, decimals)."""

    model_config = ConfigDict(extra="forbid")


class OrderRow(_Row):
    channel: str | None = None
    channel_order_id: str | None = None
    status: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    phone: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    adcode: str | None = None
    address_text: str | None = None
    goods_amount: Decimal | None = None
    coupon_code: str | None = None
    coupon_amount: Decimal | None = None
    freight: Decimal | None = None
    paid_amount: Decimal | None = None
    flags: list[str] | None = None
    risk_level: str | None = None
    merged_into: str | None = None
    warehouse: str | None = None
    carrier: str | None = None
    ordered_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    rule_version: int | None = None
    erp_doc_no: str | None = None
    waybill_no: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    parts: int | None = None
    stuck: dict[str, Any] | None = None


class PartRow(_Row):
    part_no: int | None = None
    status: str | None = None
    warehouse: str | None = None
    carrier: str | None = None
    wave_no: str | None = None
    waybill_no: str | None = None
    lines: list[dict[str, Any]] | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None


class ShipmentRow(_Row):
    owner_id: str | None = None
    direction: str | None = None
    status: str | None = None
    carrier: str | None = None
    waybill_no: str | None = None
    label_url: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None
    events: int | None = None
    updated_at: datetime | None = None


_TABLES: dict[str, tuple[Table, str, type[_Row]]] = {
    "order": (orders, "order_id", OrderRow),
    "part": (order_parts, "part_id", PartRow),
    "shipment": (shipments, "shipment_id", ShipmentRow),
}


def _insert(engine: Engine, table: Table) -> Any:
    return (postgresql.insert if is_postgres(engine) else sqlite.insert)(table)


def apply(engine: Engine, delta: ProjectionDelta) -> None:
    """Write one delta in one transaction."""
    table, key, model = _TABLES[delta.kind]
    columns = model.model_validate(delta.columns).model_dump(exclude_unset=True)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if columns:  # an UPDATE when the row exists (a partial row never passes NOT NULL checks), else the INSERT
            values: dict[str, Any] = {**columns, "last_seq": delta.seq}
            if delta.kind == "order":
                values["projected_at"] = now
            elif "order_id" in table.c:
                values["order_id"] = delta.order_id
            # the common case in one statement: the row exists and this delta is not older than it
            # (values as parameters, not in the statement: SQLAlchemy reuses the compiled statement)
            done = conn.execute(update(table).where(table.c[key] == delta.key, table.c.last_seq <= delta.seq),
                                values).rowcount
            if not done and conn.execute(select(table.c.last_seq).where(table.c[key] == delta.key)).first() is None:
                conn.execute(insert(table), {key: delta.key, **values})
        if delta.lines is not None and delta.kind == "order":
            conn.execute(delete(order_lines).where(order_lines.c.order_id == delta.key))
            if delta.lines:
                conn.execute(order_lines.insert(), [{"order_id": delta.key, **ln} for ln in delta.lines])
        if delta.events:
            source = "" if delta.kind == "order" else delta.key
            conn.execute(_insert(engine, timeline_events).on_conflict_do_nothing(), [
                {"order_id": delta.order_id, "source": source, "seq": e.seq, "at": e.at, "event": e.event, "status": e.status,
                 "actor": e.actor, "reason": e.reason, "data": e.data} for e in delta.events])
        for r in delta.reviews:
            row = r.model_dump(mode="json") | {"created_at": r.created_at, "escalated_at": r.escalated_at, "red_at": r.red_at,
                                               "decided_at": r.decided_at}
            ins = _insert(engine, review_tasks).values(**row)
            conn.execute(ins.on_conflict_do_update(index_elements=[review_tasks.c.review_id],
                                                   set_={k: ins.excluded[k] for k in row if k != "review_id"}))


def record_stuck(engine: Engine, alert: StuckAlert) -> None:
    row = alert.model_dump() | {"updated_at": datetime.now(UTC)}
    with engine.begin() as conn:
        ins = _insert(engine, stuck_alerts).values(**row)
        conn.execute(ins.on_conflict_do_update(index_elements=[stuck_alerts.c.review_id],
                                               set_={"resolved": ins.excluded.resolved, "updated_at": ins.excluded.updated_at,
                                                     "error": ins.excluded.error}))


def open_stuck(engine: Engine, order_id: str | None = None) -> list[dict[str, Any]]:
    q = select(stuck_alerts).where(stuck_alerts.c.resolved.is_(False)).order_by(stuck_alerts.c.at)
    if order_id:
        q = q.where(stuck_alerts.c.order_id == order_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
