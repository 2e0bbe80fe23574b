"""The order worker: every workflow and activity of the hub, on one task queue or split by stage.

``build_worker`` serves one queue with every workflow (tests, a single-queue deployment);
``build_workers`` serves the stages a process was given (``zhongshu worker --stages``): one Temporal
worker per distinct queue, each with the workflows of the stages on that queue and every activity
(local activities run beside their workflow, whatever its stage)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.aftersales import AftersalesActivities
from activities.assessment import AssessmentActivities
from activities.channels import ChannelActivities
from activities.confirmation import ConfirmationActivities
from activities.finance import FinanceActivities
from activities.installation import InstallationActivities
from activities.intake import IntakeActivities
from activities.logistics import LogisticsActivities
from activities.notify import NotifyActivities
from activities.projection import ProjectionActivities
from activities.supplier import SupplierActivities
from activities.warehouse import WarehouseActivities, wave_policy_from
from domain import divisions, geo
from domain.confirmation import derive_secret
from domain.contracts.task_queues import STAGES, Stage
from domain.warehouse import WavePolicy
from workers.interceptors import ShortDatabaseErrors
from workers.sandbox import precompile_workflows, workflow_runner
from workflows.aftersales import AftersalesWorkflow
from workflows.channel_sync import ChannelSyncWorkflow
from workflows.channel_watchdog import ChannelWatchdogWorkflow
from workflows.fulfilment import FulfilmentWorkflow
from workflows.legacy.aftersales_v1 import AftersalesWorkflow as AftersalesWorkflowV1
from workflows.legacy.order_v1 import OrderWorkflow as OrderWorkflowV1
from workflows.order import OrderWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.shipment import ShipmentWorkflow
from workflows.wave import WaveWorkflow
from zhongshu.settings import get_settings

# The v1 types stay registered until no execution of them is running (README: draining the old shape).
LEGACY_WORKFLOWS = [OrderWorkflowV1, AftersalesWorkflowV1]
STAGE_WORKFLOWS: dict[Stage, list[type]] = {
    Stage.ORDERS: [OrderWorkflow, AftersalesWorkflow, ChannelSyncWorkflow, ChannelWatchdogWorkflow, *LEGACY_WORKFLOWS],
    Stage.WAREHOUSE: [FulfilmentWorkflow, WaveWorkflow],
    Stage.LOGISTICS: [ShipmentWorkflow],
    Stage.FINANCE: [ReconciliationWorkflow],
}
WORKFLOWS = [w for s in STAGES for w in STAGE_WORKFLOWS[s]]


def activities_for(engine: Engine, wecom_webhook_url: str = "", settlement_url: str | None = None,
                   wave_policy: WavePolicy | None = None, settings=None) -> list:
    """Every activity the order worker runs; partner endpoints (carriers, mini-program, technician app,
    suppliers) come from ``settings`` (default: the environment's)."""
    s = settings or get_settings()
    if settlement_url is None:
        settlement_url = s.settlement_url
    geo.load()  # the district centroids, read once here rather than inside a workflow
    divisions.table()  # today's divisions (~0.6 s): loaded at start, not by the first order's cleansing
    return [
        *FinanceActivities(engine, settlement_url).all(),
        *IntakeActivities(engine).all(),
        *ProjectionActivities(engine).all(),
        *AssessmentActivities(engine).all(),
        NotifyActivities(wecom_webhook_url).notify_wecom,
        *WarehouseActivities(engine, wecom_webhook_url=wecom_webhook_url, policy=wave_policy or wave_policy_from(s),
                             image_base_url=s.erp_images_url).all(),  # waves (issue 5)
        # after the warehouse (issue 6)
        *ConfirmationActivities(engine, s.miniprogram_url, s.api_base_url,
                                derive_secret(s.confirm_secret, s.effective_api_key())).all(),
        *LogisticsActivities(engine, s.carrier_url, s.carrier_app_key, s.carrier_app_secret).all(),
        *InstallationActivities(s.technician_url).all(),
        *SupplierActivities(s.supplier_url).all(),
        *AftersalesActivities(engine).all(),
    ]


def build_worker(
    client: Client, task_queue: str, engine: Engine, *, wecom_webhook_url: str = "", max_threads: int = 32,
    wave_policy: WavePolicy | None = None, settings=None, workflows: list[type] | None = None,
    activities: list | None = None,
) -> Worker:
    """One worker on ``task_queue``: every workflow unless ``workflows`` names some (a stage's)."""
    if activities is None:
        activities = [*activities_for(engine, wecom_webhook_url, wave_policy=wave_policy, settings=settings),
                      *ChannelActivities(engine, settings=settings, task_queue=task_queue).all()]
    precompile_workflows()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS if workflows is None else workflows,
        workflow_runner=workflow_runner(),
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=max_threads),
        interceptors=[ShortDatabaseErrors()],
        max_concurrent_activities=max_threads,
        # a burst waits in the task queue (durably) instead of timing out half-done on an overloaded loop
        max_concurrent_workflow_tasks=(settings or get_settings()).worker_workflow_tasks,
    )


def queues_for(stages: list[Stage], settings) -> dict[str, list[Stage]]:
    """The queues serving ``stages``, each with every stage that lives on it: a stage sharing its queue
    with a selected one is served too (a worker polling a queue must run every workflow sent there)."""
    chosen = {settings.queue_of(s.value) for s in stages}
    return {q: [s for s in STAGES if settings.queue_of(s.value) == q] for q in sorted(chosen)}


def build_workers(client: Client, engine: Engine, settings, stages: list[Stage], *, max_threads: int = 32) -> dict[str, Worker]:
    """One worker per task queue of ``stages``, each with its own activity thread pool; the activity
    objects (engine, partner clients, the division tables) are built once and shared."""
    activities = [*activities_for(engine, settings.wecom_webhook_url, settings=settings),
                  *ChannelActivities(engine, settings=settings, task_queue=settings.task_queue).all()]
    return {q: build_worker(client, q, engine, max_threads=max_threads, settings=settings, activities=activities,
                            workflows=[w for s in on_queue for w in STAGE_WORKFLOWS[s]])
            for q, on_queue in queues_for(stages, settings).items()}
