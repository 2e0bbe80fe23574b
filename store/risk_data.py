"""Risk lookups: everything the scan needs that is not in the order, read with indexed queries.

``load_context`` is what the risk activity calls; it touches the ``orders`` table only through
(customer_id, ordered_at) and (customer_id, address_text, ordered_at), so its cost does not grow
with the number of orders. The reference tables (blacklist, SKU floor prices and fitment, coupon
ledger) are small and edited from the console.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine, and_, delete, func, or_, select

from domain.catalogue import normalize_text
from domain.cleansing import normalize_phone, resolve_address
from domain.order import CleanOrder
from domain.reference_data import DEFAULT_BLACKLIST, DEFAULT_SKUS, BlacklistEntry, BlacklistKind, SkuReference
from domain.risk import RiskContext, RiskThresholds, is_remote_area
from store.db import is_postgres
from store.schema import blacklist, coupon_redemptions, orders, sku_reference

# orders that are not (yet) accepted purchases do not make a customer's history
HISTORY_EXCLUDED_STATUSES = ("received", "held", "rejected", "cancelled", "merged")
_BURST_ROW_LIMIT = 1000  # a runaway script still yields a bounded read


def _insert(engine: Engine, table):
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if is_postgres(engine) else sqlite.insert)(table)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _squash(text: str) -> str:
    return normalize_text(text).replace(" ", "")


def address_key(order: CleanOrder) -> str:
    """The address as the read model stores it in ``orders.address_text`` (official form when resolved)."""
    return (order.address.text if order.address else order.address_raw)[:300]


# ---------------------------------------------------------------- the context


def load_context(
    engine: Engine,
    order: CleanOrder,
    now: datetime,
    thresholds: RiskThresholds,
    serving_carriers: list[str] | None = None,
    only_carrier_suspended: bool = False,
    flags: list[str] | None = None,
) -> RiskContext:
    """Look up everything the checks need. ``flags`` default to the order's row in the read model.

    History is measured back from the order time (capped at ``now`` so a channel clock running
    ahead cannot stretch it); the burst window is placed around the order time so orders arriving
    out of order are still counted by whichever of them is scanned last.
    """
    ref = min(_utc(order.ordered_at), _utc(now))
    with engine.connect() as conn:
        avg, count = _history(conn, order, ref, thresholds.history_days)
        burst_ids = _burst(conn, order, timedelta(minutes=thresholds.burst_window_minutes))
        hits = _blacklist_hits(conn, order)
        refs = {
            r.sku: SkuReference(sku=r.sku, name=r.name, floor_price=r.floor_price, fitment=r.fitment)
            for r in conn.execute(select(sku_reference).where(sku_reference.c.sku.in_(order.skus)))
        }
        redeemed_by = _coupon_redeemed_by(conn, order.coupon.code, order.order_id) if order.coupon else None
        if flags is None:
            flags = conn.execute(select(orders.c.flags).where(orders.c.order_id == order.order_id)).scalar() or []
    return RiskContext(
        as_of=_utc(now),
        customer_avg_amount=avg,
        customer_order_count=count,
        burst_count=len(burst_ids) + 1,
        burst_order_ids=burst_ids,
        blacklist_hits=hits,
        sku_refs=refs,
        coupon_redeemed_by=redeemed_by,
        serving_carriers=serving_carriers,
        only_carrier_suspended=only_carrier_suspended,
        remote_area=is_remote_area(order.address, thresholds),
        flags=list(flags),
    )


def _history(conn, order: CleanOrder, ref: datetime, days: int) -> tuple[Decimal | None, int | None]:
    """(average goods amount, count) of accepted earlier orders in the window; (None, None) if new."""
    base = and_(
        orders.c.customer_id == order.customer_id,
        orders.c.ordered_at <= ref,
        orders.c.order_id != order.order_id,
        orders.c.status.not_in(HISTORY_EXCLUDED_STATUSES),
    )
    total, n = conn.execute(
        select(func.sum(orders.c.goods_amount), func.count(orders.c.goods_amount)).where(
            base, orders.c.ordered_at >= ref - timedelta(days=days)
        )
    ).one()
    if n:
        return (Decimal(total) / n).quantize(Decimal("0.01"), ROUND_HALF_UP), n
    known = conn.execute(select(orders.c.order_id).where(base).limit(1)).first()
    return None, (0 if known else None)


def _burst(conn, order: CleanOrder, window: timedelta) -> list[str]:
    """Other orders in the fullest ``window``-long span that contains this order (same customer, address)."""
    me = _utc(order.ordered_at)
    rows = conn.execute(
        select(orders.c.order_id, orders.c.ordered_at)
        .where(
            orders.c.customer_id == order.customer_id,
            orders.c.address_text == address_key(order),
            orders.c.ordered_at.between(me - window, me + window),
            orders.c.order_id != order.order_id,
        )
        .order_by(orders.c.ordered_at, orders.c.order_id)
        .limit(_BURST_ROW_LIMIT)
    ).all()
    others = [(r.order_id, _utc(r.ordered_at)) for r in rows]
    best: list[str] = []
    for start in sorted({me, *(at for _, at in others if at <= me)}):
        if start + window < me:
            continue
        ids = [oid for oid, at in others if start <= at <= start + window]
        if len(ids) > len(best):
            best = ids
    return best


def _blacklist_hits(conn, order: CleanOrder) -> list[BlacklistEntry]:
    texts = [_squash(order.address_raw)] + ([_squash(order.address.text)] if order.address else [])
    rows = conn.execute(
        select(blacklist).where(
            or_(
                and_(blacklist.c.kind == BlacklistKind.CUSTOMER.value, blacklist.c.value == order.customer_id),
                and_(blacklist.c.kind == BlacklistKind.PHONE.value, blacklist.c.value == order.phone),
                blacklist.c.kind == BlacklistKind.ADDRESS.value,  # few rows; substring match below
            )
        )
    ).all()
    return [
        BlacklistEntry(kind=r.kind, value=r.value, reason=r.reason, created_at=_utc(r.created_at))
        for r in rows
        if r.kind != BlacklistKind.ADDRESS.value or any(r.value in t for t in texts)
    ]


def _coupon_redeemed_by(conn, code: str, order_id: str) -> str | None:
    """The order that redeemed ``code`` before this one (ledger order: redeemed_at, then order id)."""
    rows = conn.execute(
        select(coupon_redemptions.c.order_id, coupon_redemptions.c.redeemed_at)
        .where(coupon_redemptions.c.coupon_code == code)
        .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.order_id)
    ).all()
    for r in rows:
        if r.order_id == order_id:
            return None  # we were first; later redeemers are their problem
        return r.order_id
    return None


# ---------------------------------------------------------------- coupon ledger


def redeem_coupon(engine: Engine, code: str, order_id: str, amount: Decimal) -> str | None:
    """Record that ``order_id`` redeemed ``code`` (idempotent); returns the order that redeemed it first,
    or None when this order is the first."""
    with engine.begin() as conn:
        conn.execute(
            _insert(engine, coupon_redemptions)
            .values(coupon_code=code, order_id=order_id, amount=amount, redeemed_at=datetime.now(UTC))
            .on_conflict_do_nothing()
        )
        return _coupon_redeemed_by(conn, code, order_id)


def release_coupon(engine: Engine, code: str, order_id: str) -> bool:
    """Undo a redemption (order rejected or cancelled) so the coupon can be used again."""
    with engine.begin() as conn:
        res = conn.execute(
            delete(coupon_redemptions).where(
                coupon_redemptions.c.coupon_code == code, coupon_redemptions.c.order_id == order_id
            )
        )
        return res.rowcount > 0


# ---------------------------------------------------------------- blacklist


def normalize_blacklist_value(kind: BlacklistKind | str, value: str) -> str:
    """The form orders are compared in: E.164 phones, official address text, trimmed ids."""
    kind = BlacklistKind(kind)
    if kind is BlacklistKind.PHONE:
        return normalize_phone(value)  # ValueError: a non-phone could never match anything
    if kind is BlacklistKind.ADDRESS:
        resolved = resolve_address(value)
        text = resolved.text if resolved else value
        return _squash(text)[:300]
    return normalize_text(value)


def add_blacklist(engine: Engine, kind: BlacklistKind | str, value: str, reason: str = "") -> BlacklistEntry:
    entry = BlacklistEntry(
        kind=BlacklistKind(kind), value=normalize_blacklist_value(kind, value), reason=reason, created_at=datetime.now(UTC)
    )
    row = entry.model_dump(mode="python") | {"kind": entry.kind.value}
    with engine.begin() as conn:
        ins = _insert(engine, blacklist).values(**row)
        conn.execute(ins.on_conflict_do_update(index_elements=["kind", "value"], set_={"reason": ins.excluded.reason}))
    return entry


def list_blacklist(engine: Engine, kind: BlacklistKind | str | None = None) -> list[BlacklistEntry]:
    q = select(blacklist).order_by(blacklist.c.kind, blacklist.c.value)
    if kind:
        q = q.where(blacklist.c.kind == BlacklistKind(kind).value)
    with engine.connect() as conn:
        return [
            BlacklistEntry(kind=r.kind, value=r.value, reason=r.reason, created_at=_utc(r.created_at))
            for r in conn.execute(q)
        ]


def remove_blacklist(engine: Engine, kind: BlacklistKind | str, value: str) -> bool:
    try:
        values = {value, normalize_blacklist_value(kind, value)}
    except ValueError:
        values = {value}
    with engine.begin() as conn:
        res = conn.execute(
            delete(blacklist).where(blacklist.c.kind == BlacklistKind(kind).value, blacklist.c.value.in_(values))
        )
        return res.rowcount > 0


# ---------------------------------------------------------------- SKU reference


def upsert_sku_reference(engine: Engine, ref: SkuReference) -> None:
    row = ref.model_dump()
    with engine.begin() as conn:
        ins = _insert(engine, sku_reference).values(**row)
        conn.execute(
            ins.on_conflict_do_update(index_elements=["sku"], set_={k: ins.excluded[k] for k in row if k != "sku"})
        )


def list_sku_references(engine: Engine) -> list[SkuReference]:
    with engine.connect() as conn:
        return [
            SkuReference(sku=r.sku, name=r.name, floor_price=r.floor_price, fitment=r.fitment)
            for r in conn.execute(select(sku_reference).order_by(sku_reference.c.sku))
        ]


def seed_defaults(engine: Engine) -> dict[str, int]:
    """Load the demo reference data into empty tables (never over an operator's own data)."""
    seeded = {"sku_reference": 0, "blacklist": 0}
    with engine.connect() as conn:
        skus_empty = conn.execute(select(func.count()).select_from(sku_reference)).scalar_one() == 0
        blacklist_empty = conn.execute(select(func.count()).select_from(blacklist)).scalar_one() == 0
    if skus_empty:
        for ref in DEFAULT_SKUS:
            upsert_sku_reference(engine, ref)
        seeded["sku_reference"] = len(DEFAULT_SKUS)
    if blacklist_empty:
        for e in DEFAULT_BLACKLIST:
            add_blacklist(engine, e.kind, e.value, e.reason)
        seeded["blacklist"] = len(DEFAULT_BLACKLIST)
    return seeded
