"""Money and the ERP: the order's finance record at release, the push to the ERP."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.contracts import Activity
from domain.contracts.assessment import SplitRequest
from domain.contracts.projection import ProjectionDelta
from domain.order import CleanOrder
from domain.split import PartPlan


class OrderFinanceRequest(BaseModel):
    """What the order sends at release: its money, allocated per line, for reconciliation."""

    order: CleanOrder
    completed_at: datetime
    projection: ProjectionDelta | None = None  # what the order changed since its last projection: written too


class ErpPushRequest(BaseModel):
    order: CleanOrder
    account_id: str = "erp"


class ErpPushResult(BaseModel):
    order_id: str
    doc_no: str | None  # None: no ERP configured
    pushed_at: datetime | None = None


class ReleaseRequest(BaseModel):
    """The release in one call (orders since 2026-12-03): the money recorded (with the projection it
    carries) and, for an order the hub fulfils, its warehouse parts planned by the stock on hand."""

    finance: OrderFinanceRequest
    split: SplitRequest | None = None


class ReleaseResult(BaseModel):
    recorded: bool  # False: the money was recorded before (a retry)
    plan: list[PartPlan] | None = None


RELEASE_ORDER: Activity[ReleaseRequest, ReleaseResult] = Activity("release_order", ReleaseRequest, ReleaseResult)
RECORD_ORDER_FINANCE: Activity[OrderFinanceRequest, bool] = Activity("record_order_finance", OrderFinanceRequest, bool)
PUSH_ORDER_TO_ERP: Activity[ErpPushRequest, ErpPushResult] = Activity("push_order_to_erp", ErpPushRequest, ErpPushResult)


# the daily reconciliation (ReconciliationWorkflow, workflows/reconciliation.py) and its activities
class DayRequest(BaseModel):
    day: str  # YYYY-MM-DD, Beijing


class ReportRequest(BaseModel):
    day: str
    workflow_id: str


class RunSummary(BaseModel):
    day: str
    orders: int
    differences: int
    by_class: dict[str, int]
    channel_reconciles: bool
    erp_reconciles: bool


# the daily reconciliation's activities (activities/finance.py)
BACKFILL_ORDER_FINANCE: Activity[DayRequest, int] = Activity("backfill_order_finance", DayRequest, int)
FETCH_CHANNEL_SETTLEMENTS: Activity[DayRequest, int] = Activity("fetch_channel_settlements", DayRequest, int)
FETCH_ERP_RECEIPTS: Activity[DayRequest, int] = Activity("fetch_erp_receipts", DayRequest, int)
BUILD_RECONCILIATION_REPORT: Activity[ReportRequest, RunSummary] = Activity("build_reconciliation_report", ReportRequest, RunSummary)
