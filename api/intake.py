"""Accepting an order: validate, record rejections, start-or-find the workflow, ask it for admission.

Shared by POST /v1/orders, rejection replay and (later) channel webhooks, so every entry point has
the same guarantees: a payload becomes an order or a recorded rejection, and re-delivery of the
same channel order never starts a second workflow.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.client import (
    Client, WorkflowQueryFailedError, WorkflowQueryRejectedError, WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.errors import field_errors
from domain.cleansing import cleanse, mask_phone
from domain.errors import FieldError
from domain.order import OrderSubmission, storable
from domain.policy import FulfilmentPolicy, OrderPolicy, OrderWorkflowInput
from domain.state import Admission, OrderState
from store import read_model
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from zhongshu.settings import Settings

ADMISSION_WAIT_SECONDS = 10.0  # then 202 "accepted, processing" (the workflow exists durably)


@dataclass
class SubmitResult:
    """What a delivery got. ``created`` in the body is the truth about *this* request: True when its
    start call created the order's workflow, False when the order already existed (an earlier
    delivery — possibly one that was answered 503 — created it)."""

    http_status: int
    body: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.http_status, headers=self.headers or None)


def unavailable(settings: Settings, what: str, exc: BaseException | None = None) -> SubmitResult:
    """503 + Retry-After: Temporal did not answer, so nothing is confirmed; re-sending is safe."""
    detail = f" ({type(exc).__name__}: {getattr(exc, 'message', None) or exc})" if exc else ""
    return SubmitResult(
        503,
        {"message": f"订单服务暂时不可用, 未确认受理, 请稍后重发 (Temporal unavailable: {what} not confirmed; "
                    f"re-sending is safe){detail}"[:500],
         "retry_after": settings.retry_after_seconds},
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )


def policy_from(settings: Settings) -> OrderPolicy:
    return OrderPolicy(
        dedupe_window_seconds=settings.dedupe_window_seconds,
        review_escalation_seconds=settings.review_escalation_seconds,
        review_red_seconds=settings.review_red_seconds,
        console_url=settings.console_url,
        risk=settings.risk,
        fulfilment=fulfilment_policy_from(settings),
    )


def fulfilment_policy_from(settings: Settings) -> FulfilmentPolicy | None:
    if not settings.fulfilment:
        return None
    return FulfilmentPolicy(
        warehouse=settings.fulfilment_warehouse,
        confirm_address=settings.confirm_address,
        confirm_window_seconds=int(settings.confirm_window_hours * 3600),
        confirm_grace_seconds=int(settings.confirm_grace_hours * 3600),
        confirm_radius_km=settings.confirm_radius_km,
        confirm_skip_channels=[c.strip() for c in settings.confirm_skip_channels.split(",") if c.strip()],
        ship=settings.ship,
        transit_alert_hours=settings.transit_alert_hours,
        aftersales_window_days=settings.aftersales_window_days,
        suppliers=[c.strip() for c in settings.suppliers.split(",") if c.strip()],
    )


def storable_payload(value: Any) -> Any:
    """The payload as it can be recorded: strings (keys too) without NUL or lone surrogates, which
    PostgreSQL text / UTF-8 cannot hold; non-JSON values as text. Only for rejections."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_payload(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return storable(bytes(value[:20000]).decode("utf-8", "replace"))
    return storable(str(value))


def record_rejection(engine: Engine, payload: Any, errors: list[FieldError], source: str) -> int:
    channel = payload.get("channel") if isinstance(payload, dict) else None
    coid = payload.get("channel_order_id") if isinstance(payload, dict) else None
    return read_model.record_rejection(
        engine,
        source=source[:32],
        payload=storable_payload(payload),
        errors=[{"field": storable(e.field), "message": storable(e.message)} for e in errors],
        channel=storable(str(channel))[:20] if channel else None,
        channel_order_id=storable(str(coid))[:64] if coid else None,
    )


def _reject(engine: Engine, payload: Any, errors: list[FieldError], source: str) -> SubmitResult:
    rid = record_rejection(engine, payload, errors, source)
    return SubmitResult(
        422,
        {
            "message": f"订单被拒收: {len(errors)} 个字段无效, 已记录为拒收单 {rid} "
                       f"(order rejected: {len(errors)} invalid field(s); recorded as rejection {rid})",
            "rejection_id": rid,
            "errors": [e.model_dump() for e in errors],
        },
        errors,
    )


def summary(sub: OrderSubmission) -> str:
    """Readable one-liner for the Temporal UI."""
    goods = ", ".join(f"{l.name}×{l.quantity}" for l in sub.lines[:3])
    return f"{sub.channel.value} {sub.channel_order_id} · {sub.customer.name} · ¥{sub.paid_amount} · {goods}"[:200]


async def submit(
    client: Client, engine: Engine, settings: Settings, payload: Any, *, source: str = "api"
) -> SubmitResult:
    """Validate at the door, then start the order's workflow (FAIL on an existing id, so the answer
    knows whether this request created it), then wait briefly for intake's first decision."""
    try:
        sub = OrderSubmission.at_door(payload, window=settings.order_window)
    except ValidationError as exc:
        return await asyncio.to_thread(_reject, engine, payload, field_errors(exc), source)
    cleansed = cleanse(sub)
    if cleansed.errors:
        return await asyncio.to_thread(_reject, engine, payload, cleansed.errors, source)

    order_id = sub.order_id
    rpc = timedelta(seconds=settings.temporal_rpc_seconds)
    try:
        handle = await asyncio.wait_for(client.start_workflow(
            OrderWorkflow.run,
            OrderWorkflowInput(submission=sub, policy=policy_from(settings), received_by=source),
            id=order_id,
            task_queue=settings.task_queue,
            # FAIL, not USE_EXISTING: an existing order raises, so "created" is this request's truth
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORDER_STATUS, "received"),
                    SearchAttributePair(sa.CHANNEL, sub.channel.value),
                    SearchAttributePair(sa.CUSTOMER_ID, sub.customer.id),
                ]
            ),
            static_summary=summary(sub),
            static_details=f"customer {sub.customer.id} · phone {mask_phone(cleansed.order.phone)}",
            rpc_timeout=rpc,
        ), timeout=settings.temporal_rpc_seconds + 1)
    except WorkflowAlreadyStartedError:
        return await _existing(client, engine, settings, sub)
    except (RPCError, asyncio.TimeoutError) as exc:
        return unavailable(settings, "order start", exc)

    await asyncio.to_thread(read_model.record_received, engine, sub)  # visible now, not when the worker gets to it
    try:
        adm: Admission = await asyncio.wait_for(
            handle.execute_update(OrderWorkflow.admit), timeout=ADMISSION_WAIT_SECONDS
        )
    except (asyncio.TimeoutError, RPCError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # our start created it, durably; intake has not answered yet (worker slow or down)
        return SubmitResult(202, {"order_id": order_id, "status": "received", "created": True, "merged_into": None,
                                  "processing": True,
                                  "message": "已受理, 正在处理 (accepted, processing: intake has not decided yet)"})
    # ``adm.created`` counts deliveries inside the workflow; the start call above is what knows
    body = {"order_id": order_id, "status": adm.status.value, "created": True, "merged_into": adm.merged_into}
    if adm.errors:
        body["errors"] = [e.model_dump() for e in adm.errors]
    return SubmitResult(200 if adm.merged_into else 202, body)


async def _existing(client: Client, engine: Engine, settings: Settings, sub: OrderSubmission) -> SubmitResult:
    """The order exists (running or closed): a re-delivery. A changed one must reach its workflow
    (signal; the workflow compares and ignores an unchanged one), so Temporal down is a 503."""
    from activities.channels import signal_redelivery

    try:
        await asyncio.wait_for(signal_redelivery(client, sub), timeout=settings.temporal_rpc_seconds)
    except (RPCError, asyncio.TimeoutError) as exc:
        return unavailable(settings, "re-delivery", exc)
    known = await asyncio.to_thread(read_model.get_order, engine, sub.order_id)
    return SubmitResult(200, {"order_id": sub.order_id, "status": known["status"] if known else "received",
                              "created": False, "merged_into": known.get("merged_into") if known else None})


QUERY_SECONDS = 5.0


async def current_state(client: Client, engine: Engine, order_id: str) -> dict[str, Any] | None:
    """Live state from the workflow (query); the read model when the workflow cannot answer (closed
    long ago, no worker to answer a query within QUERY_SECONDS, Temporal unreachable)."""
    try:
        state: OrderState = await asyncio.wait_for(client.get_workflow_handle(order_id).query(
            OrderWorkflow.get_state, rpc_timeout=timedelta(seconds=QUERY_SECONDS)), timeout=QUERY_SECONDS + 1)
        d = state.model_dump(mode="json")
        d["source"] = "workflow"
        return d
    except (RPCError, asyncio.TimeoutError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        row = await asyncio.to_thread(read_model.get_order, engine, order_id)
        if row is None:
            return None
        row["source"] = "read_model"
        return row
