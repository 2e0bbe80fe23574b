"""/v1/orders/{id}/aftersales and /v1/aftersales: open a case on an order, list and read cases, and
record the warehouse's QC verdict on a returned parcel.

Opening a case is the order's decision (Temporal update ``request_aftersales`` on the order
workflow): a shipped order starts an ``AftersalesWorkflow`` child, an order not shipped yet is
cancelled instead. The request is checked here first against the order's lines so a bad SKU or
quantity is a 422 naming the field; the workflow's own validator stays the judge for races.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.auth import READERS, Caller, actor, require
from api.intake import current_view
from api.schemas import AUTH, MAX_OFFSET, AftersalesTypeFilter, CaseStatusFilter, Doc, errors
from domain.aftersales import (
    AftersalesLine,
    AftersalesRequest,
    AftersalesState,
    AftersalesTicket,
    AftersalesType,
    CaseStatus,
    QcVerdict,
    order_id_of_case,
    requested_quantities,
    validate_request,
)
from domain.contracts import aftersales as AS
from store import aftersales as store
from store import read_model

router = APIRouter(tags=["aftersales"])
OrderId = Annotated[str, Path(max_length=200)]
CaseId = Annotated[str, Path(max_length=200)]
QUERY_TIMEOUT = timedelta(seconds=5)


class QcIn(BaseModel):
    passed: bool
    inspector: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="omit: the signed-in person (a device key names its inspector)")
    note: str = Field(default="", max_length=300)


def _client(request: Request) -> Client:
    return request.app.state.client


def _engine(request: Request):
    return request.app.state.engine


def _cause(exc: WorkflowUpdateFailedError) -> tuple[str, str, list[Any]]:
    cause = exc.cause
    details = list(getattr(cause, "details", None) or [])
    return getattr(cause, "type", "") or "", getattr(cause, "message", None) or str(cause), details


def _labelled(body: dict[str, Any]) -> dict[str, Any]:
    try:
        body["status_label"] = CaseStatus(body["status"]).label
        body["type_label"] = AftersalesType(body["type"]).label
    except (KeyError, ValueError):
        pass
    return body


def _earlier_cases(request: Request, order_id: str) -> dict[str, int]:
    _, rows = store.list_cases(_engine(request), order_id=order_id, limit=500)
    return requested_quantities([
        (r["type"], r["status"], [AftersalesLine(**ln) for ln in r["lines"]]) for r in rows
    ])


UPDATE_TIMEOUT = 15.0


@router.post("/v1/orders/{order_id}/aftersales", status_code=201, response_model=Doc,
             responses={202: {"model": Doc, "description": "not shipped yet: the order is cancelled instead"},
                        **errors(*AUTH, 404, 409, 503)})
async def request_aftersales(request: Request, order_id: OrderId, body: AftersalesRequest,
                             caller: Caller = Depends(require("customer_service"))):
    """Open an aftersales case (exchange, return, refund_only, reissue) on an order."""
    claimed = None if body.requested_by == "api" else body.requested_by
    body = body.model_copy(update={"requested_by": actor(caller, claimed, "requested_by")})
    handle = _client(request).get_workflow_handle(order_id)
    try:
        desc = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            if await asyncio.to_thread(read_model.get_order, _engine(request), order_id):
                raise HTTPException(409, f"订单已结束, 售后期已过: order {order_id!r} is closed: its aftersales window is over") from None
            raise HTTPException(404, f"订单不存在: order {order_id!r} not found") from None
        raise HTTPException(503, f"订单服务暂时不可用 (Temporal unavailable: {exc.message})", headers={"Retry-After": "5"}) from None
    if desc.status != WorkflowExecutionStatus.RUNNING:
        ended = desc.status.name.lower() if desc.status else "unknown"
        raise HTTPException(409, f"订单已结束, 售后期已过: order {order_id!r} is closed ({ended}): its aftersales window is over")
    state = await current_view(_client(request), _engine(request), order_id)
    if state is None:
        raise HTTPException(503, f"订单暂时无法响应, 请稍后重试: order {order_id!r} cannot answer now (worker busy or down); try again shortly",
                            headers={"Retry-After": "5"})
    if state.status == "received":
        raise HTTPException(409, f"订单尚未受理, 不能申请售后: order {order_id!r} has not been accepted yet ({state.status}); nothing to return")
    problems = validate_request(state, body, await asyncio.to_thread(_earlier_cases, request, order_id))
    if problems:
        return JSONResponse({"message": "invalid aftersales request", "errors": [e.model_dump() for e in problems]},
                            status_code=422)
    try:
        ticket: AftersalesTicket = await asyncio.wait_for(
            handle.execute_update("request_aftersales", body, result_type=AftersalesTicket), timeout=UPDATE_TIMEOUT)
    except TimeoutError:
        raise HTTPException(503, f"订单未及时响应, 请稍后重试: order {order_id!r} did not answer within {UPDATE_TIMEOUT:g} s (worker busy or down); "
                                 "the request may still be applied — check GET /v1/orders/{id} before retrying") from None
    except WorkflowUpdateFailedError as exc:
        kind, message, details = _cause(exc)
        if kind == "InvalidAftersales" and details and isinstance(details[0], list):
            return JSONResponse({"message": "invalid aftersales request", "errors": details[0]}, status_code=422)
        raise HTTPException(409, message) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(409, f"订单已结束, 售后期已过: order {order_id!r} closed meanwhile: its aftersales window is over") from None
        raise HTTPException(503, f"订单服务暂时不可用 (Temporal unavailable: {exc.message})", headers={"Retry-After": "5"}) from None
    return JSONResponse(ticket.model_dump(mode="json"), status_code=201 if ticket.kind == "aftersales" else 202)


@router.get("/v1/aftersales", response_model=Doc, responses=errors(*AUTH))
def list_cases(
    request: Request,
    status: Annotated[CaseStatusFilter, Query(description="a case status, e.g. qc_pending (empty: any); else a 422")] = None,
    order_id: str | None = Query(None, max_length=200),
    type: Annotated[AftersalesTypeFilter, Query(description="an aftersales type (empty: any); another value is a 422")] = None,
    limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
    _r: str = Depends(require(*READERS, "device")),
):
    total, items = store.list_cases(_engine(request), status=status, order_id=order_id, type=type, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [_labelled(i) for i in items]}


@router.get("/v1/aftersales/{case_id}", response_model=Doc, responses=errors(*AUTH, 404))
async def get_case(request: Request, case_id: CaseId, _r: str = Depends(require(*READERS, "device"))):
    """The live state from the case's workflow; the read model when the workflow cannot answer."""
    try:
        st = await _client(request).get_workflow_handle(case_id).query(
            "state", result_type=AftersalesState, rpc_timeout=QUERY_TIMEOUT)
        body = st.model_dump(mode="json")
        body["source"] = "workflow"
        return _labelled(body)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        pass
    row = await asyncio.to_thread(store.get_case, _engine(request), case_id)
    if row is None:
        raise HTTPException(404, f"售后单不存在: aftersales case {case_id!r} not found (case ids look like order-…~AS1)")
    row["source"] = "read_model"
    return _labelled(row)


@router.post("/v1/aftersales/{case_id}/qc", response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def qc(request: Request, case_id: CaseId, body: QcIn,
             caller: Caller = Depends(require("reviewer", "warehouse_lead", "device"))):
    """QC of the returned parcel (待质检): passed → refund or replacement, failed → rejected."""
    if not order_id_of_case(case_id):
        raise HTTPException(404, f"售后单不存在: aftersales case {case_id!r} not found (case ids look like order-…~AS1)")
    try:
        st: AftersalesState = await asyncio.wait_for(_client(request).get_workflow_handle(case_id).execute_update(
            "qc_result", QcVerdict(**(body.model_dump() | {"inspector": actor(caller, body.inspector, "inspector")})), result_type=AftersalesState), timeout=UPDATE_TIMEOUT)
    except WorkflowUpdateFailedError as exc:
        raise HTTPException(409, _cause(exc)[1]) from None
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise HTTPException(503, f"售后单未及时响应, 请稍后重试: case {case_id!r} did not answer within {UPDATE_TIMEOUT:g} s (worker busy or down); "
                                 "the verdict may still be applied — check GET /v1/aftersales/{id} before retrying",
                            headers={"Retry-After": "5"}) from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            row = await asyncio.to_thread(store.get_case, _engine(request), case_id)
            if row is not None:
                raise HTTPException(409, f"售后单已结束: case {case_id!r} is closed ({CaseStatus(row['status']).label})") from None
            raise HTTPException(404, f"售后单不存在: aftersales case {case_id!r} not found") from None
        raise HTTPException(503, f"订单服务暂时不可用 (Temporal unavailable: {exc.message})", headers={"Retry-After": "5"}) from None
    return _labelled(st.model_dump(mode="json"))


class ReceivedIn(BaseModel):
    received_by: str | None = Field(default=None, min_length=1, max_length=64,
                                    description="who at the warehouse took the parcel in; omit: the signed-in person")
    note: str = Field(default="", max_length=300)


@router.post("/v1/aftersales/{case_id}/received", status_code=202, response_model=Doc,
             responses=errors(*AUTH, 404, 409, 503))
async def received(request: Request, case_id: CaseId, body: ReceivedIn,
                   caller: Caller = Depends(require("reviewer", "warehouse_lead", "device"))):
    """The warehouse took the returned parcel in without a carrier event (the customer brought it, or
    the return waybill could not be made): the case moves on to QC (待质检)."""
    if not order_id_of_case(case_id):
        raise HTTPException(404, f"售后单不存在: aftersales case {case_id!r} not found (case ids look like order-…~AS1)")
    handle = _client(request).get_workflow_handle(case_id)
    try:
        st: AftersalesState = await handle.query("state", result_type=AftersalesState, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(503, f"售后单暂时无法响应, 请稍后重试: case {case_id!r} cannot answer now: {exc.message}", headers={"Retry-After": "5"}) from None
        row = await asyncio.to_thread(store.get_case, _engine(request), case_id)
        if row is not None:
            raise HTTPException(409, f"售后单已结束: case {case_id!r} is closed ({CaseStatus(row['status']).label})") from None
        raise HTTPException(404, f"售后单不存在: aftersales case {case_id!r} not found") from None
    if st.status not in (CaseStatus.AWAITING_RETURN, CaseStatus.RETURN_IN_TRANSIT):
        raise HTTPException(409, f"售后单当前不在等待退货包裹: case {case_id!r} is {st.status.label} ({st.status.value}), not waiting for a parcel")
    try:
        await handle.signal(AS.RETURN_RECEIVED.name, AS.ReturnReceipt(**(body.model_dump() | {"received_by": actor(caller, body.received_by, "received_by")})), rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        raise HTTPException(503, f"未确认, 请重新提交: not confirmed, re-send (Temporal: {exc.message})", headers={"Retry-After": "5"}) from None
    return {"case_id": case_id, "received": True}
