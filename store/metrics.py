"""Metrics and finance reads/writes on the read model: the health index's per-order facts, the
dashboard's breakdowns, status enquiries, and the finance tables the reconciliation uses.

Every metric is over a **cohort**: the orders placed in ``[start, end)`` (optionally one channel
and/or one warehouse), merged duplicates excluded. The cohort is found through the indexes on
``orders (ordered_at)``, ``(channel, ordered_at)`` and ``(warehouse, ordered_at)``; everything else
joins on the order id (the primary keys of the timeline and the indexes of reviews/enquiries), so a
period's cost is proportional to the orders in it, never to the table.

Milestones the later stages record in the timeline (the contract with them):

* ``FULFILMENT_EVENTS``: the order entered the warehouse/shipping stage; from then it is *due to
  ship* by ``data.ship_by`` (ISO time) when the event carries one, else ``ordered_at + ship_sla``;
* ``SHIPPED_EVENTS`` / ``SIGNED_EVENTS``: first occurrence = shipped / signed time — unless the
  order row carries ``shipped_at`` / ``delivered_at`` (projected from the logistics stage's
  shipment, migration 0007), which win;
* ``AFTERSALES_EVENTS``: events whose ``data.reason`` is an aftersales reason (by region).

Until those stages exist the ratios that need them have a zero denominator and show 'no data'.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, overload

from sqlalchemy import DateTime, Engine, Float, cast, delete, func, literal_column, select

from domain.allocation import OrderAllocation, to_fen
from domain.health import (
    ANSWERED_WITHIN_SECONDS,
    SIGNED_WITHIN_SECONDS,
    SYNCED_WITHIN_SECONDS,
    OrderFacts,
    aggregate,
    health_index,
    percentile,
    region_of,
)
from domain.reconciliation import LedgerEntry, OurOrder, OurRefund, Receipt, RefundLine, Settlement
from domain.risk import CHECKS
from store.aftersales import aftersales_cases, refunds_day
from store.db import is_postgres
from store.schema import (
    coupon_redemptions,
    finance_statements,
    order_finance,
    order_lines,
    orders,
    reconciliation_runs,
    review_tasks,
    status_enquiries,
    timeline_events,
)

CN_TZ = timezone(timedelta(hours=8))
FULFILMENT_EVENTS = ("order.wave_joined", "order.released_to_warehouse", "wave.assigned", "pick.started", "order.packed")
SHIPPED_EVENTS = ("order.shipped", "logistics.shipped")
SIGNED_EVENTS = ("order.signed", "logistics.signed", "order.delivered")
AFTERSALES_EVENTS = ("aftersales.opened", "aftersales.requested", "return.requested", "exchange.requested")
DEFAULT_SHIP_SLA = timedelta(hours=24)
STRING_FIELDS = ("customer_name", "phone", "province", "city", "district", "adcode", "address_text")
NUMBER_FIELDS = ("goods_amount", "paid_amount")
COMPLETENESS_FIELDS = STRING_FIELDS + NUMBER_FIELDS
MAX_SERIES_DAYS = 92

RECORDED_AT = literal_column("timeline_events.recorded_at", DateTime(timezone=True))  # migration 0005


@overload
def _utc(dt: datetime) -> datetime: ...
@overload
def _utc(dt: None) -> None: ...
def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _insert(engine: Engine, table):
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if is_postgres(engine) else sqlite.insert)(table)


# ---------------------------------------------------------------- periods


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A Beijing calendar day as a UTC [start, end)."""
    start = datetime(day.year, day.month, day.day, tzinfo=CN_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def cn_day(dt: datetime) -> date:
    return _utc(dt).astimezone(CN_TZ).date()


def parse_period(frm: str | None, to: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``from``/``to`` as Beijing dates (YYYY-MM-DD; ``to`` inclusive) or ISO datetimes (``to``
    exclusive). Default: the last 7 Beijing days including today."""
    now = now or datetime.now(UTC)

    def one(value: str, end: bool) -> datetime:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return day_bounds(d)[1 if end else 0]
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return _utc(dt.replace(tzinfo=CN_TZ) if dt.tzinfo is None else dt)

    end = one(to, True) if to else day_bounds(cn_day(now))[1]
    start = one(frm, False) if frm else end - timedelta(days=7)
    if start >= end:
        raise ValueError("'from' must be before 'to'")
    return start, end


# ---------------------------------------------------------------- cohort and facts


def _cohort_conditions(start: datetime, end: datetime, channel: str | None, warehouse: str | None) -> list:
    conds = [orders.c.ordered_at >= start, orders.c.ordered_at < end, orders.c.status != "merged"]
    if channel:
        conds.append(orders.c.channel == channel)
    if warehouse:
        conds.append(orders.c.warehouse == warehouse)
    return conds


def _seconds_between(engine: Engine, later, earlier):
    if is_postgres(engine):
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or value.strip() != "")


def order_facts(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    channel: str | None = None,
    warehouse: str | None = None,
    as_of: datetime | None = None,
    ship_sla: timedelta = DEFAULT_SHIP_SLA,
) -> list[tuple[datetime, OrderFacts]]:
    """(ordered_at, facts) for every order of the cohort; five indexed queries."""
    as_of = _utc(as_of) or datetime.now(UTC)
    conds = _cohort_conditions(start, end, channel, warehouse)
    cohort = select(orders.c.order_id).where(*conds).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.order_id, orders.c.ordered_at, orders.c.shipped_at, orders.c.delivered_at,
                   *[orders.c[f] for f in COMPLETENESS_FIELDS]).where(*conds)
        ).all()
        milestones: dict[str, dict[str, tuple[datetime, dict]]] = defaultdict(dict)
        names = FULFILMENT_EVENTS + SHIPPED_EVENTS + SIGNED_EVENTS
        for r in conn.execute(
            select(timeline_events.c.order_id, timeline_events.c.event, timeline_events.c.at, timeline_events.c.data)
            .where(timeline_events.c.order_id.in_(cohort), timeline_events.c.event.in_(names))
            .order_by(timeline_events.c.order_id, timeline_events.c.seq)
        ):
            kind = "fulfil" if r.event in FULFILMENT_EVENTS else "shipped" if r.event in SHIPPED_EVENTS else "signed"
            milestones[r.order_id].setdefault(kind, (_utc(r.at), r.data or {}))
        reviews: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for t in conn.execute(
            select(review_tasks.c.order_id, review_tasks.c.created_at, review_tasks.c.decided_at).where(
                review_tasks.c.order_id.in_(cohort)
            )
        ):
            reviews[t.order_id].append((_utc(t.created_at), _utc(t.decided_at)))
        delay = func.max(_seconds_between(engine, RECORDED_AT, timeline_events.c.at))
        sync = {
            r.order_id: float(r.delay)
            for r in conn.execute(
                select(timeline_events.c.order_id, cast(delay, Float).label("delay"))
                .where(timeline_events.c.order_id.in_(cohort), RECORDED_AT.is_not(None))
                .group_by(timeline_events.c.order_id)
            )
            if r.delay is not None
        }
        enquiries: dict[str, int] = dict(
            conn.execute(
                select(status_enquiries.c.order_id, func.count())
                .where(status_enquiries.c.order_id.in_(cohort))
                .group_by(status_enquiries.c.order_id)
            ).all()
        )

    out = []
    for r in rows:
        oid, ordered_at = r.order_id, _utc(r.ordered_at)
        m = milestones.get(oid, {})
        # the logistics columns (projected from the order's shipment) win; timeline milestones otherwise
        shipped_at = _utc(r.shipped_at) or m.get("shipped", (None, {}))[0]
        signed_at = _utc(r.delivered_at) or m.get("signed", (None, {}))[0]
        fulfil = m.get("fulfil") or m.get("shipped") or m.get("signed") or ((shipped_at, {}) if shipped_at else None)
        deadline = None
        if fulfil:
            ship_by = (fulfil[1] or {}).get("ship_by")
            try:
                deadline = _utc(datetime.fromisoformat(ship_by)) if ship_by else None
            except (TypeError, ValueError):
                deadline = None
            deadline = deadline or ordered_at + ship_sla
        tasks = reviews.get(oid, [])
        d = sync.get(oid)
        out.append(
            (
                ordered_at,
                OrderFacts(
                    order_id=oid,
                    fields_required=len(COMPLETENESS_FIELDS),
                    fields_filled=sum(_filled(getattr(r, f)) for f in COMPLETENESS_FIELDS),
                    due=deadline is not None and (shipped_at is not None or deadline <= as_of),
                    shipped_on_time=shipped_at is not None and deadline is not None and shipped_at <= deadline,
                    shipped=shipped_at is not None,
                    signed_48h=shipped_at is not None and signed_at is not None
                    and (signed_at - shipped_at).total_seconds() <= SIGNED_WITHIN_SECONDS,
                    exceptions=len(tasks),
                    answered_15m=sum(
                        1 for c, dec in tasks if dec is not None and (dec - c).total_seconds() <= ANSWERED_WITHIN_SECONDS
                    ),
                    sync_measured=d is not None,
                    synced_30s=d is not None and d < SYNCED_WITHIN_SECONDS,
                    enquiries=int(enquiries.get(oid, 0)),
                ),
            )
        )
    return out


def health(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    channel: str | None = None,
    warehouse: str | None = None,
    as_of: datetime | None = None,
    series: bool = False,
    ship_sla: timedelta = DEFAULT_SHIP_SLA,
) -> dict[str, Any]:
    """The index for the period; with ``series`` also one point per Beijing day."""
    facts = order_facts(engine, start, end, channel=channel, warehouse=warehouse, as_of=as_of, ship_sla=ship_sla)
    out: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "channel": channel,
        "warehouse": warehouse,
        **health_index(aggregate([f for _, f in facts])).as_dict(),
    }
    if series:
        by_day: dict[date, list[OrderFacts]] = defaultdict(list)
        for at, f in facts:
            by_day[cn_day(at)].append(f)
        first, last = cn_day(start), cn_day(end - timedelta(microseconds=1))
        days = []
        d = max(first, last - timedelta(days=MAX_SERIES_DAYS - 1))
        while d <= last:
            h = health_index(aggregate(by_day.get(d, []))).as_dict()
            days.append(
                {
                    "day": d.isoformat(),
                    "score": h["score"],
                    "partial_score": h["partial_score"],
                    "timeliness": h["timeliness"]["score"],
                    "data": h["data"]["score"],
                    "experience": h["experience"]["value"],
                    "orders": h["counts"]["orders"],
                    "baseline": h["baseline"],
                }
            )
            d += timedelta(days=1)
        out["series"] = days
    return out


# ---------------------------------------------------------------- dashboard


def dashboard(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    channel: str | None = None,
    warehouse: str | None = None,
    as_of: datetime | None = None,
    ship_sla: timedelta = DEFAULT_SHIP_SLA,
) -> dict[str, Any]:
    as_of = _utc(as_of) or datetime.now(UTC)
    conds = _cohort_conditions(start, end, channel, warehouse)
    cohort = select(orders.c.order_id).where(*conds).scalar_subquery()
    with engine.connect() as conn:
        stage_counts: dict[str, int] = dict(
            conn.execute(select(orders.c.status, func.count()).where(*conds).group_by(orders.c.status)).all())
        provinces = dict(conn.execute(select(orders.c.order_id, orders.c.province).where(*conds)).all())
        events = conn.execute(
            select(timeline_events.c.order_id, timeline_events.c.at, timeline_events.c.status, timeline_events.c.event)
            .where(timeline_events.c.order_id.in_(cohort))
            # by time, then sequence: a part's or parcel's events carry their own sequences and a carrier's
            # scan its own time, so sequence order alone can step back in time (a negative stay)
            .order_by(timeline_events.c.order_id, timeline_events.c.at, timeline_events.c.seq)
        ).all()
        scans = conn.execute(
            select(timeline_events.c.order_id, timeline_events.c.data).where(
                timeline_events.c.order_id.in_(cohort), timeline_events.c.event == "risk.scanned"
            )
        ).all()
        aftersales = conn.execute(
            select(timeline_events.c.order_id, timeline_events.c.data).where(
                timeline_events.c.order_id.in_(cohort), timeline_events.c.event.in_(AFTERSALES_EVENTS)
            )
        ).all()
        cases = conn.execute(  # the cases carry the customer's reason; the order's events only say a case opened
            select(aftersales_cases.c.order_id, aftersales_cases.c.reason).where(aftersales_cases.c.order_id.in_(cohort))
        ).all()
        reviews = conn.execute(
            select(review_tasks.c.kind, review_tasks.c.created_at, review_tasks.c.decided_at).where(
                review_tasks.c.order_id.in_(cohort)
            )
        ).all()

    # time in each stage: from the event that entered a status to the event that left it
    durations: dict[str, list[float]] = defaultdict(list)
    prev_order, entered, status = None, None, None
    for e in events:
        at = _utc(e.at)
        if e.order_id != prev_order:
            prev_order, entered, status = e.order_id, at, e.status
            continue
        if e.status != status:
            assert status is not None  # set by the order's first event
            durations[status].append((at - entered).total_seconds())
            entered, status = at, e.status
    stage_times = [
        {"stage": s, "n": len(v), "p50_seconds": percentile(v, 50), "p90_seconds": percentile(v, 90)}
        for s, v in sorted(durations.items())
    ]

    scanned = len({r.order_id for r in scans})
    code_orders: Counter[str] = Counter()
    for _oid, codes in {r.order_id: set((r.data or {}).get("codes") or []) for r in scans}.items():
        code_orders.update(codes)
    titles = {c.code: c.title for c in CHECKS}
    exception_rates = [
        {"code": code, "title": titles.get(code, code), "orders": n, "rate": round(n / scanned, 4)}
        for code, n in sorted(code_orders.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # total, decided, within 15 min
    for t in reviews:
        k = by_kind[t.kind]
        k[0] += 1
        if t.decided_at is not None:
            k[1] += 1
            if (_utc(t.decided_at) - _utc(t.created_at)).total_seconds() <= ANSWERED_WITHIN_SECONDS:
                k[2] += 1
    total = sum(v[0] for v in by_kind.values())
    within = sum(v[2] for v in by_kind.values())
    reviews_out = {
        "total": total,
        "answered_15m": within,
        "rate": round(within / total, 4) if total else None,
        "by_kind": [
            {"kind": k, "total": v[0], "decided": v[1], "answered_15m": v[2], "rate": round(v[2] / v[0], 4)}
            for k, v in sorted(by_kind.items())
        ],
    }

    reasons: Counter[tuple[str, str]] = Counter()
    with_case = set()
    for r in cases:
        with_case.add(r.order_id)
        reasons[(region_of(provinces.get(r.order_id)), str(r.reason or "未填写原因"))] += 1
    for r in aftersales:  # events that carry a reason themselves (channels' aftersales pushes), no case of ours
        reason = (r.data or {}).get("reason")
        if reason and r.order_id not in with_case:
            reasons[(region_of(provinces.get(r.order_id)), str(reason))] += 1
    aftersales_out = [
        {"region": region, "reason": reason, "count": n}
        for (region, reason), n in sorted(reasons.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    ]

    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "channel": channel,
        "warehouse": warehouse,
        "orders": sum(stage_counts.values()),
        "stage_counts": [{"stage": s, "orders": n} for s, n in sorted(stage_counts.items())],
        "stage_times": stage_times,
        "risk_scanned": scanned,
        "exception_rates": exception_rates,
        "reviews": reviews_out,
        "aftersales_by_region": aftersales_out,
        "cost_per_order": None,  # no cost data is recorded yet (carrier/warehouse costs come later)
        "health": health(
            engine, start, end, channel=channel, warehouse=warehouse, as_of=as_of, series=True, ship_sla=ship_sla
        ),
    }


def top_reasons(aftersales_rows: Iterable[dict[str, Any]], region: str, n: int = 3) -> list[dict[str, Any]]:
    """'TOP 3 reasons for returns in East China': the dashboard's rows for one region, top n."""
    rows = sorted((r for r in aftersales_rows if r["region"] == region), key=lambda r: (-r["count"], r["reason"]))
    return rows[:n]


# ---------------------------------------------------------------- status enquiries


def record_enquiry(engine: Engine, order_id: str, role: str, at: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            status_enquiries.insert().values(order_id=order_id, role=role, at=at or datetime.now(UTC))
        )


# ---------------------------------------------------------------- finance: order money at completion


def record_order_finance(
    engine: Engine,
    *,
    order_id: str,
    channel: str,
    completed_at: datetime,
    allocation: OrderAllocation,
    coupon_code: str | None,
    paid_fen: int | None = None,
) -> bool:
    """Idempotent: the first record of an order's money stands (a retry writes the same values).
    ``paid_fen`` is what the customer actually paid (default: goods − coupon + freight)."""
    row = {
        "order_id": order_id,
        "day": cn_day(completed_at).isoformat(),
        "channel": channel,
        "completed_at": completed_at,
        "goods_fen": allocation.goods_fen,
        "coupon_code": coupon_code,
        "coupon_fen": allocation.coupon_fen,
        "freight_fen": allocation.freight_fen,
        "paid_fen": allocation.paid_fen if paid_fen is None else paid_fen,
        "lines": [ln.model_dump() for ln in allocation.lines],
        "recorded_at": datetime.now(UTC),
    }
    with engine.begin() as conn:
        # parameters: one cached statement; RETURNING says whether it was written (psycopg's rowcount is -1 here)
        res = conn.execute(_insert(engine, order_finance).on_conflict_do_nothing().returning(order_finance.c.order_id), row)
        return res.first() is not None


def completed_orders(engine: Engine, day: date, *, without_finance: bool = False) -> list[dict[str, Any]]:
    """Orders completed on ``day`` (Beijing), with their lines and completion time; optionally only
    those without a finance record yet."""
    start, end = day_bounds(day)
    q = select(timeline_events.c.order_id, timeline_events.c.at).where(
        timeline_events.c.event == "order.completed", timeline_events.c.at >= start, timeline_events.c.at < end
    )
    if without_finance:
        q = q.where(~timeline_events.c.order_id.in_(select(order_finance.c.order_id)))
    with engine.connect() as conn:
        done = conn.execute(q).all()
        if not done:
            return []
        at = {r.order_id: _utc(r.at) for r in done}
        out = []
        for o in conn.execute(select(orders).where(orders.c.order_id.in_(list(at))).order_by(orders.c.order_id)):
            lines = conn.execute(
                select(order_lines).where(order_lines.c.order_id == o.order_id).order_by(order_lines.c.line_no)
            ).all()
            out.append({**dict(o._mapping), "completed_at": at[o.order_id], "lines": [dict(ln._mapping) for ln in lines]})
        return out


def financed_orders(engine: Engine, day: date) -> list[dict[str, Any]]:
    """Orders whose money we recorded on ``day`` (at release to fulfilment: what the channels settle
    and the ERP receives for that day), in the shape of ``completed_orders``."""
    with engine.connect() as conn:
        fin = {r.order_id: r for r in conn.execute(select(order_finance).where(order_finance.c.day == day.isoformat()))}
        if not fin:
            return []
        out = []
        for o in conn.execute(select(orders).where(orders.c.order_id.in_(list(fin))).order_by(orders.c.order_id)):
            lines = conn.execute(
                select(order_lines).where(order_lines.c.order_id == o.order_id).order_by(order_lines.c.line_no)
            ).all()
            out.append({**dict(o._mapping), "completed_at": _utc(fin[o.order_id].completed_at),
                        "lines": [dict(ln._mapping) for ln in lines]})
        return out


def finance_day(
    engine: Engine, day: date, extra_codes: Iterable[str] = ()
) -> tuple[list[OurOrder], list[LedgerEntry]]:
    """Our side of a day: orders completed that day and the coupon ledger rows of their codes (and
    of ``extra_codes``, e.g. the codes the channels' statements mention)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(order_finance).where(order_finance.c.day == day.isoformat()).order_by(order_finance.c.order_id)
        ).all()
        ours = [
            OurOrder(
                order_id=r.order_id, channel=r.channel, lines=max(1, len(r.lines or [])), goods_fen=r.goods_fen,
                coupon_code=r.coupon_code, coupon_fen=r.coupon_fen, freight_fen=r.freight_fen, paid_fen=r.paid_fen,
            )
            for r in rows
        ]
        codes = sorted({o.coupon_code for o in ours if o.coupon_code} | set(extra_codes))
        ledger = [
            LedgerEntry(coupon_code=r.coupon_code, order_id=r.order_id, amount_fen=to_fen(r.amount))
            for r in conn.execute(
                select(coupon_redemptions)
                .where(coupon_redemptions.c.coupon_code.in_(codes))
                .order_by(coupon_redemptions.c.coupon_code, coupon_redemptions.c.redeemed_at, coupon_redemptions.c.order_id)
            )
        ] if codes else []
    return ours, ledger


def store_statements(engine: Engine, day: date, source: str, items: list[tuple[str, str, dict]]) -> int:
    """Replace what ``source`` said about ``day`` with ``items`` [(ref, order_id, payload)]."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            delete(finance_statements).where(
                finance_statements.c.day == day.isoformat(), finance_statements.c.source == source
            )
        )
        if items:
            conn.execute(
                finance_statements.insert(),
                [
                    {"day": day.isoformat(), "source": source, "ref": ref, "order_id": oid, "payload": p, "fetched_at": now}
                    for ref, oid, p in items
                ],
            )
    return len(items)


def statements_day(engine: Engine, day: date) -> tuple[list[Settlement], list[Receipt]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(finance_statements)
            .where(finance_statements.c.day == day.isoformat())
            .order_by(finance_statements.c.source, finance_statements.c.ref)
        ).all()
    settlements = [Settlement(**r.payload) for r in rows if r.source.startswith("channel:")]
    receipts = [Receipt(**r.payload) for r in rows if r.source == "erp"]
    return settlements, receipts


def refunds_for_day(engine: Engine, day: date) -> tuple[list[OurRefund], list[RefundLine]]:
    """Our aftersales refunds of the day and the channels' refund lines fetched for it."""
    ours = [OurRefund(case_id=r["case_id"], order_id=r["order_id"], channel=r["channel"], amount_fen=r["amount_fen"])
            for r in refunds_day(engine, day.isoformat())]
    with engine.connect() as conn:
        rows = conn.execute(select(finance_statements).where(
            finance_statements.c.day == day.isoformat(), finance_statements.c.source.like("refund:%"))).all()
    return ours, [RefundLine(**r.payload) for r in rows]


def save_run(engine: Engine, day: date, workflow_id: str, summary: dict, differences: list[dict], workbook: bytes) -> None:
    row = {
        "day": day.isoformat(),
        "run_at": datetime.now(UTC),
        "workflow_id": workflow_id,
        "summary": summary,
        "differences": differences,
        "workbook": workbook,
    }
    with engine.begin() as conn:
        ins = _insert(engine, reconciliation_runs).values(**row)
        conn.execute(ins.on_conflict_do_update(index_elements=["day"], set_={k: ins.excluded[k] for k in row if k != "day"}))


def get_run(engine: Engine, day: date, *, workbook: bool = False) -> dict[str, Any] | None:
    cols = [c for c in reconciliation_runs.c if workbook or c.name != "workbook"]
    with engine.connect() as conn:
        r = conn.execute(select(*cols).where(reconciliation_runs.c.day == day.isoformat())).first()
    if r is None:
        return None
    d = dict(r._mapping)
    d["run_at"] = _utc(d["run_at"])
    return d


def list_runs(engine: Engine, limit: int = 60) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(reconciliation_runs.c.day, reconciliation_runs.c.run_at, reconciliation_runs.c.summary)
            .order_by(reconciliation_runs.c.day.desc())
            .limit(limit)
        ).all()
    return [{"day": r.day, "run_at": _utc(r.run_at), "summary": r.summary} for r in rows]


def count_runs(engine: Engine) -> int:
    """Every day with a reconciliation run (``list_runs`` answers the latest ``limit`` of them)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reconciliation_runs)).scalar_one())
