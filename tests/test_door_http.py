"""The door over real HTTP, on SQLite and PostgreSQL: bad orders are 422s naming the field and
recorded rejections (never a 500, never a started workflow); non-JSON is 415, oversized bodies 413
with a summary recorded, malformed JSON 422 recorded; integers and characters no database holds in
a query or path are 422s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.service import RPCError

from tests.api_support import api_settings, running_api
from tests.support import order_payload

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db_url, dev_env, tmp_path):
    """The API on this test's database; no worker (nothing here should reach one)."""
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    with running_api(settings) as a:
        yield a


def post(api, payload, **kw):
    with api.http() as http:
        return http.post("/v1/orders", json=payload, **kw)


def rejection(api, rid: int) -> dict:
    with api.http() as http:
        r = http.get(f"/v1/rejections/{rid}")
        assert r.status_code == 200, r.text
        return r.json()


async def assert_no_workflow(dev_env, order_id: str) -> None:
    with pytest.raises(RPCError):
        await dev_env.client.get_workflow_handle(order_id).describe()


def _now() -> datetime:
    return datetime.now(UTC)


BAD_ORDERS = {
    "year 9999": (lambda p: p.update(ordered_at="9999-12-31T23:59:59+00:00"), "ordered_at", "下单时间"),
    "year 1": (lambda p: p.update(ordered_at="0001-01-01T00:00:00+00:00"), "ordered_at", "下单时间"),
    "three days ahead": (lambda p: p.update(ordered_at=(_now() + timedelta(days=3)).isoformat()), "ordered_at", "晚于当前时间"),
    "ten years old": (lambda p: p.update(ordered_at=(_now() - timedelta(days=3650)).isoformat()), "ordered_at", "早于"),
    "NUL in the customer id": (lambda p: p["customer"].update(id="SHOP\x00-1"), "customer.id", "控制字符"),
    "NUL in the sku": (lambda p: p["lines"][0].update(sku="BOSCH\x00"), "lines[0].sku", "控制字符"),
    "negative unit price": (lambda p: p["lines"][0].update(unit_price="-5.00"), "lines[0].unit_price", "单价不能为负数"),
    "overflowing line amount": (lambda p: p["lines"][0].update(quantity=100000, unit_price="9999999999.99"), "lines[0]", "行金额"),
}


@pytest.mark.parametrize("case", list(BAD_ORDERS))
async def test_bad_order_is_a_recorded_422_naming_the_field(api, dev_env, case):
    change, field, words = BAD_ORDERS[case]
    payload = order_payload()
    change(payload)
    r = post(api, payload)
    assert r.status_code == 422, r.text
    errs = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert field in errs and words in errs[field], errs
    stored = rejection(api, r.json()["rejection_id"])
    assert stored["channel_order_id"] == payload["channel_order_id"]
    await assert_no_workflow(dev_env, f"order-miniprogram-{payload['channel_order_id']}")


async def test_nul_in_a_name_is_removed_not_a_500(api, dev_env):
    """The order is accepted (202: recorded and its workflow started; no worker here), its name cleaned."""
    payload = order_payload()
    payload["customer"]["name"] = "王\x00建国"
    r = post(api, payload)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["created"] is True and body["status"] == "received"
    with api.http() as http:
        listed = http.get("/v1/orders", params={"customer_id": payload["customer"]["id"]}).json()["items"]
    assert [i["customer_name"] for i in listed] == ["王建国"]
    await dev_env.client.get_workflow_handle(body["order_id"]).terminate("test over")


def test_nul_in_the_channel_order_id_is_recorded_cleanly(api):
    payload = order_payload(coid="T\x00ABC")
    r = post(api, payload)
    assert r.status_code == 422 and "channel_order_id" in {e["field"] for e in r.json()["errors"]}
    assert rejection(api, r.json()["rejection_id"])["channel_order_id"] == "T\ufffdABC"


def test_non_json_content_type_is_415_and_recorded(api):
    body = json.dumps(order_payload()).encode()
    r = post(api, None, content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["message"]
    stored = rejection(api, r.json()["rejection_id"])
    assert stored["payload"]["door"]["content_type"] == "text/plain" and stored["source"] == "api"
    form = post(api, None, data={"a": "b"})
    assert form.status_code == 415
    bare = post(api, None, content=body, headers={"Content-Type": ""})  # valid JSON, no content type at all
    assert bare.status_code == 415 and "Content-Type" in bare.json()["message"], bare.text


def test_malformed_json_is_a_recorded_422_in_chinese(api):
    r = post(api, None, content=b'{"channel": "miniprogram", ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "不是有效的 JSON" in r.json()["message"] and r.json()["errors"][0]["field"] == "(body)"
    stored = rejection(api, r.json()["rejection_id"])
    assert stored["payload"]["door"]["head"] == '{"channel": "miniprogram", '
    empty = post(api, None, content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 422 and "请求体为空" in empty.json()["message"]
    deep = post(api, None, content=b"[" * 200_000 + b"]" * 200_000, headers={"Content-Type": "application/json"})
    assert deep.status_code == 422


def test_body_over_the_limit_is_413_and_only_a_summary_is_stored(api):
    payload = order_payload(note="x" * 100)
    payload["padding"] = "备" * 400_000  # 1.2 MB of UTF-8
    r = post(api, payload)
    assert r.status_code == 413, r.text
    assert "超过上限 1000000 字节" in r.json()["message"]
    stored = rejection(api, r.json()["rejection_id"])
    door = stored["payload"]["door"]
    assert door["bytes"] > 1_000_000 and len(door["head"]) <= 2000 and stored["errors"][0]["field"] == "(body)"
    # chunked (no Content-Length): the same
    def chunks():
        data = json.dumps(payload).encode()
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]
    with api.http() as http:
        r2 = http.post("/v1/orders", content=chunks(), headers={"Content-Type": "application/json"})
    assert r2.status_code == 413


def test_an_anonymous_caller_gets_the_status_but_records_nothing(api):
    with api.http() as http:
        before = http.get("/v1/rejections").json()["total"]
    with api.http(key=None) as anon:
        assert anon.post("/v1/orders", content=b"hello", headers={"Content-Type": "text/plain"}).status_code in (401, 415)
        assert anon.post("/v1/orders", content=b"{", headers={"Content-Type": "application/json"}).status_code in (401, 422)
        assert anon.post("/v1/orders", content=b"x" * 1_100_000).status_code == 413
    with api.http() as http:
        assert http.get("/v1/rejections").json()["total"] == before


def test_webhooks_get_the_size_limit_too(api):
    with api.http(key=None) as anon:
        r = anon.post("/v1/webhooks/douyin", content=b"[" + b"1," * 600_000 + b"1]", headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert rejection(api, r.json()["rejection_id"])["source"] == "webhook:douyin"


@pytest.mark.parametrize("path", [
    "/v1/orders?offset=9223372036854775808", "/v1/orders?offset=-1", "/v1/rejections?offset=99999999999999999999",
    "/v1/rejections/9223372036854775808", "/v1/rejections/0", "/v1/orders?status=%00", "/v1/orders?customer_id=a%00b",
    "/v1/orders/order-x%00y", "/v1/rules/9223372036854775808",
])
def test_integers_and_characters_no_database_holds_are_422(api, path):
    with api.http() as http:
        r = http.get(path)
    assert r.status_code == 422, (path, r.status_code, r.text)


def test_replay_of_a_rejection_goes_through_the_door_rules(api):
    payload = order_payload(ordered_at="9999-01-01T00:00:00+00:00")
    rid = post(api, payload).json()["rejection_id"]
    with api.http() as http:
        again = http.post(f"/v1/rejections/{rid}/replay")
        assert again.status_code == 422 and "ordered_at" in {e["field"] for e in again.json()["errors"]}
        wrong_type = http.post(f"/v1/rejections/{rid}/replay", content=b"<xml/>", headers={"Content-Type": "application/xml"})
        assert wrong_type.status_code == 415


def test_the_date_window_is_a_setting(db_url, dev_env, tmp_path):
    from domain.order import OrderTimeWindow

    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path,
                            order_window=OrderTimeWindow(max_ahead_hours=1, max_age_days=30))
    with running_api(settings) as api:
        ahead = post(api, order_payload(ordered_at=(_now() + timedelta(hours=2)).isoformat()))
        assert ahead.status_code == 422 and "晚于当前时间 1 小时以上" in ahead.json()["errors"][0]["message"]
        old = post(api, order_payload(ordered_at=(_now() - timedelta(days=31)).isoformat()))
        assert old.status_code == 422 and "最多 30 天前" in old.json()["errors"][0]["message"]
