"""The carrier webhook over real HTTP: signed pushes recorded once and signalled to the workflow whose
id is the event's order id (a tiny probe workflow on this module's own time-skipping server), bad
signatures refused and recorded, unknown orders answered clearly; the fake carrier's push and
autopilot end to end; ``GET /v1/orders/{id}/tracking``. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio import workflow
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.logistics import LogisticsActivities
from api.carrier_routes import router as carrier_router
from domain.logistics import TrackingCode, TrackingEvent, signed_headers
from fakes import carriers as fake
from fakes.serve import serve_in_thread
from store.db import engine_for
from store.schema import tracking_events, webhook_attempts
from tests.support import ThreadedServer
from tests.test_logistics import req_for
from zhongshu.payload_codec import encrypted_data_converter

UTC = UTC
API_KEY = "carrier-test-key"


@workflow.defn(name="TrackingProbe")
class TrackingProbe:
    """Stands in for the order workflow: collects ``tracking_event`` signals until signed."""

    def __init__(self) -> None:
        self.events: list[TrackingEvent] = []

    @workflow.run
    async def run(self) -> list[TrackingEvent]:
        await workflow.wait_condition(lambda: any(e.code == TrackingCode.SIGNED for e in self.events))
        return self.events

    @workflow.signal(name="tracking_event")
    def tracking_event(self, ev: TrackingEvent) -> None:
        self.events.append(ev)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_module_env():
    """This module's own time-skipping server (see tests/test_routing_workflow.py for why not ts_env)."""
    from temporalio.testing import WorkflowEnvironment
    from zhongshu_devtools.binaries import temporal_test_server

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server())
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def probe_worker(ts_module_env, task_queue):
    async with Worker(ts_module_env.client, task_queue=task_queue, workflows=[TrackingProbe],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        yield ts_module_env.client


class Hub:
    def __init__(self, url: str, db_url: str, settings):
        self.url, self.db_url, self.settings = url, db_url, settings

    def push(self, carrier: str, payload, secret: str | None = None, app_key: str | None = None) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        headers = signed_headers(secret or self.settings.carrier_app_secret, app_key or self.settings.carrier_app_key, body)
        return httpx.post(f"{self.url}/v1/webhooks/carriers/{carrier}", content=body, headers=headers, timeout=30)

    def attempts(self) -> list:
        with engine_for(self.db_url).connect() as conn:
            return conn.execute(select(webhook_attempts).order_by(webhook_attempts.c.id)).all()

    def events(self, order_id: str) -> list:
        with engine_for(self.db_url).connect() as conn:
            return conn.execute(select(tracking_events).where(tracking_events.c.order_id == order_id)
                                .order_by(tracking_events.c.at)).all()


@pytest.fixture
def hub(db_url, ts_module_env, tmp_path):
    """The real API (its router plus ours, as the lead will mount it) on this module's server."""
    from api.app import create_app
    from zhongshu.settings import Settings

    settings = Settings(database_url=db_url, temporal_address=ts_module_env.client.service_client.config.target_host,
                        api_key=API_KEY, extra_api_keys="ro-key:readonly", var_dir=tmp_path,
                        carrier_app_key="zhongshu", carrier_app_secret="carrier-test-secret")
    app = create_app(settings)
    app.include_router(carrier_router)
    with ThreadedServer(app) as srv:
        yield Hub(srv.url, db_url, settings)


def event(order_id: str, event_id: str, code: str, hours: float = 0, carrier: str = "SF",
          waybill_no: str = "SF100000000001") -> dict:
    at = datetime(2026, 11, 27, 2, tzinfo=UTC) + timedelta(hours=hours)
    return TrackingEvent(event_id=event_id, carrier=carrier, waybill_no=waybill_no, order_id=order_id, code=code,
                         at=at, location="杭州转运中心").model_dump(mode="json")


async def test_signed_push_is_recorded_once_and_signalled(hub, probe_worker, task_queue):
    wid = f"order-test-{uuid.uuid4().hex[:8]}"
    handle = await probe_worker.start_workflow(TrackingProbe.run, id=wid, task_queue=task_queue)
    r = await asyncio.to_thread(hub.push, "SF", event(wid, "e1", "collected"))
    assert r.status_code == 202, r.text
    assert r.json()["results"] == [{"event_id": "e1", "result": "delivered"}]
    again = await asyncio.to_thread(hub.push, "sf", [event(wid, "e1", "collected"), event(wid, "e2", "signed", 20)])
    assert again.status_code == 202, again.text
    assert again.json()["results"] == [{"event_id": "e1", "result": "duplicate"}, {"event_id": "e2", "result": "delivered"}]
    got = await handle.result()
    assert [(e.event_id, e.code) for e in got] == [("e1", TrackingCode.COLLECTED), ("e2", TrackingCode.SIGNED)]
    rows = hub.events(wid)
    assert [(x.event_id, x.result) for x in rows] == [("e1", "delivered"), ("e2", "delivered")]
    assert hub.attempts()[-1].outcome == "accepted" and hub.attempts()[-1].channel == "carrier:SF"


async def test_event_for_an_unknown_workflow_is_recorded_and_answered(hub):
    oid = f"order-nobody-{uuid.uuid4().hex[:8]}"
    r = await asyncio.to_thread(hub.push, "ZTO", {"events": [event(oid, "z1", "in_transit", carrier="ZTO",
                                                                    waybill_no="712345678901")]})
    assert r.status_code == 202
    [res] = r.json()["results"]
    assert res["event_id"] == "z1" and res["result"] == "unknown_order" and oid in res["detail"]
    assert [(x.event_id, x.code, x.result) for x in hub.events(oid)] == [("z1", "in_transit", "unknown_order")]
    again = await asyncio.to_thread(hub.push, "ZTO", event(oid, "z1", "in_transit", carrier="ZTO", waybill_no="712345678901"))
    assert again.json()["results"] == [{"event_id": "z1", "result": "duplicate"}]


async def test_bad_signature_is_401_and_recorded(hub):
    oid = f"order-bad-{uuid.uuid4().hex[:8]}"
    r = await asyncio.to_thread(hub.push, "JD", event(oid, "j1", "signed", carrier="JD"), "not-the-secret")
    assert r.status_code == 401 and "invalid signature" in r.json()["message"]
    r2 = await asyncio.to_thread(hub.push, "JD", event(oid, "j1", "signed", carrier="JD"), None, "someone-else")
    assert r2.status_code == 401 and "app key" in r2.json()["message"]
    body = json.dumps(event(oid, "j1", "signed", carrier="JD")).encode()
    stale = signed_headers(hub.settings.carrier_app_secret, "zhongshu", body, now=datetime.now(UTC).timestamp() - 600)
    r3 = await asyncio.to_thread(httpx.post, f"{hub.url}/v1/webhooks/carriers/JD", content=body, headers=stale)
    assert r3.status_code == 401 and "stale" in r3.json()["message"]
    bad = [a for a in hub.attempts() if a.outcome == "bad_signature"]
    assert len(bad) == 3 and all(a.http_status == 401 and a.channel == "carrier:JD" for a in bad)
    assert hub.events(oid) == []


async def test_unknown_carrier_and_bad_bodies(hub):
    oid = f"order-x-{uuid.uuid4().hex[:8]}"
    r = await asyncio.to_thread(hub.push, "UPS", event(oid, "u1", "signed"))
    assert r.status_code == 404 and "unknown carrier 'UPS'" in r.json()["message"]
    r = await asyncio.to_thread(hub.push, "SF", {**event(oid, "b1", "signed"), "code": "lost"})
    assert r.status_code == 400 and "code" in r.json()["message"]
    r = await asyncio.to_thread(hub.push, "SF", event(oid, "b2", "signed", carrier="JD"))
    assert r.status_code == 400 and "another carrier" in r.json()["message"]
    assert hub.events(oid) == []


async def test_fake_carrier_pushes_end_to_end_and_tracking_api(hub, probe_worker, task_queue):
    """Waybill from the fake, then the fake pushes (control and autopilot) to our webhook."""
    srv = serve_in_thread(fake.create_app(secret=hub.settings.carrier_app_secret, webhook_base=hub.url,
                                          autopilot_interval=0.05))
    try:
        acts = LogisticsActivities(engine_for(hub.db_url), srv.url, "zhongshu", hub.settings.carrier_app_secret)
        # 1. pushed one by one through the control endpoint
        wid = f"order-miniprogram-T{uuid.uuid4().hex[:10]}"
        handle = await probe_worker.start_workflow(TrackingProbe.run, id=wid, task_queue=task_queue)
        wb = await ActivityEnvironment().run(acts.create_waybill, req_for("DEBANG", wid, weight="45"))
        for code in ("collected", "in_transit", "signed"):
            r = await asyncio.to_thread(httpx.post, f"{srv.url}/control/push",
                                        json={"waybill_no": wb.waybill_no, "code": code, "location": "杭州"})
            assert r.status_code == 200 and r.json()["status"] == 202, r.text
            assert r.json()["answer"]["results"][0]["result"] == "delivered"
        got = await handle.result()
        assert [e.code.value for e in got] == ["collected", "in_transit", "signed"]
        assert all(e.waybill_no == wb.waybill_no and e.carrier == "DEBANG" for e in got)
        with httpx.Client(base_url=hub.url, headers={"X-API-Key": "ro-key"}) as http:
            t = http.get(f"/v1/orders/{wid}/tracking")
            assert t.status_code == 200, t.text
            assert t.json()["waybill"]["waybill_no"] == wb.waybill_no
            assert [e["label"] for e in t.json()["events"]] == ["已揽收", "运输中", "已签收"]
            assert http.get(f"/v1/orders/order-none-{uuid.uuid4().hex[:6]}/tracking").status_code == 404
        assert httpx.get(f"{hub.url}/v1/orders/{wid}/tracking").status_code == 401

        # 2. autopilot: a new waybill walks to signed by itself
        httpx.post(f"{srv.url}/control/autopilot", json={"on": True})
        wid2 = f"order-miniprogram-T{uuid.uuid4().hex[:10]}"
        handle2 = await probe_worker.start_workflow(TrackingProbe.run, id=wid2, task_queue=task_queue)
        await ActivityEnvironment().run(acts.create_waybill, req_for("SF", wid2))
        # wait for the pushes before asking for the result (a result wait lets the time-skipping
        # server jump ahead to the workflow's timeout while the autopilot is still sleeping)
        for _ in range(300):
            if [x.result for x in hub.events(wid2)] == ["delivered"] * 4:
                break
            await asyncio.sleep(0.1)
        got2 = await asyncio.wait_for(handle2.result(), 30)
        assert [e.code.value for e in got2] == ["collected", "in_transit", "out_for_delivery", "signed"]
    finally:
        srv.stop()
