"""Douyin webhook, OAuth2 client credentials for the mini-program, and the ERP push/import — over
real HTTP against the stack (dev server, worker, API, PostgreSQL) and the shipped fakes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC

import httpx
import pytest

from fakes import douyin as fake_douyin
from fakes import erp as fake_erp
from fakes.serve import serve_in_thread
from store import read_model
from store.db import engine_for

pytestmark = pytest.mark.integration
SECRET = "zs-douyin-test-secret"


@pytest.fixture
def hub(stack):
    stack.settings.douyin_app_secret = SECRET  # the API reads its settings per request
    return stack


async def wait_for(fn, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(interval)


def post_push(hub, orders, secret=SECRET, tag="101", app_key="zhongshu-douyin"):
    body = fake_douyin.push_body(orders, tag)
    return httpx.post(f"{hub.api_url}/v1/webhooks/douyin", content=body,
                      headers=fake_douyin.signed_headers(body, app_key, secret), timeout=30)


def attempts(hub, **params):
    with hub.http() as http:
        return http.get("/v1/channels/webhook-attempts", params={"channel": "douyin", **params}).json()["items"]


async def test_signed_push_becomes_an_order_in_the_read_model(hub):
    order = fake_douyin.sample_order(1, seed=uuid.uuid4().int % 10**9)
    r = await asyncio.to_thread(post_push, hub, [order])
    assert r.status_code == 200 and r.json()["code"] == 0, r.text
    oid = f"order-douyin-{order['shop_order_id']}"
    assert r.json()["order_ids"] == [oid]
    engine = engine_for(hub.db_url)
    row = await wait_for(lambda: (r := read_model.get_order(engine, oid)) and r["status"] != "received" and r)
    assert row["channel"] == "douyin" and row["phone"].startswith("+86") and row["province"]
    assert any(a["outcome"] == "accepted" and oid in a["order_ids"] for a in attempts(hub, outcome="accepted"))


async def test_wrong_signature_is_401_and_recorded(hub):
    order = fake_douyin.sample_order(2, seed=uuid.uuid4().int % 10**9)
    r = await asyncio.to_thread(post_push, hub, [order], "not-the-secret")
    assert r.status_code == 401
    r2 = await asyncio.to_thread(post_push, hub, [order], SECRET, "101", "someone-else")
    assert r2.status_code == 401
    bad = attempts(hub, outcome="bad_signature")
    assert len(bad) >= 2 and bad[0]["http_status"] == 401
    from temporalio.service import RPCError

    with pytest.raises(RPCError):
        await hub.env.client.get_workflow_handle(f"order-douyin-{order['shop_order_id']}").describe()


async def test_same_order_pushed_five_times_is_one_workflow(hub):
    order = fake_douyin.sample_order(3, seed=uuid.uuid4().int % 10**9)
    state = fake_douyin.FakeDouyinState(app_key="zhongshu-douyin", app_secret=SECRET)
    results = await fake_douyin.push(state, f"{hub.api_url}/v1/webhooks/douyin", [order], repeat=5)
    oid = f"order-douyin-{order['shop_order_id']}"
    assert [r["status"] for r in results] == [200] * 5
    assert all(r["answer"]["order_ids"] == [oid] for r in results)
    runs = [w async for w in hub.env.client.list_workflows(f'WorkflowId = "{oid}"')]
    assert len(runs) <= 1  # visibility may lag, but never two
    desc = await hub.env.client.get_workflow_handle(oid).describe()
    assert desc.id == oid


async def test_unmappable_push_is_acked_recorded_and_replayable(hub):
    order = fake_douyin.sample_order(4, seed=uuid.uuid4().int % 10**9)
    good_tel = order["post_tel"]
    order["post_tel"] = "139****1234"  # masked: privacy API not enabled
    r = await asyncio.to_thread(post_push, hub, [order])
    assert r.status_code == 200 and r.json()["order_ids"] == []
    [rid] = r.json()["rejection_ids"]
    again = await asyncio.to_thread(post_push, hub, [order])  # Douyin re-sends: still one rejection
    assert again.json()["rejection_ids"] == [rid]
    with hub.http() as http:
        rej = http.get(f"/v1/rejections/{rid}").json()
        assert rej["channel"] == "douyin" and rej["source"] == "webhook:douyin"
        assert rej["payload"]["shop_order_id"] == order["shop_order_id"]  # the raw channel payload
        assert "decrypt" in rej["errors"][0]["message"]
        fixed = {**order, "post_tel": good_tel}
        rep = http.post(f"/v1/channels/rejections/{rid}/replay", json=fixed)
        assert rep.status_code in (200, 202), rep.text
        assert rep.json()["order_id"] == f"order-douyin-{order['shop_order_id']}"
        assert http.get(f"/v1/rejections/{rid}").json()["replayed_at"]


async def test_push_accepted_while_no_worker_runs_is_processed_when_one_starts(dev_env, tmp_path_factory):
    """Accepted = started in Temporal before the ack: nothing is lost while the worker is down."""
    from api.app import create_app
    from store.db import migrate
    from tests.support import ThreadedServer, ThreadedWorker, fresh_pg_database
    from zhongshu.settings import Settings

    with fresh_pg_database("zs_chan") as url:
        migrate(url)
        settings = Settings(database_url=url, temporal_address=dev_env.client.service_client.config.target_host,
                            task_queue=f"orders-{uuid.uuid4().hex[:6]}", api_key="k", douyin_app_secret=SECRET,
                            var_dir=tmp_path_factory.mktemp("var"))
        order = fake_douyin.sample_order(5, seed=uuid.uuid4().int % 10**9)
        oid = f"order-douyin-{order['shop_order_id']}"
        with ThreadedServer(create_app(settings)) as api:
            body = fake_douyin.push_body([order])
            t0 = time.monotonic()
            r = await asyncio.to_thread(httpx.post, f"{api.url}/v1/webhooks/douyin", content=body,
                                        headers=fake_douyin.signed_headers(body, "zhongshu-douyin", SECRET))
            assert r.status_code == 200 and time.monotonic() - t0 < 2  # acked fast, no admission wait
            engine = engine_for(url)
            row = read_model.get_order(engine, oid)  # visible as received before the ack, processed by nobody yet
            assert row is not None and row["status"] == "received"
            with ThreadedWorker(settings, url):
                await wait_for(lambda: (r := read_model.get_order(engine, oid)) and r["status"] != "received")
        engine.dispose()


# ------------------------------------------------------------------------------------ OAuth2 / mini-program


async def test_miniprogram_client_credentials_and_token_refresh(hub):
    from fakes.miniprogram import MiniProgramShop, sample_order
    from store.oauth import create_oauth_client

    engine = engine_for(hub.db_url)
    cid = f"mp-{uuid.uuid4().hex[:6]}"
    create_oauth_client(engine, cid, "mp-secret", ttl_seconds=3)
    # wrong secret / wrong grant
    bad = httpx.post(f"{hub.api_url}/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                            "client_secret": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert httpx.post(f"{hub.api_url}/v1/oauth/token", data={"grant_type": "password"}).status_code == 400
    # Basic auth works too
    basic = httpx.post(f"{hub.api_url}/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, "mp-secret"))
    assert basic.status_code == 200 and basic.json()["token_type"] == "bearer"

    shop = MiniProgramShop(hub.api_url, cid, "mp-secret", refresh_ahead=1.0)
    try:
        r1 = await shop.place(sample_order(1, seed=uuid.uuid4().int % 10**9))
        assert r1.status_code in (200, 202), r1.text
        await asyncio.sleep(2.2)  # 0.8 s of the 3 s token left: refreshed ahead, never rejected
        r2 = await shop.place(sample_order(2, seed=uuid.uuid4().int % 10**9))
        assert r2.status_code in (200, 202), r2.text
        assert shop.tokens.refreshes == 2 and shop.unauthorized == 0
        # an expired token is refused
        old, _ = await shop._fetch_token()
        await asyncio.sleep(3.1)
        r3 = httpx.post(f"{hub.api_url}/v1/channels/miniprogram/orders", json=sample_order(3),
                        headers={"Authorization": f"Bearer {old}"})
        assert r3.status_code == 401
        # the same order five times → one order
        order = sample_order(4, seed=uuid.uuid4().int % 10**9)
        answers = [await shop.place(order) for _ in range(5)]
        assert {a.json()["order_id"] for a in answers} == {f"order-miniprogram-{order['out_trade_no']}"}
        assert sum(a.json().get("created", False) for a in answers) == 1
        # a token is not an API key for everything: the role is 'channel'
        tok, _ = await shop._fetch_token()
        assert httpx.get(f"{hub.api_url}/v1/channels/webhook-attempts",
                         headers={"Authorization": f"Bearer {tok}"}).status_code == 403
    finally:
        await shop.aclose()


async def test_miniprogram_unmappable_order_is_a_recorded_rejection(hub):
    from fakes.miniprogram import sample_order

    order = sample_order(5, seed=uuid.uuid4().int % 10**9)
    del order["items"]
    with hub.http() as http:
        r = http.post("/v1/channels/miniprogram/orders", json=order)
        assert r.status_code == 422 and r.json()["rejection_id"]
        assert http.get(f"/v1/rejections/{r.json()['rejection_id']}").json()["channel"] == "miniprogram"


# ------------------------------------------------------------------------------------ ERP


@pytest.fixture(scope="module")
def erp_server():
    server = serve_in_thread(fake_erp.create_app())
    yield server
    server.stop()


async def test_erp_push_records_the_document_number_and_waits_out_an_outage(hub, erp_server):
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.channels import ChannelActivities, ErpPushRequest
    from domain.cleansing import cleanse
    from domain.order import OrderSubmission
    from tests.support import order_payload

    state = erp_server._server.config.app.state.erp
    with hub.http() as http:
        r = http.post("/v1/orders", json=order_payload())
        assert r.status_code == 202
        oid = r.json()["order_id"]
    engine = engine_for(hub.db_url)
    row = await wait_for(lambda: read_model.get_order(engine, oid))
    sub = OrderSubmission.model_validate(order_payload(coid=row["channel_order_id"]))
    order = cleanse(sub).order
    settings = hub.settings.model_copy(update={"erp_url": erp_server.url, "erp_app_id": fake_erp.CLIENT_ID,
                                               "erp_app_secret": fake_erp.CLIENT_SECRET})
    acts = ChannelActivities(engine, settings)
    env = ActivityEnvironment()
    state.down = True
    with pytest.raises(ApplicationError) as exc:
        await env.run(acts.push_order_to_erp, ErpPushRequest(order=order))
    assert not exc.value.non_retryable  # the ERP being down delays the push; the workflow retries
    state.down = False
    res = await env.run(acts.push_order_to_erp, ErpPushRequest(order=order))
    again = await env.run(acts.push_order_to_erp, ErpPushRequest(order=order))  # a retry: same bill
    assert res.doc_no and again.doc_no == res.doc_no
    assert read_model.get_order(engine, oid)["erp_doc_no"] == res.doc_no
    saved = httpx.get(f"{erp_server.url}/_control/saved").json()["items"]
    assert [s for s in saved if s["order_id"] == oid][0]["Model"]["FReceiveAddress"].startswith("浙江省杭州市萧山区")
    # no ERP configured: nothing to push, nothing fails
    none = await env.run(ChannelActivities(engine, hub.settings).push_order_to_erp, ErpPushRequest(order=order))
    assert none.doc_no is None


async def test_erp_history_import_twice_starts_each_order_once(hub, erp_server):
    from datetime import datetime, timedelta

    from activities.channels import import_erp_history

    state = erp_server._server.config.app.state.erp
    new = state.generate(12, days_ago=5)
    settings = hub.settings.model_copy(update={"erp_url": erp_server.url, "erp_app_id": fake_erp.CLIENT_ID,
                                               "erp_app_secret": fake_erp.CLIENT_SECRET})
    engine = engine_for(hub.db_url)
    since = datetime.now(UTC) - timedelta(days=6)
    state.faults.fail_count, state.faults.fail_status = 1, 502  # one 5xx mid-import: retried
    first = await import_erp_history(hub.env.client, engine, settings, since, page_size=5)
    assert first.fetched >= 12 and first.created >= 12 and first.rejected == 0
    second = await import_erp_history(hub.env.client, engine, settings, since, page_size=5)
    assert second.created == 0 and second.duplicates == first.fetched
    oid = f"order-erp-{new[0]['FBillNo']}"
    row = await wait_for(lambda: read_model.get_order(engine, oid))
    assert row["channel"] == "erp" and row["customer_id"].startswith("CUST-")
