"""Finance activities: an order's money at completion, the day's statements from the channels and
the ERP, and the reconciliation report (Excel, one sheet per difference class plus a summary).

Every activity is idempotent and keyed by the order or the day: statements for a day replace the
previous fetch, the report for a day replaces the previous report, an order's money is written once.
Large data (a peak day's orders) stays in the database; only counts and summaries cross Temporal.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from temporalio import activity

from activities import partner_http
from activities.assessment import AssessmentActivities
from domain.allocation import AllocationError, OrderAllocation, allocate_order, from_fen, to_fen
from domain.contracts import finance as FIN
from domain.contracts.finance import (
    RECORD_ORDER_FINANCE,
    DayRequest,
    OrderFinanceRequest,
    ReleaseRequest,
    ReleaseResult,
    ReportRequest,
    RunSummary,
)
from domain.order import CleanOrder, order_id_for
from domain.reconciliation import LABELS, SETTLING_CHANNELS, DiffClass, ReconciliationResult, reconcile
from store import metrics, projection

# ---------------------------------------------------------------- allocation from an order


def allocation_for(lines: list[tuple[int, Decimal, int]], coupon: Decimal | None, freight: Decimal | None) -> OrderAllocation:
    """``lines`` are (line_no, unit_price, quantity). A line that cannot take a share (a negative
    price, a coupon above the goods) keeps the totals and leaves the per-line split empty."""
    goods = [(no, to_fen(price) * qty) for no, price, qty in lines]
    coupon_fen, freight_fen = to_fen(coupon), to_fen(freight)
    try:
        return allocate_order(goods, coupon_fen, freight_fen)
    except AllocationError:
        return OrderAllocation(goods_fen=sum(g for _, g in goods), coupon_fen=coupon_fen, freight_fen=freight_fen, lines=[])


def allocation_of_order(order: CleanOrder) -> OrderAllocation:
    return allocation_for(
        [(ln.line_no, ln.unit_price, ln.quantity) for ln in order.lines],
        order.coupon.amount if order.coupon else None,
        order.freight,
    )


# ---------------------------------------------------------------- the report


def reconciliation_workbook(result: ReconciliationResult) -> bytes:
    """Summary sheet first, then one sheet per difference class (always all of them)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has its one sheet
    ws.title = "汇总 summary"
    bold = Font(bold=True)
    t = result.totals
    ws.append([f"对账报告 reconciliation {result.day}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    for label, fen in (
        ("我方已完成订单实付合计 ours (all completed orders)", t.ours_fen),
        ("其中渠道订单 ours, settling channels", t.ours_channel_fen),
        ("渠道结算合计 channel settlements", t.channel_fen),
        ("ERP 收款合计 ERP receipts", t.erp_fen),
        ("渠道差异合计 Σ channel differences", t.channel_diff_fen),
        ("ERP 差异合计 Σ ERP differences", t.erp_diff_fen),
    ):
        ws.append([label, from_fen(fen)])
        ws.cell(ws.max_row, 2).number_format = "#,##0.00"
    ws.append(["订单数 orders", result.orders])
    ws.append(["渠道轧平 channel reconciles to the fen", "是 yes" if t.channel_reconciles else "否 NO"])
    ws.append(["ERP 轧平 ERP reconciles to the fen", "是 yes" if t.erp_reconciles else "否 NO"])
    ws.append([])
    ws.append(["差异类别 class", "说明 label", "笔数 count", "金额 amount (元)"])
    for c in ws[ws.max_row]:
        c.font = bold
    groups = result.by_class()
    for cls, diffs in groups.items():
        ws.append([cls.value, LABELS[cls], len(diffs), from_fen(sum(d.amount_fen for d in diffs))])
        ws.cell(ws.max_row, 4).number_format = "#,##0.00"
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 20

    for cls, diffs in groups.items():
        name = f"{LABELS[cls]}({cls.value})"
        sheet = wb.create_sheet(name if len(name) <= 31 else cls.value)
        sheet.append(["订单号 order_id", "来源 source", "我方 ours (元)", "对方 theirs (元)", "差额 difference (元)", "说明 detail"])
        for c in sheet[1]:
            c.font = bold
        for d in diffs:
            sheet.append([
                d.order_id, d.source,
                None if d.ours_fen is None else from_fen(d.ours_fen),
                None if d.theirs_fen is None else from_fen(d.theirs_fen),
                from_fen(d.amount_fen), d.detail,
            ])
            for col in (3, 4, 5):
                sheet.cell(sheet.max_row, col).number_format = "#,##0.00"
        sheet.column_dimensions["A"].width = 36
        sheet.column_dimensions["F"].width = 60
    # a fixed creation date keeps a re-run's workbook the same apart from the save time
    wb.properties.created = datetime.fromisoformat(result.day)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run_reconciliation(engine: Engine, day: date, workflow_id: str) -> ReconciliationResult:
    settlements, receipts = metrics.statements_day(engine, day)
    ours, ledger = metrics.finance_day(engine, day, {s.coupon_code for s in settlements if s.coupon_code})
    refunds, refund_lines = metrics.refunds_for_day(engine, day)
    result = reconcile(day.isoformat(), ours, settlements, receipts, ledger, refunds, refund_lines)
    metrics.save_run(
        engine, day, workflow_id, result.summary(), [d.model_dump(mode="json") for d in result.differences],
        reconciliation_workbook(result),
    )
    return result


def backfill_order_finance(engine: Engine, day: date) -> int:
    """Finance records for orders completed on ``day`` that have none yet (orders completed before
    the workflow recorded its own, or if that step is not wired in)."""
    n = 0
    for o in metrics.completed_orders(engine, day, without_finance=True):
        alloc = allocation_for(
            [(ln["line_no"], ln["unit_price"], ln["quantity"]) for ln in o["lines"]], o["coupon_amount"], o["freight"]
        )
        n += metrics.record_order_finance(
            engine, order_id=o["order_id"], channel=o["channel"], completed_at=o["completed_at"], allocation=alloc,
            coupon_code=o["coupon_code"] if o["coupon_amount"] else None,
            paid_fen=to_fen(o["paid_amount"]) if o["paid_amount"] is not None else None,
        )
    return n


# ---------------------------------------------------------------- activities


class FinanceActivities:
    def __init__(self, engine: Engine, settlement_url: str = ""):
        self.engine = engine
        self.settlement_url = settlement_url.rstrip("/")

    def _get(self, path: str, **params: Any) -> Any:
        if not self.settlement_url:
            raise RuntimeError("no settlement source configured (ZHONGSHU_SETTLEMENT_URL)")
        with partner_http.client(base_url=self.settlement_url, timeout=30) as c:
            r = c.get(path, params=params)
            r.raise_for_status()
            return r.json()

    @activity.defn(name=RECORD_ORDER_FINANCE.name)
    def record_order_finance(self, req: OrderFinanceRequest) -> bool:
        """The order's money at completion, allocated per line in fen; written once. It carries the
        order's projection when one is due (one call instead of two): written after the money."""
        o = req.order
        written = metrics.record_order_finance(
            self.engine, order_id=o.order_id, channel=o.channel.value, completed_at=req.completed_at,
            allocation=allocation_of_order(o), coupon_code=o.coupon.code if o.coupon else None,
            paid_fen=to_fen(o.paid_amount),
        )
        if req.projection is not None:
            projection.apply(self.engine, req.projection)
        return written

    @activity.defn(name=FIN.RELEASE_ORDER.name)
    def release_order(self, req: ReleaseRequest) -> ReleaseResult:
        """The release in one call: the money (and the projection it carries), then the parts plan."""
        recorded = self.record_order_finance(req.finance)
        plan = AssessmentActivities(self.engine).plan_parts(req.split) if req.split is not None else None
        return ReleaseResult(recorded=recorded, plan=plan)

    @activity.defn(name=FIN.BACKFILL_ORDER_FINANCE.name)
    def backfill_order_finance(self, req: DayRequest) -> int:
        return backfill_order_finance(self.engine, date.fromisoformat(req.day))

    @activity.defn(name=FIN.FETCH_CHANNEL_SETTLEMENTS.name)
    def fetch_channel_settlements(self, req: DayRequest) -> int:
        n = 0
        for ch in SETTLING_CHANNELS:
            body = self._get(f"/channels/{ch}/settlements", day=req.day)
            items = []
            for ln in body.get("lines", []):
                payload = {
                    "order_id": order_id_for(ch, ln["channel_order_id"]), "channel": ch, "paid_fen": to_fen(ln["settled_amount"]),
                    "freight_fen": to_fen(ln.get("freight") or "0"), "coupon_code": ln.get("coupon_code"),
                    "coupon_fen": to_fen(ln.get("coupon_amount") or "0"),
                }
                items.append((ln["settlement_no"], payload["order_id"], payload))
            n += metrics.store_statements(self.engine, date.fromisoformat(req.day), f"channel:{ch}", items)
            refunds = [
                (r["refund_no"], order_id_for(ch, r["channel_order_id"]), {
                    "refund_no": r["refund_no"], "case_id": r.get("case_id"), "channel": ch,
                    "order_id": order_id_for(ch, r["channel_order_id"]), "amount_fen": to_fen(r["amount"]),
                })
                for r in body.get("refunds", [])
            ]
            if refunds:
                n += metrics.store_statements(self.engine, date.fromisoformat(req.day), f"refund:{ch}", refunds)
        return n

    @activity.defn(name=FIN.FETCH_ERP_RECEIPTS.name)
    def fetch_erp_receipts(self, req: DayRequest) -> int:
        body = self._get("/erp/receipts", day=req.day)
        items = [
            (r["receipt_no"], r["order_id"], {
                "order_id": r["order_id"], "receipt_no": r["receipt_no"], "amount_fen": to_fen(r["amount"]),
                "freight_fen": to_fen(r.get("freight") or "0"),
            })
            for r in body.get("receipts", [])
        ]
        return metrics.store_statements(self.engine, date.fromisoformat(req.day), "erp", items)

    @activity.defn(name=FIN.BUILD_RECONCILIATION_REPORT.name)
    def build_reconciliation_report(self, req: ReportRequest) -> RunSummary:
        result = run_reconciliation(self.engine, date.fromisoformat(req.day), req.workflow_id)
        return RunSummary(
            day=req.day,
            orders=result.orders,
            differences=len(result.differences),
            by_class={c.value: len(ds) for c, ds in result.by_class().items() if ds},
            channel_reconciles=result.totals.channel_reconciles,
            erp_reconciles=result.totals.erp_reconciles,
        )

    def all(self) -> list:
        return [
            self.release_order,
            self.record_order_finance,
            self.backfill_order_finance,
            self.fetch_channel_settlements,
            self.fetch_erp_receipts,
            self.build_reconciliation_report,
        ]


__all__ = ["FinanceActivities", "OrderFinanceRequest", "DayRequest", "ReportRequest", "RunSummary", "DiffClass"]
