"""The Streamlit console driven through AppTest against the real stack (API over HTTP, worker,
dev server, PostgreSQL): what a reviewer sees and clicks, checked against what the API then says."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from console.ui import fmt_age
from tests.support import order_payload, random_mobile

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parent.parent / "console" / "app.py")
ENV = ("ZHONGSHU_CONSOLE_API_URL",)
PASSWORD = "console-test-password"


@pytest.fixture
def api(stack):
    """Point the console at the stack for one test; hand back an HTTP client for checks."""
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ZHONGSHU_CONSOLE_API_URL=stack.api_url)
    try:
        with stack.http() as http:
            yield http
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def signed_in(user: str = "小李", role: str = "reviewer") -> dict:
    """A session for ``user`` (created on first use), as the console's login form would hold it."""
    import httpx

    url = os.environ["ZHONGSHU_CONSOLE_API_URL"]
    with httpx.Client(base_url=url, headers={"X-API-Key": "test-service-key"}, timeout=30) as http:
        r = http.post("/v1/users", json={"username": user, "role": role, "password": PASSWORD, "display_name": user})
        assert r.status_code in (201, 409), r.text
    r = httpx.post(f"{url}/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    return {"token": body["token"], "user": body["user"], "expires_at": body["expires_at"]}


def console(page: str | None = None, *, user: str | None = "小李", role: str = "reviewer", **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(query)
    if user:
        at.session_state["zs_auth"] = signed_in(user, role)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


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


def table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_orders_page_lists_and_filters(api):
    customer = f"CONSOLE-{uuid.uuid4().hex[:8]}"
    payload = order_payload()
    payload["customer"]["id"] = customer
    oid = submit(api, payload)
    wait_for(lambda: api.get("/v1/orders", params={"customer_id": customer, "status": "completed"}).json()["total"])

    at = console("pages_/orders.py")
    assert any("API 正常" in m.value for m in at.sidebar.markdown)
    at.text_input(key="orders_customer").set_value(customer).run()
    rows = table(at, "订单号")
    assert list(rows["订单号"]) == [oid]
    assert "已完成" in rows["状态"][0] and "萧山区" in rows["收货地区"][0]

    at.selectbox(key="orders_status").set_value("held").run()
    assert not at.dataframe and "没有符合条件的订单" in at.info[0].value
    at.selectbox(key="orders_status").set_value("completed").run()
    assert list(table(at, "订单号")["订单号"]) == [oid]

    at.button(key="orders_open").click().run()  # open its timeline from the list
    assert not at.exception
    assert any(oid in h.value for h in at.subheader)


def test_brushing_flag_and_merge_are_shown(api):
    customer = f"CONSOLE-{uuid.uuid4().hex[:8]}"
    phone = random_mobile()
    now = datetime.now(UTC) - timedelta(minutes=2)
    first, second = (order_payload(ordered_at=(now + timedelta(minutes=m)).isoformat()) for m in (0, 3))
    for p in (first, second):  # ¥12,800 from a new customer: the anchor waits in risk review, open for the merge
        p["customer"].update(id=customer, phone=phone)
        p["lines"][0].update(quantity=2, unit_price="6400.00")
        p["paid_amount"] = "12800.00"
    anchor = submit(api, first)
    wait_for(lambda: api.get(f"/v1/orders/{anchor}").json().get("status") == "held")  # the second comes minutes later
    dup = submit(api, second)
    def projected() -> bool:  # the duplicate merged, and the anchor's brushing flag, both in the read model
        items = {o["order_id"]: o for o in api.get("/v1/orders", params={"customer_id": customer}).json()["items"]}
        return (items.get(dup, {}).get("merged_into") == anchor
                and "suspected_brushing" in str(items.get(anchor, {}).get("flags")))

    wait_for(projected)

    at = console("pages_/orders.py")
    at.text_input(key="orders_customer").set_value(customer).run()
    rows = table(at, "订单号").set_index("订单号")
    assert "促销刷单疑似" in rows.loc[anchor, "标记"]
    assert rows.loc[dup, "并入"] == anchor and "已合并" in rows.loc[dup, "状态"]

    at = console(order_id=anchor)
    assert "促销刷单疑似" in at.warning[0].value
    assert any(link.label == dup for link in at.get("page_link"))

    # 拆分订单: the duplicate's page splits it back out, under the signed-in person (issue 14)
    at = console(order_id=dup, user="客服小周", role="customer_service")
    at.text_input(key="unmerge_note").set_value("不同车辆, 客户确认两单")
    next(b for b in at.button if b.label == "拆分订单").click().run()
    assert not at.exception and any("已拆分" in s.value for s in at.success), [e.value for e in at.error]
    view = wait_for(lambda: (v := api.get(f"/v1/orders/{dup}").json())["status"] not in ("merged", "received") and v,
                    timeout=90)
    split = next(e for e in view["timeline"] if e["event"] == "order.unmerged")
    assert split["actor"] == "客服小周" and "不同车辆" in split["reason"] and view["merged_into"] is None


def test_timeline_from_wecom_link(api):
    oid = submit(api, order_payload())
    wait_for(lambda: api.get(f"/v1/orders/{oid}").json()["status"] == "completed")

    at = console(order_id=oid)  # {console_url}/?order_id=… lands on the timeline
    assert any(oid in h.value for h in at.subheader)
    events = list(table(at, "事件")["事件"])
    assert events[0] == "订单接收" and events[-1] == "已完成"  # Chinese for people: no event codes
    assert "萧山区" in " ".join(m.value for m in at.markdown)

    missing = console(order_id="order-tmall-NOPE")
    assert "order-tmall-NOPE" in missing.error[0].value and "404" in missing.error[0].value


def open_address_review(http) -> tuple[str, str]:
    oid = submit(http, order_payload(address={"raw": "老地方仓库后门"}))

    def task():
        items = http.get("/v1/reviews", params={"state": "open", "kind": "address"}).json()["items"]
        return next((i["review_id"] for i in items if i["order_id"] == oid), None)

    return oid, wait_for(task)


def review_of(http, oid: str) -> dict:
    return http.get(f"/v1/orders/{oid}").json()["reviews"][0]


@pytest.mark.parametrize(  # each decision's own mark in the timeline, whatever stage follows it
    "decision, address, event",
    [("correct_address", "浙江省杭州市西湖区文三路90号", "address.corrected"),
     ("approve", None, "address.accepted_unresolved"), ("reject", None, "order.rejected")],
)
def test_review_queue_decides_address_review(api, decision, address, event):
    oid, rid = open_address_review(api)
    at = console("pages_/reviews.py")  # signed in as 小李: the decision is recorded under that name
    labels = [m.value for m in at.markdown]
    assert any(rid.replace("~", "\\~") in c.value for c in at.caption)
    assert any("地址无法解析到区县" in v for v in labels)

    if address:
        at.text_input(key=f"addr-{rid}").set_value(address)
    at.text_input(key=f"note-{rid}").set_value("控制台测试")
    at.button(key=f"{decision}-{rid}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "已提交" in at.success[0].value

    task = review_of(api, oid)
    assert task["state"] == "decided" and task["decision"] == decision and task["reviewer"] == "小李"
    assert not any(c.value.endswith(rid.replace("~", "\\~")) for c in at.caption)  # refreshed: gone from the queue
    at.selectbox(key="reviews_state").set_value("decided").run()  # under 已处理: who, when and the note, no running wait
    said = " ".join(m.value for m in at.markdown)
    assert "备注: 控制台测试" in said and "⏱️ 等待" not in said
    state = wait_for(lambda: (s := api.get(f"/v1/orders/{oid}").json()) and event in [e["event"] for e in s["timeline"]] and s)
    if decision == "correct_address":
        assert state["address"]["district"] == "西湖区"


def test_customer_service_reads_the_queue_but_its_decision_buttons_are_off(api):
    """The API lets reviewers decide: a customer-service agent sees the cards and why, not buttons
    that would only answer 403."""
    oid, rid = open_address_review(api)
    at = console("pages_/reviews.py", user="客服小李", role="customer_service")
    assert any("只能查看审核任务" in i.value for i in at.info)
    assert at.button(key=f"approve-{rid}").disabled and at.button(key=f"reject-{rid}").disabled
    reviewer = console("pages_/reviews.py")
    assert not reviewer.button(key=f"approve-{rid}").disabled and not any("只能查看" in i.value for i in reviewer.info)
    assert review_of(api, oid)["state"] == "open"


def test_review_queue_shows_409_verbatim(api):
    oid, rid = open_address_review(api)
    at = console("pages_/reviews.py")
    # a colleague decides first; this reviewer's view is stale
    r = api.post(f"/v1/reviews/{rid}/decision", json={"decision": "approve", "reviewer": "小王"})
    assert r.status_code == 200, r.text
    at.button(key=f"reject-{rid}").click().run()
    message = at.error[0].value
    assert "HTTP 409" in message and "already decided" in message and "小王" in message
    assert review_of(api, oid)["decision"] == "approve"

    # the API's validation, word for word
    oid3, rid3 = open_address_review(api)
    at.run()
    at.button(key=f"correct_address-{rid3}").click().run()
    assert "HTTP 409" in at.error[0].value and "correct\\_address needs the corrected address text" in at.error[0].value
    assert review_of(api, oid3)["state"] == "open"

    # no free-text reviewer box any more: the reviewer is the signed-in person
    assert not [t for t in at.text_input if t.key == "reviewer_input"]


def test_rejections_page_lists_and_replays(api):
    payload = order_payload()
    payload["customer"]["phone"] = "12345"
    r = api.post("/v1/orders", json=payload)
    assert r.status_code == 422
    rid = r.json()["rejection_id"]

    at = console("pages_/rejections.py")
    rows = table(at, "编号")
    mine = rows[rows["编号"] == rid]
    assert len(mine) == 1 and mine["错误"].iloc[0].startswith("收货人电话不正确")

    at.selectbox[0].set_value(rid).run()
    fixed = json.loads(at.text_area(key=f"payload-{rid}").value)
    fixed["customer"]["phone"] = random_mobile()
    at.text_area(key=f"payload-{rid}").set_value(json.dumps(fixed, ensure_ascii=False))
    at.button(key=f"replay-{rid}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "重放成功" in at.success[0].value
    assert api.get(f"/v1/rejections/{rid}").json()["replay_order_id"] == f"order-miniprogram-{payload['channel_order_id']}"


def test_rules_page_follows_the_api(api):
    at = console("pages_/rules.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    if api.get("/v1/rules").status_code == 404:
        assert "尚未提供" in at.info[0].value
    else:
        assert any("当前生效版本" in m.value for m in at.markdown)


def test_rules_page_lists_diffs_and_activates(api):
    from tests.test_rules_api import edited_default, set_cell

    before = api.get("/v1/rules").json()["active"]
    data = edited_default(lambda wb: set_cell(wb, "仓库规则", "R3", "warehouse", "HZ-CLOUD2"))
    new = api.post("/v1/rules", files={"file": ("console-test.xlsx", data)}).json()["version"]
    try:
        at = console("pages_/rules.py", user="规则管理员", role="admin")  # activating rules: admins only
        assert any(f"v{before}" in m.value for m in at.markdown), [m.value for m in at.markdown]
        at.selectbox(key="rules_diff_from").set_value(before)
        at.selectbox(key="rules_diff_to").set_value(new)
        at.button(key="rules_diff_go").click().run()
        assert not at.exception
        shown = " ".join(m.value for m in at.markdown) + " ".join(e.label for e in at.expander)
        assert "R3" in shown and "仓库规则" in shown
        at.selectbox(key="rules_activate_v").set_value(new)
        at.button(key="rules_activate_go").click().run()
        assert api.get("/v1/rules").json()["active"] == new
    finally:
        api.post(f"/v1/rules/{before}/activate")


def test_age_format():
    assert fmt_age(2 * 3600 + 13 * 60 + 5) == "2小时13分"
    assert fmt_age(26 * 3600) == "1天2小时" and fmt_age(42) == "42秒" and fmt_age(None) == "-"


def test_search_page_finds_by_last_four_and_exports_excel(api):
    import io

    from openpyxl import load_workbook

    from console.order_export import COLUMNS, xlsx

    payload = order_payload(ordered_at=datetime.now(UTC).isoformat())  # still open when marked urgent
    phone = payload["customer"]["phone"]
    oid = submit(api, payload)
    wait_for(lambda: api.get("/v1/orders/search", params={"channel_order_id": payload["channel_order_id"]}).json()["total"])
    assert api.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent", "actor": "小李"}).status_code == 201

    at = console("pages_/search.py")
    at.text_input(key="s_phone").set_value(phone[-4:])
    at.text_input(key="s_channel_order").set_value(payload["channel_order_id"])
    at.button[0].click().run()  # the form's 查找
    assert not at.exception and not at.error, [e.value for e in at.error]
    rows = table(at, "订单号")
    assert list(rows["订单号"]) == [oid]
    assert rows["电话"][0] == phone[:3] + "****" + phone[-4:] and "加急" in rows["标记"][0]
    assert rows["渠道"][0] == "小程序" and rows["收货地区"][0] == "浙江省杭州市萧山区"

    at.button(key="search_export").click().run()
    assert not at.exception
    _, book, name = at.session_state["search_xlsx"]
    assert name.startswith("订单导出-") and name.endswith("-1条.xlsx")
    sheet = load_workbook(io.BytesIO(book))["订单"]
    assert [c.value for c in sheet[1]] == COLUMNS and sheet["A2"].value == oid
    paid = sheet.cell(row=2, column=COLUMNS.index("实付") + 1)
    assert isinstance(paid.value, float | int) and paid.value == float(payload["paid_amount"]) and "¥" in paid.number_format
    assert any(b.label == "下载 Excel" for b in at.get("download_button"))
    at.text_input(key="s_phone").set_value("")  # another search: the export of the last one is not offered for it
    at.button[0].click().run()
    assert not any(b.label == "下载 Excel" for b in at.get("download_button"))
    assert xlsx([])  # an empty result still makes a workbook with its header

    bad = console("pages_/search.py")
    bad.text_input(key="s_phone").set_value("12")
    bad.button[0].click().run()
    assert "后4位" in bad.error[0].value


def test_order_page_marks_and_cancels(api):
    payload = order_payload(address={"raw": "老地方仓库后门"})  # held for address review: not dispatched
    oid = submit(api, payload)
    wait_for(lambda: api.get(f"/v1/orders/{oid}").json()["status"] == "held")
    at = console(order_id=oid)
    at.text_input(key="mark_text").set_value("客户要求周末送")
    at.selectbox(key="mark_flag").set_value("red")
    at.selectbox(key="mark_urgent").set_value("yes")
    next(b for b in at.button if b.label == "保存").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    marks = api.get(f"/v1/orders/{oid}/marks").json()
    assert marks == {"urgent": True, "flag": "red", "remarks": [marks["remarks"][0]]}
    assert marks["remarks"][0]["text"] == "客户要求周末送" and marks["remarks"][0]["actor"] == "小李"
    assert any("加急" in m.value and "红旗" in m.value for m in at.markdown)
    said = [m.value for m in at.success]
    assert any(v.startswith("备注已提交") for v in said) and any(v.startswith("旗帜已提交") for v in said), said  # each action says so
    assert at.text_input(key="mark_text").value == ""  # the form cleared: the next save does not send the remark again
    at.selectbox(key="mark_flag").set_value("blue")
    next(b for b in at.button if b.label == "保存").click().run()
    marks = api.get(f"/v1/orders/{oid}/marks").json()
    assert marks["flag"] == "blue" and len(marks["remarks"]) == 1, marks

    at.text_input(key="cancel_reason").set_value("客户来电取消")
    next(b for b in at.button if b.label == "取消订单").click().run()
    assert any("取消订单已提交" in s.value for s in at.success)
    wait_for(lambda: api.get(f"/v1/orders/{oid}").json()["status"] == "cancelled")
