"""Douyin pushes over HTTP against the channel stack (dev server, worker, API, PostgreSQL): a signed
push older than the window (or from the future) is refused with its reason and recorded; a
replayed message id is answered success but not processed twice; a late copy of an older push
never reverts the customer's newer address; the platform's MD5 signing is accepted."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from domain.contracts import order as C
from fakes import douyin as fake_douyin
from store.db import engine_for
from store.schema import webhook_messages
from tests.channel_support import eventually, open_channel_stack
from zhongshu.channel_settings import ChannelWatchSettings

pytestmark = pytest.mark.integration
SECRET = "zs-douyin-test-secret"
APP_KEY = "zhongshu-douyin"


@pytest.fixture(scope="module")
def hub(dev_env, fake_wecom, tmp_path_factory):
    with open_channel_stack(dev_env, fake_wecom, tmp_path_factory.mktemp("var")) as s:
        yield s


def order(i: int, **changes) -> dict:
    o = fake_douyin.sample_order(i, seed=uuid.uuid4().int % 10**9)
    o.update(changes)
    return o


def post(hub, body: bytes, method: str | None = "hmac-sha256") -> httpx.Response:
    return httpx.post(f"{hub.api_url}/v1/webhooks/douyin", content=body,
                      headers=fake_douyin.signed_headers(body, APP_KEY, SECRET, method), timeout=30)


def attempts(hub, outcome: str) -> list[dict]:
    with hub.http() as http:
        return http.get("/v1/channels/webhook-attempts", params={"channel": "douyin", "outcome": outcome}).json()["items"]


async def redelivery_signals(client, oid: str) -> list[dict]:
    history = await client.get_workflow_handle(oid).fetch_history()
    out = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            a = e.workflow_execution_signaled_event_attributes
            if a.signal_name == "channel_redelivered":  # stored encrypted: the client's codec decrypts it
                [payload] = await client.data_converter.payload_codec.decode([a.input.payloads[0]])
                out.append(json.loads(payload.data))
    return out


async def test_a_push_outside_the_window_is_refused_recorded_and_kept(hub):
    now = int(time.time())
    stale = order(1, update_time=now - 900, pay_time=now - 900)
    r = await asyncio.to_thread(post, hub, fake_douyin.push_body([stale]))
    assert r.status_code == 401, r.text
    assert r.json()["code"] == 40002 and "outside the 300 s window" in r.json()["msg"]
    [rid] = r.json()["rejection_ids"]  # not lost: a person can replay it after checking
    oid = f"order-douyin-{stale['shop_order_id']}"
    from temporalio.service import RPCError

    with pytest.raises(RPCError):  # nothing started
        await hub.client.get_workflow_handle(oid).describe()
    rec = next(a for a in attempts(hub, "stale") if stale["shop_order_id"] in a["reason"] or "outside the 300 s" in a["reason"])
    assert rec["http_status"] == 401
    with hub.http() as http:
        rej = http.get(f"/v1/rejections/{rid}").json()
        assert rej["errors"][0]["field"] == "douyin:timestamp" and "stale push" in rej["errors"][0]["message"] and rej["errors"][0]["message"].startswith("推送时间不在接收窗口内")

    future = order(2, update_time=now + 900)
    r = await asyncio.to_thread(post, hub, fake_douyin.push_body([future]))
    assert r.status_code == 401 and "in the future" in r.json()["msg"]

    # the window is configurable: 60 s old passes the default 300 s, not a 30 s window
    recent = order(3, update_time=now - 60, pay_time=now - 60)
    hub.app.state.channel_watch = ChannelWatchSettings(douyin_push_window_seconds=30)
    try:
        r = await asyncio.to_thread(post, hub, fake_douyin.push_body([recent]))
        assert r.status_code == 401 and "outside the 30 s window" in r.json()["msg"]
    finally:
        hub.app.state.channel_watch = None
    r = await asyncio.to_thread(post, hub, fake_douyin.push_body([recent]))
    assert r.status_code == 200 and r.json()["order_ids"] == [f"order-douyin-{recent['shop_order_id']}"]


async def test_a_replayed_message_id_is_answered_but_not_processed_twice(hub):
    o = order(4)
    body = fake_douyin.push_body([o])  # one message, one msg_id
    first = await asyncio.to_thread(post, hub, body)
    oid = f"order-douyin-{o['shop_order_id']}"
    assert first.status_code == 200 and first.json()["order_ids"] == [oid]
    again = await asyncio.to_thread(post, hub, body)  # the same message again (a replay, or Douyin's re-send)
    assert again.status_code == 200 and again.json()["code"] == 0  # acknowledged …
    assert again.json()["order_ids"] == [oid] and again.json()["replayed"] == [json.loads(body)[0]["msg_id"]]
    assert await redelivery_signals(hub.client, oid) == []  # … but not processed a second time
    rec = next(a for a in attempts(hub, "replayed") if oid in a["order_ids"])
    assert "already processed" in rec["reason"]
    mid = json.loads(body)[0]["msg_id"]
    with engine_for(hub.db_url).connect() as conn:
        row = conn.execute(select(webhook_messages).where(webhook_messages.c.msg_id == mid)).one()
    assert row.replays == 1 and row.outcome == "created"


async def test_a_late_copy_of_an_older_push_never_reverts_the_new_address(hub):
    now = int(time.time())
    v1 = order(5, update_time=now - 20)
    oid = f"order-douyin-{v1['shop_order_id']}"
    v2 = {**v1, "update_time": now - 5, "post_addr": {**v1["post_addr"], "province": {"name": "浙江省"},
                                                       "city": {"name": "杭州市"}, "town": {"name": "滨江区"},
                                                       "street": {"name": ""}, "detail": "江南大道588号"}}
    assert (await asyncio.to_thread(post, hub, fake_douyin.push_body([v1]))).json()["order_ids"] == [oid]
    handle = hub.client.get_workflow_handle(oid)
    await eventually(lambda: _state_if(handle, lambda s: s.status == "routed"), what="order routed")
    r2 = await asyncio.to_thread(post, hub, fake_douyin.push_body([v2]))  # the customer changed the address
    assert r2.status_code == 200
    st = await eventually(lambda: _state_if(handle, lambda s: any(e.event == "channel.address_changed" for e in s.timeline)),
                          what="new address applied")
    assert "江南大道588号" in st.address_raw

    late = await asyncio.to_thread(post, hub, fake_douyin.push_body([v1]))  # v1 again, a new message, late
    assert late.status_code == 200 and late.json()["order_ids"] == [oid]
    rec = next(a for a in attempts(hub, "accepted") if oid in a["order_ids"] and "older than the copy" in a["reason"])
    assert "not applied" in rec["reason"]
    signals = await redelivery_signals(hub.client, oid)
    assert len(signals) == 1 and signals[0]["channel_version"]["updated_at"]  # only v2, with its version
    await asyncio.sleep(1.0)
    st = await handle.query(C.STATE.name, result_type=C.OrderView)
    assert "江南大道588号" in st.address_raw  # still the customer's newer address
    assert sum(e.event == "channel.address_changed" for e in st.timeline) == 1


async def test_the_platforms_md5_signing_without_sign_method_is_accepted(hub):
    o = order(6)
    r = await asyncio.to_thread(post, hub, fake_douyin.push_body([o]), None)  # no sign-method header: MD5
    assert r.status_code == 200 and r.json()["order_ids"] == [f"order-douyin-{o['shop_order_id']}"], r.text
    bad = fake_douyin.push_body([order(7)])
    headers = fake_douyin.signed_headers(bad, APP_KEY, SECRET, "hmac-sha256")
    headers.pop("sign-method")  # an HMAC signature presented as the default MD5: refused
    r = await asyncio.to_thread(lambda: httpx.post(f"{hub.api_url}/v1/webhooks/douyin", content=bad, headers=headers))
    assert r.status_code == 401


async def _state_if(handle, pred):
    st = await handle.query(C.STATE.name, result_type=C.OrderView)
    return st if pred(st) else None


@pytest.mark.parametrize("data", [[1, 2], 42, "\"text\""])
async def test_an_order_message_whose_data_is_not_an_object_is_a_recorded_rejection(hub, data):
    """Signed and fresh, but its data cannot be an order: re-sending would never help, so it is not a
    401 ("stale or future timestamp") but a recorded rejection, said in Chinese, with the push kept."""
    body = json.dumps([{"tag": "101", "msg_id": f"bad-{uuid.uuid4().hex[:8]}",
                        "data": data if isinstance(data, str) else json.dumps(data)}]).encode()
    r = await asyncio.to_thread(post, hub, body)
    assert r.status_code == 200, r.text
    rid = r.json()["rejection_id"]
    with hub.http() as http:
        rej = http.get(f"/v1/rejections/{rid}").json()
    [err] = rej["errors"]
    assert err["field"] == "douyin:body" and err["message"].startswith("[0].data: 应为 JSON 对象"), err
