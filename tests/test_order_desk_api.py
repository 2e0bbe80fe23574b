"""Issue 14's API for the operators' workplace, over real HTTP against the real stack: review cards
(the order, risk sentences with their numbers, valid choices), finding any order, marks on an order,
the floor's PDFs and the offline /docs with the API key scheme."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from tests.support import order_payload, random_mobile

pytestmark = pytest.mark.integration


def wait_for(fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)
    return value


def submit(http, payload) -> str:
    r = http.post("/v1/orders", json=payload)
    assert r.status_code in (200, 202), r.text
    return r.json()["order_id"]


def big_new_customer_order() -> dict:
    """¥12,800 from a customer we have never seen: held for risk review (新客户大额订单)."""
    p = order_payload()
    p["customer"]["id"] = f"BIG-{uuid.uuid4().hex[:8]}"
    p["lines"][0].update(quantity=2, unit_price="6400.00")
    p["paid_amount"] = "12800.00"
    return p


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def http(stack):
    with stack.http() as c:
        yield c


def card_of(http, oid: str, **params) -> dict | None:
    items = http.get("/v1/reviews/cards", params={"state": "open", **params}).json()["items"]
    return next((c for c in items if c["order_id"] == oid), None)


def test_review_card_has_the_order_risk_sentences_and_valid_choices(http):
    payload = big_new_customer_order()
    oid = submit(http, payload)
    card = wait_for(lambda: card_of(http, oid, kind="risk"))
    order = card["order"]
    assert card["kind_label"] == "风控审核"
    assert order["customer_name"] == "王建国" and order["customer_history"]["orders"] == 0
    phone = payload["customer"]["phone"]
    assert order["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert order["district"]["district"] == "萧山区" and order["channel_label"] == "小程序"
    assert order["paid_amount"] in ("12800.00", 12800, "12800")
    assert order["items"][0]["name"] == "博世刹车片(前)" and order["items"][0]["quantity"] == 2
    hit = next(h for h in order["risk_hits"] if h["code"] == "NEW_CUSTOMER_LARGE_ORDER")
    assert hit["label"] == "新客户大额订单" and "12800.00" in hit["sentence"] and "5000.00" in hit["sentence"]
    assert "新客户大额订单" in card["feature_labels"]
    whs = [w["code"] for w in card["choices"]["warehouses"]]
    assert "HZ-DIRECT" in whs and all(w["label"] for w in card["choices"]["warehouses"])
    carriers = card["choices"]["carriers"]
    assert carriers and carriers[0]["eligible"]  # eligible first
    assert all(c["excluded"] for c in carriers if not c["eligible"])

    # filters: escalation 'red' has no fresh task; an hour's minimum age hides it too
    assert card_of(http, oid, escalation="red") is None
    assert card_of(http, oid, min_age_minutes=60) is None
    assert card_of(http, oid, escalation="none") is not None
    assert http.get("/v1/reviews/cards", params={"escalation": "sometimes"}).status_code == 422


def test_find_orders_by_phone_channel_number_name_and_days(http):
    phone = random_mobile()
    payload = order_payload()
    payload["customer"].update(phone=phone, name="欧阳娜娜")
    oid = submit(http, payload)
    wait_for(lambda: http.get(f"/v1/orders/{oid}").status_code == 200)

    def found(**params) -> list[str]:
        r = http.get("/v1/orders/search", params=params)
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["items"]]

    assert oid in found(phone=phone)
    assert oid in found(phone=f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}")
    assert oid in found(phone=phone[-4:], name="欧阳")
    assert oid in found(channel_order_id=payload["channel_order_id"])
    item = http.get("/v1/orders/search", params={"channel_order_id": payload["channel_order_id"]}).json()["items"][0]
    assert item["phone_masked"] == phone[:3] + "****" + phone[-4:] and item["channel_label"] == "小程序"
    cn_today = datetime.now(timezone(timedelta(hours=8))).date()
    ordered = datetime.fromisoformat(payload["ordered_at"]).astimezone(timezone(timedelta(hours=8))).date()
    assert oid in found(channel_order_id=payload["channel_order_id"], date_from=ordered.isoformat(),
                        date_to=ordered.isoformat())
    assert oid not in found(channel_order_id=payload["channel_order_id"],
                            date_from=(cn_today + timedelta(days=2)).isoformat())
    assert found(waybill="NO-SUCH-WAYBILL", channel_order_id=payload["channel_order_id"]) == []

    bad = http.get("/v1/orders/search", params={"phone": "12"})
    assert bad.status_code == 422 and "后4位" in bad.text
    backwards = http.get("/v1/orders/search", params={"date_from": "2026-02-02", "date_to": "2026-02-01"})
    assert backwards.status_code == 422 and "开始日期" in backwards.text


def test_marks_remark_flag_and_urgent(http, stack):
    oid = submit(http, order_payload(ordered_at=datetime.now(UTC).isoformat()))  # still open: in its release window
    wait_for(lambda: http.get(f"/v1/orders/{oid}").status_code == 200)
    r = http.post(f"/v1/orders/{oid}/marks", json={"kind": "remark", "actor": "小李", "text": "客户要求周末送"})
    assert r.status_code == 201, r.text
    assert http.post(f"/v1/orders/{oid}/marks", json={"kind": "flag", "actor": "小李", "flag": "red"}).status_code == 201
    r = http.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent", "actor": "小李"})
    assert r.status_code == 201 and r.json()["event_label"] == "标记加急"
    marks = http.get(f"/v1/orders/{oid}/marks").json()
    assert marks["urgent"] is True and marks["flag"] == "red"
    for twice in ({"kind": "urgent"}, {"kind": "flag", "flag": "red"}):  # pressed again: nothing new on the timeline
        again = http.post(f"/v1/orders/{oid}/marks", json=twice | {"actor": "小李"})
        assert again.status_code == 200 and again.json()["unchanged"] is True and again.json()["event"] is None, again.text
    urgent = http.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent", "actor": "小李"}).json()
    assert "waves_told" in urgent  # 加急 again still tells the waves
    timeline = [e["event"] for e in http.get(f"/v1/orders/{oid}").json()["timeline"]]
    assert timeline.count("order.marked_urgent") == 1 and timeline.count("order.flagged") == 1, timeline
    assert marks["remarks"][0]["text"] == "客户要求周末送" and marks["remarks"][0]["actor"] == "小李"
    http.post(f"/v1/orders/{oid}/marks", json={"kind": "flag", "actor": "小李", "flag": None})
    found = http.get("/v1/orders/search", params={"order_id": oid}).json()["items"][0]
    assert found["marks"]["flag"] is None and found["marks"]["urgent"] is True

    empty = http.post(f"/v1/orders/{oid}/marks", json={"kind": "remark", "actor": "小李", "text": "  "})
    assert empty.status_code == 422 and "不能为空, 请填写备注内容" in empty.text
    missing = http.post(f"/v1/orders/{oid}/marks", json={"kind": "remark", "actor": "小李"})
    e = missing.json()["errors"][0]
    assert missing.status_code == 422 and e["field"] == "text" and e["label"] == "内容", missing.text
    assert http.post("/v1/orders/order-nope/marks", json={"kind": "urgent", "actor": "x"}).status_code == 404
    nope = http.get("/v1/orders/order-nope/marks")
    assert nope.status_code == 404 and "不存在" in nope.json()["detail"]
    import httpx

    with httpx.Client(base_url=stack.api_url, headers={"X-API-Key": "test-readonly-key"}, timeout=30) as ro:
        assert ro.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent", "actor": "x"}).status_code == 403
        assert "phone" not in ro.get("/v1/orders/search", params={"order_id": oid}).json()["items"][0]


def test_search_refusals_name_the_field_like_every_422(http):
    r = http.get("/v1/orders/search", params={"date_from": "2026-12-05", "date_to": "2026-12-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "date_to", r.text
    assert "不能早于开始日期" in r.json()["message"]
    for phone, why in (("' OR 1=1--", "至少输入后4位"), ("abc", "数字")):
        r = http.get("/v1/orders/search", params={"phone": phone})
        e = r.json()["errors"][0]
        assert r.status_code == 422 and e["field"] == "phone" and e["label"] == "电话" and why in e["message"], r.text


def test_an_unknown_status_or_channel_filter_is_a_422_listing_the_choices(http):
    """A typo in a filter is the caller's mistake to hear about, not an empty page; an empty one is "any"."""
    for path in ("/v1/orders/search", "/v1/orders"):
        r = http.get(path, params={"status": "shiped"})
        e = r.json()["errors"][0]
        assert r.status_code == 422 and e["field"] == "status", r.text
        assert "shipped(运输中)" in e["message"] and "不是可选的值" in e["message"], r.text
        r = http.get(path, params={"channel": "jd"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel", r.text
        assert http.get(path, params={"status": "shipped", "channel": "tmall"}).status_code == 200
        everything = http.get(path, params={"limit": 5}).json()
        blank = http.get(path, params={"status": "", "channel": " ", "limit": 5})  # a form's "any"
        assert blank.status_code == 200 and blank.json() == everything, blank.text
    assert http.get("/v1/orders/search", params={"date_from": "", "date_to": ""}).status_code == 200


def test_a_closed_order_takes_remarks_but_not_urgent(http):
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    oid = submit(http, order_payload(ordered_at=old))  # this stack completes orders at release
    # the read model's status (what the marks read), which follows the live view by one projection
    wait_for(lambda: [o["status"] for o in http.get("/v1/orders/search", params={"order_id": oid}).json()["items"]]
             == ["completed"], timeout=60)
    r = http.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent"})
    assert r.status_code == 409 and "无需加急" in r.json()["detail"], r.text
    assert http.post(f"/v1/orders/{oid}/marks", json={"kind": "remark", "text": "客户来电致谢"}).status_code == 201
    assert http.get(f"/v1/orders/{oid}/marks").json()["urgent"] is False


def test_packing_slip_and_bin_label_pdfs(http):
    payload = order_payload()
    oid = submit(http, payload)
    wait_for(lambda: http.get(f"/v1/orders/{oid}").status_code == 200)
    r = http.get("/v1/print/packing-slips.pdf", params={"order_id": oid})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "发货单" in text and oid in text and "博世刹车片" in text

    r = http.get("/v1/print/bin-labels.pdf", params=[("code", "a-3-12"), ("code", "B-01-02"), ("warehouse", "HZ-DIRECT")])
    assert r.status_code == 200
    text = pdf_text(r.content)
    assert "A-03-12" in text and "B-01-02" in text

    bad = http.get("/v1/print/bin-labels.pdf", params={"code": "shelf 7"})
    assert bad.status_code == 422 and "shelf 7" in bad.text
    assert http.get("/v1/print/picklists.pdf", params={"wave_id": "W-NOPE"}).status_code == 404
    assert http.get("/v1/print/packing-slips.pdf", params={"order_id": "order-nope"}).status_code == 404
    assert http.get("/v1/print/picklists.pdf").status_code == 422


def test_a_bare_link_to_a_pdf_works_for_a_signed_in_person(http, stack):
    """A browser opening a PDF link sends the console's session cookie, not a header: it is enough
    for the print routes (reads); never for a route that changes something, never a key in a cookie."""
    import httpx

    user = f"lead-{uuid.uuid4().hex[:6]}"
    assert http.post("/v1/users", json={"username": user, "role": "warehouse_lead", "password": "pdf-link-password",
                                        "display_name": "仓库组长"}).status_code == 201
    token = httpx.post(f"{stack.api_url}/v1/auth/login", json={"username": user, "password": "pdf-link-password"},
                       timeout=30).json()["token"]
    link = f"{stack.api_url}/v1/print/bin-labels.pdf?code=A-03-12"
    assert httpx.get(link, timeout=30).status_code == 401
    r = httpx.get(link, cookies={"zhongshu_session": token}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and "A-03-12" in pdf_text(r.content)
    assert httpx.get(link, cookies={"zhongshu_session": "test-service-key"}, timeout=30).status_code == 401
    assert httpx.get(link, cookies={"zhongshu_session": "zsus-not-a-session"}, timeout=30).status_code == 401
    cancel = httpx.post(f"{stack.api_url}/v1/orders/order-nope/cancel", json={"reason": "试试"},
                        cookies={"zhongshu_session": token}, timeout=30)
    assert cancel.status_code == 401  # a state change keeps to headers (the cookie is not a CSRF door)


def test_docs_work_offline_and_declare_the_api_key(stack):
    import httpx

    docs = httpx.get(f"{stack.api_url}/docs", timeout=10)
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    js = httpx.get(f"{stack.api_url}/static-offline-docs/swagger-ui-bundle.js", timeout=10)
    assert js.status_code == 200 and len(js.content) > 100_000
    schema = httpx.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"]}
    assert {"ApiKey": []} in schema["paths"]["/v1/orders/search"]["get"]["security"]
    assert "security" not in schema["paths"]["/healthz"]["get"]
