"""加急 over real HTTP against the real pieces (dev server, worker, API, PostgreSQL, fake partners): an
order waits in its warehouse's open wave (30 orders, no cut-off); a person marks it urgent; the API
tells the wave, which closes at once with the order's pick line marked ⚡加急."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from activities import warehouse as wh
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes.serve import serve_in_thread
from store.db import engine_for, migrate
from tests.support import (
    ThreadedServer,
    ThreadedWorker,
    free_port,
    fresh_pg_database,
    order_payload,
    pg_available,
    terminate_waves,
)

pytestmark = pytest.mark.integration
SERVICE, REVIEWER = "urgent-service-key", "urgent-reviewer-key"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ustack(dev_env, tmp_path_factory, fake_wecom):
    from api.app import create_app
    from zhongshu.settings import Settings

    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    carriers = serve_in_thread(fake_carriers.create_app(webhook_base=api_url))
    mini = serve_in_thread(fake_miniprogram.create_app())
    with fresh_pg_database("zs_urgent") as url:
        migrate(url)
        engine = engine_for(url)
        for w in ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"):
            wh.import_stock(engine, [dict(warehouse=w, bin="A-03-12", sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)",
                                          quantity=500, barcode="6901234567890", notes="易碎品轻拿")])
        settings = Settings(
            database_url=url, temporal_address=dev_env.client.service_client.config.target_host,
            task_queue=f"urgent-{uuid.uuid4().hex[:6]}", api_key=SERVICE, api_port=api_port, public_base_url=api_url,
            extra_api_keys=f"{REVIEWER}:reviewer", var_dir=tmp_path_factory.mktemp("var"),
            wecom_webhook_url=fake_wecom.webhook_url, wave_size=30, wave_cutoffs="",
            carrier_url=carriers.url, carrier_app_key=fake_carriers.APP_KEY, carrier_app_secret=fake_carriers.SECRET,
            miniprogram_url=mini.url, confirm_secret="urgent-confirm-secret",
        )
        await terminate_waves(dev_env.client)
        try:
            with ThreadedWorker(settings, url):
                with ThreadedServer(create_app(settings), port=api_port):
                    yield api_url
        finally:
            await terminate_waves(dev_env.client)
            carriers.stop()
            mini.stop()
            engine.dispose()


def wait_for(what: str, fn, timeout: float = 60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if last := fn():
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


def test_marking_an_order_urgent_closes_its_open_wave_and_marks_its_pick_line(ustack):
    with httpx.Client(base_url=ustack, headers={"X-API-Key": SERVICE}, timeout=30) as api, \
            httpx.Client(base_url=ustack, headers={"X-API-Key": REVIEWER}, timeout=30) as reviewer:
        r = api.post("/v1/orders", json=order_payload(ordered_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
        assert r.status_code == 202, r.text
        oid = r.json()["order_id"]

        def joined():
            o = api.get(f"/v1/orders/{oid}").json()
            return o.get("status") == "picking" and any(e["event"] == "order.wave_joined" for e in o.get("timeline", [])) and o

        warehouse = wait_for("the order in its open wave", joined)["warehouse"]
        assert not [w for w in api.get("/v1/waves", params={"warehouse": warehouse}).json()["items"]
                    if oid in w.get("order_ids", [])], "30 orders or a cut-off close it: neither has come"

        r = reviewer.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent"})
        assert r.status_code == 201, r.text
        assert r.json()["marks"]["urgent"] is True and r.json()["waves_told"] == [warehouse], r.json()

        wave = wait_for("the wave closed", lambda: next(
            (w for w in api.get("/v1/waves", params={"warehouse": warehouse}).json()["items"] if oid in w.get("order_ids", [])), None))
        assert wave["close_reason"] == "urgent"
        picks = api.get(f"/v1/waves/{wave['wave_id']}/picklist.json").json()
        assert picks["order_ids"] == [oid] and picks["instructions"][0]["notes"][0] == "⚡加急", picks
        printed = api.get(f"/v1/waves/{wave['wave_id']}/picklist.html")
        assert printed.status_code == 200 and "⚡加急" in printed.text  # the printed pick list says it too
