"""The order worker: OrderWorkflow and the activities it needs, on the orders task queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.assessment import AssessmentActivities
from activities.channels import ChannelActivities
from activities.finance import FinanceActivities
from activities.intake import IntakeActivities
from activities.notify import NotifyActivities
from activities.warehouse import WarehouseActivities
from workflows.channel_sync import ChannelSyncWorkflow
from workflows.order import OrderWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.wave import WaveWorkflow

WORKFLOWS = [OrderWorkflow, ReconciliationWorkflow, ChannelSyncWorkflow, WaveWorkflow]


def activities_for(engine: Engine, wecom_webhook_url: str = "", settlement_url: str | None = None) -> list:
    if settlement_url is None:
        from zhongshu.settings import get_settings

        settlement_url = get_settings().settlement_url
    return [
        *FinanceActivities(engine, settlement_url).all(),
        *IntakeActivities(engine).all(),
        *AssessmentActivities(engine).all(),
        NotifyActivities(wecom_webhook_url).notify_wecom,
        *WarehouseActivities(engine, wecom_webhook_url=wecom_webhook_url).all(),  # waves (issue 5)
    ]


def build_worker(
    client: Client, task_queue: str, engine: Engine, *, wecom_webhook_url: str = "", max_threads: int = 32
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*activities_for(engine, wecom_webhook_url), *ChannelActivities(engine, task_queue=task_queue).all()],
        activity_executor=ThreadPoolExecutor(max_workers=max_threads),
        max_concurrent_activities=max_threads,
    )
