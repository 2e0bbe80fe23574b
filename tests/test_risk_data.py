"""Risk lookups against a migrated read model, on SQLite and PostgreSQL: history, the 30-minute burst
(counting rows the order workflows project), blacklist, SKU data, coupon ledger, and that every query
on ``orders`` goes through an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from domain.cleansing import cleanse
from domain.order import CleanOrder, OrderSubmission
from domain.reference_data import BlacklistKind, SkuReference
from domain.risk import RiskThresholds, risk_level, scan
from domain.state import OrderState
from domain.status import OrderStatus as S
from store import risk_data
from store.db import engine_for, migrate
from store.read_model import project_order
from tests.support import fresh_pg_database, order_payload, pg_available

T0 = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)  # double-12, 10:00 in Hangzhou
ADDR = "杭州萧山区北干街道金城路188号"
T = RiskThresholds()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'risk.db'}"
        migrate(url)
        yield engine_for(url)
        return
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    with fresh_pg_database("zs_risk_test") as url:
        migrate(url)
        yield engine_for(url)
        engine_for(url).dispose()


def project(engine, coid: str, *, minutes: float = 0, customer: str = "SHOP-HZ-002", address: str = ADDR,
            price: str = "268.00", qty: int = 1, status: S = S.VALIDATED, phone: str = "13967154321",
            flags: tuple[str, ...] = (), coupon: dict | None = None) -> CleanOrder:
    """Cleanse a submission and upsert its row exactly as an order workflow does at receipt."""
    goods = Decimal(price) * qty
    p = order_payload(
        coid,
        ordered_at=(T0 + timedelta(minutes=minutes)).isoformat(),
        customer={"id": customer, "name": "李明", "phone": phone},
        address={"raw": address},
        paid_amount=str(goods - (Decimal(coupon["amount"]) if coupon else 0)),
        coupon=coupon,
    )
    p["lines"][0].update(unit_price=price, quantity=qty)
    sub = OrderSubmission.model_validate(p)
    order = cleanse(sub).order
    assert order is not None
    now = T0 + timedelta(minutes=minutes)
    state = OrderState(order_id=sub.order_id, status=status, submission=sub, order=order, flags=list(flags),
                       created_at=now, updated_at=now)
    project_order(engine, state)
    return order


def ctx_for(engine, order, **kw):
    return risk_data.load_context(engine, order, order.ordered_at + timedelta(seconds=1), T, **kw)


# ------------------------------------------------------------------ history


def test_history_average_counts_accepted_orders_in_90_days(engine):
    project(engine, "H1", minutes=-60 * 24 * 10, price="100.00", status=S.COMPLETED)
    project(engine, "H2", minutes=-60 * 24 * 40, price="200.00", status=S.ROUTED)
    project(engine, "H3", minutes=-60 * 24 * 89, price="300.01", status=S.VALIDATED)
    project(engine, "OLD", minutes=-60 * 24 * 91, price="9000.00", status=S.COMPLETED)  # outside window
    project(engine, "REJ", minutes=-60, price="9000.00", status=S.REJECTED)
    project(engine, "MRG", minutes=-60, price="9000.00", status=S.MERGED)
    project(engine, "OTHER", minutes=-60, price="9000.00", customer="SHOP-NJ-001")
    now = project(engine, "NOW", price="1000.03", status=S.RECEIVED)
    ctx = ctx_for(engine, now)
    assert ctx.customer_order_count == 3
    assert ctx.customer_avg_amount == Decimal("200.00")  # 600.01 / 3, half-up to the fen
    assert [h.code for h in scan(now, ctx, T)] == ["AMOUNT_OUTLIER"]  # 1000.03 > 5 × 200.00


def test_new_customer_versus_quiet_customer(engine):
    first = project(engine, "N1", customer="SHOP-NEW-001", price="5200.00", status=S.RECEIVED)
    ctx = ctx_for(engine, first)
    assert ctx.customer_order_count is None and ctx.customer_avg_amount is None
    assert "NEW_CUSTOMER_LARGE_ORDER" in [h.code for h in scan(first, ctx, T)]

    project(engine, "Q0", customer="SHOP-QUIET", minutes=-60 * 24 * 200, status=S.COMPLETED)
    back = project(engine, "Q1", customer="SHOP-QUIET", price="5200.00", status=S.RECEIVED)
    ctx = ctx_for(engine, back)
    assert ctx.customer_order_count == 0 and ctx.customer_avg_amount is None
    assert scan(back, ctx, T) == []


# ------------------------------------------------------------------ burst


def test_fifth_order_in_30_minutes_to_same_address_is_held(engine):
    orders = [project(engine, f"B{i}", minutes=i * 6, status=S.RECEIVED) for i in range(4)]  # 0,6,12,18
    project(engine, "B-ELSEWHERE", minutes=20, address="杭州市余杭区五常街道文一西路998号")
    project(engine, "B-OTHERSHOP", minutes=20, customer="SHOP-HZ-001")
    ctx4 = ctx_for(engine, orders[3])
    assert ctx4.burst_count == 4 and "BURST_SAME_ADDRESS" not in [h.code for h in scan(orders[3], ctx4, T)]

    fifth = project(engine, "B4", minutes=24, status=S.RECEIVED)
    ctx5 = ctx_for(engine, fifth)
    assert ctx5.burst_count == 5
    assert sorted(ctx5.burst_order_ids) == sorted(o.order_id for o in orders)
    hit = next(h for h in scan(fifth, ctx5, T) if h.code == "BURST_SAME_ADDRESS")
    assert hit.severity == "hold" and risk_level([hit]) == "hold"


def test_burst_window_slides_and_abbreviations_are_the_same_address(engine):
    for i, m in enumerate([0, 10, 20]):
        project(engine, f"S{i}", minutes=m)
    project(engine, "S3", minutes=29, address="浙江省杭州市萧山区北干街道金城路188号")  # full form
    late = project(engine, "S4", minutes=45)
    ctx = ctx_for(engine, late)
    assert ctx.burst_count == 3  # [15, 45] holds 20, 29, 45; the orders at 0 and 10 are too early
    early = project(engine, "S5", minutes=25)
    assert ctx_for(engine, early).burst_count == 5  # [0, 30]: 0, 10, 20, 25, 29


def test_burst_counts_orders_arriving_out_of_order(engine):
    for i, m in enumerate([5, 10, 15, 20]):
        project(engine, f"L{i}", minutes=m)
    first = project(engine, "L-FIRST", minutes=0)  # placed first, received last
    assert ctx_for(engine, first).burst_count == 5


# ------------------------------------------------------------------ blacklist


def test_blacklist_matches_customer_phone_and_address(engine):
    risk_data.add_blacklist(engine, "customer", "SHOP-SZ-099", "恶意拒收")
    risk_data.add_blacklist(engine, BlacklistKind.PHONE, "130-1234-0000", "冒用门店")
    risk_data.add_blacklist(engine, "address", "深圳宝安区福永街道凤凰山大道1号", "虚假签收")
    listed = risk_data.list_blacklist(engine)
    assert {(e.kind.value, e.value) for e in listed} == {
        ("customer", "SHOP-SZ-099"), ("phone", "+8613012340000"), ("address", "广东省深圳市宝安区福永街道凤凰山大道1号"),
    }
    by_customer = project(engine, "BL1", customer="SHOP-SZ-099")
    by_phone = project(engine, "BL2", phone="13012340000")
    by_address = project(engine, "BL3", address="广东深圳市宝安区福永街道 凤凰山大道1号3栋")
    clean = project(engine, "BL4")
    for o, kind in [(by_customer, "customer"), (by_phone, "phone"), (by_address, "address")]:
        ctx = ctx_for(engine, o)
        assert [h.kind.value for h in ctx.blacklist_hits] == [kind]
        assert risk_level(scan(o, ctx, T)) == "block"
    assert ctx_for(engine, clean).blacklist_hits == []

    assert risk_data.remove_blacklist(engine, "phone", "13012340000")
    assert not risk_data.remove_blacklist(engine, "phone", "13012340000")
    assert ctx_for(engine, by_phone).blacklist_hits == []
    risk_data.add_blacklist(engine, "customer", "SHOP-SZ-099", "新的原因")  # upsert, not a duplicate
    assert [e.reason for e in risk_data.list_blacklist(engine, "customer")] == ["新的原因"]
    with pytest.raises(ValueError):
        risk_data.add_blacklist(engine, "phone", "not-a-phone")


# ------------------------------------------------------------------ SKU reference


def test_seed_defaults_loads_sku_reference_once(engine):
    seeded = risk_data.seed_defaults(engine)
    assert seeded["sku_reference"] >= 10 and seeded["blacklist"] >= 3
    assert risk_data.seed_defaults(engine) == {"sku_reference": 0, "blacklist": 0}
    pads = project(engine, "SKU1", price="119.99")
    ctx = ctx_for(engine, pads)
    ref = ctx.sku_refs["BOSCH-BP-COROLLA18"]
    assert ref.floor_price == Decimal("120.00") and ref.fitment == ["NISSAN_SYLPHY_2020", "TOYOTA_COROLLA_2018"]
    assert set(ctx.sku_refs) == {"BOSCH-BP-COROLLA18"}  # only the order's SKUs are read
    assert [h.code for h in scan(pads, ctx, T)] == ["PRICE_BELOW_FLOOR"]
    risk_data.upsert_sku_reference(engine, SkuReference(sku="bosch-bp-corolla18", floor_price=Decimal("100")))
    assert ctx_for(engine, pads).sku_refs["BOSCH-BP-COROLLA18"].fitment == []


# ------------------------------------------------------------------ coupon ledger


def test_coupon_redemption_is_idempotent_and_first_redeemer_wins(engine):
    coupon = {"code": "D12-8888", "amount": "20.00"}
    a = project(engine, "CA", coupon=coupon)
    b = project(engine, "CB", minutes=1, coupon=coupon)
    assert risk_data.redeem_coupon(engine, "D12-8888", a.order_id, Decimal("20.00")) is None
    assert risk_data.redeem_coupon(engine, "D12-8888", a.order_id, Decimal("20.00")) is None  # retry
    assert ctx_for(engine, a).coupon_redeemed_by is None
    assert ctx_for(engine, b).coupon_redeemed_by == a.order_id
    assert "COUPON_ABUSE" in [h.code for h in scan(b, ctx_for(engine, b), T)]
    assert risk_data.redeem_coupon(engine, "D12-8888", b.order_id, Decimal("20.00")) == a.order_id
    assert ctx_for(engine, a).coupon_redeemed_by is None  # a later redeemer never taints the first
    assert risk_data.release_coupon(engine, "D12-8888", a.order_id)
    assert ctx_for(engine, b).coupon_redeemed_by is None


# ------------------------------------------------------------------ the rest of the context


def test_flags_carriers_and_remote_area(engine):
    merged_anchor = project(engine, "F1", flags=("suspected_brushing",))
    ctx = ctx_for(engine, merged_anchor, serving_carriers=["JD"], only_carrier_suspended=True)
    assert ctx.flags == ["suspected_brushing"] and ctx.serving_carriers == ["JD"] and ctx.only_carrier_suspended
    assert ctx_for(engine, merged_anchor, flags=[]).flags == []  # the workflow's own flags win
    lhasa = project(engine, "F2", address="西藏拉萨市城关区北京中路1号")
    assert ctx_for(engine, lhasa).remote_area and not ctx.remote_area


def test_queries_on_orders_use_indexes(engine):
    for i in range(30):
        project(engine, f"IX{i}", minutes=-i * 7, customer=f"SHOP-{i % 3}")
    me = project(engine, "IX-ME", customer="SHOP-1", coupon={"code": "IXC", "amount": "1.00"})
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM orders" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        ctx_for(engine, me)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) >= 3  # history, burst, flags
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # tiny tables: ask whether an index *can* serve it
        for statement, params in statements:
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(prefix + statement, params))
            assert "SCAN orders" not in plan and "Seq Scan on orders" not in plan, (statement, plan)
