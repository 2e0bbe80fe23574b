"""``POST /v1/orders/{order_id}/unmerge``: split an order that de-duplication merged into another back
out, as an order of its own (issue 14).

A merged duplicate's workflow ended at ``merged``. Splitting it starts a new run of the same workflow
id (the order keeps its id) with the submission its first run had, the current policy and
``unmerge`` set: it skips the duplicate check, says ``order.unmerged`` (who, from which anchor) first on
its timeline, and projects after what the first run wrote. The anchor, if still running, is told
(``duplicate_merged`` with ``unmerged_by``) and records ``duplicate.unmerged``. Recorded under the
signed-in person; 409 when the order is not merged (or is being split right now).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.auth import Caller, actor, require
from api.intake import policy_from, summary
from api.schemas import AUTH, Doc, errors
from domain import labels
from domain.contracts import order as C
from domain.contracts import search_attributes as sa
from domain.dedupe import Unmerge
from domain.policy import OrderWorkflowInput
from store.order_runs import earlier_run

router = APIRouter(tags=["orders"])
RPC = timedelta(seconds=10)


class UnmergeIn(BaseModel):
    note: str = Field(default="", max_length=300, description="why (shown on both orders' timelines)")
    actor: str | None = Field(default=None, max_length=64, description="omit: the signed-in person")


async def first_input(client: Client, order_id: str) -> OrderWorkflowInput:
    """The input the order's first run started with (its history's first event)."""
    async for event in client.get_workflow_handle(order_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [inp] = await client.data_converter.decode(payloads, [OrderWorkflowInput])
            return inp
    raise LookupError(order_id)


@router.post("/v1/orders/{order_id}/unmerge", status_code=202, response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def unmerge(request: Request, body: UnmergeIn, order_id: str = Path(max_length=100),
                  caller: Caller = Depends(require("reviewer", "customer_service"))):
    """Split a merged duplicate back out: 202 once its new run started (it then goes through risk,
    routing and fulfilment like any order)."""
    who = actor(caller, body.actor, "actor")
    settings, client = request.app.state.settings, request.app.state.client
    earlier = await asyncio.to_thread(earlier_run, request.app.state.engine, order_id)
    if earlier is None:
        raise HTTPException(404, f"订单 {order_id!r} 不存在 (order not found)")
    if earlier.status != "merged" or not earlier.merged_into:
        raise HTTPException(409, f"订单未被合并, 无需拆分: 当前状态 {labels.order_status(earlier.status)} "
                                 f"(only a merged order can be split back out; status {earlier.status})")
    try:
        first = await first_input(client, order_id)
    except (RPCError, LookupError) as exc:
        raise HTTPException(503, f"订单服务暂时不可用, 未拆分 (Temporal: {exc})", headers={"Retry-After": "5"}) from None
    split = Unmerge(anchor=earlier.merged_into, actor=who, note=body.note.strip(), projected_seq=earlier.projected_seq,
                    events=earlier.events)
    sub = first.submission
    inp = first.model_copy(update={"unmerge": split, "policy": policy_from(settings)})
    try:
        await client.start_workflow(
            C.ORDER.name, inp, id=order_id, task_queue=settings.task_queue, rpc_timeout=RPC,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,  # its first run still closing, or a colleague was faster
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # the first run ended at `merged`
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(sa.ORDER_STATUS, "received"), SearchAttributePair(sa.CHANNEL, sub.channel.value),
                SearchAttributePair(sa.CUSTOMER_ID, sub.customer.id)]),
            static_summary=summary(sub), static_details=f"split back out of {split.anchor} by {who}")
    except WorkflowAlreadyStartedError:
        raise HTTPException(409, "订单正在处理中, 请稍后再试 (the order's workflow is running: already split, or "
                                 "its merge is still closing)") from None
    except RPCError as exc:
        raise HTTPException(503, f"订单服务暂时不可用, 未拆分 (Temporal: {exc.message})", headers={"Retry-After": "5"}) from None
    told = True
    try:  # the anchor forgets the duplicate (a closed anchor: its read model no longer lists it anyway)
        await client.get_workflow_handle(split.anchor).signal(C.DUPLICATE_MERGED.name, C.DuplicateNotice(
            duplicate_order_id=order_id, skus=[ln.sku for ln in sub.lines], channel=sub.channel.value, unmerged_by=who),
            rpc_timeout=RPC)
    except RPCError:
        told = False
    return {"order_id": order_id, "unmerged_from": split.anchor, "actor": who, "anchor_notified": told,
            "message": f"已拆分: {order_id} 从 {split.anchor} 拆回为独立订单, 正在重新处理"}
