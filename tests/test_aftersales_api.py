"""The aftersales routes over real HTTP: the router in a uvicorn server, the Temporal client of the
time-skipping server, the real worker (same setup as tests/test_aftersales_workflow.py): requests go to
the ``Order`` workflow's ``request_aftersales`` update, cases are ``Aftersales`` workflows whose return
parcel travels as a ``Shipment`` child."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from api.aftersales_routes import router
from domain.aftersales import AftersalesState, CaseStatus
from domain.status import OrderStatus
from tests.support import ThreadedServer, order_payload, random_mobile
from tests.test_aftersales_workflow import (  # noqa: F401 - fixtures
    PADS,
    fakes,
    open_case,
    parcel,
    push,
    row,
    ts_env,
    until,
    worker,
)
from tests.workflow_helpers import result_of, start_order
from tests.workflow_helpers import until as order_until
from zhongshu.payload_codec import encrypted_data_converter

KEYS = {"svc": "service", "rev": "reviewer", "dev": "device", "ro": "readonly"}


@pytest_asyncio.fixture(loop_scope="session")
async def api(worker):  # noqa: F811 - the imported fixture
    client, tq, engine = worker.client, worker.task_queue, worker.engine
    target = client.service_client.config.target_host

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.client = await Client.connect(target, data_converter=encrypted_data_converter(""))
        yield

    app = FastAPI(lifespan=lifespan)
    app.state.engine = engine
    app.state.api_keys = {k: v for k, v in KEYS.items()}
    app.include_router(router)
    from api.auth_routes import router as auth_router

    app.include_router(auth_router)  # the console's page signs in (issue 13)
    with ThreadedServer(app) as srv:
        yield srv.url, client, tq, engine


def http(url: str, key: str = "svc") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30)


def held_order() -> dict:
    """Paid less than owed: held for a risk review, so its workflow stays open."""
    return order_payload(channel="tmall", channel_order_id=f"TB{uuid.uuid4().hex[:10].upper()}",
                         customer={"id": f"SHOP-API-{uuid.uuid4().hex[:8]}", "name": "李四", "phone": random_mobile()},
                         lines=[PADS], paid_amount="1.00")


async def test_request_on_unknown_and_closed_orders(api):
    url, client, tq, _ = api
    async with http(url) as c:
        r = await c.post("/v1/orders/order-tmall-NOPE/aftersales",
                         json={"type": "return", "lines": [{"sku": "X", "quantity": 1}], "reason": "坏了"})
        assert r.status_code == 404 and "not found" in r.json()["detail"]
        # an order that finished (rejected at intake: bad phone) is closed for aftersales
        bad = held_order()
        bad["customer"]["phone"] = "12345"
        h = await start_order(client, tq, bad)
        assert (await h.result()).status == "rejected"
        r = await c.post(f"/v1/orders/{h.id}/aftersales",
                         json={"type": "return", "lines": [{"sku": PADS["sku"], "quantity": 1}], "reason": "坏了"})
        assert r.status_code == 409 and "aftersales window is over" in r.json()["detail"]


async def test_request_field_errors_then_order_decides(api):
    url, client, tq, _ = api
    h = await start_order(client, tq, held_order())
    await order_until(h, lambda s: s.status == OrderStatus.HELD)
    async with http(url) as c:
        r = await c.post(f"/v1/orders/{h.id}/aftersales", json={
            "type": "exchange", "reason": "尺寸不符",
            "lines": [{"sku": "博世刹车片-不存在", "quantity": 1}, {"sku": PADS["sku"], "quantity": 4}]})
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["lines[0].sku", "lines[1].quantity"]
        async with http(url, "ro") as ro:  # opening a case is the service's (customer service backend's) job
            r = await ro.post(f"/v1/orders/{h.id}/aftersales",
                              json={"type": "return", "reason": "x", "lines": [{"sku": PADS["sku"], "quantity": 1}]})
            assert r.status_code == 403
        r = await c.post(f"/v1/orders/{h.id}/aftersales",
                         json={"type": "return", "reason": "不想要了", "lines": [{"sku": PADS["sku"], "quantity": 1}]})
        # the order's update decides: not shipped → the request becomes a cancellation (202)
        assert r.status_code == 202, r.text
        assert r.json()["kind"] == "cancellation" and r.json()["workflow_id"] == h.id
    result = await result_of(h)
    assert result.status == "cancelled"
    assert result.timeline[-1].event == "order.cancelled" and "售后转取消" in result.timeline[-1].reason
    assert any(e.event == "aftersales.cancellation" for e in result.timeline) and not result.aftersales


async def test_case_routes_list_get_and_qc(api, worker):  # noqa: F811 - the imported fixture
    url, client, tq, engine = api
    handle, inp = await open_case(worker, "return", qty=1)
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    async with http(url, "rev") as rev, http(url, "dev") as dev, http(url, "ro") as ro:
        listed = (await ro.get("/v1/aftersales", params={"order_id": inp.order.order_id})).json()
        assert listed["total"] == 1 and listed["items"][0]["case_id"] == inp.case_id
        assert listed["items"][0]["status_label"] == "待寄回" and listed["items"][0]["type_label"] == "退货退款"
        assert (await ro.get("/v1/aftersales", params={"status": "nonsense"})).status_code == 422
        got = (await ro.get(f"/v1/aftersales/{inp.case_id}")).json()
        assert got["source"] == "workflow" and got["return_waybill_no"] == st.return_waybill_no
        assert (await ro.get("/v1/aftersales/order-x~AS9")).status_code == 404

        r = await dev.post(f"/v1/aftersales/{inp.case_id}/qc", json={"passed": True, "inspector": "老李"})
        assert r.status_code == 409 and "not qc_pending" in r.json()["detail"]
        assert (await ro.post(f"/v1/aftersales/{inp.case_id}/qc", json={"passed": True, "inspector": "老李"})).status_code == 403

        for n, code in enumerate(("collected", "signed"), 1):
            await push(worker, inp.case_id, code, n)
        await until(handle, lambda s: s.status == CaseStatus.QC_PENDING)
        row(engine, inp.case_id, lambda r: r["status"] == "qc_pending")  # the list reads the read model
        pending = (await rev.get("/v1/aftersales", params={"status": "qc_pending", "order_id": inp.order.order_id})).json()
        assert [i["case_id"] for i in pending["items"]] == [inp.case_id] and pending["items"][0]["status_label"] == "待质检"

        r = await rev.post(f"/v1/aftersales/{inp.case_id}/qc", json={"passed": True, "inspector": "质检员老李", "note": "完好"})
        assert r.status_code == 200, r.text
        assert r.json()["qc"]["inspector"] == "质检员老李"
        final: AftersalesState = await handle.result()
        assert final.status == CaseStatus.COMPLETED
        r = await dev.post(f"/v1/aftersales/{inp.case_id}/qc", json={"passed": False, "inspector": "老李"})
        assert r.status_code == 409
        got = (await ro.get(f"/v1/aftersales/{inp.case_id}")).json()
        assert got["status"] == "completed" and got["status_label"] == "已完成"


async def test_console_page_qc_pass(api, worker, tmp_path, monkeypatch):  # noqa: F811 - the imported fixture
    """The console's 售后 page lists the 待质检 case and its ✅ button records the verdict."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    url, client, tq, engine = api
    handle, inp = await open_case(worker, "return", qty=1)
    await until(handle, lambda s: s.return_waybill_no is not None)
    await push(worker, inp.case_id, "signed", 1)
    await until(handle, lambda s: s.status == CaseStatus.QC_PENDING)
    row(engine, inp.case_id, lambda r: r["status"] == "qc_pending")  # the page lists the read model

    # a main script beside a link to the console's pages, registering the page as console/app.py will
    (tmp_path / "pages_").symlink_to(Path(__file__).resolve().parent.parent / "console" / "pages_")
    main = tmp_path / "main.py"
    main.write_text("import streamlit as st\n"
                    "st.navigation([st.Page('pages_/aftersales.py', url_path='aftersales'),"
                    " st.Page('pages_/timeline.py', url_path='timeline')]).run()\n")
    monkeypatch.setenv("ZHONGSHU_CONSOLE_API_URL", url)
    from tests.console_support import SESSION_KEY, console_session

    session = await asyncio.to_thread(console_session, url, "svc", "warehouse_lead", "质检员老李")

    def run_page() -> AppTest:
        at = AppTest.from_file(str(main), default_timeout=30)
        at.session_state[SESSION_KEY] = session  # signed in: the QC is recorded under this name
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    at = await asyncio.to_thread(run_page)
    assert any(inp.order.order_id in c.value and "ZTO" in c.value for c in at.caption), [c.value for c in at.caption]
    at.text_input(key=f"qcnote-{inp.case_id}").input("包装完好")
    at.button(key=f"pass-{inp.case_id}").click()
    at = await asyncio.to_thread(at.run)
    assert not at.exception, [e.value for e in at.exception]
    final = await handle.result()
    assert final.status == CaseStatus.COMPLETED and final.qc.note == "包装完好" and final.qc.inspector == "质检员老李"


async def test_a_parcel_brought_in_by_the_customer_is_received_by_hand(api, worker):  # noqa: F811 - the imported fixture
    url, *_ = api
    handle, inp = await open_case(worker, "return", qty=1)
    await until(handle, lambda s: s.status == CaseStatus.AWAITING_RETURN)
    async with http(url, "dev") as c:
        r = await c.post(f"/v1/aftersales/{inp.case_id}/received", json={"received_by": "仓库老王", "note": "客户自送"})
        assert r.status_code == 202, r.text
        st = await until(handle, lambda s: s.status == CaseStatus.QC_PENDING)
        assert "仓库老王" in next(e.reason for e in st.timeline if e.event == "qc.pending")
        # the return parcel the carrier would have collected is stopped: nobody waits for it any more
        for _ in range(100):
            view = await parcel(worker.client, inp.case_id)
            if view.status == "stopped":
                break
            await asyncio.sleep(0.05)
        assert view.status == "stopped"
        again = await c.post(f"/v1/aftersales/{inp.case_id}/received", json={"received_by": "仓库老王"})
        assert again.status_code == 409 and "not waiting for a parcel" in again.json()["detail"]
        r = await c.post(f"/v1/aftersales/{inp.case_id}/qc", json={"passed": True, "inspector": "质检小李"})
        assert r.status_code == 200
        assert (await c.post("/v1/aftersales/nonsense/received", json={"received_by": "x"})).status_code == 404
    assert (await handle.result()).status == CaseStatus.COMPLETED
