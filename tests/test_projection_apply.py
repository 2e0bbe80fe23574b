"""store/projection.apply on both backends: a delta creates the row, a newer one updates it, a late
or retried one changes nothing, events are inserted once, review tasks are upserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain.contracts.projection import ProjectionDelta
from domain.timeline import TimelineEvent
from store import projection
from store.schema import order_parts, orders, timeline_events

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
OID = "order-miniprogram-PA1"

FIRST = {"channel": "miniprogram", "channel_order_id": "PA1", "status": "received", "customer_id": "SHOP-1",
         "flags": [], "ordered_at": AT.isoformat(), "created_at": AT.isoformat(), "updated_at": AT.isoformat()}


def ev(seq: int, event: str, status: str) -> TimelineEvent:
    return TimelineEvent(seq=seq, at=AT + timedelta(seconds=seq), event=event, status=status, actor="system")


def row(engine, table, key_col, key):
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c[key_col] == key)).first()


def events(engine, source=""):
    with engine.connect() as conn:
        return [(r.seq, r.event) for r in conn.execute(
            select(timeline_events).where(timeline_events.c.order_id == OID, timeline_events.c.source == source)
            .order_by(timeline_events.c.seq))]


def test_a_delta_creates_then_updates_the_row_and_a_late_one_is_ignored(engine):
    projection.apply(engine, ProjectionDelta(kind="order", key=OID, order_id=OID, seq=1, columns=FIRST,
                                             events=[ev(1, "order.received", "received")]))
    assert row(engine, orders, "order_id", OID).status == "received"
    projection.apply(engine, ProjectionDelta(kind="order", key=OID, order_id=OID, seq=3,
                                             columns={"status": "routed", "warehouse": "HZ-XIAOSHAN"},
                                             events=[ev(2, "order.validated", "validated"), ev(3, "order.routed", "routed")]))
    # seq 2 arrives after seq 3 (a retried activity): its columns are older, its events are not lost
    projection.apply(engine, ProjectionDelta(kind="order", key=OID, order_id=OID, seq=2,
                                             columns={"status": "validated", "warehouse": None},
                                             events=[ev(2, "order.validated", "validated")]))
    r = row(engine, orders, "order_id", OID)
    assert (r.status, r.warehouse, r.last_seq, r.channel) == ("routed", "HZ-XIAOSHAN", 3, "miniprogram")
    assert events(engine) == [(1, "order.received"), (2, "order.validated"), (3, "order.routed")]


def test_the_same_delta_twice_changes_nothing(engine):
    d = ProjectionDelta(kind="order", key=OID, order_id=OID, seq=1, columns=FIRST,
                        lines=[{"line_no": 1, "sku": "BOSCH-0986AF0134", "name": "机油滤清器", "category": "FILTER", "quantity": 2,
                                "unit_price": "38.00"}],
                        events=[ev(1, "order.received", "received")])
    projection.apply(engine, d)
    projection.apply(engine, d)
    assert row(engine, orders, "order_id", OID).last_seq == 1
    assert events(engine) == [(1, "order.received")]


def test_a_part_row_and_its_events_under_the_parts_source(engine):
    part = f"{OID}~F1"
    projection.apply(engine, ProjectionDelta(kind="part", key=part, order_id=OID, seq=1,
                                             columns={"part_no": 1, "status": "picking", "warehouse": "HZ-XIAOSHAN",
                                                      "lines": [], "updated_at": AT.isoformat()},
                                             events=[ev(1, "order.wave_joined", "picking")]))
    projection.apply(engine, ProjectionDelta(kind="part", key=part, order_id=OID, seq=2,
                                             columns={"status": "packed", "updated_at": AT.isoformat()}))
    r = row(engine, order_parts, "part_id", part)
    assert (r.status, r.warehouse, r.order_id, r.last_seq) == ("packed", "HZ-XIAOSHAN", OID, 2)
    assert events(engine, source=part) == [(1, "order.wave_joined")]
