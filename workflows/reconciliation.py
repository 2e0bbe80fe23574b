"""ReconciliationWorkflow: one run per day — fetch the channels' statements and the ERP's receipts,
compare them with our completed orders, and write the report. Daily on a Temporal Schedule, and on
demand (API / CLI).

A run is idempotent by construction: each step replaces that day's data, and the report is a pure
function of it, so running a day twice gives the same report, and a difference fixed at the source
is absent the next time. The scheduled run reconciles *yesterday* (Beijing time).
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy

if TYPE_CHECKING:
    from temporalio.client import Client, ScheduleUpdateInput, WorkflowHandle

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.contracts import finance as FIN
    from domain.contracts.finance import DayRequest, ReportRequest, RunSummary

CN_TZ = timezone(timedelta(hours=8))
SCHEDULE_ID = "zhongshu-reconciliation-daily"
DEFAULT_CRON = "30 2 * * *"  # 02:30 Beijing: yesterday's statements are in by then
IO: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(minutes=5),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2)),
)


class ReconciliationInput(BaseModel):
    day: str | None = None  # YYYY-MM-DD (Beijing); None: yesterday


@workflow.defn(name="ReconciliationWorkflow")
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, inp: ReconciliationInput) -> RunSummary:
        day = inp.day or (workflow.now().astimezone(CN_TZ).date() - timedelta(days=1)).isoformat()
        req = DayRequest(day=day)
        await workflow.execute_activity(FIN.BACKFILL_ORDER_FINANCE.name, req, result_type=int, **IO)
        await workflow.execute_activity(FIN.FETCH_CHANNEL_SETTLEMENTS.name, req, result_type=int, **IO)
        await workflow.execute_activity(FIN.FETCH_ERP_RECEIPTS.name, req, result_type=int, **IO)
        summary: RunSummary = await workflow.execute_activity(
            FIN.BUILD_RECONCILIATION_REPORT.name,
            ReportRequest(day=day, workflow_id=workflow.info().workflow_id),
            result_type=RunSummary,
            **IO,
        )
        return summary


def workflow_id_for(day: str) -> str:
    return f"reconciliation-{day}"


async def start_reconciliation(client: Client, task_queue: str, day: str) -> WorkflowHandle[ReconciliationWorkflow, RunSummary]:
    """Start (or join, if one is running) the on-demand run for ``day``; returns the handle."""
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

    return await client.start_workflow(
        ReconciliationWorkflow.run,
        ReconciliationInput(day=day),
        id=workflow_id_for(day),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def ensure_reconciliation_schedule(
    client: Client, task_queue: str, *, cron: str = DEFAULT_CRON, schedule_id: str = SCHEDULE_ID,
    every: timedelta | None = None,
) -> bool:
    """Create the daily schedule if it does not exist (idempotent; call at startup). Returns True
    when it was created, False when it was already there (it is then updated to ``cron``/queue).

    The schedule is the server's own long-lived timer (no workflow of ours waits between runs, so
    there is no idle timeout of ours to survive); each firing starts a fresh, short
    ``ReconciliationWorkflow``. ``every`` replaces the cron with a fixed interval (tests, demos)."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
        ScheduleUpdate,
    )

    action = ScheduleActionStartWorkflow(
        ReconciliationWorkflow.run, ReconciliationInput(), id=f"{schedule_id}-run", task_queue=task_queue
    )
    spec = (ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]) if every is not None
            else ScheduleSpec(cron_expressions=[cron], time_zone_name="Asia/Shanghai"))
    policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1))
    try:
        await client.create_schedule(schedule_id, Schedule(action=action, spec=spec, policy=policy))
        return True
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def update(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            sched = inp.description.schedule
            sched.action, sched.spec, sched.policy = action, spec, policy
            return ScheduleUpdate(schedule=sched)

        await handle.update(update)
        return False
