"""Aftersales read model: one row per case (projected by its workflow) and one refund per case.

Tables are declared on ``store.schema.metadata`` (migration 0008 creates them). Writes are keyed by
the case id: a case row only moves forward (``last_seq``), a refund is written once, so activity
retries and replays change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    select,
)

from domain.aftersales import AftersalesState
from store.read_model import _insert, _row, paged
from store.schema import metadata

aftersales_cases = Table(
    "aftersales_cases",
    metadata,
    Column("case_id", String(140), primary_key=True),  # {order_id}~AS{n}, also the workflow id
    Column("order_id", String(100), nullable=False),
    Column("type", String(16), nullable=False),  # exchange | return | refund_only | reissue
    Column("status", String(20), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("requested_by", String(64), nullable=False),
    Column("lines", JSON, nullable=False, default=list),  # [{sku, quantity}]
    Column("refund_amount", Numeric(14, 2)),
    Column("replacement_order_id", String(100)),
    Column("return_waybill_no", String(64)),
    Column("return_carrier", String(32)),
    Column("qc_passed", Boolean),
    Column("qc_inspector", String(64)),
    Column("qc_note", Text),
    Column("timeline", JSON, nullable=False, default=list),  # [CaseEvent]
    Column("last_seq", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_aftersales_cases_status_updated", aftersales_cases.c.status, aftersales_cases.c.updated_at)
Index("ix_aftersales_cases_order", aftersales_cases.c.order_id)

refunds = Table(  # money back to the customer, in fen; one per case
    "refunds",
    metadata,
    Column("case_id", String(140), primary_key=True),
    Column("refund_no", String(40), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("day", String(10), nullable=False),  # Beijing date of the refund, YYYY-MM-DD
    Column("amount_fen", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False, default=list),  # [{sku, quantity}]
    Column("reason", Text, nullable=False, default=""),
    Column("refunded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_refunds_day", refunds.c.day, refunds.c.order_id)
Index("ix_refunds_order", refunds.c.order_id)

BEIJING = timezone(timedelta(hours=8))


def project_case(engine: Engine, st: AftersalesState) -> bool:
    """Upsert the case row; an older projection (fewer events) never overwrites a newer one."""
    row: dict[str, Any] = {
        "case_id": st.case_id,
        "order_id": st.order_id,
        "type": st.type.value,
        "status": st.status.value,
        "customer_id": st.customer_id,
        "reason": st.reason,
        "requested_by": st.requested_by,
        "lines": [ln.model_dump(mode="json") for ln in st.lines],
        "refund_amount": st.refund_amount,
        "replacement_order_id": st.replacement_order_id,
        "return_waybill_no": st.return_waybill_no,
        "return_carrier": st.return_carrier,
        "qc_passed": st.qc.passed if st.qc else None,
        "qc_inspector": st.qc.inspector if st.qc else None,
        "qc_note": st.qc.note if st.qc else None,
        "timeline": [e.model_dump(mode="json") for e in st.timeline],
        "last_seq": len(st.timeline),
        "created_at": st.created_at,
        "updated_at": st.updated_at,
    }
    with engine.begin() as conn:
        ins = _insert(engine, aftersales_cases).values(**row)
        res = conn.execute(ins.on_conflict_do_update(
            index_elements=[aftersales_cases.c.case_id],
            set_={k: ins.excluded[k] for k in row if k != "case_id"},
            where=aftersales_cases.c.last_seq <= ins.excluded.last_seq,
        ).returning(aftersales_cases.c.case_id))
        return res.first() is not None  # rowcount is -1 for upserts on psycopg


def refund_no_for(case_id: str) -> str:
    """Deterministic, so the same case always has the same refund number."""
    import hashlib

    return "RF" + hashlib.sha1(case_id.encode()).hexdigest()[:12].upper()


def record_refund(
    engine: Engine, *, case_id: str, order_id: str, channel: str, amount_fen: int, lines: list[dict[str, Any]],
    reason: str, refunded_at: datetime,
) -> tuple[dict[str, Any], bool]:
    """Write the case's refund once; a retry gets the first row back (and ``False``)."""
    row = {
        "case_id": case_id, "refund_no": refund_no_for(case_id), "order_id": order_id, "channel": channel,
        "day": refunded_at.astimezone(BEIJING).date().isoformat(), "amount_fen": amount_fen, "lines": lines,
        "reason": reason, "refunded_at": refunded_at, "recorded_at": datetime.now(UTC),
    }
    with engine.begin() as conn:
        res = conn.execute(_insert(engine, refunds).values(**row)
                           .on_conflict_do_nothing(index_elements=[refunds.c.case_id]).returning(refunds.c.case_id))
        created = res.first() is not None
        first = conn.execute(select(refunds).where(refunds.c.case_id == case_id)).one()
    return _row(first), created


# ---------------------------------------------------------------- reads


def list_cases(
    engine: Engine, *, status: str | None = None, order_id: str | None = None, type: str | None = None,
    limit: int = 100, offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    conds = []
    if status:
        conds.append(aftersales_cases.c.status == status)
    if order_id:
        conds.append(aftersales_cases.c.order_id == order_id)
    if type:
        conds.append(aftersales_cases.c.type == type)
    return paged(engine, [c for c in aftersales_cases.c if c.name != "timeline"], conds=conds,
                 order_by=[aftersales_cases.c.updated_at.desc(), aftersales_cases.c.case_id], limit=limit, offset=offset,
                 count_from=aftersales_cases)


def get_case(engine: Engine, case_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(aftersales_cases).where(aftersales_cases.c.case_id == case_id)).first()
        if r is None:
            return None
        d = _row(r)
        ref = conn.execute(select(refunds).where(refunds.c.case_id == case_id)).first()
        d["refund"] = _row(ref) if ref else None
        return d


def get_refund(engine: Engine, case_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(refunds).where(refunds.c.case_id == case_id)).first()
        return _row(r) if r else None


def refunds_day(engine: Engine, day: str) -> list[dict[str, Any]]:
    """A day's refunds (Beijing date), for reconciliation and the dashboard."""
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(refunds).where(refunds.c.day == day).order_by(refunds.c.case_id))]
