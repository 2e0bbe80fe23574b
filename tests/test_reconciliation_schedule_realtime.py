"""The reconciliation Temporal Schedule on the real dev server, in real time: it fires run after
run (each a short ReconciliationWorkflow with the real activities against the fake settlement
service), keeps firing after being re-ensured (what every worker start does) and across a worker
restart, and every run's history replays. A 2 s interval stands in for the daily cron."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities.finance import FinanceActivities, RunSummary
from store.db import engine_for, migrate
from tests.channel_support import eventually, replay_all
from tests.test_reconciliation import settlement  # noqa: F401 - fixture
from workflows.reconciliation import ReconciliationWorkflow, ensure_reconciliation_schedule


async def test_schedule_keeps_firing_across_updates_and_a_worker_restart(dev_env, tmp_path, settlement):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    migrate(url)
    engine = engine_for(url)
    sid = f"recon-rt-{uuid.uuid4().hex[:6]}"
    tq = f"recon-rt-{uuid.uuid4().hex[:6]}"
    client = dev_env.client
    schedule = client.get_schedule_handle(sid)

    def worker() -> Worker:
        return Worker(client, task_queue=tq, workflows=[ReconciliationWorkflow],
                      activities=FinanceActivities(engine, settlement.url).all(), activity_executor=ThreadPoolExecutor(4))

    async def completed_runs() -> list[str]:
        desc = await schedule.describe()
        ids = [a.action.workflow_id for a in desc.info.recent_actions]
        done = []
        for wid in ids:
            d = await client.get_workflow_handle(wid).describe()
            if d.status == WorkflowExecutionStatus.COMPLETED:
                done.append(wid)
        return done

    try:
        async with worker():
            assert await ensure_reconciliation_schedule(client, tq, schedule_id=sid, every=timedelta(seconds=2)) is True
            first = await eventually(lambda: _at_least(completed_runs(), 3), timeout=30, what="three scheduled runs")
            # every worker start re-ensures the schedule: it is updated in place and keeps firing
            assert await ensure_reconciliation_schedule(client, tq, schedule_id=sid, every=timedelta(seconds=2)) is False
            await eventually(lambda: _newer_than(completed_runs(), first, 2), timeout=20, what="runs after the update")
        await asyncio.sleep(3)  # no worker: the schedule fires; its runs wait in the task queue
        async with worker():  # a new worker process picks them up and the schedule goes on
            before = await completed_runs()
            runs = await eventually(lambda: _newer_than(completed_runs(), before, 2), timeout=30, what="runs after restart")
        histories = [await client.get_workflow_handle(wid).fetch_history() for wid in runs[-3:]]
        await replay_all([ReconciliationWorkflow], histories)
        results = [await client.get_workflow_handle(wid, result_type=RunSummary).result() for wid in runs[-3:]]
        assert all(r.day for r in results)  # each reconciled a day (yesterday, Beijing)
    finally:
        await schedule.delete()


async def _at_least(coro, n: int) -> list[str] | None:
    got = await coro
    return got if len(got) >= n else None


async def _newer_than(coro, before: list[str], n: int) -> list[str] | None:
    got = await coro
    return got if len(set(got) - set(before)) >= n else None
