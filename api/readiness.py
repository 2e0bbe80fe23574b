"""Is the stack able to do work? Temporal, the read model's database and a worker on each stage's task
queue (orders, and the warehouse, logistics and finance queues when they are split off).

``/healthz`` only says the API process lives (liveness). ``/readyz`` says whether a request would be
served (readiness): each part is checked with a short timeout, so the probe itself answers fast.

A worker is "seen" when it polled the task queue within ``worker_seen_seconds``: Temporal records a
poller's last poll start, and an idle worker's long poll lasts up to about a minute, so the bound must
be longer than that (default 90 s); a worker that died less than that ago still looks seen.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.contracts.task_queues import STAGES
from zhongshu.settings import Settings

PROBE_SECONDS = 2.0


class WorkerSeen(BaseModel):
    seen: bool
    pollers: int
    last_poll_seconds_ago: float | None
    detail: str


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    temporal: Check
    database: Check
    worker: Check
    task_queue: str


async def worker_seen(client: Client, settings: Settings, *, task_queue: str | None = None,
                      timeout: float = PROBE_SECONDS) -> WorkerSeen:
    """Pollers of a task queue (default: the orders queue; workflow tasks). RPCError: Temporal itself
    is unreachable."""
    queue = task_queue or settings.task_queue
    resp = await asyncio.wait_for(client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue),
                                 task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        timeout=timedelta(seconds=timeout)), timeout=timeout + 1)
    now = time.time()
    ages = [max(0.0, now - p.last_access_time.ToSeconds()) for p in resp.pollers if p.HasField("last_access_time")]
    fresh = [a for a in ages if a <= settings.worker_seen_seconds]
    last = round(min(ages), 1) if ages else None
    if fresh:
        return WorkerSeen(seen=True, pollers=len(fresh), last_poll_seconds_ago=last,
                          detail=f"{len(fresh)} poller(s) on {queue}, last poll {last}s ago")
    why = (f"no poll on {queue} for {last}s (> {settings.worker_seen_seconds:g}s)" if ages
           else f"no worker has polled {queue}")
    return WorkerSeen(seen=False, pollers=0, last_poll_seconds_ago=last, detail=why)


def stage_queues(settings: Settings) -> list[str]:
    """Every distinct task queue some stage's work is sent to (one, unless stages are split off)."""
    return sorted({settings.queue_of(stage) for stage in STAGES}, key=lambda q: (q != settings.task_queue, q))


def _db_ok(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def readiness(client: Client, engine: Engine, settings: Settings) -> Readiness:
    async def temporal() -> Check:
        try:
            await asyncio.wait_for(client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=PROBE_SECONDS)), timeout=PROBE_SECONDS + 1)
            return Check(ok=True, detail=f"{client.service_client.config.target_host} answers")
        except (TimeoutError, RPCError) as exc:
            return Check(ok=False, detail=f"unreachable: {type(exc).__name__}: {exc}"[:300])

    async def database() -> Check:
        try:
            await asyncio.wait_for(asyncio.to_thread(_db_ok, engine), timeout=PROBE_SECONDS + 3)
            return Check(ok=True, detail=engine.dialect.name)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with the reason
            return Check(ok=False, detail=f"{engine.dialect.name}: {type(exc).__name__}: {exc}"[:300])

    async def worker() -> Check:
        queues = stage_queues(settings)
        try:
            seen = await asyncio.gather(*(worker_seen(client, settings, task_queue=q) for q in queues))
        except (TimeoutError, RPCError) as exc:
            return Check(ok=False, detail=f"unknown: Temporal unreachable ({type(exc).__name__})")
        missing = [s for s in seen if not s.seen]  # the queues nobody serves come first in the detail
        return Check(ok=not missing, detail="; ".join(s.detail for s in [*missing, *(s for s in seen if s.seen)]))

    t, d, w = await asyncio.gather(temporal(), database(), worker())
    return Readiness(ready=t.ok and d.ok and w.ok, temporal=t, database=d, worker=w, task_queue=settings.task_queue)


def as_json(r: Readiness) -> dict[str, Any]:
    return r.model_dump(mode="json")
