"""Entry point of `zhongshu worker`: connect, make sure the read model is migrated, poll forever."""

from __future__ import annotations

import asyncio
import logging
import signal

from store import risk_data, rules
from store.db import engine_for, migrate
from workers.order_worker import build_worker
from workers.temporal_client import connect
from zhongshu.settings import Settings, get_settings

log = logging.getLogger("zhongshu.worker")


async def run_worker(settings: Settings | None = None) -> None:
    s = settings or get_settings()
    migrate(s.db_url)
    engine = engine_for(s.db_url)
    seeded = risk_data.seed_defaults(engine)
    version = rules.ensure_default(engine)
    log.info("reference data %s; routing rules version %s active", seeded, version)
    client = await connect(s, service="worker")
    from workflows.reconciliation import ensure_reconciliation_schedule

    try:
        await ensure_reconciliation_schedule(client, s.task_queue, cron=s.reconciliation_cron)
    except Exception:  # noqa: BLE001 - a schedule problem must not keep orders from flowing
        log.exception("could not ensure the reconciliation schedule")
    worker = build_worker(client, s.task_queue, engine, wecom_webhook_url=s.wecom_webhook_url, settings=s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling %s on %s", s.task_queue, s.temporal_address)
    async with worker:
        await stop.wait()
    log.info("worker stopped")
