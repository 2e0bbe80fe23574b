"""The order spine end to end: HTTP → API → dev server → worker → PostgreSQL read model."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import order_payload, random_mobile

pytestmark = pytest.mark.integration


async def wait_for(fn, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def test_order_over_http_reaches_completed_and_read_model(stack):
    payload = order_payload()
    payload["customer"]["phone"] = "138 5711 2345"
    with stack.http() as http:
        r = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        assert r.status_code == 202, r.text
        order_id = r.json()["order_id"]
        assert order_id == f"order-miniprogram-{payload['channel_order_id']}"

        def completed():
            got = http.get(f"/v1/orders/{order_id}")
            return got.json() if got.status_code == 200 and got.json()["status"] == "completed" else None

        state = await wait_for(completed)
        events = [e["event"] for e in state["timeline"]]
        assert events[0] == "order.received" and events[-1] == "order.completed"
        assert state["phone"] == "+8613857112345"
        assert state["address"]["district"] == "萧山区"

        def listed():
            got = http.get("/v1/orders", params={"status": "completed", "customer_id": payload["customer"]["id"]}).json()
            return any(i["order_id"] == order_id for i in got["items"])

        await wait_for(listed)

        # the same channel order again: same order, 200, no second workflow
        again = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        assert again.status_code == 200 and again.json()["order_id"] == order_id


async def test_redelivery_while_running_is_idempotent(stack):
    payload = order_payload(ordered_at=datetime.now(UTC).isoformat())  # stays open for the merge window
    with stack.http() as http:
        codes = [(await asyncio.to_thread(http.post, "/v1/orders", json=payload)).status_code for _ in range(5)]
    assert codes == [202, 200, 200, 200, 200]


async def test_keys_the_order_does_not_have_are_named_in_the_answer_and_the_order_is_kept(stack):
    """A typo (``notes`` for ``note``) is not lost without a word, nor a reason to refuse the order."""
    payload = order_payload(ordered_at=datetime.now(UTC).isoformat())
    payload["notes"] = "周末送"
    payload["lines"][0]["sku_code"] = payload["lines"][0]["sku"]
    with stack.http() as http:
        r = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        again = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        clean = await asyncio.to_thread(http.post, "/v1/orders", json=order_payload())
    assert r.status_code == 202 and r.json()["created"] is True, r.text
    assert [i["field"] for i in r.json()["ignored"]] == ["lines[0].sku_code", "notes"], r.text
    assert "不是订单的字段, 已忽略" in r.json()["ignored"][0]["message"]
    assert again.status_code == 200 and len(again.json()["ignored"]) == 2
    assert clean.status_code == 202 and "ignored" not in clean.json()


async def test_a_changed_order_posted_again_reaches_its_workflow(stack):
    """Same channel order id, edited lines: 200 (no second order) and the change is on the order's
    timeline for a person (the stack runs without fulfilment, so no address is re-applied here)."""
    payload = order_payload(ordered_at=datetime.now(UTC).isoformat())
    with stack.http() as http:
        first = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        assert first.status_code == 202
        edited = payload | {"lines": [payload["lines"][0] | {"quantity": 5}], "paid_amount": "1340.00"}
        again = await asyncio.to_thread(http.post, "/v1/orders", json=edited)
        assert again.status_code == 200 and again.json()["order_id"] == first.json()["order_id"]
        oid = first.json()["order_id"]

        def changed():
            st = http.get(f"/v1/orders/{oid}").json()
            return next((e for e in st["timeline"] if e["event"] == "channel.redelivered_changed"), None)

        event = await wait_for(changed)
        assert "BOSCH-BP-COROLLA18×5" in event["reason"] and "1340.00" in event["reason"]
        await asyncio.to_thread(http.post, f"/v1/orders/{oid}/cancel", json={"reason": "test over"})


async def test_invalid_payload_is_422_and_recorded(stack):
    payload = order_payload()
    payload["customer"]["phone"] = "12345"
    payload["lines"][0]["quantity"] = 0
    with stack.http() as http:
        r = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert "lines[0].quantity" in fields
        rid = r.json()["rejection_id"]
        rejections = http.get("/v1/rejections").json()["items"]
        assert any(x["id"] == rid and x["channel_order_id"] == payload["channel_order_id"] for x in rejections)
        # cleansing errors (structurally fine, bad phone) are named too
        payload["lines"][0]["quantity"] = 1
        r2 = await asyncio.to_thread(http.post, "/v1/orders", json=payload)
        assert r2.status_code == 422
        assert r2.json()["errors"] == [{"field": "customer.phone", "message": "收货人电话不正确: '12345' 不是有效的手机或固话号码"}]
        # fixed and replayed
        payload["customer"]["phone"] = random_mobile()
        r3 = await asyncio.to_thread(http.post, f"/v1/rejections/{r2.json()['rejection_id']}/replay", json=payload)
        assert r3.status_code == 202, r3.text
        assert http.get(f"/v1/rejections/{r2.json()['rejection_id']}").json()["replay_order_id"] == r3.json()["order_id"]


async def until_held(http, order_id: str) -> None:
    for _ in range(150):
        if (await asyncio.to_thread(http.get, f"/v1/orders/{order_id}")).json().get("status") == "held":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{order_id} was never held")


async def test_duplicate_is_merged_into_first(stack):
    now = datetime.now(UTC) - timedelta(minutes=2)
    first = order_payload(ordered_at=now.isoformat())
    first["customer"]["phone"] = "13900001111"
    second = order_payload(ordered_at=(now + timedelta(minutes=3)).isoformat())
    second["customer"]["phone"] = "+86 139-0000-1111"
    for p in (first, second):  # ¥12,800 from a new customer: the anchor waits in risk review (a closed anchor is not told)
        p["lines"][0].update(quantity=2, unit_price="6400.00")
        p["paid_amount"] = "12800.00"
    with stack.http() as http:
        r1 = await asyncio.to_thread(http.post, "/v1/orders", json=first)
        # minutes later in real life: the first is held by then (two at once: whichever claims first is the anchor)
        await until_held(http, r1.json()["order_id"])
        r2 = await asyncio.to_thread(http.post, "/v1/orders?wait=true", json=second)  # the caller waits for the outcome
        assert r1.status_code == 202
        assert r2.status_code == 200, r2.text
        assert r2.json()["merged_into"] == r1.json()["order_id"] and r2.json()["status"] == "merged"
        anchor = http.get(f"/v1/orders/{r1.json()['order_id']}").json()
        assert "suspected_brushing" in anchor["flags"]
        assert any(e["event"] == "duplicate.merged" for e in anchor["timeline"])


async def test_address_review_over_http(stack):
    payload = order_payload(address={"raw": "老地方仓库后门"})
    with stack.http() as http:
        r = await asyncio.to_thread(http.post, "/v1/orders?wait=true", json=payload)
        assert r.status_code == 202 and r.json()["status"] == "held"
        order_id = r.json()["order_id"]

        def review():
            items = http.get("/v1/reviews", params={"state": "open", "kind": "address"}).json()["items"]
            return next((i for i in items if i["order_id"] == order_id), None)

        task = await wait_for(review)
        url = f"/v1/reviews/{task['review_id']}/decision"
        # a reviewer key may decide; a read-only key may not; no key → 401
        assert http.post(url, json={"decision": "approve", "reviewer": "x"}, headers={"X-API-Key": "test-readonly-key"}).status_code == 403
        assert http.post(url, json={"decision": "approve", "reviewer": "x"}, headers={"X-API-Key": ""}).status_code == 401
        bad = http.post(url, json={"decision": "reroute", "reviewer": "小王", "warehouse": "HZ"}, headers={"X-API-Key": "test-reviewer-key"})
        assert bad.status_code == 409 and "not a decision for a address review" in bad.json()["detail"]
        assert bad.json()["detail"].startswith("地址审核不能选「改派」, 可选: 按原地址接受 (approve)")  # Chinese first
        other = http.post(f"/v1/reviews/{order_id}~risk-9/decision", json={"decision": "approve", "reviewer": "小王"},
                          headers={"X-API-Key": "test-reviewer-key"})
        assert other.status_code == 404 and other.json()["detail"].startswith("审核任务不存在或不属于本订单"), other.text
        ok = http.post(
            url,
            json={"decision": "correct_address", "reviewer": "小王", "address": "浙江省杭州市西湖区文三路90号"},
            headers={"X-API-Key": "test-reviewer-key"},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["state"] == "decided"
        again = http.post(url, json={"decision": "approve", "reviewer": "小王"}, headers={"X-API-Key": "test-reviewer-key"})
        assert again.status_code == 409 and again.json()["detail"].startswith("审核任务已处理: 更正地址 (correct_address), 小王"), again.text

        def resolved():
            st = http.get(f"/v1/orders/{order_id}").json()
            return st if st["status"] != "held" else None

        state = await wait_for(resolved)
        assert state["address"]["district"] == "西湖区"
        assert "address.corrected" in [e["event"] for e in state["timeline"]]


def test_unknown_order_is_404_and_key_required(stack):
    with stack.http() as http:
        r = http.get("/v1/orders/order-tmall-NOPE")
        assert r.status_code == 404 and "order-tmall-NOPE" in r.json()["detail"]
        assert r.json()["detail"].startswith("订单不存在"), "a person reads it: Chinese first"
        assert http.get("/v1/orders", headers={"X-API-Key": "wrong"}).status_code == 401
        assert http.get("/healthz", headers={"X-API-Key": ""}).status_code == 200
        assert http.head("/healthz").status_code == 200  # a load balancer's probe


def test_an_unknown_route_and_a_wrong_method_are_refused_in_chinese(stack):
    with stack.http() as http:
        r = http.get("/v1/no-such-thing")
        assert r.status_code == 404 and r.json()["detail"].startswith("接口不存在")
        r = http.delete("/v1/orders")
        assert r.status_code == 405 and r.json()["detail"].startswith("不支持的请求方法") and "allow" in r.headers
