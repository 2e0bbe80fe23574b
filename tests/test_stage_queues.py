"""Task queues per stage: two `zhongshu worker` processes serve different stages — one orders and
finance, the other warehouse and logistics — and an order still goes end to end (picked through the
device API, confirmed by the customer, waybilled at the fake carrier, tracked to signed). Each
workflow's tasks were completed by the process serving its stage, and the partner calls of another
stage (the confirmation card, the waybill) were scheduled on that stage's queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from activities import warehouse as wh
from api.readiness import readiness
from domain import geo
from domain.contracts.task_queues import STAGES, Stage, TaskQueues, parse_stages
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes.serve import serve_in_thread
from store.db import engine_for, migrate
from tests.fulfilment_stack import wait_for
from tests.support import ThreadedServer, free_port, fresh_pg_database, order_payload, pg_available, terminate_waves
from workers.order_worker import STAGE_WORKFLOWS, WORKFLOWS, queues_for
from zhongshu.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICE, DEVICE = "stages-service-key", "stages-device-key"


# ---------------------------------------------------------------- the pieces, without a server


def test_stage_names_parse_and_an_unknown_one_is_named():
    assert parse_stages("") == list(STAGES)
    assert parse_stages(" Warehouse,orders,warehouse ") == [Stage.WAREHOUSE, Stage.ORDERS]
    with pytest.raises(ValueError, match="pickers"):
        parse_stages("orders,pickers")


def test_every_workflow_belongs_to_exactly_one_stage():
    assert sorted(map(id, WORKFLOWS)) == sorted({id(w) for ws in STAGE_WORKFLOWS.values() for w in ws})
    assert sum(len(ws) for ws in STAGE_WORKFLOWS.values()) == len(WORKFLOWS)


def test_by_default_one_queue_serves_every_stage():
    s = Settings(task_queue="tq-all")
    assert queues_for(list(STAGES), s) == {"tq-all": list(STAGES)}
    assert queues_for([Stage.ORDERS], s) == {"tq-all": list(STAGES)}, "a shared queue brings its other stages along"
    assert TaskQueues().options(Stage.WAREHOUSE) == {}, "no queue of its own: the caller's queue, nothing on the command"


def test_a_stage_with_its_own_queue_is_served_alone():
    s = Settings(task_queue="tq-o", task_queue_warehouse="tq-w", task_queue_logistics="tq-w")
    assert queues_for([Stage.WAREHOUSE], s) == {"tq-w": [Stage.WAREHOUSE, Stage.LOGISTICS]}
    assert queues_for([Stage.ORDERS], s) == {"tq-o": [Stage.ORDERS, Stage.FINANCE]}
    assert TaskQueues(warehouse="tq-w").options(Stage.WAREHOUSE) == {"task_queue": "tq-w"}


# ---------------------------------------------------------------- two processes, one order end to end


def _worker(stages: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zhongshu.cli", "worker", "--stages", stages], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(what: str, fn, timeout: float = 120, logs: list[Path] = ()):
    return wait_for(what, fn, timeout, logs)


async def _history(client, wid: str) -> tuple[set[str], dict[str, str]]:
    """Who completed the workflow's tasks (``pid@host``), and the queue each activity type was scheduled on."""
    identities: set[str] = set()
    queues: dict[str, str] = {}
    async for e in client.get_workflow_handle(wid).fetch_history_events():
        if e.HasField("workflow_task_completed_event_attributes"):
            identities.add(e.workflow_task_completed_event_attributes.identity)
        if e.HasField("activity_task_scheduled_event_attributes"):
            a = e.activity_task_scheduled_event_attributes
            queues[a.activity_type.name] = a.task_queue.name
    return identities, queues


@pytest.mark.integration
async def test_two_workers_serving_different_stages_take_an_order_end_to_end(dev_env, tmp_path, fake_wecom):
    from api.app import create_app

    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    tag = uuid.uuid4().hex[:6]
    orders_q, warehouse_q, logistics_q, finance_q = (f"stages-{tag}-{s}" for s in ("orders", "warehouse", "logistics", "finance"))
    address = dev_env.client.service_client.config.target_host
    await terminate_waves(dev_env.client)  # another stack's wave-HZ-CLOUD would take this order elsewhere
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    carriers = serve_in_thread(fake_carriers.create_app(webhook_base=api_url))
    mini = serve_in_thread(fake_miniprogram.create_app())
    with fresh_pg_database("zs_stages") as url:
        migrate(url)
        engine = engine_for(url)
        for w in ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"):
            wh.import_stock(engine, [dict(warehouse=w, bin="A-03-12", sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)",
                                          quantity=500, barcode="6901234567890", notes="")])
        common = dict(ZHONGSHU_DATABASE_URL=url, ZHONGSHU_TEMPORAL_ADDRESS=address, ZHONGSHU_TASK_QUEUE=orders_q,
                      ZHONGSHU_TASK_QUEUE_WAREHOUSE=warehouse_q, ZHONGSHU_TASK_QUEUE_LOGISTICS=logistics_q,
                      ZHONGSHU_TASK_QUEUE_FINANCE=finance_q, ZHONGSHU_WECOM_WEBHOOK_URL=fake_wecom.webhook_url,
                      ZHONGSHU_WORKER_METRICS_PORT="0", ZHONGSHU_VAR_DIR=str(tmp_path), ZHONGSHU_API_KEY=SERVICE,
                      ZHONGSHU_PUBLIC_BASE_URL=api_url, ZHONGSHU_WAVE_SIZE="1", ZHONGSHU_WAVE_AUTO_PACK="true",
                      ZHONGSHU_WAVE_CUTOFFS="", ZHONGSHU_CARRIER_URL=carriers.url,
                      ZHONGSHU_CARRIER_APP_KEY=fake_carriers.APP_KEY, ZHONGSHU_CARRIER_APP_SECRET=fake_carriers.SECRET,
                      ZHONGSHU_MINIPROGRAM_URL=mini.url, ZHONGSHU_CONFIRM_SECRET="stages-confirm-secret",
                      ZHONGSHU_DEV_MODE="1", PYTHONIOENCODING="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")} | common
        settings = Settings(database_url=url, temporal_address=address, task_queue=orders_q, task_queue_warehouse=warehouse_q,
                            task_queue_logistics=logistics_q, task_queue_finance=finance_q, api_key=SERVICE,
                            api_port=api_port, public_base_url=api_url, extra_api_keys=f"{DEVICE}:device",
                            var_dir=tmp_path, wecom_webhook_url=fake_wecom.webhook_url, wave_size=1, wave_auto_pack=True,
                            wave_cutoffs="", carrier_url=carriers.url, carrier_app_key=fake_carriers.APP_KEY,
                            carrier_app_secret=fake_carriers.SECRET, miniprogram_url=mini.url,
                            confirm_secret="stages-confirm-secret")
        logs = [tmp_path / "worker-orders.log", tmp_path / "worker-floor.log"]
        front = _worker("orders,finance", env, logs[0])
        floor = _worker("warehouse,logistics", env, logs[1])
        try:
            with ThreadedServer(create_app(settings), port=api_port), \
                    httpx.Client(base_url=api_url, headers={"X-API-Key": SERVICE}, timeout=30) as api, \
                    httpx.Client(base_url=api_url, headers={"X-API-Key": DEVICE}, timeout=30) as device:
                r = api.post("/v1/orders", json=order_payload(ordered_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
                assert r.status_code == 202, r.text
                oid = r.json()["order_id"]

                def status(*wanted: str):
                    return lambda: (g := api.get(f"/v1/orders/{oid}")).status_code == 200 and g.json()["status"] in wanted and g.json()

                row = _wait_for("picking", status("picking"), logs=logs)
                w = row["warehouse"]
                task = _wait_for("a pick task", lambda: (c := device.post(f"/v1/warehouse/{w}/claim", json={
                    "device_id": "MC33-STAGES", "picker": "小张"})).status_code == 200 and c.json(), logs=logs)
                r = device.post(f"/v1/warehouse/{w}/tasks/{task['task_id']}/confirm",
                                json={"picked_qty": task["quantity"], "device_id": "MC33-STAGES", "picker": "小张"})
                assert r.status_code == 200, r.text
                cards = _wait_for("a confirmation card", lambda: httpx.get(
                    f"{mini.url}/_control/cards", params={"order_id": oid}).json()["items"], logs=logs)
                c = geo.centroid(api.get(f"/v1/orders/{oid}").json()["address"]["adcode"])
                ok = httpx.post(cards[-1]["url"] + "/confirm", json={"lat": c.lat, "lng": c.lng}, timeout=30)
                assert ok.status_code == 200 and ok.json()["accepted"], ok.text
                row = _wait_for("shipped", status("shipped"), logs=logs)
                r = httpx.post(f"{carriers.url}/control/push", json={"waybill_no": row["waybill_no"], "code": "signed"}, timeout=30)
                assert r.status_code == 200, r.text
                _wait_for("delivered", status("delivered"), logs=logs)
                ready = api.get("/readyz").json()  # ready means a worker on every stage's queue
                assert ready["ready"] and all(q in ready["worker"]["detail"] for q in (orders_q, warehouse_q, logistics_q, finance_q))
            lost = await readiness(dev_env.client, engine, settings.model_copy(update={"task_queue_finance": f"stages-{tag}-nobody"}))
            assert not lost.ready and lost.worker.detail.startswith(f"no worker has polled stages-{tag}-nobody"), lost

            front_id, floor_id = (f"{p.pid}@" for p in (front, floor))
            order_by, order_queues = await _history(dev_env.client, oid)
            part_by, part_queues = await _history(dev_env.client, f"{oid}~F1")
            parcel_by, parcel_queues = await _history(dev_env.client, f"{oid}~F1~S1")
            assert order_by and all(i.startswith(front_id) for i in order_by), (order_by, front.pid)
            assert part_by and all(i.startswith(floor_id) for i in part_by), (part_by, floor.pid)
            assert parcel_by and all(i.startswith(floor_id) for i in parcel_by), (parcel_by, floor.pid)
            assert part_queues["join_wave"] == warehouse_q
            assert order_queues["send_confirmation_card"] == logistics_q, "the order's card goes to the logistics queue"
            assert parcel_queues["create_waybill"] == logistics_q
            assert order_queues.get("push_order_to_erp", orders_q) == orders_q
            wave_by, _ = await _history(dev_env.client, f"wave-{w}")
            assert wave_by and all(i.startswith(floor_id) for i in wave_by), "the wave runs on the warehouse's worker"
        finally:
            for p in (front, floor):
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
            carriers.stop()
            mini.stop()
            engine.dispose()
