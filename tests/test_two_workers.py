"""Scale-out is real: two worker processes (`zhongshu worker`) on one task queue take orders from the
same API and read model (the dev server, PostgreSQL), share the work, and when one is killed mid-run
the other finishes every order — each exactly once, nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from store.db import engine_for, migrate
from store.schema import orders, timeline_events
from tests.support import ThreadedServer, fresh_pg_database, order_payload, pg_available
from zhongshu.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
KEY = "two-workers-key"


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zhongshu.cli", "worker"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_polling(*logs: Path, timeout: float = 90) -> None:
    """Both workers poll before the first batch goes out: on a loaded machine one could otherwise
    finish all of it alone while the other is still starting (CI 2026-12-07)."""
    deadline = time.monotonic() + timeout
    while not all(log.exists() and "worker polling" in log.read_text(errors="replace") for log in logs):
        assert time.monotonic() < deadline, "a worker never started polling"
        time.sleep(0.2)


def _submit(api: httpx.Client, n: int) -> list[str]:
    ids = []
    ordered_at = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()  # past its release window
    for _ in range(n):
        p = order_payload(ordered_at=ordered_at)
        r = api.post("/v1/orders", json=p)
        assert r.status_code == 202, r.text
        ids.append(r.json()["order_id"])
    return ids


def _completed(engine, ids: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(orders).where(
            orders.c.order_id.in_(ids), orders.c.status == "completed")).scalar() or 0


def _wait_completed(engine, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (done := _completed(engine, ids)) < len(ids):
        if time.monotonic() > deadline:
            raise AssertionError(f"{done}/{len(ids)} orders completed after {timeout:.0f} s")
        time.sleep(0.5)


async def _identities(client, ids: list[str]) -> set[str]:
    """Which worker processes completed the orders' workflow tasks (``pid@host``)."""
    seen: set[str] = set()
    for oid in ids:
        async for e in client.get_workflow_handle(oid).fetch_history_events():
            if e.HasField("workflow_task_completed_event_attributes"):
                seen.add(e.workflow_task_completed_event_attributes.identity)
    return seen


async def test_two_worker_processes_share_orders_and_survive_one_dying(dev_env, tmp_path, fake_wecom):
    from api.app import create_app

    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    tq = f"two-workers-{uuid.uuid4().hex[:6]}"
    address = dev_env.client.service_client.config.target_host
    with fresh_pg_database("zs_two_workers") as url:
        migrate(url)
        engine = engine_for(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
        env.update(ZHONGSHU_DATABASE_URL=url, ZHONGSHU_TEMPORAL_ADDRESS=address, ZHONGSHU_TASK_QUEUE=tq,
                   ZHONGSHU_WECOM_WEBHOOK_URL=fake_wecom.webhook_url, ZHONGSHU_FULFILMENT="false",
                   ZHONGSHU_WORKER_METRICS_PORT="0", ZHONGSHU_VAR_DIR=str(tmp_path), ZHONGSHU_API_KEY=KEY,
                   ZHONGSHU_DEV_MODE="1",  # a test stack: its development secrets are allowed
                   PYTHONIOENCODING="utf-8")
        settings = Settings(database_url=url, temporal_address=address, task_queue=tq, api_key=KEY, var_dir=tmp_path,
                            wecom_webhook_url=fake_wecom.webhook_url, fulfilment=False)
        a, b = _worker(env, tmp_path / "worker-a.log"), _worker(env, tmp_path / "worker-b.log")
        try:
            _wait_polling(tmp_path / "worker-a.log", tmp_path / "worker-b.log")
            with ThreadedServer(create_app(settings)) as server, \
                    httpx.Client(base_url=server.url, headers={"X-API-Key": KEY}, timeout=30) as api:
                first = _submit(api, 16)
                _wait_completed(engine, first, timeout=180)
                os.killpg(a.pid, signal.SIGKILL)  # one worker dies mid-run: no goodbye, tasks in flight
                a.wait(timeout=10)
                second = _submit(api, 8)
                _wait_completed(engine, second, timeout=180)
            both = first + second
            assert len(await _identities(dev_env.client, first)) >= 2, "the first batch was shared by both workers"
            with engine.connect() as conn:
                completed_events = conn.execute(select(timeline_events.c.order_id, func.count()).where(
                    timeline_events.c.order_id.in_(both), timeline_events.c.event == "order.completed",
                ).group_by(timeline_events.c.order_id)).all()
            assert sorted(oid for oid, _ in completed_events) == sorted(both)
            assert all(n == 1 for _, n in completed_events), "each order completed exactly once"
        finally:
            for p in (a, b):
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
