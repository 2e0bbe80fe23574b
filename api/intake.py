"""HTTP side of taking an order in (``activities.order_intake`` is the one intake service): the answer
to ``POST /v1/orders`` and rejection replays, and the one view of an order for ``GET /v1/orders/{id}``.

``POST /v1/orders`` answers once the order is durably recorded and its workflow started: 202 with the
order id; the outcome (created, merged, rejected by the workflow's own checks) is read from the order.
A caller that wants to wait asks for it (``?wait=true``): then the answer waits up to 10 s for intake.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from activities.order_intake import (
    OrderIntake,
    TemporalUnavailable,
    fulfilment_policy_from,
    policy_from,
    record_rejection,
    storable_payload,
    summary,
)
from domain.contracts import order as C
from domain.errors import FieldError
from domain.order import OrderSubmission
from domain.state import Admission
from domain.unknown_fields import unknown_fields
from store import read_model
from zhongshu.settings import Settings

__all__ = ["SubmitResult", "current_view", "fulfilment_policy_from", "policy_from", "record_rejection",
           "storable_payload", "submit", "summary", "unavailable"]

ADMISSION_WAIT_SECONDS = 10.0  # ?wait=true: then 202 "accepted, processing" (the workflow exists durably)
QUERY_SECONDS = 5.0


@dataclass
class SubmitResult:
    """What a delivery got. ``created`` in the body is the truth about *this* request: True when its
    start call created the order's workflow, False when the order already existed."""

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


def _rejected(rid: int, errors: list[FieldError]) -> SubmitResult:
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


async def submit(client: Client, engine: Engine, settings: Settings, payload: Any, *, source: str = "api",
                 wait: bool = False) -> SubmitResult:
    """A payload → 202 (created), 200 (the order existed: a re-delivery), 422 (recorded rejection) or
    503 (Temporal unavailable: nothing confirmed). ``wait``: also wait for intake's first decision."""
    try:
        r = await OrderIntake(client, engine, settings).accept(payload, source=source)
    except TemporalUnavailable as exc:
        return unavailable(settings, "order start", exc)
    if r.outcome == "rejected":
        assert r.rejection_id is not None
        return _rejected(r.rejection_id, r.errors)
    assert r.order_id is not None
    ignored = [{"field": f, "message": f"{f} 不是订单的字段, 已忽略 (unknown field, ignored)"}
               for f in unknown_fields(OrderSubmission, payload)]
    if r.outcome == "existing":
        known = await asyncio.to_thread(read_model.get_order, engine, r.order_id)
        return SubmitResult(200, {"order_id": r.order_id, "status": known["status"] if known else "received",
                                  "created": False, "merged_into": known.get("merged_into") if known else None}
                            | ({"ignored": ignored} if ignored else {}))
    body: dict[str, Any] = {"order_id": r.order_id, "status": "received", "created": True, "merged_into": None,
                            "message": "已受理 (accepted: the order is recorded and its workflow started)"}
    if ignored:  # accepted all the same: a caller's extra key is not a reason to lose the order
        body["ignored"] = ignored
    if not wait:
        return SubmitResult(202, body)
    try:
        adm: Admission = await asyncio.wait_for(client.get_workflow_handle(r.order_id).execute_update(
            C.ADMIT.name, result_type=Admission), timeout=ADMISSION_WAIT_SECONDS)
    except (TimeoutError, RPCError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return SubmitResult(202, body | {"processing": True, "message": "已受理, 正在处理 (accepted, processing: intake "
                                                                        "has not decided yet)"})
    body |= {"status": adm.status.value, "merged_into": adm.merged_into}
    if adm.errors:
        body["errors"] = [e.model_dump() for e in adm.errors]
    return SubmitResult(200 if adm.merged_into else 202, body)


async def current_view(client: Client, engine: Engine, order_id: str) -> C.OrderView | None:
    """The order's one view: the live workflow's (the truth while it runs) with what its parts and
    parcels projected; the read model's alone once the workflow is closed or cannot answer in time."""
    stored = await asyncio.to_thread(read_model.order_view, engine, order_id)
    try:
        live: C.OrderView = await asyncio.wait_for(client.get_workflow_handle(order_id).query(
            C.STATE.name, result_type=C.OrderView, rpc_timeout=timedelta(seconds=QUERY_SECONDS)), timeout=QUERY_SECONDS + 1)
    except (TimeoutError, RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError, ValueError):
        return stored
    if stored is None:
        return live
    own = {(e.source, e.seq) for e in live.timeline}
    timeline = sorted([*live.timeline, *(e for e in stored.timeline if (e.source, e.seq) not in own)],
                      key=lambda e: (e.at, e.source, e.seq))
    mine = {r.review_id for r in live.reviews}
    # a duplicate folded in after the workflow closed marks only the row (flag_closed_anchor)
    flags = live.flags + [f for f in stored.flags if f == "suspected_brushing" and f not in live.flags]
    return live.model_copy(update={"timeline": timeline, "shipments": stored.shipments, "flags": flags,
                                   "reviews": [*live.reviews, *(r for r in stored.reviews if r.review_id not in mine)]})
