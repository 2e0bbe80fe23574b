"""Helpers for workflow tests on the time-skipping server: start orders, wait, keep histories."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from domain.order import OrderSubmission
from domain.policy import OrderPolicy, OrderWorkflowInput
from domain.contracts import order as C
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow

HISTORIES = Path(__file__).parent / "histories"
RECORDED: dict[str, str] = {}  # name → history JSON, recorded during this run


async def start_order(
    client: Client, task_queue: str, payload: dict, policy: OrderPolicy | None = None
) -> WorkflowHandle:
    sub = OrderSubmission.model_validate(payload)
    return await client.start_workflow(
        OrderWorkflow.run,
        OrderWorkflowInput(submission=sub, policy=policy or OrderPolicy()),
        id=sub.order_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.CHANNEL, sub.channel.value)]),
    )


async def state_of(handle: WorkflowHandle) -> C.OrderView:
    return await handle.query(C.STATE.name, result_type=C.OrderView)


async def result_of(handle: WorkflowHandle) -> C.OrderView:
    """Wait for the order to end, then its view (the workflow's result is only its outcome)."""
    try:
        await handle.result()
    except Exception as exc:  # DEBUG
        c = exc
        while c is not None:
            print("DEBUGCAUSE", type(c).__name__, getattr(c, "message", c))
            c = c.__cause__
        raise
    return await state_of(handle)


async def until(handle: WorkflowHandle, predicate, timeout: float = 20) -> C.OrderView:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        st = await state_of(handle)
        if predicate(st):
            return st
        if loop.time() > deadline:
            raise AssertionError(f"state never matched; last status {st.status}, events {[e.event for e in st.timeline]}")
        await asyncio.sleep(0.05)


async def keep_history(handle: WorkflowHandle, name: str) -> None:
    """Remember the history for the replay test; with ZHONGSHU_RECORD_HISTORIES=1 also save it."""
    history = await handle.fetch_history()
    text = history.to_json()
    RECORDED[name] = text
    if os.environ.get("ZHONGSHU_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(json.dumps(json.loads(text), ensure_ascii=False, indent=1))
