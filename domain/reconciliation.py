"""Finance reconciliation (财务对账) as a pure function: our orders vs the channels' settlement
statements vs the ERP's receipts, every difference classified, totals that reconcile to the fen.

Inputs are plain records in integer fen; ``reconcile`` is deterministic (sorted output, no clock),
so re-running a day gives the same report and a fixed difference is simply absent the next time.

Classes (one Excel sheet each):

=======================  ==========================================================================
class                    meaning
=======================  ==========================================================================
missing_settlement       we completed the order, the channel's statement has no line for it
missing_receipt          we completed the order, the ERP has no receipt for it
unmatched_settlement     the channel settled / the ERP received money for an order we do not have
                         completed that day
freight_not_collected    we charged freight, the statement/receipt collected none of it
rounding_difference      the amount differs by at most one fen per order line (per-line rounding)
amount_mismatch          any other difference in the amount
coupon_redeemed_twice    one coupon code redeemed by more than one order (ledger or statement)
coupon_not_in_ledger     the order took a coupon discount the coupon ledger never recorded
                         (the "2.37 million" failure: redemptions that never reached finance)
refund_not_deducted      an aftersales case refunded the customer; the channel's statement has no
                         refund line for it (the channel still paid us the money)
unmatched_refund         the channel deducted a refund no aftersales case of ours recorded
refund_mismatch          both sides have the refund, with different amounts
=======================  ==========================================================================

Refunds are money going back: they count negatively on both sides of the channel identity.

The identity the tests hold it to: for each source (``channel``, ``erp``),
``ours_total − their_total == Σ amount_fen of that source's differences``. Coupon findings are
``source="ledger"`` and sit outside the identity (they are revenue at risk, not a payment gap).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain import labels


class DiffClass(StrEnum):
    MISSING_SETTLEMENT = "missing_settlement"
    MISSING_RECEIPT = "missing_receipt"
    UNMATCHED_SETTLEMENT = "unmatched_settlement"
    FREIGHT_NOT_COLLECTED = "freight_not_collected"
    ROUNDING_DIFFERENCE = "rounding_difference"
    AMOUNT_MISMATCH = "amount_mismatch"
    COUPON_REDEEMED_TWICE = "coupon_redeemed_twice"
    COUPON_NOT_IN_LEDGER = "coupon_not_in_ledger"
    REFUND_NOT_DEDUCTED = "refund_not_deducted"
    UNMATCHED_REFUND = "unmatched_refund"
    REFUND_MISMATCH = "refund_mismatch"


LABELS: dict[DiffClass, str] = {c: labels.diff_class(c) for c in DiffClass}  # the words live in domain/labels.py

# channels that send settlement statements; ERP and manual orders settle through the ERP only
SETTLING_CHANNELS = ("tmall", "taobao", "douyin", "miniprogram")


class OurOrder(BaseModel):
    """An order we completed that day, its money fixed at completion (see domain.allocation)."""

    order_id: str
    channel: str
    lines: int = 1
    goods_fen: int
    coupon_code: str | None = None
    coupon_fen: int = 0
    freight_fen: int = 0
    paid_fen: int


class Settlement(BaseModel):
    """One line of a channel's settlement statement."""

    order_id: str
    channel: str
    paid_fen: int  # what the channel settles for the order
    freight_fen: int = 0  # the freight part of it
    coupon_code: str | None = None
    coupon_fen: int = 0


class Receipt(BaseModel):
    """One ERP receipt (收款单)."""

    order_id: str
    receipt_no: str
    amount_fen: int
    freight_fen: int = 0


class OurRefund(BaseModel):
    """A refund an aftersales case recorded that day (money back to the customer)."""

    case_id: str
    order_id: str
    channel: str
    amount_fen: int


class RefundLine(BaseModel):
    """A refund deducted in a channel's statement."""

    refund_no: str
    case_id: str | None = None  # the channel's reference to our case, when it carries one
    order_id: str
    channel: str
    amount_fen: int


class LedgerEntry(BaseModel):
    """A coupon ledger row; pass them in ledger order (redeemed_at, then order id)."""

    coupon_code: str
    order_id: str
    amount_fen: int


class Difference(BaseModel):
    cls: DiffClass
    source: str  # channel | erp | ledger
    order_id: str
    amount_fen: int  # ours − theirs (ledger: the coupon amount at risk)
    ours_fen: int | None = None
    theirs_fen: int | None = None
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cls.value, self.source, self.order_id)


class Totals(BaseModel):
    ours_fen: int
    channel_fen: int  # settlements of channel orders
    ours_channel_fen: int  # our orders from settling channels
    erp_fen: int
    channel_diff_fen: int  # Σ differences with source channel
    erp_diff_fen: int

    @property
    def channel_reconciles(self) -> bool:
        return self.ours_channel_fen - self.channel_fen == self.channel_diff_fen

    @property
    def erp_reconciles(self) -> bool:
        return self.ours_fen - self.erp_fen == self.erp_diff_fen


class ReconciliationResult(BaseModel):
    day: str
    orders: int
    totals: Totals
    differences: list[Difference]

    def by_class(self) -> dict[DiffClass, list[Difference]]:
        out: dict[DiffClass, list[Difference]] = {c: [] for c in DiffClass}
        for d in self.differences:
            out[d.cls].append(d)
        return out

    def summary(self) -> dict[str, Any]:
        groups = self.by_class()
        return {
            "day": self.day,
            "orders": self.orders,
            "differences": len(self.differences),
            "classes": {
                c.value: {"label": LABELS[c], "count": len(ds), "amount_fen": sum(d.amount_fen for d in ds)}
                for c, ds in groups.items()
            },
            "totals": self.totals.model_dump()
            | {"channel_reconciles": self.totals.channel_reconciles, "erp_reconciles": self.totals.erp_reconciles},
        }


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def classify_amount(
    source: str, ours: OurOrder, theirs_fen: int, their_freight_fen: int | None
) -> Difference | None:
    """One order against one source's figure; None when they agree to the fen."""
    delta = ours.paid_fen - theirs_fen
    if delta == 0:
        return None

    def diff(cls: DiffClass, detail: str) -> Difference:
        return Difference(cls=cls, source=source, order_id=ours.order_id, amount_fen=delta, ours_fen=ours.paid_fen,
                          theirs_fen=theirs_fen, detail=detail)

    if ours.freight_fen > 0 and their_freight_fen == 0 and delta == ours.freight_fen:
        return diff(
            DiffClass.FREIGHT_NOT_COLLECTED,
            f"运费 {_yuan(ours.freight_fen)} 元已向客户收取, {source} 未收 freight charged, not collected",
        )
    if abs(delta) <= max(1, ours.lines):
        return diff(
            DiffClass.ROUNDING_DIFFERENCE,
            f"尾差 {_yuan(delta)} 元 (≤ 1 分/行, {ours.lines} 行) per-line rounding",
        )
    return diff(
        DiffClass.AMOUNT_MISMATCH,
        f"我方 {_yuan(ours.paid_fen)} 元 ≠ {source} {_yuan(theirs_fen)} 元, 差 {_yuan(delta)} 元",
    )


def reconcile(
    day: str,
    ours: Iterable[OurOrder],
    settlements: Iterable[Settlement],
    receipts: Iterable[Receipt],
    ledger: Iterable[LedgerEntry],
    refunds: Iterable[OurRefund] = (),
    refund_lines: Iterable[RefundLine] = (),
) -> ReconciliationResult:
    """Compare the three sides of one day; every money difference is classified exactly once per
    source, so the totals reconcile to the fen."""
    ours_by_id = {o.order_id: o for o in ours}
    settlements = list(settlements)
    receipts = list(receipts)
    ledger = list(ledger)
    diffs: list[Difference] = []

    # ---- channel statements (several lines for one order are summed: split settlements happen)
    st_by_id: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        st_by_id[s.order_id].append(s)
    for oid, o in ours_by_id.items():
        if o.channel not in SETTLING_CHANNELS:
            continue
        lines = st_by_id.get(oid)
        if not lines:
            diffs.append(Difference(
                cls=DiffClass.MISSING_SETTLEMENT, source="channel", order_id=oid, amount_fen=o.paid_fen,
                ours_fen=o.paid_fen, theirs_fen=None, detail=f"{o.channel} 结算单无此订单 no settlement line",
            ))
            continue
        d = classify_amount("channel", o, sum(s.paid_fen for s in lines), sum(s.freight_fen for s in lines))
        if d:
            diffs.append(d)
    for oid, lines in st_by_id.items():
        mine = ours_by_id.get(oid)
        if mine is None or mine.channel not in SETTLING_CHANNELS:
            paid = sum(s.paid_fen for s in lines)
            diffs.append(Difference(
                cls=DiffClass.UNMATCHED_SETTLEMENT, source="channel", order_id=oid, amount_fen=-paid,
                ours_fen=None, theirs_fen=paid,
                detail=f"{lines[0].channel} 结算了当日无已完成订单对应的 {_yuan(paid)} 元 settled without a completed order",
            ))

    # ---- ERP receipts
    rc_by_id: dict[str, list[Receipt]] = defaultdict(list)
    for r in receipts:
        rc_by_id[r.order_id].append(r)
    for oid, o in ours_by_id.items():
        rs = rc_by_id.get(oid)
        if not rs:
            diffs.append(Difference(
                cls=DiffClass.MISSING_RECEIPT, source="erp", order_id=oid, amount_fen=o.paid_fen,
                ours_fen=o.paid_fen, theirs_fen=None, detail="ERP 无收款单 no receipt",
            ))
            continue
        d = classify_amount("erp", o, sum(r.amount_fen for r in rs), sum(r.freight_fen for r in rs))
        if d:
            diffs.append(d)
    for oid, rs in rc_by_id.items():
        if oid not in ours_by_id:
            amt = sum(r.amount_fen for r in rs)
            diffs.append(Difference(
                cls=DiffClass.UNMATCHED_SETTLEMENT, source="erp", order_id=oid, amount_fen=-amt,
                ours_fen=None, theirs_fen=amt,
                detail=f"ERP 收款 {', '.join(r.receipt_no for r in rs)} 无当日已完成订单对应 receipt without a completed order",
            ))

    # ---- coupons: one code, one order — across the ledger and the statements
    holders: dict[str, dict[str, int]] = defaultdict(dict)  # code → order → amount
    for e in ledger:
        holders[e.coupon_code][e.order_id] = e.amount_fen
    for s in settlements:
        if s.coupon_code:
            holders[s.coupon_code].setdefault(s.order_id, s.coupon_fen)
    in_ledger = {(e.coupon_code, e.order_id) for e in ledger}
    for o in ours_by_id.values():
        if o.coupon_code and o.coupon_fen > 0:
            holders[o.coupon_code].setdefault(o.order_id, o.coupon_fen)
            if (o.coupon_code, o.order_id) not in in_ledger:
                diffs.append(Difference(
                    cls=DiffClass.COUPON_NOT_IN_LEDGER, source="ledger", order_id=o.order_id, amount_fen=o.coupon_fen,
                    ours_fen=o.coupon_fen, detail=f"优惠券 {o.coupon_code} 抵扣 {_yuan(o.coupon_fen)} 元, 台账无核销记录",
                ))
    day_orders = set(ours_by_id) | set(st_by_id)
    for code, by_order in holders.items():
        if len(by_order) < 2:
            continue
        first, *others = list(by_order)  # ledger order (redeemed_at, order id) first, then statements
        for oid in others:
            if oid not in day_orders:  # the second redemption is reported on its own day, once
                continue
            diffs.append(Difference(
                cls=DiffClass.COUPON_REDEEMED_TWICE, source="ledger", order_id=oid, amount_fen=by_order[oid],
                ours_fen=by_order[oid],
                detail=f"优惠券 {code} 已被 {first} 核销, 又用于 {oid} (共 {len(by_order)} 单)",
            ))

    # ---- refunds (channel statements only): matched by our case id, else by order id
    our_refunds = [rf for rf in refunds if rf.channel in SETTLING_CHANNELS]
    their_refunds = list(refund_lines)
    by_case = {rl.case_id: rl for rl in their_refunds if rl.case_id}
    uncased: dict[str, list[RefundLine]] = defaultdict(list)
    for rl in their_refunds:
        if not rl.case_id:
            uncased[rl.order_id].append(rl)
    matched: set[str] = set()
    for rf in our_refunds:
        theirs = by_case.get(rf.case_id) or next((x for x in uncased.get(rf.order_id, []) if x.refund_no not in matched), None)
        if theirs is None:
            diffs.append(Difference(
                cls=DiffClass.REFUND_NOT_DEDUCTED, source="channel", order_id=rf.order_id, amount_fen=-rf.amount_fen,
                ours_fen=-rf.amount_fen, theirs_fen=None,
                detail=f"售后 {rf.case_id} 已退款 {_yuan(rf.amount_fen)} 元, {rf.channel} 结算单未扣 refund not in the statement",
            ))
            continue
        matched.add(theirs.refund_no)
        if theirs.amount_fen != rf.amount_fen:
            diffs.append(Difference(
                cls=DiffClass.REFUND_MISMATCH, source="channel", order_id=rf.order_id,
                amount_fen=theirs.amount_fen - rf.amount_fen, ours_fen=-rf.amount_fen, theirs_fen=-theirs.amount_fen,
                detail=f"售后 {rf.case_id} 退款 我方 {_yuan(rf.amount_fen)} 元 ≠ {rf.channel} {_yuan(theirs.amount_fen)} 元",
            ))
    for rl in their_refunds:
        if rl.refund_no not in matched:
            diffs.append(Difference(
                cls=DiffClass.UNMATCHED_REFUND, source="channel", order_id=rl.order_id, amount_fen=rl.amount_fen,
                ours_fen=None, theirs_fen=-rl.amount_fen,
                detail=f"{rl.channel} 退款 {rl.refund_no} {_yuan(rl.amount_fen)} 元, 无我方售后记录 no aftersales case of ours",
            ))

    diffs.sort(key=lambda d: d.key)
    channel_orders = [o for o in ours_by_id.values() if o.channel in SETTLING_CHANNELS]
    totals = Totals(
        ours_fen=sum(o.paid_fen for o in ours_by_id.values()),
        ours_channel_fen=sum(o.paid_fen for o in channel_orders) - sum(r.amount_fen for r in our_refunds),
        channel_fen=sum(s.paid_fen for s in settlements) - sum(ln.amount_fen for ln in their_refunds),
        erp_fen=sum(r.amount_fen for r in receipts),
        channel_diff_fen=sum(d.amount_fen for d in diffs if d.source == "channel"),
        erp_diff_fen=sum(d.amount_fen for d in diffs if d.source == "erp"),
    )
    return ReconciliationResult(day=day, orders=len(ours_by_id), totals=totals, differences=diffs)
