"""Douyin ids-only pushes (the order detail fetched from the open API) and modified re-deliveries
(the running order workflow signalled ``channel_redelivered``) — over real HTTP: the fake Douyin
shop pushes to the API, the API fetches from the fake's open API; dev server, worker, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from temporalio.api.enums.v1 import EventType

from activities.channels import REDELIVERED_SIGNAL, ChannelAccount, accept_payload, save_account
from domain.channels import map_payload
from domain.order import OrderSubmission
from fakes import douyin as fake_douyin
from fakes.serve import serve_in_thread
from store import read_model
from store.db import engine_for
from zhongshu.payload_codec import codec_for

pytestmark = pytest.mark.integration
SECRET = "zs-douyin-test-secret"


@pytest.fixture(scope="module")
def fake_shop():
    server = serve_in_thread(fake_douyin.create_app())
    yield server
    server.stop()


@pytest.fixture
def shop(stack, fake_shop):
    """The fake shop signs with our secret; the hub knows its open API as channel account 'douyin'."""
    stack.settings.douyin_app_secret = SECRET  # the API reads its settings per request
    state = fake_shop._server.config.app.state.douyin
    state.reset()
    state.app_secret = SECRET
    save_account(engine_for(stack.db_url), ChannelAccount(account_id="douyin", channel="douyin", base_url=fake_shop.url,
                                                          app_key=state.app_key, app_secret=SECRET))
    return stack, fake_shop, state


def new_order(i: int) -> dict:
    return fake_douyin.sample_order(i, seed=uuid.uuid4().int % 10**9)


async def control_push(server, hub, orders, **kw) -> dict:
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{server.url}/_control/push",
                            json={"url": f"{hub.api_url}/v1/webhooks/douyin", "orders": orders, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def attempts(hub, **params):
    with hub.http() as http:
        return http.get("/v1/channels/webhook-attempts", params={"channel": "douyin", "limit": 1000, **params}).json()["items"]


async def wait_for(fn, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(interval)


async def redelivery_signals(handle) -> list[dict]:
    """The ``channel_redelivered`` signals in the workflow's history, their argument decoded."""
    out = []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            a = e.workflow_execution_signaled_event_attributes
            if a.signal_name == REDELIVERED_SIGNAL:  # stored encrypted (the tests' development key)
                [payload] = await codec_for("").decode([a.input.payloads[0]])
                out.append(json.loads(payload.data))
    return out


async def test_ids_only_push_fetches_the_detail_and_starts_one_order(shop):
    hub, server, state = shop
    order = new_order(1)
    oid = f"order-douyin-{order['shop_order_id']}"
    res = await control_push(server, hub, [order], ids_only=True, tag="doudian_trade_TradePaid")
    [r] = res["results"]
    assert r["status"] == 200 and r["answer"]["order_ids"] == [oid], res
    assert state.details_served == 1 and state.bad_signatures == 0
    engine = engine_for(hub.db_url)
    row = await wait_for(lambda: (x := read_model.get_order(engine, oid)) and x["status"] != "received" and x)
    assert row["channel"] == "douyin" and row["phone"].startswith("+86") and row["province"]
    desc = await hub.env.client.get_workflow_handle(oid).describe()
    assert desc.id == oid
    # the same ids-only push again: one workflow, the detail fetched again (its token reused)
    again = await control_push(server, hub, [order], ids_only=True)
    assert again["results"][0]["answer"]["order_ids"] == [oid]
    assert state.tokens_issued == 1 and state.details_served == 2
    assert len([w async for w in hub.env.client.list_workflows(f'WorkflowId = "{oid}"')]) <= 1


async def test_detail_api_down_or_slow_answers_503_and_the_resent_push_is_accepted(shop):
    """Design: a transient detail failure is not taken — 503, attempt recorded, Douyin re-sends."""
    hub, server, state = shop
    order = new_order(2)
    oid = f"order-douyin-{order['shop_order_id']}"
    state.faults.timeout_count, state.faults.timeout_seconds = 1, 5.0  # longer than our 3 s detail timeout
    state.faults.fail_count, state.faults.fail_status = 1, 502
    t0 = time.monotonic()
    res = await control_push(server, hub, [order], ids_only=True, retries=4)
    [r] = res["results"]
    assert r["status"] == 200 and r["answer"]["order_ids"] == [oid], res
    assert state.retries == 2 and state.faults.injected_timeouts == 1 and state.faults.injected_failures == 1
    assert time.monotonic() - t0 < 12  # the slow API held the ack ~3 s, not the fake's 5 s
    mine = [a for a in attempts(hub) if order["shop_order_id"] in a["reason"] or oid in a["order_ids"]]
    unavailable = [a for a in mine if a["outcome"] == "detail_unavailable"]
    assert len(unavailable) == 2 and {a["http_status"] for a in unavailable} == {503}
    assert any(a["outcome"] == "accepted" for a in mine)
    await hub.env.client.get_workflow_handle(oid).describe()  # started once the re-send got through


async def test_detail_api_down_for_good_is_never_acked(shop):
    """Every re-send fails: Douyin is told 503 each time (it keeps the push), no order, no rejection."""
    hub, server, state = shop
    order = new_order(3)
    state.faults.fail_count, state.faults.fail_status = 10, 503
    res = await control_push(server, hub, [order], ids_only=True, retries=2)
    assert res["results"][0]["status"] == 503
    assert len([a for a in attempts(hub, outcome="detail_unavailable") if order["shop_order_id"] in a["reason"]]) == 3
    state.faults.reset()
    with hub.http() as http:
        rej = http.get("/v1/rejections", params={"limit": 200}).json()
    assert order["shop_order_id"] not in json.dumps(rej)


async def test_unknown_order_id_is_a_recorded_replayable_rejection(shop):
    hub, server, state = shop
    order = new_order(4)  # never pushed, so the open API does not know it (yet)
    body = fake_douyin.push_body([order], ids_only=True)
    headers = fake_douyin.signed_headers(body, state.app_key, SECRET)
    post = lambda: httpx.post(f"{hub.api_url}/v1/webhooks/douyin", content=body, headers=headers, timeout=30)  # noqa: E731
    r = await asyncio.to_thread(post)
    assert r.status_code == 200 and r.json()["order_ids"] == [], r.text  # acked: re-sending cannot help
    [rid] = r.json()["rejection_ids"]
    assert (await asyncio.to_thread(post)).json()["rejection_ids"] == [rid]  # a re-send records nothing new
    assert state.not_found == 1  # the re-send (same msg_id) is a recognised replay: not fetched again
    with hub.http() as http:
        rej = http.get(f"/v1/rejections/{rid}").json()
        assert rej["channel"] == "douyin" and rej["channel_order_id"] == order["shop_order_id"]
        assert rej["errors"][0]["field"] == "douyin:p_id" and "isv.order-not-found" in rej["errors"][0]["message"]
        assert "sku_order_list" not in rej["payload"]  # the ids-only message as pushed
        assert http.post(f"/v1/channels/rejections/{rid}/replay").status_code == 422  # still unknown
        huge = http.post("/v1/channels/rejections/99999999999/replay")  # past any id: the path's bound, not the database
        assert huge.status_code == 422 and "rejection_id" in huge.text
        state.keep([order])  # the platform knows it now: replay fetches the detail
        rep = http.post(f"/v1/channels/rejections/{rid}/replay")
        assert rep.status_code in (200, 202), rep.text
        assert rep.json()["order_id"] == f"order-douyin-{order['shop_order_id']}"
        assert http.get(f"/v1/rejections/{rid}").json()["replayed_at"]
    assert any(a["outcome"] == "unmappable" and str(rid) in a["reason"] for a in attempts(hub, outcome="unmappable"))


async def test_modified_redelivery_signals_the_running_workflow(shop):
    """The shop changes the address and Douyin pushes (ids only) again: same order, workflow signalled."""
    hub, server, state = shop
    order = new_order(5)
    oid = f"order-douyin-{order['shop_order_id']}"
    first = await control_push(server, hub, [order], ids_only=True)
    assert first["results"][0]["answer"]["order_ids"] == [oid]
    changed = {**order, "post_addr": {**order["post_addr"], "detail": "滨江区江南大道100号 改址"}}
    state.keep([changed])
    again = await control_push(server, hub, [changed], ids_only=True)
    assert again["results"][0]["status"] == 200 and again["results"][0]["answer"]["order_ids"] == [oid]
    handle = hub.env.client.get_workflow_handle(oid)
    signals = await redelivery_signals(handle)
    assert len(signals) == 1
    assert signals[0]["channel_order_id"] == order["shop_order_id"] and "改址" in signals[0]["address"]["detail"]
    assert any("re-delivered: workflow signalled" in a["reason"] for a in attempts(hub, outcome="accepted")
               if oid in a["order_ids"])


async def test_accept_payload_signals_a_running_workflow_and_not_a_closed_one(shop):
    """On a task queue no worker polls: the signal lands in the history all the same."""
    hub, _server, _state = shop
    client, engine = hub.env.client, engine_for(hub.db_url)
    settings = hub.settings.model_copy(update={"task_queue": f"no-worker-{uuid.uuid4().hex[:6]}"})
    payload = map_payload("douyin", new_order(6))
    sub = OrderSubmission.model_validate(payload)
    created = await accept_payload(client, engine, settings, payload, source="test")
    assert created.outcome == "created" and not created.signalled
    handle = client.get_workflow_handle(sub.order_id)
    try:
        moved = {**payload, "address": {**payload["address"], "detail": "另一个地址 8 号"}}
        dup = await accept_payload(client, engine, settings, moved, source="test")
        assert dup.outcome == "duplicate" and dup.signalled and dup.order_id == sub.order_id
        [sig] = await redelivery_signals(handle)
        assert OrderSubmission.model_validate(sig).address.detail.startswith("另一个地址")  # the new submission
    finally:
        await handle.terminate("test done")
    closed = await accept_payload(client, engine, settings, payload, source="test")
    assert closed.outcome == "duplicate" and not closed.signalled  # closed: just a duplicate, nothing fails
    assert len(await redelivery_signals(handle)) == 1


async def test_ids_only_push_without_an_open_api_account_is_a_replayable_rejection(shop):
    from activities.channels import accept_douyin_message

    hub, _server, state = shop
    data = fake_douyin.ids_message(new_order(7), state.shop_id)
    r = await accept_douyin_message(hub.env.client, engine_for(hub.db_url), hub.settings, data, source="webhook:douyin",
                                    api=None)
    assert r.outcome == "rejected" and r.rejection_id and "ZHONGSHU_DOUYIN_API_URL" in r.reason
    rej = read_model.get_rejection(engine_for(hub.db_url), r.rejection_id)
    assert rej["errors"][0]["field"] == "douyin:detail" and rej["payload"] == data
