"""The order worker: OrderWorkflow and the activities it needs, on the orders task queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.assessment import AssessmentActivities
from activities.intake import IntakeActivities
from activities.notify import NotifyActivities
from workflows.order import OrderWorkflow

WORKFLOWS = [OrderWorkflow]


def activities_for(engine: Engine, wecom_webhook_url: str = "") -> list:
    return [
        *IntakeActivities(engine).all(),
        *AssessmentActivities(engine).all(),
        NotifyActivities(wecom_webhook_url).notify_wecom,
    ]


def build_worker(
    client: Client, task_queue: str, engine: Engine, *, wecom_webhook_url: str = "", max_threads: int = 32
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(engine, wecom_webhook_url),
        activity_executor=ThreadPoolExecutor(max_workers=max_threads),
        max_concurrent_activities=max_threads,
    )
