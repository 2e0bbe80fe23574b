"""Rules over HTTP end to end: upload a workbook, activate it, route orders with it, and check the
recorded rule version; bad workbooks are refused cell by cell; running orders keep their version."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from tests.support import order_payload, random_mobile

pytestmark = pytest.mark.integration


def edited_default(edit) -> bytes:
    wb = openpyxl.load_workbook("rules/default_rules.xlsx")
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def set_cell(wb, sheet: str, rule_key: str, column_id: str, value) -> None:
    ws = wb[sheet]
    ids = [c.value for c in ws[2]]
    col = ids.index(column_id) + 1
    for row in ws.iter_rows(min_row=3):
        if row[0].value == rule_key:
            ws.cell(row=row[0].row, column=col, value=value)
            return
    raise KeyError(rule_key)


def wait_status(http, order_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = http.get(f"/v1/orders/{order_id}").json()
        if st.get("status") in statuses:
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"{order_id} stuck in {st.get('status')}")
        time.sleep(0.2)


@pytest.fixture
def restore_active_rules(stack):
    with stack.http() as http:
        before = http.get("/v1/rules").json()["active"]
    yield
    with stack.http() as http:
        http.post(f"/v1/rules/{before}/activate")


def guangzhou_order():
    return order_payload(
        customer={"id": f"SHOP-GZ-{time.time_ns() % 10**9}", "name": "吴磊", "phone": random_mobile()},
        address={"raw": "广东省广州市天河区体育西路100号"},
    )


def test_upload_activate_route_and_record_version(stack, restore_active_rules):
    data = edited_default(lambda wb: set_cell(wb, "仓库规则", "R4", "warehouse", "GZ-DIRECT"))
    with stack.http() as http:
        up = http.post("/v1/rules", files={"file": ("south-direct.xlsx", data)}, params={"created_by": "运营小陈"})
        assert up.status_code == 201, up.text
        version = up.json()["version"]
        assert up.json()["active"] is False
        listed = http.get("/v1/rules").json()
        assert any(v["version"] == version and not v["active"] and v["created_by"] == "运营小陈" for v in listed["items"])

        # not active yet: orders still go to GZ-CLOUD with the old version
        r = http.post("/v1/orders", json=guangzhou_order())
        st = wait_status(http, r.json()["order_id"], {"routed", "completed"})
        assert st["warehouse"] == "GZ-CLOUD" and st["rule_version"] == listed["active"]

        diff = http.get("/v1/rules/diff", params={"from": listed["active"], "to": version}).json()
        assert diff["sheets"]["仓库规则"]["changed"][0]["after"] == {"warehouse": "GZ-DIRECT"}

        assert http.post(f"/v1/rules/{version}/activate").json() == {"active": version}
        r = http.post("/v1/orders", json=guangzhou_order())
        st = wait_status(http, r.json()["order_id"], {"routed", "completed"})
        assert st["warehouse"] == "GZ-DIRECT"
        routed = next(e for e in st["timeline"] if e["event"] == "order.routed")
        assert routed["data"]["rule_version"] == version and routed["data"]["rule_id"] == "R4"
        assert f"v{version}" in routed["reason"]

        exported = http.get(f"/v1/rules/{version}/export")
        assert exported.status_code == 200 and exported.content == data


def test_bad_workbook_is_refused_cell_by_cell(stack):
    def break_it(wb):
        set_cell(wb, "仓库规则", "R1", "provinces", "浙江")  # not the official full name
        set_cell(wb, "快递公司", "ZTO", "price_per_kg", "cheap")

    with stack.http() as http:
        before = http.get("/v1/rules").json()["items"]
        r = http.post("/v1/rules", files={"file": ("bad.xlsx", edited_default(break_it))})
        assert r.status_code == 422
        errors = r.json()["errors"]
        where = {(e["sheet"], e["row"], e["column"]) for e in errors}
        assert ("仓库规则", 3, "C") in where and ("快递公司", 4, "E") in where
        assert any("浙江" in e["message"] for e in errors)
        assert http.get("/v1/rules").json()["items"] == before  # nothing half-imported
        assert http.post("/v1/rules", files={"file": ("x.xlsx", b"not a workbook")}).status_code == 422
        assert http.post("/v1/rules/9999/activate").status_code == 404


def test_running_order_keeps_its_rules_version(stack, restore_active_rules):
    """An order pinned to version A and waiting in review routes with A even after B is activated."""
    with stack.http() as http:
        active = http.get("/v1/rules").json()["active"]
        payload = guangzhou_order()
        payload["lines"][0]["quantity"] = 51  # QUANTITY_EXCESSIVE → risk hold before routing
        payload["paid_amount"] = str(268 * 51) + ".00"
        r = http.post("/v1/orders", json=payload)
        order_id = r.json()["order_id"]
        st = wait_status(http, order_id, {"held"})
        assert st["rule_version"] == active
        data = edited_default(lambda wb: set_cell(wb, "仓库规则", "R4", "warehouse", "GZ-NEW"))
        newer = http.post("/v1/rules", files={"file": ("newer.xlsx", data)}, params={"activate": "true"}).json()["version"]
        assert http.get("/v1/rules").json()["active"] == newer
        review = next(rv for rv in st["reviews"] if rv["state"] == "open")
        ok = http.post(f"/v1/reviews/{review['review_id']}/decision", json={"decision": "approve", "reviewer": "风控小赵"})
        assert ok.status_code == 200, ok.text
        st = wait_status(http, order_id, {"routed", "completed"})
        assert st["warehouse"] == "GZ-CLOUD" and st["routing"]["rule_version"] == active


def test_risk_feature_catalogue(stack):
    with stack.http() as http:
        items = http.get("/v1/risk/features").json()["items"]
    assert len(items) == 17 and {i["severity"] for i in items} == {"block", "hold", "flag"}
