"""Helpers for workflow tests on the time-skipping server: start orders, wait, check and keep histories."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.worker import Replayer

from domain.contracts import order as C
from domain.order import OrderSubmission
from domain.policy import OrderPolicy, OrderWorkflowInput
from store import risk_data
from store.db import engine_for, migrate
from workers.order_worker import build_worker
from workers.sandbox import workflow_runner
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from zhongshu.payload_codec import encrypted_data_converter

HISTORIES = Path(__file__).parent / "histories"
FAILED_HISTORIES = Path(__file__).parent.parent / "var" / "failed-histories"


@asynccontextmanager
async def order_worker(client: Client, task_queue: str, db_url: str, wecom_webhook_url: str) -> AsyncIterator:
    """Our real worker (``build_worker``) on a migrated read model seeded with the default risk data;
    yields the read model's engine."""
    migrate(db_url)
    engine = engine_for(db_url)
    risk_data.seed_defaults(engine)
    try:
        async with build_worker(client, task_queue, engine, wecom_webhook_url=wecom_webhook_url):
            yield engine
    finally:
        engine.dispose()


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
    await handle.result()
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


async def replay_fails(history, *workflows) -> str | None:
    """Why ``history`` does not replay against the current code (None: it does). By default every
    workflow the order worker runs: an order's, a part's, a parcel's or a case's history."""
    from workers.order_worker import WORKFLOWS

    replayer = Replayer(workflows=list(workflows) or WORKFLOWS, data_converter=encrypted_data_converter(""),
                        workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return None
    FAILED_HISTORIES.mkdir(parents=True, exist_ok=True)  # kept to study: a failure like this is often timing-bound
    (FAILED_HISTORIES / f"{history.workflow_id}.json").write_text(history.to_json())
    return f"{result.replay_failure} (history kept in {FAILED_HISTORIES})"


async def keep_history(handle: WorkflowHandle, name: str) -> None:
    """Replay the order's history against the current code right here (determinism, checked by the
    test that made it, whatever ran before); with ZHONGSHU_RECORD_HISTORIES=1 also save it for
    tests/test_replay.py, which replays the committed ones against later code."""
    history = await handle.fetch_history()
    failure = await replay_fails(history)
    assert failure is None, f"history {name} does not replay: {failure}"
    if os.environ.get("ZHONGSHU_RECORD_HISTORIES") == "1":
        text = history.to_json()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(json.dumps(json.loads(text), ensure_ascii=False, indent=1))


async def wave_update(wave: WorkflowHandle, update, arg):
    """A scanner's call; the test server now and then loses an update ("update … not found") under
    load, and a scanner simply sends it again (claiming is idempotent per device)."""
    for attempt in range(40):
        try:
            return await wave.execute_update(update, arg)
        except RPCError:
            if attempt == 39:
                raise
            await asyncio.sleep(0.25)
