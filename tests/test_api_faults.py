"""Honest answers under real faults: Temporal stopped (our own dev server, shut down mid-test), the
worker stopped (tests.support.ThreadedWorker), admission slower than the API waits. No mocks."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli

from tests.api_support import REVIEWER_KEY, api_settings, running_api
from tests.support import ThreadedWorker, order_payload
from zhongshu.payload_codec import encrypted_data_converter

pytestmark = pytest.mark.integration

UNRESOLVABLE = {"raw": "老地方仓库后门"}  # → an address review (the order is held)

async def wait_for(fn, timeout=60.0, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)

def open_review(http: httpx.Client, order_id: str):
    items = http.get("/v1/reviews", params={"state": "open", "order_id": order_id}).json()["items"]
    return items[0] if items else None

def review_state(http: httpx.Client, review_id: str) -> str:
    order_id = review_id.partition("~")[0]
    items = http.get("/v1/reviews", params={"order_id": order_id}).json()["items"]
    return next(i["state"] for i in items if i["review_id"] == review_id)

def timed(fn, *args, **kwargs):
    t = time.monotonic()
    r = fn(*args, **kwargs)
    return r, time.monotonic() - t

@pytest.fixture
async def own_temporal(tmp_path):
    """A dev server of this test's own, so the test can stop it."""
    from workflows.search_attributes import ALL

    env = await WorkflowEnvironment.start_local(
        dev_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), dev_server_existing_path=temporal_cli(), search_attributes=ALL,
        dev_server_database_filename=str(tmp_path / "temporal.db"), dev_server_extra_args=list(DEV_SERVER_SQLITE_ARGS))
    state = {"env": env, "down": False}
    yield state
    if not state["down"]:
        await env.shutdown()

async def test_temporal_down_is_503_with_retry_after(own_temporal, db_url, tmp_path, monkeypatch):
    from api import intake

    monkeypatch.setattr(intake, "ADMISSION_WAIT_SECONDS", 0.5)
    env = own_temporal["env"]
    settings = api_settings(db_url, env.client.service_client.config.target_host, tmp_path, temporal_rpc_seconds=3)
    with running_api(settings) as api, api.http() as http:
        first = await asyncio.to_thread(http.post, "/v1/orders", json=order_payload())
        assert first.status_code == 202 and first.json()["created"] is True  # no worker: accepted, processing
        assert http.get("/readyz").status_code == 503  # no worker polls this task queue

        await env.shutdown()
        own_temporal["down"] = True

        r, took = await asyncio.to_thread(timed, http.post, "/v1/orders", json=order_payload())
        print(f"POST /v1/orders with Temporal down: {r.status_code} in {took:.1f}s")
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == str(settings.retry_after_seconds)
        assert "未确认受理" in r.json()["message"]
        assert took < 15

        c, took = await asyncio.to_thread(timed, http.post, f"/v1/orders/{first.json()['order_id']}/cancel",
                                          json={"reason": "客户取消"})
        print(f"cancel with Temporal down: {c.status_code} in {took:.1f}s")
        assert c.status_code == 503 and "Retry-After" in c.headers

        d = http.post(f"/v1/reviews/{first.json()['order_id']}~address-1/decision",
                      json={"decision": "approve", "reviewer": "小王"}, headers={"X-API-Key": REVIEWER_KEY})
        assert d.status_code == 503 and d.json()["applied"] is False and "未生效" in d.json()["message"]
        assert "Retry-After" in d.headers

        ready = http.get("/readyz")
        assert ready.status_code == 503 and "Retry-After" in ready.headers  # every 503 says when to come back
        body = ready.json()
        assert body["temporal"]["ok"] is False and body["database"]["ok"] is True and body["ready"] is False
        assert http.get("/healthz").status_code == 200  # liveness stays up

async def test_a_new_order_is_never_answered_created_false(dev_env, db_url, tmp_path, monkeypatch):
    """No worker yet: the answer is 202 'accepted' (recorded, its workflow started) with created=true,
    and a caller who asks to wait hears 'accepted, processing'; concurrent re-posts of the same new
    order: exactly one says created."""
    from api import intake

    monkeypatch.setattr(intake, "ADMISSION_WAIT_SECONDS", 0.3)
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    with running_api(settings) as api, api.http() as http:
        payload = order_payload()
        first = http.post("/v1/orders", json=payload)
        assert first.status_code == 202 and first.json() | {"message": None} == {
            "order_id": f"order-miniprogram-{payload['channel_order_id']}", "status": "received", "created": True,
            "merged_into": None, "message": None}
        waited = http.post("/v1/orders?wait=true", json=order_payload())
        assert waited.status_code == 202 and waited.json()["created"] is True and waited.json()["processing"] is True
        again = http.post("/v1/orders", json=payload)
        assert again.status_code == 200 and again.json()["created"] is False

        burst = order_payload()
        answers = await asyncio.gather(*(asyncio.to_thread(http.post, "/v1/orders", json=burst) for _ in range(5)))
        assert sorted(a.json()["created"] for a in answers) == [False, False, False, False, True]

        with ThreadedWorker(settings, db_url):  # the worker comes: the orders move on, answers stay true
            oid = first.json()["order_id"]
            await wait_for(lambda: http.get(f"/v1/orders/{oid}").json()["status"] != "received")
            fresh = http.post("/v1/orders", json=order_payload())
            assert fresh.status_code == 202 and fresh.json()["created"] is True
        for oid in (first.json()["order_id"], answers[0].json()["order_id"], fresh.json()["order_id"], waited.json()["order_id"]):
            try:  # released orders of this stack complete on their own (fulfilment off)
                await dev_env.client.get_workflow_handle(oid).terminate("test over")
            except RPCError:
                pass

async def test_review_decision_with_the_worker_down_answers_fast_and_truly(dev_env, db_url, tmp_path):
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    reviewer = {"X-API-Key": REVIEWER_KEY}
    worker = ThreadedWorker(settings, db_url).__enter__()
    try:
        with running_api(settings) as api, api.http() as http:
            orders = [http.post("/v1/orders", json=order_payload(address=UNRESOLVABLE)).json()["order_id"] for _ in range(2)]
            pending_review, refused_review = [(await wait_for(lambda o=o: open_review(http, o)))["review_id"] for o in orders]
            assert http.get("/readyz").json()["worker"]["ok"] is True

            worker.__exit__(None, None, None)  # the worker dies; Temporal still counts its last poll as recent

            r, took = await asyncio.to_thread(timed, http.post, f"/v1/reviews/{pending_review}/decision",
                                              json={"decision": "approve", "reviewer": "小王"}, headers=reviewer)
            print(f"decision with the worker just stopped: {r.status_code} {r.json()['outcome']} in {took:.1f}s")
            assert r.status_code == 202 and r.json()["outcome"] == "pending" and r.json()["applied"] is False
            assert "已提交, 待处理" in r.json()["message"] and took < 10
            assert review_state(http, pending_review) == "open"
            # the same decision again joins the same update (idempotent), still pending
            again = http.post(f"/v1/reviews/{pending_review}/decision", json={"decision": "approve", "reviewer": "小王"},
                              headers=reviewer)
            assert again.status_code == 202 and again.json()["update_id"] == r.json()["update_id"]

            # long enough without a poll: the API sends nothing and says so
            await asyncio.sleep(1.5)
            settings.worker_seen_seconds = 1.0
            n, took = await asyncio.to_thread(timed, http.post, f"/v1/reviews/{refused_review}/decision",
                                              json={"decision": "reject", "reviewer": "小李", "note": "地址不详"},
                                              headers=reviewer)
            print(f"decision with no worker seen: {n.status_code} in {took:.1f}s")
            assert n.status_code == 503 and n.json()["applied"] is False and "未生效" in n.json()["message"]
            assert "Retry-After" in n.headers
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["worker"]["ok"] is False
            settings.worker_seen_seconds = 90.0

            worker = ThreadedWorker(settings, db_url).__enter__()  # the worker is back
            # "待处理" was true: the pending decision is applied now
            await wait_for(lambda: review_state(http, pending_review) == "decided")
            # "未生效" was true: nothing was sent, the other review is still open and can be decided now
            assert review_state(http, refused_review) == "open"
            ok = http.post(f"/v1/reviews/{refused_review}/decision", json={"decision": "reject", "reviewer": "小李"},
                           headers=reviewer)
            assert ok.status_code == 200 and ok.json()["applied"] is True and ok.json()["state"] == "decided"
            # a different decision for a decided review is refused, the same one is answered again
            other = http.post(f"/v1/reviews/{refused_review}/decision", json={"decision": "approve", "reviewer": "小王"},
                              headers=reviewer)
            assert other.status_code == 409 and "already decided" in other.json()["detail"]
            same = http.post(f"/v1/reviews/{refused_review}/decision", json={"decision": "reject", "reviewer": "小李"},
                             headers=reviewer)
            assert same.status_code == 200 and same.json()["decision"] == "reject"
    finally:
        worker.__exit__(None, None, None)

async def test_readyz_reports_each_part(stack):
    with stack.http() as http:
        r = http.get("/readyz", headers={"X-API-Key": ""})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True and body["temporal"]["ok"] and body["database"]["ok"] and body["worker"]["ok"]
    assert body["database"]["detail"] == "postgresql" and body["task_queue"] == stack.settings.task_queue

def test_cancel_of_an_unknown_order_is_404_not_500(stack):
    with stack.http() as http:
        assert http.post(f"/v1/orders/order-x-{uuid.uuid4().hex}/cancel", json={"reason": "x"}).status_code == 404
        assert http.post("/v1/orders/" + "x" * 200 + "/cancel", json={"reason": "x"}).status_code == 404
