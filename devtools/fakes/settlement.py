"""A fake channel settlement service and ERP receipts (收款单) for a day, with injected discrepancies.

On the wire (what ``activities/finance.py`` reads):

* ``GET /channels/{channel}/settlements?day=YYYY-MM-DD`` →
  ``{"channel", "day", "lines": [{"settlement_no", "channel_order_id", "order_id", "settled_amount",
  "freight", "coupon_code", "coupon_amount"}]}`` — amounts as yuan strings, as channels send them;
  channels identify orders by *their* order number (``channel_order_id``).
* ``GET /erp/receipts?day=YYYY-MM-DD`` → ``{"day", "receipts": [{"receipt_no", "order_id", "amount",
  "freight"}]}``.

What the fake knows about a day's orders comes from ``POST /_control/orders`` (tests) or, for the
embedded stack, from the read model (``create_app_from_env``: the orders completed that day, as the
channel itself would know them). Without discrepancies every statement agrees with our orders to the
fen. Discrepancies (``POST /_control/discrepancies``), each for one order of one day:

=======================  ========================================================================
kind                     effect
=======================  ========================================================================
missing_settlement       the channel statement has no line for the order
missing_receipt          the ERP has no receipt for it
freight_not_collected    the channel (or ``source: "erp"``) settles without the freight
rounding                 the channel settles ``amount`` (default 0.01) yuan less — per-line rounding
amount                   the channel (or ERP) settles ``amount`` yuan less (negative: more)
coupon_twice             the channel reports ``coupon_code`` (one another order already redeemed)
                         as used on this order too
unknown_order            an extra settlement line for a channel order we never completed
=======================  ========================================================================

``POST /_control/fix {"day", "order_id", "kind"?}`` removes them again (a fixed difference must
disappear on the next reconciliation); ``auto_inject=True`` (the embedded stack) injects a realistic
set deterministically per day. ``POST /_control/reset`` clears everything.

Run it alone: ``uvicorn fakes.settlement:create_app --factory --port 8601``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel

KINDS = (
    "missing_settlement", "missing_receipt", "freight_not_collected", "rounding", "amount", "coupon_twice", "unknown_order",
)


class FakeOrder(BaseModel):
    order_id: str
    channel: str
    channel_order_id: str
    paid: Decimal
    freight: Decimal = Decimal("0")
    coupon_code: str | None = None
    coupon: Decimal = Decimal("0")


class OrdersIn(BaseModel):
    day: str
    orders: list[FakeOrder]


class DiscrepancyIn(BaseModel):
    day: str
    order_id: str
    kind: str
    source: str = "channel"  # channel | erp (freight_not_collected, amount)
    amount: Decimal | None = None
    coupon_code: str | None = None
    channel: str | None = None  # unknown_order: which channel's statement
    channel_order_id: str | None = None  # unknown_order


class FixIn(BaseModel):
    day: str
    order_id: str
    kind: str | None = None


def _money(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01'))}"


def _ref(prefix: str, day: str, key: str) -> str:
    return f"{prefix}{day.replace('-', '')}-{hashlib.sha1(key.encode()).hexdigest()[:10].upper()}"


class FakeRefund(BaseModel):
    """A refund the channel deducted from the day's settlement (a refund line of the statement)."""

    refund_no: str
    case_id: str | None = None
    channel: str
    channel_order_id: str
    amount: Decimal


class SettlementState:
    def __init__(self, source: Callable[[str], list[FakeOrder]] | None, auto_inject: bool,
                 refunds_source: Callable[[str], list[FakeRefund]] | None = None):
        self.refunds_source = refunds_source
        self.source = source
        self.auto_inject = auto_inject
        self.orders: dict[str, list[FakeOrder]] = {}
        self.discrepancies: dict[str, list[DiscrepancyIn]] = {}
        self.fixed: dict[str, set[tuple[str, str]]] = {}  # auto-injected ones fixed by hand
        self.lock = threading.Lock()

    def day_orders(self, day: str) -> list[FakeOrder]:
        with self.lock:
            if day in self.orders:
                return list(self.orders[day])
        return sorted(self.source(day), key=lambda o: o.order_id) if self.source else []

    def day_discrepancies(self, day: str, orders: list[FakeOrder]) -> list[DiscrepancyIn]:
        with self.lock:
            out = list(self.discrepancies.get(day, []))
            fixed = set(self.fixed.get(day, set()))
        if self.auto_inject:
            out += [d for d in auto_discrepancies(day, orders) if (d.order_id, d.kind) not in fixed]
        return out


def auto_discrepancies(day: str, orders: list[FakeOrder]) -> list[DiscrepancyIn]:
    """A realistic day: one missing settlement, one freight not collected, one rounding difference,
    one coupon redeemed twice (when the day has coupons) — chosen deterministically."""
    if len(orders) < 4:
        return []
    ranked = sorted(orders, key=lambda o: hashlib.sha1(f"{day}{o.order_id}".encode()).hexdigest())
    settling = [o for o in ranked if o.channel in ("tmall", "taobao", "douyin", "miniprogram")]
    out: list[DiscrepancyIn] = []
    used: set[str] = set()

    def pick(pred) -> FakeOrder | None:
        o = next((o for o in settling if o.order_id not in used and pred(o)), None)
        if o:
            used.add(o.order_id)
        return o

    if o := pick(lambda o: True):
        out.append(DiscrepancyIn(day=day, order_id=o.order_id, kind="missing_settlement"))
    if o := pick(lambda o: o.freight > 0):
        out.append(DiscrepancyIn(day=day, order_id=o.order_id, kind="freight_not_collected"))
    if o := pick(lambda o: o.paid > 0):
        out.append(DiscrepancyIn(day=day, order_id=o.order_id, kind="rounding"))
    coupon = next((o for o in orders if o.coupon_code), None)
    if coupon and (o := pick(lambda o: o.order_id != coupon.order_id and not o.coupon_code)):
        out.append(DiscrepancyIn(day=day, order_id=o.order_id, kind="coupon_twice", coupon_code=coupon.coupon_code,
                                 amount=coupon.coupon))
    return out


def statements(orders: list[FakeOrder], discrepancies: list[DiscrepancyIn], day: str) -> tuple[dict[str, list], list]:
    by_order: dict[str, list[DiscrepancyIn]] = {}
    for d in discrepancies:
        by_order.setdefault(d.order_id, []).append(d)
    channel_lines: dict[str, list[dict[str, Any]]] = {}
    receipts: list[dict[str, Any]] = []
    for o in orders:
        ds = by_order.get(o.order_id, [])
        kinds = {(d.kind, d.source) for d in ds}
        settled, freight, receipt, rfreight = o.paid, o.freight, o.paid, o.freight
        coupon_code, coupon = o.coupon_code, o.coupon
        for d in ds:
            if d.kind == "freight_not_collected":
                if d.source == "erp":
                    receipt, rfreight = receipt - o.freight, Decimal("0")
                else:
                    settled, freight = settled - o.freight, Decimal("0")
            elif d.kind == "rounding":
                settled -= d.amount if d.amount is not None else Decimal("0.01")
            elif d.kind == "amount":
                if d.source == "erp":
                    receipt -= d.amount or Decimal("0")
                else:
                    settled -= d.amount or Decimal("0")
            elif d.kind == "coupon_twice":
                coupon_code, coupon = d.coupon_code, d.amount or Decimal("0")
        if ("missing_settlement", "channel") not in kinds and o.channel in ("tmall", "taobao", "douyin", "miniprogram"):
            channel_lines.setdefault(o.channel, []).append({
                "settlement_no": _ref("ST", day, o.order_id), "channel_order_id": o.channel_order_id,
                "order_id": o.order_id, "settled_amount": _money(settled), "freight": _money(freight),
                "coupon_code": coupon_code, "coupon_amount": _money(coupon),
            })
        if not any(d.kind == "missing_receipt" for d in ds):
            receipts.append({
                "receipt_no": _ref("SK", day, o.order_id), "order_id": o.order_id, "amount": _money(receipt),
                "freight": _money(rfreight),
            })
    for d in discrepancies:
        if d.kind == "unknown_order":
            ch = d.channel or "tmall"
            coid = d.channel_order_id or d.order_id
            channel_lines.setdefault(ch, []).append({
                "settlement_no": _ref("ST", day, f"{ch}:{coid}"), "channel_order_id": coid, "order_id": None,
                "settled_amount": _money(d.amount or Decimal("0")), "freight": "0.00", "coupon_code": None,
                "coupon_amount": "0.00",
            })
    return channel_lines, receipts


def create_app(source: Callable[[str], list[FakeOrder]] | None = None, auto_inject: bool = False,
               refunds_source: Callable[[str], list[FakeRefund]] | None = None) -> FastAPI:
    app = FastAPI(title="fake channel settlements + ERP receipts")
    state = SettlementState(source, auto_inject, refunds_source)
    app.state.settlement = state

    def build(day: str):
        orders = state.day_orders(day)
        return statements(orders, state.day_discrepancies(day, orders), day)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.get("/channels/{channel}/settlements")
    def settlements(channel: str, day: str = Query(..., pattern=r"^\d{4}-\d{2}-\d{2}$")):
        lines, _ = build(day)
        refunds = [{"refund_no": r.refund_no, "case_id": r.case_id, "channel_order_id": r.channel_order_id,
                    "amount": str(r.amount)}
                   for r in (state.refunds_source(day) if state.refunds_source else []) if r.channel == channel]
        return {"channel": channel, "day": day, "lines": lines.get(channel, []), "refunds": refunds}

    @app.get("/erp/receipts")
    def receipts(day: str = Query(..., pattern=r"^\d{4}-\d{2}-\d{2}$")):
        _, rc = build(day)
        return {"day": day, "receipts": rc}

    @app.post("/_control/orders")
    def put_orders(body: OrdersIn):
        with state.lock:
            state.orders[body.day] = sorted(body.orders, key=lambda o: o.order_id)
        return {"day": body.day, "orders": len(body.orders)}

    @app.post("/_control/discrepancies")
    def inject(body: DiscrepancyIn):
        if body.kind not in KINDS:
            raise HTTPException(422, f"kind must be one of {', '.join(KINDS)}")
        with state.lock:
            state.discrepancies.setdefault(body.day, []).append(body)
        return {"ok": True}

    @app.get("/_control/discrepancies")
    def list_discrepancies(day: str):
        orders = state.day_orders(day)
        return {"day": day, "items": [d.model_dump(mode="json") for d in state.day_discrepancies(day, orders)]}

    @app.post("/_control/fix")
    def fix(body: FixIn):
        with state.lock:
            before = state.discrepancies.get(body.day, [])
            keep = [d for d in before if not (d.order_id == body.order_id and (body.kind is None or d.kind == body.kind))]
            state.discrepancies[body.day] = keep
            removed = len(before) - len(keep)
            if state.auto_inject:
                for k in ([body.kind] if body.kind else KINDS):
                    state.fixed.setdefault(body.day, set()).add((body.order_id, k))
        return {"removed": removed}

    @app.post("/_control/reset")
    def reset():
        with state.lock:
            state.orders.clear()
            state.discrepancies.clear()
            state.fixed.clear()
        return {"ok": True}

    return app


def read_model_source(db_url: str) -> Callable[[str], list[FakeOrder]]:
    """The channel's own record of a day: the orders whose money we recorded that day (released to
    fulfilment; with fulfilment off that is also when they complete)."""

    def source(day: str) -> list[FakeOrder]:
        from datetime import date

        from store import metrics
        from store.db import engine_for

        out = []
        for o in metrics.financed_orders(engine_for(db_url), date.fromisoformat(day)):
            out.append(FakeOrder(
                order_id=o["order_id"], channel=o["channel"], channel_order_id=o["channel_order_id"],
                paid=o["paid_amount"] or Decimal("0"), freight=o["freight"] or Decimal("0"),
                coupon_code=o["coupon_code"] if o["coupon_amount"] else None, coupon=o["coupon_amount"] or Decimal("0"),
            ))
        return out

    return source


def read_model_refunds(db_url: str) -> Callable[[str], list[FakeRefund]]:
    """The channel's refund lines of a day: the refunds our aftersales cases recorded that day."""

    def source(day: str) -> list[FakeRefund]:
        from sqlalchemy import select

        from store.aftersales import refunds_day
        from store.db import engine_for
        from store.schema import orders

        engine = engine_for(db_url)
        rows = refunds_day(engine, day)
        if not rows:
            return []
        with engine.connect() as conn:
            coid = dict(conn.execute(select(orders.c.order_id, orders.c.channel_order_id)
                                     .where(orders.c.order_id.in_([r["order_id"] for r in rows]))).all())
        return [FakeRefund(refund_no=f"TK{r['refund_no']}", case_id=r["case_id"], channel=r["channel"],
                           channel_order_id=coid.get(r["order_id"], r["order_id"]),
                           amount=Decimal(r["amount_fen"]) / 100) for r in rows]

    return source


def create_app_from_env() -> FastAPI:
    """The embedded stack's fake: mirrors the read model, with realistic discrepancies injected."""
    from zhongshu.settings import get_settings

    url = get_settings().db_url
    return create_app(read_model_source(url), auto_inject=True, refunds_source=read_model_refunds(url))
