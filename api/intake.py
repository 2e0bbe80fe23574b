"""Accepting an order: validate, record rejections, start-or-find the workflow, ask it for admission.

Shared by POST /v1/orders, rejection replay and (later) channel webhooks, so every entry point has
the same guarantees: a payload becomes an order or a recorded rejection, and re-delivery of the
same channel order never starts a second workflow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.errors import field_errors
from domain.cleansing import cleanse, mask_phone
from domain.errors import FieldError
from domain.order import OrderSubmission
from domain.policy import FulfilmentPolicy, OrderPolicy, OrderWorkflowInput
from domain.state import Admission, OrderState
from store import read_model
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from zhongshu.settings import Settings

ADMISSION_WAIT_SECONDS = 10.0


@dataclass
class SubmitResult:
    http_status: int
    body: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)


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


def _reject(engine: Engine, payload: Any, errors: list[FieldError], source: str) -> SubmitResult:
    channel = payload.get("channel") if isinstance(payload, dict) else None
    coid = payload.get("channel_order_id") if isinstance(payload, dict) else None
    rid = read_model.record_rejection(
        engine,
        source=source,
        payload=payload,
        errors=[e.model_dump() for e in errors],
        channel=str(channel)[:20] if channel else None,
        channel_order_id=str(coid)[:64] if coid else None,
    )
    return SubmitResult(
        422,
        {
            "message": f"order rejected: {len(errors)} invalid field(s); recorded as rejection {rid}",
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
    try:
        sub = OrderSubmission.model_validate(payload)
    except ValidationError as exc:
        return _reject(engine, payload, field_errors(exc), source)
    cleansed = cleanse(sub)
    if cleansed.errors:
        return _reject(engine, payload, cleansed.errors, source)

    order_id = sub.order_id
    try:
        handle = await client.start_workflow(
            OrderWorkflow.run,
            OrderWorkflowInput(submission=sub, policy=policy_from(settings), received_by=source),
            id=order_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
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
        )
    except WorkflowAlreadyStartedError:
        # closed already (completed, merged, rejected …): the same order again is not a new order
        existing = await current_state(client, engine, order_id)
        status = existing["status"] if existing else "unknown"
        return SubmitResult(
            200,
            {"order_id": order_id, "status": status, "created": False, "merged_into": existing and existing.get("merged_into")},
        )

    await asyncio.to_thread(read_model.record_received, engine, sub)  # visible now, not when the worker gets to it
    try:
        adm: Admission = await asyncio.wait_for(
            handle.execute_update(OrderWorkflow.admit), timeout=ADMISSION_WAIT_SECONDS
        )
    except (asyncio.TimeoutError, RPCError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # the workflow exists durably. Either the worker is slow or down (it will be processed), or the
        # order was already past intake and closing as we asked: the read model tells which.
        from activities.channels import signal_redelivery

        try:  # it may be a re-delivery: the workflow compares and ignores an unchanged one
            await signal_redelivery(client, sub)
        except RPCError:
            pass  # Temporal itself is unreachable: the caller gets 202 and re-sends, as for any outage
        known = read_model.get_order(engine, order_id)
        if known and known["status"] != "received":
            return SubmitResult(200, {"order_id": order_id, "status": known["status"], "created": False,
                                      "merged_into": known.get("merged_into")})
        return SubmitResult(202, {"order_id": order_id, "status": "received", "created": True, "merged_into": None})
    if not adm.created:  # the same order again: a changed one (address, lines …) must reach its workflow
        from activities.channels import signal_redelivery

        await signal_redelivery(client, sub)
    body = {"order_id": order_id, "status": adm.status.value, "created": adm.created, "merged_into": adm.merged_into}
    if adm.errors:
        body["errors"] = [e.model_dump() for e in adm.errors]
    return SubmitResult(202 if adm.created and not adm.merged_into else 200, body)


async def current_state(client: Client, engine: Engine, order_id: str) -> dict[str, Any] | None:
    """Live state from the workflow (query); the read model when the workflow cannot answer."""
    try:
        state: OrderState = await client.get_workflow_handle(order_id).query(OrderWorkflow.get_state)
        d = state.model_dump(mode="json")
        d["source"] = "workflow"
        return d
    except RPCError:
        row = read_model.get_order(engine, order_id)
        if row is None:
            return None
        row["source"] = "read_model"
        return row
