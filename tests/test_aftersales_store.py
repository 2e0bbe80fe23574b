"""Aftersales read model on SQLite and PostgreSQL: the migration matches the tables, projections
only move forward, a refund is written once per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import inspect

from domain.aftersales import AftersalesLine, AftersalesState, CaseEvent, QcVerdict
from store import aftersales as store

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing


def state(case_id: str, status: str, events: int, **kw) -> AftersalesState:
    return AftersalesState(
        case_id=case_id, order_id=case_id.split("~")[0], type=kw.pop("type", "return"), status=status,
        lines=[AftersalesLine(sku="博世刹车片-BP001", quantity=2)], reason="刹车片异响", requested_by="客服小王",
        customer_id="SHOP-1",
        timeline=[CaseEvent(at=T0 + timedelta(minutes=i), event=f"e{i}", status=status) for i in range(events)],
        created_at=T0, updated_at=T0 + timedelta(minutes=events), **kw,
    )


def test_migration_matches_tables(engine):
    insp = inspect(engine)
    for table in (store.aftersales_cases, store.refunds):
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}
        assert {i["name"] for i in insp.get_indexes(table.name)} == {i.name for i in table.indexes}


def test_projection_moves_forward_only(engine):
    cid = "order-tmall-A1~AS1"
    assert store.project_case(engine, state(cid, "awaiting_return", 2, return_waybill_no="712345678901"))
    assert store.project_case(engine, state(cid, "qc_pending", 5, return_waybill_no="712345678901"))
    # a late retry of the first projection changes nothing
    store.project_case(engine, state(cid, "awaiting_return", 2))
    row = store.get_case(engine, cid)
    assert row["status"] == "qc_pending" and row["last_seq"] == 5 and row["return_waybill_no"] == "712345678901"
    assert row["lines"] == [{"sku": "博世刹车片-BP001", "quantity": 2}] and row["refund"] is None
    store.project_case(engine, state(cid, "completed", 7, refund_amount=Decimal("533.34"),
                                     qc=QcVerdict(passed=True, inspector="质检员老李", note="完好")))
    row = store.get_case(engine, cid)
    assert row["status"] == "completed" and row["refund_amount"] == Decimal("533.34")
    assert row["qc_passed"] is True and row["qc_inspector"] == "质检员老李" and len(row["timeline"]) == 7
    assert row["created_at"] == T0


def test_list_filters(engine):
    store.project_case(engine, state("order-tmall-B1~AS1", "qc_pending", 3))
    store.project_case(engine, state("order-tmall-B1~AS2", "completed", 4, type="refund_only"))
    store.project_case(engine, state("order-tmall-B2~AS1", "qc_pending", 3, type="exchange"))
    total, items = store.list_cases(engine, status="qc_pending")
    assert total == 2 and {i["case_id"] for i in items} == {"order-tmall-B1~AS1", "order-tmall-B2~AS1"}
    assert "timeline" not in items[0]
    total, items = store.list_cases(engine, order_id="order-tmall-B1")
    assert total == 2
    assert store.list_cases(engine, type="exchange")[0] == 1
    assert store.list_cases(engine, order_id="order-tmall-B1", limit=1)[1][0]["case_id"] == "order-tmall-B1~AS2"


def test_refund_written_once(engine):
    cid = "order-tmall-C1~AS1"
    first, created = store.record_refund(engine, case_id=cid, order_id="order-tmall-C1", channel="tmall",
                                         amount_fen=53334, lines=[{"sku": "博世刹车片-BP001", "quantity": 2}],
                                         reason="刹车片异响", refunded_at=T0 + timedelta(hours=15))  # 01:00 next day Beijing
    again, created_again = store.record_refund(engine, case_id=cid, order_id="order-tmall-C1", channel="tmall",
                                               amount_fen=1, lines=[], reason="retry", refunded_at=T0)
    assert created and not created_again
    assert again["amount_fen"] == 53334 and again["refund_no"] == first["refund_no"] == store.refund_no_for(cid)
    assert first["day"] == "2026-12-02"
    assert [r["case_id"] for r in store.refunds_day(engine, "2026-12-02")] == [cid]
    assert store.refunds_day(engine, "2026-12-01") == []
