"""Sending a reviewer's decision to the order's workflow and answering only what is true.

The decision is the workflow's ``decide_review`` update. Temporal's stages decide what we may say:

* **admitted** — the server holds the update *in memory* until a worker takes the next workflow task;
  it is not in the history, and it is applied later if a worker comes back (or lost if the server
  restarts). An answer "not applied" would be false here, so we never leave one admitted silently:
* **accepted** — a worker ran the validator and took it: it is in the history and will be applied.
* **completed** — applied; the review's new state is the result.

So the API (1) first asks Temporal whether a worker polled the task queue recently; if none did, it
sends nothing and answers **503 未生效** (not applied, nothing sent — true); (2) otherwise sends the
update with an id derived from the review and the decision's content and waits up to
``decision_wait_seconds`` for *accepted*: accepted and completed → **200** with the task; accepted but
not completed yet → **202 已受理, 处理中** (in the history: it will be applied); refused by the
validator → **409**; not accepted in time (the worker died in the last ``worker_seen_seconds``, or is
stuck) → **202 已提交, 待处理**: submitted, not yet applied, applied when the worker picks it up unless
it is refused then. Re-sending the same decision is idempotent (same update id): it joins the pending
update or returns the completed one's result; a different decision for a decided review is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage
from temporalio.service import RPCError, RPCStatusCode

from api.readiness import worker_seen
from domain.contracts import order as C
from domain.review import ReviewDecision, ReviewTask
from zhongshu.settings import Settings


@dataclass
class DecisionAnswer:
    http_status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def decision_update_id(d: ReviewDecision) -> str:
    """Same review + same decision → same update id (a retry joins it); another decision → another id."""
    content = json.dumps(d.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return f"decision:{d.review_id}:{hashlib.sha256(content.encode()).hexdigest()[:16]}"[:200]


def _unavailable(settings: Settings, message: str) -> DecisionAnswer:
    return DecisionAnswer(503, {"applied": False, "outcome": "not_applied", "message": message, "detail": message,
                                "retry_after": settings.retry_after_seconds},
                          {"Retry-After": str(settings.retry_after_seconds)})


async def send_decision(client: Client, settings: Settings, order_id: str, d: ReviewDecision) -> DecisionAnswer | None:
    """The answer for the caller; None when the order's workflow does not exist (caller decides 404/409)."""
    started = time.monotonic()
    try:
        seen = await worker_seen(client, settings)
    except (TimeoutError, RPCError):
        return _unavailable(settings, "决定未生效: 订单服务 (Temporal) 暂时不可用, 决定未发送, 请稍后重试 "
                                      "(not applied: Temporal unavailable, nothing was sent)")
    if not seen.seen:
        return _unavailable(settings, f"决定未生效: 订单处理进程不在线, 决定未发送, 请稍后重试 "
                                      f"(not applied: no worker; nothing was sent; {seen.detail})")
    update_id = decision_update_id(d)
    handle = client.get_workflow_handle(order_id)
    wait = settings.decision_wait_seconds
    try:
        uh = await asyncio.wait_for(handle.start_update(
            C.DECIDE_REVIEW.name, d, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=ReviewTask,
            rpc_timeout=timedelta(seconds=wait)), timeout=wait + 1)
    except WorkflowUpdateFailedError as exc:  # the validator refused it: nothing changed
        return _refused(exc)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return _pending(update_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        return _unavailable(settings, "决定未确认: 订单服务 (Temporal) 没有应答; 重发同一决定是安全的 "
                                      f"(not confirmed: Temporal did not answer; re-sending is idempotent, update {update_id})")
    remaining = max(0.5, wait - (time.monotonic() - started))
    try:
        task: ReviewTask = await asyncio.wait_for(uh.result(rpc_timeout=timedelta(seconds=remaining)), timeout=remaining + 1)
    except WorkflowUpdateFailedError as exc:
        return _refused(exc)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
        return DecisionAnswer(202, {"applied": False, "outcome": "accepted", "update_id": update_id,
                                    "message": "已受理, 处理中: 订单已接受此决定并将执行 (accepted by the order: "
                                               "it is recorded in its history and will be applied)"})
    return DecisionAnswer(200, task.model_dump(mode="json") | {"applied": True, "outcome": "applied"})


def _refused(exc: WorkflowUpdateFailedError) -> DecisionAnswer:
    cause = exc.cause
    message = getattr(cause, "message", None) or str(cause)
    if getattr(cause, "type", None) == "ReviewNotFound":  # no such review on this order: nothing to refuse
        return DecisionAnswer(404, {"applied": False, "outcome": "not_found", "message": message, "detail": message})
    return DecisionAnswer(409, {"applied": False, "outcome": "refused", "message": message, "detail": message})


def _pending(update_id: str) -> DecisionAnswer:
    return DecisionAnswer(202, {
        "applied": False, "outcome": "pending", "update_id": update_id,
        "message": "已提交, 待处理: 订单处理进程暂未响应, 决定尚未生效; 处理进程恢复后将校验并执行 (如已被他人处理则被拒绝). "
                   "可查看审核单状态; 重发同一决定是安全的 (submitted, not applied yet: the worker has not taken it; "
                   "it is validated and applied when the worker picks it up; re-sending the same decision is idempotent)"})
