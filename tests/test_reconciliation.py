"""Finance reconciliation: a day with known injected differences → the report finds exactly those,
totals reconcile to the fen, a re-run gives the same report and a fixed difference disappears."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from openpyxl import load_workbook

from activities.finance import DayRequest, FinanceActivities, ReportRequest, reconciliation_workbook
from domain.order import order_id_for
from domain.reconciliation import DiffClass, LedgerEntry, OurOrder, Receipt, Settlement, reconcile
from fakes.serve import serve_in_thread
from fakes.settlement import create_app as settlement_app
from store import metrics

DAY = date(2026, 11, 20)  # the seeded day; pass another ``day`` to the helpers below (e.g. relative to now)
CN = timezone(timedelta(hours=8))


def completed_on(day: date) -> datetime:
    """When the seeded day's orders complete: 14:00 Beijing."""
    return datetime(day.year, day.month, day.day, 14, 0, tzinfo=CN).astimezone(UTC)


COMPLETED = completed_on(DAY)


# ------------------------------------------------------------------ pure


def test_pure_classification_hand_computed():
    ours = [
        OurOrder(order_id="ok", channel="tmall", goods_fen=10000, paid_fen=10000),
        OurOrder(order_id="gone", channel="tmall", goods_fen=5000, paid_fen=5000),
        OurOrder(order_id="frt", channel="douyin", goods_fen=5000, freight_fen=800, paid_fen=5800),
        OurOrder(order_id="rnd", channel="tmall", lines=3, goods_fen=3000, paid_fen=3000),
        OurOrder(order_id="big", channel="tmall", lines=3, goods_fen=3000, paid_fen=3000),
        OurOrder(order_id="cpn", channel="tmall", goods_fen=3000, coupon_code="X", coupon_fen=500, paid_fen=2500),
    ]
    settlements = [
        Settlement(order_id="ok", channel="tmall", paid_fen=10000),
        Settlement(order_id="frt", channel="douyin", paid_fen=5000, freight_fen=0),
        Settlement(order_id="rnd", channel="tmall", paid_fen=2997),  # 3 fen over 3 lines: rounding
        Settlement(order_id="big", channel="tmall", paid_fen=2996),  # 4 fen over 3 lines: mismatch
        Settlement(order_id="cpn", channel="tmall", paid_fen=2500, coupon_code="X", coupon_fen=500),
        Settlement(order_id="ghost", channel="tmall", paid_fen=700),
    ]
    receipts = [Receipt(order_id=o.order_id, receipt_no=f"R-{o.order_id}", amount_fen=o.paid_fen) for o in ours]
    ledger = [LedgerEntry(coupon_code="X", order_id="earlier", amount_fen=500)]  # X was used before: twice
    r = reconcile("2026-11-20", ours, settlements, receipts, ledger)
    got = {(d.cls, d.source, d.order_id): d.amount_fen for d in r.differences}
    assert got == {
        (DiffClass.MISSING_SETTLEMENT, "channel", "gone"): 5000,
        (DiffClass.FREIGHT_NOT_COLLECTED, "channel", "frt"): 800,
        (DiffClass.ROUNDING_DIFFERENCE, "channel", "rnd"): 3,
        (DiffClass.AMOUNT_MISMATCH, "channel", "big"): 4,
        (DiffClass.UNMATCHED_SETTLEMENT, "channel", "ghost"): -700,
        (DiffClass.COUPON_REDEEMED_TWICE, "ledger", "cpn"): 500,
        (DiffClass.COUPON_NOT_IN_LEDGER, "ledger", "cpn"): 500,
    }
    t = r.totals
    assert t.ours_channel_fen == 29300 and t.channel_fen == 10000 + 5000 + 2997 + 2996 + 2500 + 700
    assert t.ours_channel_fen - t.channel_fen == t.channel_diff_fen == 5000 + 800 + 3 + 4 - 700
    assert t.channel_reconciles and t.erp_reconciles and t.erp_diff_fen == 0
    # deterministic: same input, same output
    assert reconcile("2026-11-20", ours, settlements, receipts, ledger) == r


def test_clean_day_and_empty_day():
    ours = [OurOrder(order_id="a", channel="erp", goods_fen=100, paid_fen=100)]  # ERP orders: no channel statement
    r = reconcile("d", ours, [], [Receipt(order_id="a", receipt_no="R1", amount_fen=100)], [])
    assert r.differences == [] and r.totals.channel_reconciles and r.totals.erp_reconciles
    empty = reconcile("d", [], [], [], [])
    assert empty.differences == [] and empty.summary()["orders"] == 0


# ------------------------------------------------------------------ a seeded day, end to end


def _order(coid, channel="tmall", lines=((2, "268.00"),), coupon=None, freight="0.00", completed=COMPLETED):
    oid = order_id_for(channel, coid)
    goods = sum(Decimal(p) * q for q, p in lines)
    cpn = Decimal(coupon[1]) if coupon else Decimal(0)
    paid = goods - cpn + Decimal(freight)
    return dict(
        oid=oid, channel=channel, coid=coid, lines=lines, coupon=coupon, freight=Decimal(freight), paid=paid,
        goods=goods, completed=completed,
    )


def orders_for(day: date) -> list[dict]:
    """The seeded day's orders (completed at 14:00 Beijing on ``day``) and Z, completed the day after."""
    done = completed_on(day)
    return [
        _order("A", freight="10.00", completed=done),  # clean
        _order("B", lines=((1, "99.90"), (3, "12.35"), (1, "0.10")), coupon=("C1", "50.00"), freight="12.00",
               completed=done),  # clean
        _order("C", channel="douyin", completed=done),  # the channel never settles it
        _order("D", freight="15.00", completed=done),  # freight charged, not collected
        _order("E", lines=((3, "33.33"),), coupon=("C3", "10.00"), completed=done),  # per-line rounding at the channel
        _order("F", completed=done),  # the channel applies B's coupon C1 to it as well
        _order("G", coupon=("C2", "20.00"), completed=done),  # coupon discount the ledger never saw
        _order("H", channel="miniprogram", completed=done),  # ERP has no receipt
        _order("I", channel="erp", completed=done),  # ERP receipt 5.00 short
        _order("Z", completed=done + timedelta(days=1)),  # another day: not in this report
    ]


ORDERS = orders_for(DAY)
IN_LEDGER = {"B", "E"}


def _seed(engine, day: date = DAY):
    from store.schema import coupon_redemptions, order_lines, orders, timeline_events

    with engine.begin() as conn:
        for o in orders_for(day):
            at = o["completed"] - timedelta(minutes=5)
            conn.execute(orders.insert().values(
                order_id=o["oid"], channel=o["channel"], channel_order_id=o["coid"], status="completed",
                customer_id="C", customer_name="n", phone="+8613800000000", province="浙江省", city="杭州市",
                district="萧山区", adcode="330109", address_text="x", goods_amount=o["goods"],
                coupon_code=o["coupon"][0] if o["coupon"] else None,
                coupon_amount=Decimal(o["coupon"][1]) if o["coupon"] else None, freight=o["freight"],
                paid_amount=o["paid"], flags=[], risk_level="none", warehouse="HZ-DIRECT", carrier="SF",
                ordered_at=at, created_at=at, updated_at=o["completed"], last_seq=2, projected_at=o["completed"],
            ))
            conn.execute(order_lines.insert(), [
                dict(order_id=o["oid"], line_no=i + 1, sku=f"S{i}", name="n", category="刹车片", quantity=q,
                     unit_price=Decimal(p))
                for i, (q, p) in enumerate(o["lines"])
            ])
            conn.execute(timeline_events.insert(), [
                dict(order_id=o["oid"], seq=1, at=at, event="order.received", status="received", actor="api", reason="", data={}),
                dict(order_id=o["oid"], seq=2, at=o["completed"], event="order.completed", status="completed",
                     actor="system", reason="", data={}),
            ])
            if o["coid"] in IN_LEDGER:
                conn.execute(coupon_redemptions.insert().values(
                    coupon_code=o["coupon"][0], order_id=o["oid"], amount=Decimal(o["coupon"][1]), redeemed_at=at))


@pytest.fixture
def settlement():
    server = serve_in_thread(settlement_app())
    yield server
    server.stop()


def _prime_fake(url, day: date = DAY):
    done = completed_on(day)
    fake_orders = [
        dict(order_id=o["oid"], channel=o["channel"], channel_order_id=o["coid"], paid=str(o["paid"]),
             freight=str(o["freight"]), coupon_code=o["coupon"][0] if o["coupon"] else None,
             coupon=o["coupon"][1] if o["coupon"] else "0")
        for o in orders_for(day) if o["completed"] == done
    ]
    day = day.isoformat()
    http = httpx.Client(base_url=url, timeout=10)
    http.post("/_control/orders", json={"day": day, "orders": fake_orders}).raise_for_status()
    oid = {o["coid"]: o["oid"] for o in ORDERS}
    for d in (
        dict(order_id=oid["C"], kind="missing_settlement"),
        dict(order_id=oid["D"], kind="freight_not_collected"),
        dict(order_id=oid["E"], kind="rounding"),
        dict(order_id=oid["F"], kind="coupon_twice", coupon_code="C1", amount="50.00"),
        dict(order_id=oid["H"], kind="missing_receipt"),
        dict(order_id=oid["I"], kind="amount", source="erp", amount="5.00"),
        dict(order_id="GHOST-1", kind="unknown_order", channel="tmall", channel_order_id="GHOST-1", amount="99.00"),
    ):
        http.post("/_control/discrepancies", json={"day": day, **d}).raise_for_status()
    return http, oid


def _run(acts: FinanceActivities, wid="test", day: date = DAY):
    req = DayRequest(day=day.isoformat())
    acts.backfill_order_finance(req)
    acts.fetch_channel_settlements(req)
    acts.fetch_erp_receipts(req)
    return acts.build_reconciliation_report(ReportRequest(day=day.isoformat(), workflow_id=wid))


def test_seeded_day_finds_exactly_the_injected_differences(engine, settlement):
    _seed(engine)
    http, oid = _prime_fake(settlement.url)
    acts = FinanceActivities(engine, settlement.url)
    summary = _run(acts)
    assert summary.orders == 9  # Z completed the next day
    run = metrics.get_run(engine, DAY)
    found = {(d["cls"], d["source"], d["order_id"]): d["amount_fen"] for d in run["differences"]}
    assert found == {
        ("missing_settlement", "channel", oid["C"]): 53600,
        ("freight_not_collected", "channel", oid["D"]): 1500,
        ("rounding_difference", "channel", oid["E"]): 1,
        ("coupon_redeemed_twice", "ledger", oid["F"]): 5000,
        ("coupon_not_in_ledger", "ledger", oid["G"]): 2000,
        ("missing_receipt", "erp", oid["H"]): 53600,
        ("amount_mismatch", "erp", oid["I"]): 500,
        ("unmatched_settlement", "channel", "order-tmall-GHOST-1"): -9900,
    }
    # totals to the fen: ours − theirs = Σ differences, per source
    t = run["summary"]["totals"]
    assert t["channel_reconciles"] and t["erp_reconciles"]
    ours_total = sum(int(o["paid"] * 100) for o in ORDERS if o["completed"] == COMPLETED)
    assert t["ours_fen"] == ours_total
    assert t["ours_channel_fen"] - t["channel_fen"] == t["channel_diff_fen"] == 53600 + 1500 + 1 - 9900
    assert t["ours_fen"] - t["erp_fen"] == t["erp_diff_fen"] == 53600 + 500

    # the finance record allocates coupon and freight across lines exactly
    from sqlalchemy import select

    from store.schema import order_finance

    with engine.connect() as conn:
        b = conn.execute(select(order_finance).where(order_finance.c.order_id == oid["B"])).one()
    assert b.coupon_fen == 5000 and b.freight_fen == 1200 and b.goods_fen == 9990 + 3705 + 10
    assert sum(ln["coupon_fen"] for ln in b.lines) == 5000 and sum(ln["freight_fen"] for ln in b.lines) == 1200
    assert b.paid_fen == 9990 + 3705 + 10 - 5000 + 1200

    # the Excel report: summary + one sheet per class, rows as found
    wb = load_workbook(io.BytesIO(metrics.get_run(engine, DAY, workbook=True)["workbook"]))
    assert wb.sheetnames[0] == "汇总 summary" and len(wb.sheetnames) == 1 + len(DiffClass)
    sheet = next(ws for ws in wb.worksheets if ws.title.endswith("(missing_settlement)"))
    assert [c.value for c in sheet[2]][:5] == [oid["C"], "channel", 536, None, 536]

    # re-running the day gives the same report
    _run(acts, wid="again")
    again = metrics.get_run(engine, DAY)
    assert again["differences"] == run["differences"] and again["summary"] == run["summary"]

    # fix two at the source: they disappear on the next run, the rest stay
    http.post("/_control/fix", json={"day": DAY.isoformat(), "order_id": oid["D"]}).raise_for_status()
    http.post("/_control/fix", json={"day": DAY.isoformat(), "order_id": oid["H"]}).raise_for_status()
    _run(acts, wid="fixed")
    fixed = {(d["cls"], d["order_id"]) for d in metrics.get_run(engine, DAY)["differences"]}
    assert ("freight_not_collected", oid["D"]) not in fixed and ("missing_receipt", oid["H"]) not in fixed
    assert len(fixed) == 6


def test_workbook_has_every_class_even_when_clean():
    r = reconcile("2026-11-21", [], [], [], [])
    wb = load_workbook(io.BytesIO(reconciliation_workbook(r)))
    assert len(wb.sheetnames) == 1 + len(DiffClass)
    assert all(ws.max_row == 1 for ws in wb.worksheets[1:])  # header only


def test_auto_injected_realistic_day():
    """The embedded stack's fake: a deterministic, realistic set of discrepancies per day."""
    from fakes.settlement import FakeOrder, auto_discrepancies

    orders = [FakeOrder(order_id=f"order-tmall-{i}", channel="tmall", channel_order_id=str(i), paid=Decimal("100"),
                        freight=Decimal("8") if i % 2 else Decimal("0"), coupon_code="CX" if i == 3 else None,
                        coupon=Decimal("5") if i == 3 else Decimal("0")) for i in range(10)]
    ds = auto_discrepancies("2026-11-20", orders)
    assert [d.kind for d in ds] == ["missing_settlement", "freight_not_collected", "rounding", "coupon_twice"]
    assert len({d.order_id for d in ds}) == 4
    assert auto_discrepancies("2026-11-20", orders) == ds


def test_the_fake_channel_settles_what_we_recorded_at_release_not_only_completed_orders(db_url):
    """With fulfilment on, an order's money is recorded at release but it completes weeks later: the
    day's statement (and our side) are the released orders, so a day reconciles without false gaps."""
    from datetime import datetime
    from decimal import Decimal

    from activities.finance import allocation_for
    from domain.order import OrderSubmission
    from domain.state import OrderState
    from domain.status import OrderStatus
    from fakes.settlement import read_model_source
    from store import metrics, read_model
    from store.db import engine_for, migrate
    from tests.support import order_payload

    migrate(db_url)
    engine = engine_for(db_url)
    sub = OrderSubmission.model_validate(order_payload())
    now = datetime.now(UTC)
    read_model.project_order(engine, OrderState(order_id=sub.order_id, status=OrderStatus.PICKING, submission=sub,
                                                created_at=now, updated_at=now))
    metrics.record_order_finance(engine, order_id=sub.order_id, channel="miniprogram", completed_at=now,
                                 allocation=allocation_for([(1, Decimal("268.00"), 2)], None, Decimal("0")),
                                 coupon_code=None, paid_fen=53600)
    from domain.warehouse import CN_TZ

    day = now.astimezone(CN_TZ).date()
    statement = read_model_source(db_url)(day.isoformat())
    assert [o.order_id for o in statement] == [sub.order_id] and statement[0].paid == Decimal("536.00")
    assert metrics.completed_orders(engine, day) == []  # not completed yet, and still settled


def test_refunds_reconcile_against_the_channels_refund_lines_to_the_fen():
    from domain.reconciliation import OurRefund, RefundLine

    ours = [OurOrder(order_id="order-tmall-A", channel="tmall", goods_fen=53600, paid_fen=53600)]
    settlements = [Settlement(order_id="order-tmall-A", channel="tmall", paid_fen=53600)]
    receipts = [Receipt(order_id="order-tmall-A", receipt_no="R1", amount_fen=53600)]
    refunds = [OurRefund(case_id="order-tmall-A~AS1", order_id="order-tmall-A", channel="tmall", amount_fen=26800),
               OurRefund(case_id="order-tmall-B~AS1", order_id="order-tmall-B", channel="tmall", amount_fen=9900),
               OurRefund(case_id="order-tmall-C~AS1", order_id="order-tmall-C", channel="tmall", amount_fen=5000)]
    lines = [RefundLine(refund_no="TK1", case_id="order-tmall-A~AS1", order_id="order-tmall-A", channel="tmall", amount_fen=26800),
             RefundLine(refund_no="TK2", order_id="order-tmall-C", channel="tmall", amount_fen=4000),  # matched by order
             RefundLine(refund_no="TK3", order_id="order-tmall-X", channel="tmall", amount_fen=1200)]
    result = reconcile("2026-11-27", ours, settlements, receipts, [], refunds, lines)
    got = {(d.cls, d.order_id): d.amount_fen for d in result.differences}
    assert got == {(DiffClass.REFUND_NOT_DEDUCTED, "order-tmall-B"): -9900,
                   (DiffClass.REFUND_MISMATCH, "order-tmall-C"): -1000,
                   (DiffClass.UNMATCHED_REFUND, "order-tmall-X"): 1200}
    assert result.totals.channel_reconciles and result.totals.erp_reconciles
    assert result.summary()["classes"]["refund_not_deducted"]["label"] == "渠道未扣退款"


def test_a_recorded_refund_appears_in_the_channel_statement_and_reconciles(db_url):
    """Aftersales refund → the (fake) channel deducts it → fetched as a refund line → matched; a refund
    the channel never deducts is a difference of its own."""
    from datetime import datetime

    from activities.finance import run_reconciliation
    from domain.order import OrderSubmission
    from domain.state import OrderState
    from domain.status import OrderStatus
    from domain.warehouse import CN_TZ
    from fakes.settlement import read_model_refunds
    from store import read_model
    from store.aftersales import record_refund
    from store.db import engine_for, migrate
    from tests.support import order_payload

    migrate(db_url)
    engine = engine_for(db_url)
    now = datetime.now(UTC)
    day = now.astimezone(CN_TZ).date()
    sub = OrderSubmission.model_validate(order_payload(channel="tmall"))
    read_model.project_order(engine, OrderState(order_id=sub.order_id, status=OrderStatus.DELIVERED, submission=sub,
                                                created_at=now, updated_at=now))
    record_refund(engine, case_id=f"{sub.order_id}~AS1", order_id=sub.order_id, channel="tmall", amount_fen=26800,
                  lines=[{"sku": "BOSCH-BP-COROLLA18", "quantity": 1}], reason="刹车片异响", refunded_at=now)
    server = serve_in_thread(settlement_app(refunds_source=read_model_refunds(db_url)))
    try:
        acts = FinanceActivities(engine, server.url)
        acts.fetch_channel_settlements(DayRequest(day=day.isoformat()))
        result = run_reconciliation(engine, day, "test")
        assert not [d for d in result.differences if d.cls.value.startswith("refund") or d.cls.value == "unmatched_refund"]
        assert result.totals.channel_reconciles
    finally:
        server.stop()
    # the channel never deducted this one
    record_refund(engine, case_id=f"{sub.order_id}~AS2", order_id=sub.order_id, channel="tmall", amount_fen=1000,
                  lines=[], reason="少发", refunded_at=now)
    result = run_reconciliation(engine, day, "test")  # the statement fetched before knows only AS1
    missing = [d for d in result.differences if d.cls == DiffClass.REFUND_NOT_DEDUCTED]
    assert [(d.order_id, d.amount_fen) for d in missing] == [(sub.order_id, -1000)] and result.totals.channel_reconciles
