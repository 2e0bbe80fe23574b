"""Entry point of `zhongshu worker`: connect, make sure the read model is migrated, poll forever.

Telemetry: JSON logs (zhongshu.logging_setup), SQL spans of the read model's engine, the worker's
Prometheus endpoint (``ZHONGSHU_WORKER_METRICS_PORT``); the client's TracingInterceptor and SDK
metrics runtime come from workers.temporal_client and reach the worker through the client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from domain.contracts.task_queues import STAGES, Stage
from store import risk_data, rules
from store.db import engine_for, migrate
from workers.order_worker import build_workers, queues_for
from workers.temporal_client import connect
from workflows.reconciliation import ensure_reconciliation_schedule
from zhongshu.auth_settings import refuse_default_secrets
from zhongshu.heap import freeze_startup_heap
from zhongshu.logging_setup import setup_logging
from zhongshu.metrics import start_worker_metrics
from zhongshu.settings import Settings, get_settings
from zhongshu.tracing import instrument_engine

log = logging.getLogger("zhongshu.worker")


async def run_worker(settings: Settings | None = None, stages: list[Stage] | None = None) -> None:
    """Serve ``stages`` (default: all) — one Temporal worker per distinct task queue among them."""
    s = settings or get_settings()
    stages = list(stages or STAGES)
    refuse_default_secrets(s, "worker")  # issue 13: no development default outside development mode
    setup_logging("worker", s)
    migrate(s.db_url)
    engine = engine_for(s.db_url)
    instrument_engine(engine, s, "worker")
    seeded = risk_data.seed_defaults(engine)
    version = rules.ensure_default(engine)
    log.info("reference data %s; routing rules version %s active", seeded, version)
    client = await connect(s, service="worker")
    if any(Stage.FINANCE in on for on in queues_for(stages, s).values()):  # finance is served here
        try:
            await ensure_reconciliation_schedule(client, s.queue_of(Stage.FINANCE), cron=s.reconciliation_cron)
        except Exception:
            log.exception("could not ensure the reconciliation schedule")
    workers = build_workers(client, engine, s, stages)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    metrics_server = start_worker_metrics(s, engine)
    served = "; ".join(f"{q} ({', '.join(st.value for st in on)})" for q, on in queues_for(stages, s).items())
    freeze_startup_heap()  # the divisions, models and workflows' modules: built once, never collected
    log.info("worker polling %s on %s", served, s.temporal_address)
    try:
        async with contextlib.AsyncExitStack() as running:
            for w in workers.values():
                await running.enter_async_context(w)
            await stop.wait()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
    log.info("worker stopped")
