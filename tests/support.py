"""Test plumbing: fresh PostgreSQL databases, an API server in a thread, payload builders."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import uvicorn
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.service import RPCError, RPCStatusCode

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def fresh_pg_database(prefix: str = "zs_test") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedServer:
    """A real uvicorn server on 127.0.0.1 in a background thread (its own event loop)."""

    def __init__(self, app, port: int | None = None):
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def random_mobile() -> str:
    """A valid, unique-enough CN mobile so unrelated tests never look like duplicates."""
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


def order_payload(coid: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid order; override any top-level field."""
    p: dict[str, Any] = {
        "channel": "miniprogram",
        "channel_order_id": coid or f"T{uuid.uuid4().hex[:12]}",
        "ordered_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "customer": {"id": f"SHOP-T{uuid.uuid4().hex[:8]}", "name": " 王建国 ", "phone": random_mobile()},
        "address": {"raw": "杭州萧山区北干街道金城路188号"},
        "lines": [
            {
                "sku": "BOSCH-BP-COROLLA18",
                "name": "博世刹车片(前)",
                "category": "刹车片",
                "quantity": 2,
                "unit_price": "268.00",
                "vehicle_model": "卡罗拉18款",
            }
        ],
        "freight": "0.00",
        "paid_amount": "536.00",
    }
    p.update(overrides)
    return p


class LoopThread:
    """Something served on its own event loop in a thread for the length of a ``with`` block, so
    blocking test code cannot stall it. A subclass's ``serve`` starts it, calls ``ready()`` and awaits
    ``stopped()``; an error before ``ready()`` is raised by ``with``."""

    ready_seconds = 60

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def serve(self) -> None:
        raise NotImplementedError

    def ready(self) -> None:
        self._ready.set()

    async def stopped(self) -> None:
        assert self._stop is not None
        await self._stop.wait()

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.serve()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - surfaced in __enter__
            self._error = exc
            self._ready.set()

    def __enter__(self):
        self.thread.start()
        self._ready.wait(self.ready_seconds)
        if self._error:
            raise self._error
        return self

    def __exit__(self, *exc) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


class ThreadedWorker(LoopThread):
    """Our real worker (``build_worker``, as the settings say) in a thread, on a read model seeded
    with the default risk data and rules. A subclass may build a different ``worker``."""

    def __init__(self, settings, db_url: str):
        super().__init__()
        self.settings = settings
        self.db_url = db_url

    def worker(self, client, engine):
        from workers.order_worker import build_worker

        return build_worker(client, self.settings.task_queue, engine, wecom_webhook_url=self.settings.wecom_webhook_url,
                            settings=self.settings)

    async def serve(self) -> None:
        from store import risk_data, rules
        from store.db import engine_for
        from workers.temporal_client import connect

        client = await connect(self.settings)
        engine = engine_for(self.db_url)
        risk_data.seed_defaults(engine)
        rules.ensure_default(engine)
        async with self.worker(client, engine):
            self.ready()
            await self.stopped()


async def terminate_waves(client) -> None:
    """A warehouse has one wave workflow (``wave-HZ-CLOUD``) per namespace: one left running by another
    test's stack on the shared dev server would take this stack's orders onto a task queue nobody polls
    any more. Stacks that run waves call this before they start and after they stop."""
    async for wf in client.list_workflows("WorkflowType = 'WaveWorkflow' AND ExecutionStatus = 'Running'"):
        try:
            await client.get_workflow_handle(wf.id, run_id=wf.run_id).terminate("a test stack starts afresh")
        except Exception:  # noqa: BLE001 - it ended meanwhile
            pass


async def skip_time(env: Any, duration: timedelta) -> None:
    """``env.sleep`` on the time-skipping server with a deadline that a loaded machine does not hit.

    The server answers a sleep only when every pending workflow task and activity in the shared
    environment has settled; with the suite's other tests running beside it that took longer than
    the client's default RPC deadline ("Timeout expired") about once a suite run.
    A dropped connection under load ("h2 protocol error", CI 2026-12-02) is retried for what is left
    of the skip, measured on the server's own clock, so time never moves twice.
    """
    target = await env.get_current_time() + duration
    remaining = duration
    for attempt in range(3):
        req = SleepRequest()
        req.duration.FromTimedelta(remaining)
        try:
            await env.client.test_service.unlock_time_skipping_with_sleep(req, timeout=timedelta(minutes=3))
            return
        except RPCError as exc:
            if attempt == 2 or exc.status not in (RPCStatusCode.UNKNOWN, RPCStatusCode.UNAVAILABLE, RPCStatusCode.CANCELLED):
                raise
        remaining = target - await env.get_current_time()
        if remaining <= timedelta(0):
            return
