"""Prometheus: the worker's endpoint and the API's GET /metrics carry the Temporal SDK's metrics and
ours; the business gauges count the read model (both backends, with and without the tables later
migrations add); /metrics is for localhost or a readonly key."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from store.schema import orders, review_tasks, waves
from tests.support import order_payload, pg_available
from tests.telemetry_support import TelemetryStack
from zhongshu.metrics import BusinessMetrics, start_worker_metrics
from zhongshu.settings import Settings
from zhongshu.telemetry import instrument_api

NOW = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)


def samples(text: str) -> dict[str, list[tuple[dict, float]]]:
    out: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(found, name: str, **labels) -> float:
    return sum(v for lab, v in found.get(name, []) if all(lab.get(k) == want for k, want in labels.items()))


async def wait_for(fn, timeout=60, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        got = await asyncio.to_thread(fn)
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


# ------------------------------------------------------------------ both endpoints, the real stack


@pytest.mark.integration
async def test_worker_and_api_endpoints_expose_sdk_and_business_metrics(dev_env, fake_wecom, tmp_path):
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    with TelemetryStack(dev_env, tmp_path, fake_wecom) as stack, stack.http() as http:
        r = await asyncio.to_thread(http.post, "/v1/orders", json=order_payload(address={"raw": "老地方仓库后门"}))
        assert r.status_code == 202, r.text
        order_id = r.json()["order_id"]
        await wait_for(lambda: http.get(f"/v1/orders/{order_id}").json().get("status") == "held")
        await wait_for(lambda: any(i["order_id"] == order_id for i in http.get("/v1/reviews", params={"state": "open"}).json()["items"]))

        worker = samples((await asyncio.to_thread(httpx.get, stack.worker_metrics_url, timeout=30)).text)
        api_resp = await asyncio.to_thread(http.get, "/metrics", headers={"X-API-Key": ""})  # from localhost: no key
        assert api_resp.status_code == 200 and api_resp.headers["content-type"].startswith("text/plain")
        api = samples(api_resp.text)

    # the Temporal SDK's own metrics, from each process's client
    assert value(worker, "temporal_worker_start_total") >= 1
    assert value(worker, "temporal_workflow_task_execution_latency_count") >= 1
    assert value(worker, "temporal_activity_execution_latency_count") >= 1
    assert "temporal_worker_task_slots_available" in worker
    assert value(api, "temporal_request_total", operation="StartWorkflowExecution") >= 1, api.get("temporal_request_total")
    assert "temporal_request_latency_bucket" in api

    # ours, on both
    for found in (worker, api):
        assert value(found, "zhongshu_orders", status="held") == 1
        assert value(found, "zhongshu_reviews_open", kind="address", age="fresh") == 1
        assert value(found, "zhongshu_review_oldest_open_age_seconds", kind="address") < 600
        assert value(found, "zhongshu_stuck_orders") == 0
        assert "zhongshu_business_metrics_seconds" in found
        assert value(found, "zhongshu_business_metrics_errors") == 0
    # API latency by route template and status (ids never become labels)
    assert value(api, "zhongshu_api_request_duration_seconds_count", method="POST", route="/v1/orders", status="202") == 1
    assert value(api, "zhongshu_api_request_duration_seconds_count", method="GET", route="/v1/orders/{order_id}", status="200") >= 1
    assert not [lab for lab, _ in api["zhongshu_api_request_duration_seconds_count"] if order_id in lab["route"]]


# ------------------------------------------------------------------ who may read /metrics


def _app(tmp_path, **kw) -> FastAPI:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'zs.db'}", api_key="svc",
                        extra_api_keys="ro:readonly,rev:reviewer", metrics_business=False, **kw)
    app = FastAPI()
    app.state.api_keys = settings.api_keys()

    @app.get("/v1/things/{thing_id}")
    def thing(thing_id: str):
        return {"id": thing_id}

    instrument_api(app, settings)
    instrument_api(app, settings)  # idempotent
    return app


async def test_metrics_need_a_readonly_key_unless_from_localhost(tmp_path):
    app = _app(tmp_path, metrics_allow_localhost=False)
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))  # localhost, but not allowed here
    async with httpx.AsyncClient(transport=local, base_url="http://zs") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"X-API-Key": "rev"})).status_code == 403
        assert (await client.get("/metrics", headers={"X-API-Key": "ro"})).status_code == 200
        assert (await client.get("/metrics", headers={"Authorization": "Bearer ro"})).status_code == 200  # Prometheus' way
        assert (await client.get("/metrics", headers={"X-API-Key": "svc"})).status_code == 200
        assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_metrics_open_to_localhost_and_latency_by_route_template(tmp_path):
    app = _app(tmp_path)
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=local, base_url="http://zs") as client:
        assert (await client.get("/v1/things/order-tmall-1")).status_code == 200
        assert (await client.get("/nowhere/123")).status_code == 404
        text = (await client.get("/metrics")).text
    found = samples(text)
    assert value(found, "zhongshu_api_request_duration_seconds_count", route="/v1/things/{thing_id}", status="200") == 1
    assert value(found, "zhongshu_api_request_duration_seconds_count", route="unmatched", status="404") == 1
    remote = httpx.ASGITransport(app=app, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=remote, base_url="http://zs") as client:
        assert (await client.get("/metrics")).status_code == 401


# ------------------------------------------------------------------ business gauges, both backends


def _order(order_id: str, status: str, channel: str = "tmall", flags=(), ordered_at=NOW - timedelta(minutes=5)):
    return dict(order_id=order_id, channel=channel, channel_order_id=order_id[-6:], status=status, customer_id="C1",
                flags=list(flags), ordered_at=ordered_at, created_at=NOW, updated_at=NOW, last_seq=1, projected_at=NOW)


def _review(review_id: str, kind: str, age: timedelta, features=(), state="open"):
    return dict(review_id=review_id, order_id=review_id.split("~")[0], kind=kind, state=state, reason="…",
                features=list(features), created_at=NOW - age)


def _collect(engine, **kw) -> dict:
    settings = Settings(review_escalation_seconds=2 * 3600, review_red_seconds=24 * 3600, **kw)
    registry = CollectorRegistry()
    registry.register(BusinessMetrics(engine, settings, now=lambda: NOW, cache_seconds=0))
    return samples(generate_latest(registry).decode())


def test_business_gauges_count_the_read_model(engine):
    with engine.begin() as conn:
        conn.execute(insert(orders), [
            _order("order-tmall-1", "held"), _order("order-tmall-2", "held", flags=["stuck"]),
            _order("order-douyin-3", "completed", channel="douyin", ordered_at=NOW - timedelta(hours=2)),
        ])
        conn.execute(insert(review_tasks), [
            _review("order-tmall-1~risk-1", "risk", timedelta(minutes=3), ["burst_orders", "blacklisted_customer"]),
            _review("order-tmall-2~risk-1", "risk", timedelta(hours=3), ["burst_orders"]),
            _review("order-tmall-2~address-1", "address", timedelta(hours=30)),
            _review("order-tmall-4~routing-1", "routing", timedelta(minutes=40)),
            _review("order-tmall-5~risk-1", "risk", timedelta(days=3), ["burst_orders"], state="decided"),
        ])
        conn.execute(insert(waves), [
            dict(wave_id=f"W{i}", warehouse="HZ-DIRECT", wave_no=f"B{i}", carrier="SF", state=st, opened_at=NOW,
                 order_ids=[], updated_at=NOW) for i, st in enumerate(["open", "open", "picking", "done"])
        ])
    found = _collect(engine)
    assert value(found, "zhongshu_orders", status="held") == 2 and value(found, "zhongshu_orders", status="completed") == 1
    assert value(found, "zhongshu_reviews_open", kind="risk", age="fresh") == 1
    assert value(found, "zhongshu_reviews_open", kind="risk", age="escalated") == 1
    assert value(found, "zhongshu_reviews_open", kind="address", age="red") == 1
    assert value(found, "zhongshu_reviews_open", kind="routing", age="waiting") == 1
    assert value(found, "zhongshu_reviews_open") == 4, "decided reviews are not open"
    assert value(found, "zhongshu_review_oldest_open_age_seconds", kind="address") == 30 * 3600
    assert value(found, "zhongshu_review_policy_seconds", threshold="escalation") == 7200
    assert value(found, "zhongshu_holds_open", feature="burst_orders") == 2
    assert value(found, "zhongshu_holds_open", feature="blacklisted_customer") == 1
    assert value(found, "zhongshu_stuck_orders") == 0, "stuck_alerts is the truth: none open"
    assert value(found, "zhongshu_waves", warehouse="HZ-DIRECT", state="open") == 2
    assert value(found, "zhongshu_waves", state="done") == 0
    assert value(found, "zhongshu_channel_last_order_age_seconds", channel="douyin") == 7200
    assert "zhongshu_channel_sync_lag_seconds" not in found, "no channel reported its health yet"
    assert value(found, "zhongshu_business_metrics_errors") == 0


def test_business_gauges_use_stuck_alerts_and_channel_health(engine):
    from store.schema import channel_health, stuck_alerts

    def alert(review_id: str, activity: str, resolved: bool = False) -> dict:
        oid = review_id.split("~")[0]
        return dict(review_id=review_id, workflow_id=oid, order_id=oid, activity=activity, error="ConnectionError: …",
                    at=NOW, resolved=resolved, updated_at=NOW)

    def health(account_id: str, channel: str, kind: str, state: str, **kw) -> dict:
        return dict(account_id=account_id, channel=channel, kind=kind, state=state, state_since=NOW,
                    workflow_id=f"channel-sync-{account_id}", updated_at=NOW, **kw)

    with engine.begin() as conn:
        conn.execute(insert(orders), [_order("order-tmall-9", "held", flags=["stuck"])])  # a flag alone does not count
        conn.execute(insert(stuck_alerts), [
            alert("order-tmall-1~ops-1", "create_waybill"), alert("order-tmall-1~ops-2", "push_order_to_erp"),
            alert("order-tmall-2~ops-1", "create_waybill"), alert("order-tmall-3~ops-1", "create_waybill", resolved=True),
        ])
        conn.execute(insert(channel_health), [
            health("tmall-hz", "tmall", "sync", "stalled", cursor=NOW - timedelta(minutes=40),
                   last_success_at=NOW - timedelta(minutes=39), backlog_trades=120),
            health("douyin-1", "douyin", "webhook", "running", cursor=None, last_success_at=NOW - timedelta(seconds=30),
                   backlog_trades=0),
        ])
    found = _collect(engine)
    assert value(found, "zhongshu_stuck_orders") == 2, "distinct orders with an open stuck alert"
    assert value(found, "zhongshu_stuck_alerts", activity="create_waybill") == 2
    assert value(found, "zhongshu_channel_sync_lag_seconds", account_id="tmall-hz") == 2400
    assert value(found, "zhongshu_channel_sync_lag_seconds", account_id="douyin-1") == 30
    assert value(found, "zhongshu_channel_state", account_id="tmall-hz", state="stalled") == 1
    assert value(found, "zhongshu_channel_backlog_trades", account_id="tmall-hz") == 120


def test_a_broken_read_model_is_an_error_sample_not_a_failed_scrape(tmp_path):
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables at all
    found = _collect(engine)
    assert value(found, "zhongshu_business_metrics_errors", part="orders") == 1
    assert value(found, "zhongshu_business_metrics_errors", part="waves") == 1


def test_worker_endpoint_on_a_taken_port_is_skipped_not_fatal(tmp_path, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = Settings(var_dir=tmp_path, worker_metrics_port=port)
        assert start_worker_metrics(s, engine=None) is None
    assert "cannot listen" in caplog.text
    assert start_worker_metrics(Settings(var_dir=tmp_path, worker_metrics_port=0), engine=None) is None


