"""Address re-confirmation around the workflow: signed links, the payload models, the card and
notice activities over real HTTP to the fake mini-program, and trusted repeat addresses in the read
model (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import insert
from temporalio.exceptions import ApplicationError

from activities.confirmation import CardRequest, ConfirmationActivities, CustomerNotice, TrustCheck
from domain.confirmation import (
    AddressChange,
    AddressConfirmation,
    InvalidToken,
    derive_secret,
    make_token,
    read_token,
    should_skip,
)
from fakes.miniprogram import create_app
from fakes.serve import serve_in_thread
from store.db import engine_for
from store.schema import orders

SECRET = "test-confirm-secret"
ADDRESS = "浙江省杭州市萧山区北干街道金城路1号"


# ---------------------------------------------------------------- tokens


def test_token_round_trip():
    token = make_token(SECRET, "order-miniprogram-MP1", 3)
    assert read_token(SECRET, token) == ("order-miniprogram-MP1", 3)
    assert "/" not in token and "+" not in token and "=" not in token  # URL-safe


def test_forged_and_foreign_tokens_are_refused():
    token = make_token(SECRET, "order-miniprogram-MP1", 1)
    other = make_token(SECRET, "order-miniprogram-MP2", 1)
    body, mac = token.split(".")
    with pytest.raises(InvalidToken, match="signature"):
        read_token("another-secret", token)
    with pytest.raises(InvalidToken, match="signature"):  # someone else's order with my signature
        read_token(SECRET, f"{other.split('.')[0]}.{mac}")
    with pytest.raises(InvalidToken, match="malformed"):
        read_token(SECRET, body)
    with pytest.raises(InvalidToken):
        read_token(SECRET, token[:-2])


def test_secret_derivation():
    assert derive_secret("explicit", "key") == "explicit"
    derived = derive_secret("", "zs-dev-key")
    assert derived != "zs-dev-key" and derived == derive_secret("", "zs-dev-key") and len(derived) == 64
    with pytest.raises(ValueError):
        derive_secret("", "")


# ---------------------------------------------------------------- models


def test_confirmation_ranges():
    c = AddressConfirmation(lat=30.18, lng=120.26)
    assert c.confirmed_by == "customer" and c.point.lat == 30.18
    with pytest.raises(ValidationError) as exc:
        AddressConfirmation(lat=91, lng=120)
    assert exc.value.errors()[0]["loc"] == ("lat",)
    with pytest.raises(ValidationError) as exc:
        AddressConfirmation(lat=30, lng=-181)
    assert exc.value.errors()[0]["loc"] == ("lng",)


def test_address_change_validation():
    ch = AddressChange(address="  杭州萧山区北干街道金城路1号 ", phone="+86 138-1234-5678")
    assert ch.address == "杭州萧山区北干街道金城路1号" and ch.requested_by == "customer"
    for bad, field in (({"address": "萧山"}, "address"), ({"address": "12345678"}, "address"),
                       ({"address": "杭" * 301}, "address"), ({"address": ADDRESS, "phone": "call me"}, "phone"),
                       ({"address": ADDRESS, "name": ""}, "name")):
        with pytest.raises(ValidationError) as exc:
            AddressChange(**bad)
        assert exc.value.errors()[0]["loc"] == (field,)


def test_should_skip():
    assert should_skip("erp", "erp, manual", trusted=False)
    assert should_skip("ERP", ["erp"], trusted=False)
    assert not should_skip("tmall", "erp", trusted=False)
    assert should_skip("tmall", "", trusted=True)
    assert not should_skip("tmall", [], trusted=False)


# ---------------------------------------------------------------- the card over HTTP


@pytest.fixture(scope="module")
def miniprogram():
    server = serve_in_thread(create_app())
    yield server.url
    server.stop()


def card_request(order_id: str, **kw) -> CardRequest:
    return CardRequest(order_id=order_id, customer_id="C-1", customer_name="王建国", phone="+8613812345678",
                       address_text=ADDRESS, **kw)


def cards(url: str, order_id: str) -> list[dict]:
    return httpx.get(f"{url}/control/cards", params={"order_id": order_id}, timeout=10).json()["items"]


def test_card_reaches_the_mini_program_once(miniprogram):
    acts = ConfirmationActivities(None, miniprogram, "https://hub.example.com/", SECRET)
    oid = f"order-miniprogram-{uuid.uuid4().hex[:8]}"
    card = acts.send_confirmation_card(card_request(oid))
    assert card.pushed and card.round == 1 and not card.reminder and card.phone_masked == "+86138****5678"
    assert card.url.startswith("https://hub.example.com/c/")
    assert read_token(SECRET, card.url.rsplit("/", 1)[1]) == (oid, 1)
    acts.send_confirmation_card(card_request(oid))  # an activity retry: the same card, not a second one
    (got,) = cards(miniprogram, oid)
    assert got["url"] == card.url and got["title"] == "请确认收货位置" and got["customer_id"] == "C-1"
    assert "13812345678" not in str(got)  # only the masked phone leaves the hub

    reminder = acts.send_confirmation_card(card_request(oid, reminder=True))
    assert reminder.reminder and reminder.url == card.url
    second_round = acts.send_confirmation_card(card_request(oid, round=2))
    listed = cards(miniprogram, oid)
    assert [(c["round"], c["reminder"]) for c in listed] == [(1, False), (1, True), (2, False)]
    assert listed[1]["title"].endswith("(提醒)") and read_token(SECRET, second_round.url.rsplit("/", 1)[1]) == (oid, 2)
    # the underscore control path lists the same
    assert httpx.get(f"{miniprogram}/_control/cards", params={"order_id": oid}).json()["total"] == 3


def test_card_push_failures(miniprogram):
    acts = ConfirmationActivities(None, miniprogram, "http://hub", SECRET, timeout=1)
    oid = f"order-miniprogram-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{miniprogram}/_control/fail_next", params={"count": 1, "status": 503})
    with pytest.raises(RuntimeError, match="503"):  # retryable: the workflow's retry policy tries again
        acts.send_confirmation_card(card_request(oid))
    assert cards(miniprogram, oid) == []
    acts.send_confirmation_card(card_request(oid))
    assert len(cards(miniprogram, oid)) == 1
    # a malformed card is the hub's bug: non-retryable
    r = httpx.post(f"{miniprogram}/v1/cards", json={"order_id": oid})
    assert r.status_code == 400 and "customer_id" in r.json()["errmsg"]
    with pytest.raises(ApplicationError) as exc:
        acts._post("/v1/cards", {"order_id": oid}, "k")
    assert exc.value.non_retryable and exc.value.type == "MiniProgramRefused"
    # unreachable: retryable
    down = ConfirmationActivities(None, "http://127.0.0.1:9", "http://hub", SECRET, timeout=1)
    with pytest.raises(RuntimeError, match="unreachable"):
        down.send_confirmation_card(card_request(oid))


def test_no_mini_program_only_logs():
    acts = ConfirmationActivities(None, "", "http://hub", SECRET)
    card = acts.send_confirmation_card(card_request("order-manual-X1"))
    assert not card.pushed and card.url.startswith("http://hub/c/")
    assert acts.notify_customer(CustomerNotice(order_id="order-manual-X1", customer_id="C", title="t", text="x")) is False


def test_notice(miniprogram):
    acts = ConfirmationActivities(None, miniprogram, "http://hub", SECRET)
    oid = f"order-miniprogram-{uuid.uuid4().hex[:8]}"
    notice = CustomerNotice(order_id=oid, customer_id="C-1", title="地址修改未成功",
                            text="订单已发出,不能再修改地址。如需帮助请联系客服。")
    assert acts.notify_customer(notice) is True
    assert acts.notify_customer(notice) is True  # retry: stored once
    items = httpx.get(f"{miniprogram}/control/notices", params={"order_id": oid}).json()["items"]
    assert len(items) == 1 and items[0]["title"] == "地址修改未成功" and "已发出" in items[0]["text"]


# ---------------------------------------------------------------- trusted repeat addresses


def add_order(engine, order_id: str, customer_id: str, status: str, address_text: str = ADDRESS) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(orders).values(
            order_id=order_id, channel="miniprogram", channel_order_id=order_id[-8:], status=status,
            customer_id=customer_id, address_text=address_text, flags=[], ordered_at=now, created_at=now,
            updated_at=now, last_seq=1, projected_at=now))


def test_trusted_address(db_url):
    engine = engine_for(db_url)
    acts = ConfirmationActivities(engine, "", "http://hub", SECRET)
    cust = f"C-{uuid.uuid4().hex[:6]}"
    check = TrustCheck(order_id="order-miniprogram-NEW", customer_id=cust, address_text=ADDRESS)
    assert acts.is_trusted_address(check) is False  # a new customer

    add_order(engine, "order-miniprogram-OPEN", cust, "routed")  # never delivered yet
    add_order(engine, "order-miniprogram-ELSE", cust, "completed", "浙江省杭州市西湖区文三路1号")
    add_order(engine, "order-miniprogram-OTHER", "someone-else", "completed")
    assert acts.is_trusted_address(check) is False

    add_order(engine, "order-miniprogram-NEW", cust, "delivered")  # the order itself does not count
    assert acts.is_trusted_address(check) is False

    add_order(engine, "order-miniprogram-OLD", cust, "completed")
    if "waybill_no" not in orders.c:
        assert acts.is_trusted_address(check) is True
    else:  # once migration 0007 records waybills, a completed order needs one to count
        assert acts.is_trusted_address(check) is False
        with engine.begin() as conn:
            conn.execute(orders.update().where(orders.c.order_id == "order-miniprogram-OLD").values(waybill_no="SF1"))
        assert acts.is_trusted_address(check) is True
