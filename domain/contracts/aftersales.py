"""Aftersales cases (售后单): one ``AftersalesWorkflow`` per case, id ``{order_id}~AS{n}``, a child of the
order. Returns and exchanges send the customer's parcel back through a ``ShipmentWorkflow``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.aftersales import AftersalesInput, AftersalesLine, AftersalesState, QcVerdict
from domain.contracts import Activity, Query, Signal, Update, WorkflowType


class RefundRequest(BaseModel):
    case_id: str
    order_id: str
    channel: str
    amount_fen: int
    lines: list[AftersalesLine]
    reason: str
    refunded_at: datetime  # workflow time: the refund's finance day


class RefundResult(BaseModel):
    case_id: str
    refund_no: str
    amount_fen: int
    created: bool  # False: a retry found the refund already recorded


class ReturnReceipt(BaseModel):
    """The warehouse took the parcel in without a carrier event (brought in by the customer)."""

    received_by: str
    note: str = ""


AFTERSALES: WorkflowType[AftersalesInput, AftersalesState] = WorkflowType("Aftersales", AftersalesInput, AftersalesState)
QC_RESULT: Update[QcVerdict, AftersalesState] = Update("qc_result", QcVerdict, AftersalesState)
RETURN_RECEIVED: Signal[ReturnReceipt] = Signal("return_received", ReturnReceipt)
STATE: Query[AftersalesState] = Query("state", AftersalesState)

PROJECT_AFTERSALES: Activity[AftersalesState, None] = Activity("project_aftersales", AftersalesState, None)
REFUND_AFTERSALES: Activity[RefundRequest, RefundResult] = Activity("refund_aftersales", RefundRequest, RefundResult)
