"""ReconciliationWorkflow on a real dev server: on-demand runs per day, and the daily Schedule
created idempotently."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.worker import Worker

from activities.finance import FinanceActivities
from store import metrics
from store.db import engine_for, migrate
from tests.test_reconciliation import DAY, _prime_fake, _seed, settlement  # noqa: F401 - fixture
from workflows.reconciliation import (
    ReconciliationWorkflow,
    ensure_reconciliation_schedule,
    start_reconciliation,
    workflow_id_for,
)


async def test_on_demand_run_writes_the_report_and_reruns_identically(dev_env, tmp_path, settlement):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    migrate(url)
    engine = engine_for(url)
    _seed(engine)
    _prime_fake(settlement.url)
    tq = f"recon-{uuid.uuid4().hex[:6]}"
    async with Worker(
        dev_env.client, task_queue=tq, workflows=[ReconciliationWorkflow],
        activities=FinanceActivities(engine, settlement.url).all(), activity_executor=ThreadPoolExecutor(4),
    ):
        h = await start_reconciliation(dev_env.client, tq, DAY.isoformat())
        assert h.id == workflow_id_for(DAY.isoformat())
        summary = await h.result()
        assert summary.orders == 9 and summary.differences == 8
        assert summary.channel_reconciles and summary.erp_reconciles
        first = metrics.get_run(engine, DAY)
        assert first["workflow_id"] == h.id
        again = await (await start_reconciliation(dev_env.client, tq, DAY.isoformat())).result()
        assert again == summary
        assert metrics.get_run(engine, DAY)["differences"] == first["differences"]


async def test_schedule_is_created_once(dev_env):
    sid = f"recon-test-{uuid.uuid4().hex[:6]}"
    try:
        assert await ensure_reconciliation_schedule(dev_env.client, "some-queue", schedule_id=sid) is True
        assert await ensure_reconciliation_schedule(dev_env.client, "other-queue", schedule_id=sid) is False
        desc = await dev_env.client.get_schedule_handle(sid).describe()
        assert desc.schedule.spec.cron_expressions == ["30 2 * * *"] or desc.schedule.spec.calendars
        assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        assert desc.schedule.action.workflow == "ReconciliationWorkflow"
        assert desc.schedule.action.task_queue == "other-queue"
    finally:
        await dev_env.client.get_schedule_handle(sid).delete()


@pytest.mark.parametrize("day", ["2026-11-20"])
def test_workflow_id_is_per_day(day):
    assert workflow_id_for(day) == "reconciliation-2026-11-20"
