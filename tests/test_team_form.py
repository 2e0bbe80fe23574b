"""The small teams' registration form over real HTTP (dev server, our worker, the API; SQLite and
PostgreSQL): sign-in by the session cookie, a good submit → an order of channel ``team`` and the WeCom
notice at the fake, bad input → Chinese errors per field and a recorded rejection (no order), and the
24-hour rule through the API with a short period: red in the read model and told again, until a
person acts."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from domain import team
from store import read_model, users
from store.db import engine_for
from tests.api_support import SERVICE_KEY, api_settings, running_api

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-1"
UNTOUCHED_SECONDS = 4


@pytest.fixture
def team_api(db_url, dev_env, tmp_path, fake_wecom):
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path,
                            wecom_webhook_url=fake_wecom.webhook_url, team_untouched_seconds=UNTOUCHED_SECONDS)
    engine = engine_for(db_url)
    users.add_user(engine, "xiaoli", "customer_service", PASSWORD, display_name="小李")
    users.add_user(engine, "zhao", "finance", PASSWORD)
    with running_api(settings, worker=True) as api:
        yield api, engine


def signed_in(api, user: str = "xiaoli") -> httpx.Client:
    """A browser-like client: the session token in the ``zhongshu_session`` cookie, no header."""
    r = httpx.post(f"{api.url}/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=api.url, cookies={"zhongshu_session": r.json()["token"]}, timeout=30)


def form(**overrides) -> dict:
    f = {"form_id": uuid.uuid4().hex, "customer": {"name": "王建国", "phone": "138 0013 8000"},
         "address": "浙江省杭州市萧山区北干街道金城路188号",
         "lines": [{"sku": "BOSCH-BP-COROLLA18", "name": "博世刹车片(前)", "category": "刹车片", "quantity": "2",
                    "unit_price": "268.00", "vehicle_model": "TOYOTA_COROLLA_2018"}],
         "freight": "", "paid_amount": "", "note": "下午送"}
    return f | overrides


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def team_notices(fake_wecom, order_id: str, words: str) -> list[dict]:
    return [m for m in fake_wecom.messages(order_id) if words in m["content"]]


def test_the_page_asks_to_sign_in_then_shows_the_form(team_api):
    api, _ = team_api
    page = httpx.get(f"{api.url}/team", timeout=30)
    assert page.status_code == 200 and 'id="signin"' in page.text and 'id="order"' not in page.text
    with signed_in(api) as browser:
        page = browser.get("/team")
    assert 'id="order"' in page.text and "小李" in page.text
    for label in ("收货人姓名", "收货人电话", "收货地址", "商品名称", "品类", "适配车型", "数量", "单价", "实付金额"):
        assert label in page.text
    assert 'name="viewport"' in page.text and "http" not in page.text.split("<script>")[0].replace("http-equiv", "")


def test_a_good_form_becomes_a_team_order_and_the_team_hears_of_it(team_api, fake_wecom):
    api, engine = team_api
    with signed_in(api) as browser:
        r = browser.post("/v1/team/orders", json=form())
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["created"] and body["order_id"] == f"order-team-{body['order_no']}" and body["status_label"]
        other = {"form_id": uuid.uuid4().hex, "customer": {"name": "李四", "phone": "13900139000"}}  # not a duplicate of the first
        again = browser.post("/v1/team/orders", json=form(**other))
        time.sleep(1.1)  # a second later: still the same form
        twice = browser.post("/v1/team/orders", json=form(**other))
    assert again.status_code == 202 and twice.status_code == 200 and twice.json()["created"] is False
    assert twice.json()["order_id"] == again.json()["order_id"]  # a re-sent form is the same order
    oid = body["order_id"]
    [notice] = wait_for(lambda: team_notices(fake_wecom, oid, "小微团队新订单"), "the WeCom notice")
    assert "登记人 xiaoli" in notice["content"] and "¥536.00" in notice["content"] and "13800138000" not in notice["content"]
    row = read_model.get_order(engine, oid)
    assert row["channel"] == "team" and str(row["paid_amount"]).startswith("536")  # goods + freight when left blank
    with httpx.Client(base_url=api.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as svc:
        view = svc.get(f"/v1/orders/{oid}").json()
    assert view["timeline"][0]["actor"] == "team:xiaoli"


def test_bad_input_names_each_field_in_chinese_and_creates_no_order(team_api):
    api, engine = team_api
    bad = form(customer={"name": " ", "phone": "12"}, address="",
               lines=[{"sku": "X1", "name": "机油", "category": "刹车片", "quantity": "0", "unit_price": "abc"}])
    with signed_in(api) as browser:
        r = browser.post("/v1/team/orders", json=bad)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert {"customer.phone", "address", "lines[0].quantity"} <= set(errors), errors
    assert errors["customer.phone"].startswith("收货人电话") and errors["lines[0].quantity"].startswith("第1行数量")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in errors.values()), errors
    assert "拒收单" in r.json()["message"] and r.json()["rejection_id"]
    assert read_model.list_orders(engine, channel="team")[0] == 0
    rejection = read_model.get_rejection(engine, r.json()["rejection_id"])
    assert rejection["source"] == "team:xiaoli" and rejection["channel"] == "team"


def test_cleansing_errors_are_chinese_too(team_api):
    api, _ = team_api
    with signed_in(api) as browser:
        r = browser.post("/v1/team/orders", json=form(lines=[{"sku": "X1", "name": "某零件", "category": "不存在的品类",
                                                                "quantity": "1", "unit_price": "10"}]))
    assert r.status_code == 422
    [err] = r.json()["errors"]
    assert err["field"] == "lines[0].category" and err["message"].startswith("第1行品类")


def test_who_may_register(team_api):
    api, _ = team_api
    assert httpx.post(f"{api.url}/v1/team/orders", json=form(), timeout=30).status_code == 401
    with signed_in(api, "zhao") as finance:
        assert finance.post("/v1/team/orders", json=form()).status_code == 403
        assert finance.get("/team").status_code == 403
    with signed_in(api) as browser:  # JSON only: a cross-site HTML form cannot post with the cookie
        r = browser.post("/v1/team/orders", data={"customer.name": "x"})
    assert r.status_code == 415


def test_untouched_order_turns_red_and_is_renotified_until_a_person_acts(team_api, fake_wecom):
    api, engine = team_api
    with signed_in(api) as browser:
        oid = browser.post("/v1/team/orders", json=form()).json()["order_id"]
    # routed, waiting out its release window, nobody acted: red after UNTOUCHED_SECONDS (the workflow's timer)
    wait_for(lambda: team.STALE_FLAG in (read_model.get_order(engine, oid)["flags"] or []), "red in the read model")
    wait_for(lambda: team_notices(fake_wecom, oid, "无人处理"), "the second WeCom notice")
    with httpx.Client(base_url=api.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as svc:
        found = svc.get("/v1/orders/search", params={"channel": "team"}).json()["items"]
        assert any(o["order_id"] == oid and team.STALE_FLAG in o["flags"] for o in found)
        token = httpx.post(f"{api.url}/v1/auth/login", json={"username": "xiaoli", "password": PASSWORD}).json()["token"]
        r = svc.post(f"/v1/orders/{oid}/cancel", json={"reason": "客户不要了"},
                     headers={"X-API-Key": "", "Authorization": f"Bearer {token}"})
        assert r.status_code == 202, r.text
    wait_for(lambda: read_model.get_order(engine, oid)["status"] == "cancelled", "cancelled")
    wait_for(lambda: team.STALE_FLAG not in (read_model.get_order(engine, oid)["flags"] or []), "red gone")
