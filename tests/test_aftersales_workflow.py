"""The aftersales case ("Aftersales", ``workflows/aftersales.py``) on the time-skipping server, every
type end to end.

The case runs as the order starts it (workflow type ``AS.AFTERSALES``, id = case id, an
``AftersalesInput``); the worker is the real one (``workers.order_worker.build_worker``): the
``Order`` workflow for replacements, the ``Shipment`` workflow the return parcel travels as (id
``{case_id}~S1``, a child of the case), the project/refund activities on the SQLite read model,
``create_waybill`` against the fake carrier gateway (devtools/fakes/carriers.py) and ``notify_customer``
against the fake mini-program (devtools/fakes/miniprogram.py). Carrier tracking pushes are sent as the
carrier webhook route sends them: signal ``tracking_event`` to the workflow named by the waybill's
idempotency key — the return parcel.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.aftersales import (
    AftersalesInput,
    AftersalesRequest,
    AftersalesState,
    CaseStatus,
    QcVerdict,
    case_id_for,
    replacement_order_id,
)
from domain.cleansing import cleanse
from domain.contracts import aftersales as AS
from domain.contracts import order as C
from domain.contracts import shipment as SH
from domain.logistics import TrackingEvent
from domain.order import OrderSubmission
from domain.policy import OrderWorkflowInput
from domain.status import OrderStatus
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes.serve import serve_in_thread
from store import aftersales as store
from store import risk_data
from store.db import engine_for
from tests.support import order_payload, random_mobile
from tests.test_routing_workflow import start_time_skipping_env
from workers.order_worker import build_worker
from workflows.aftersales import AftersalesWorkflow
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.settings import Settings

S = CaseStatus
PADS = {"sku": "博世刹车片-BP001", "name": "博世刹车片(前)", "category": "刹车片", "quantity": 3, "unit_price": "268.00",
        "vehicle_model": "卡罗拉18款"}


@pytest.fixture(scope="module")
def fakes():
    carriers = serve_in_thread(fake_carriers.create_app())
    mini = serve_in_thread(fake_miniprogram.create_app())
    yield carriers.url, mini.url
    carriers.stop()
    mini.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def ts_env():
    """A time-skipping server per test. Reissue and exchange start the replacement order as an
    abandoned child that outlives its case; when it closes, the test server (telling the closed
    parent) keeps its time-skipping lock for good, and any later wait for a deadline on that server
    hangs — e.g. the return-deadline tests, when they run after those."""
    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@dataclass
class Hub:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    engine: Engine
    carriers_url: str
    mini_url: str


@pytest_asyncio.fixture(loop_scope="session")
async def worker(ts_env, sqlite_session_url, fakes, fake_wecom):
    carriers_url, mini_url = fakes
    engine = engine_for(sqlite_session_url)
    risk_data.seed_defaults(engine)
    tq = f"as-{uuid.uuid4().hex[:8]}"
    settings = Settings(carrier_url=carriers_url, carrier_app_key=fake_carriers.APP_KEY,
                        carrier_app_secret=fake_carriers.SECRET, miniprogram_url=mini_url, settlement_url="",
                        public_base_url="http://127.0.0.1:9", api_key="test-secret", wecom_webhook_url=fake_wecom.webhook_url)
    async with build_worker(ts_env.client, tq, engine, wecom_webhook_url=fake_wecom.webhook_url, max_threads=8,
                            settings=settings):
        yield Hub(ts_env, ts_env.client, tq, engine, carriers_url, mini_url)


def original_order(**overrides):
    payload = order_payload(
        channel="tmall", channel_order_id=f"TB{uuid.uuid4().hex[:12].upper()}",
        customer={"id": f"SHOP-AS-{uuid.uuid4().hex[:8]}", "name": "王建国", "phone": random_mobile()},
        lines=[PADS], coupon={"code": "DOUBLE12", "amount": "4.00"}, freight="10.00", paid_amount="810.00",
    )
    payload.update(overrides)
    result = cleanse(OrderSubmission.model_validate(payload))
    assert result.ok, result.errors
    return result.order


async def open_case(hub: Hub, kind: str, qty: int = 1, *, deadline_days: int = 7) -> tuple[WorkflowHandle, AftersalesInput]:
    """Start the case the way the order's ``request_aftersales`` does (``workflows.aftersales.open_case``)."""
    order = original_order()
    inp = AftersalesInput(
        case_id=case_id_for(order.order_id, 1), order=order,
        request=AftersalesRequest(type=kind, lines=[{"sku": PADS["sku"], "quantity": qty}], reason="刹车片异响",
                                  requested_by="客服小王"),
        warehouse="HZ-CLOUD", carrier="ZTO", return_deadline_days=deadline_days,
    )
    handle = await hub.client.start_workflow(AS.AFTERSALES.name, inp, id=inp.case_id, task_queue=hub.task_queue,
                                             result_type=AS.AFTERSALES.result)
    return handle, inp


async def case_state(handle: WorkflowHandle) -> AftersalesState:
    return await handle.query(AS.STATE.name, result_type=AS.STATE.result)


async def until(handle: WorkflowHandle, pred, timeout: float = 20) -> AftersalesState:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        st = await case_state(handle)
        if pred(st):
            return st
        if loop.time() > end:
            raise AssertionError(f"case never matched; status {st.status}, events {[e.event for e in st.timeline]}")
        await asyncio.sleep(0.05)


def parcel_id(case_id: str) -> str:
    """The return parcel's workflow id, also its waybill's idempotency key at the carrier."""
    return SH.shipment_id(case_id, 1)


async def parcel(client: Client, case_id: str) -> SH.ShipmentView:
    return await client.get_workflow_handle(parcel_id(case_id)).query(SH.STATE.name, result_type=SH.STATE.result)


async def push(hub: Hub, case_id: str, code: str, n: int, location: str = "杭州萧山") -> TrackingEvent:
    """The carrier's push ``n`` for the return parcel, signalled as the webhook route does (to the
    workflow its ``order_id`` names: the parcel). The same ``n`` is the same event id (a re-send)."""
    view = await parcel(hub.client, case_id)
    assert view.shipment is not None, f"{view.shipment_id} has no waybill yet"
    wb = view.shipment.waybill
    at = await hub.env.get_current_time() + timedelta(seconds=n)  # server time: never depends on today's date
    ev = TrackingEvent(event_id=f"{view.shipment_id}-{n}", carrier=wb.carrier, waybill_no=wb.waybill_no,
                       order_id=view.shipment_id, code=code, at=at, location=location)
    await hub.client.get_workflow_handle(view.shipment_id).signal(SH.TRACKING_EVENT.name, ev)
    return ev


async def back_at_warehouse(hub: Hub, handle: WorkflowHandle) -> AftersalesState:
    """Waybill made, then the carrier's pushes: collected, in transit, signed at our warehouse."""
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    assert st.status == S.AWAITING_RETURN
    await push(hub, st.case_id, "collected", 1, "杭州西湖")
    st = await until(handle, lambda s: s.status == S.RETURN_IN_TRANSIT)
    await push(hub, st.case_id, "collected", 1, "杭州西湖")  # re-sent: ignored
    await push(hub, st.case_id, "in_transit", 2)
    await push(hub, st.case_id, "signed", 3)
    return await until(handle, lambda s: s.status == S.QC_PENDING)


async def qc(handle: WorkflowHandle, verdict: QcVerdict) -> AftersalesState:
    return await handle.execute_update(AS.QC_RESULT.name, verdict, result_type=AS.QC_RESULT.result)


def row(engine, case_id: str, pred=lambda r: True, timeout: float = 10) -> dict:
    """The case's read-model row once it matches ``pred`` (the projection follows the workflow's step)."""
    import time

    end = time.monotonic() + timeout
    while True:
        found = store.get_case(engine, case_id)
        if found is not None and pred(found):
            return found
        if time.monotonic() > end:
            raise AssertionError(f"read model row of {case_id} never matched: {found}")
        time.sleep(0.05)


async def closed_result(handle: WorkflowHandle) -> Any:
    """The workflow's result once it has closed. Long-polling result() while the replacement order's
    own timers make the time-skipping server jump can come back without the close event."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        assert loop.time() < end, f"{handle.id} never closed"
        await asyncio.sleep(0.05)
    return await handle.result()


async def finish_replacement(client: Client, order_id: str) -> tuple[C.OrderView, OrderWorkflowInput]:
    """The replacement is an ordinary ``Order`` (no dedupe, no risk hold: it reaches routing); end it.
    Returns its view and the input the case started it with."""
    handle = client.get_workflow_handle(order_id, result_type=C.ORDER.result)
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while True:
        try:
            v = await handle.query(C.STATE.name, result_type=C.OrderView)
        except RPCError:  # not started yet
            v = None
        if v is not None and (v.status in (OrderStatus.HELD, OrderStatus.ROUTED) or v.status.terminal):
            break
        assert loop.time() < end, f"replacement stuck in {v.status if v else 'not started'}"
        await asyncio.sleep(0.05)
    if v.status in (OrderStatus.HELD, OrderStatus.ROUTED):  # routed: it would wait out its release window
        await handle.signal(C.CANCEL.name, C.CancelRequest(reason="test over", actor="test"))
    await closed_result(handle)
    view = await handle.query(C.STATE.name, result_type=C.OrderView)
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [inp] = await client.data_converter.decode(started.input.payloads, [OrderWorkflowInput])
    return view, inp


# ---------------------------------------------------------------- return


async def test_return_tracking_qc_pass_refund(worker):
    hub = worker
    handle, inp = await open_case(hub, "return", qty=2)
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    # the return parcel is a Shipment child of the case; the fake carrier made its waybill keyed by
    # the parcel's id: customer → our warehouse
    sid = parcel_id(inp.case_id)
    desc = await hub.client.get_workflow_handle(sid).describe()
    assert desc.workflow_type == SH.SHIPMENT.name and desc.parent_id == inp.case_id
    wbs = httpx.get(f"{hub.carriers_url}/control/waybills", params={"order_id": sid}).json()["items"]
    assert len(wbs) == 1 and wbs[0]["waybill_no"] == st.return_waybill_no and st.return_carrier == "ZTO"
    view = await parcel(hub.client, inp.case_id)
    assert view.direction == "return" and view.owner_id == inp.case_id
    assert row(hub.engine, inp.case_id)["status"] == "awaiting_return"

    # QC before the parcel is back: refused with the reason
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await qc(handle, QcVerdict(passed=True, inspector="质检员老李"))
    assert "not qc_pending" in e.value.cause.message and "待质检" in e.value.cause.message

    st = await back_at_warehouse(hub, handle)
    assert [e.event for e in st.timeline if e.event.startswith("return.")] == ["return.waybill_created", "return.collected"]
    assert st.timeline[-1].event == "qc.pending" and "签收" in st.timeline[-1].reason
    # the parcel kept each push once (the re-sent "collected" changed nothing) and ended signed for
    view = await parcel(hub.client, inp.case_id)
    assert [ev.code for ev in view.shipment.events] == ["collected", "in_transit", "signed"]
    assert [e.data["code"] for e in view.timeline if e.event == "tracking.event"] == ["collected", "in_transit", "signed"]
    assert view.status == SH.ShipmentStatus.DELIVERED
    r = row(hub.engine, inp.case_id, lambda r: r["status"] == "qc_pending")
    assert r["return_waybill_no"] == st.return_waybill_no

    done = await qc(handle, QcVerdict(passed=True, inspector="质检员老李", note="包装完好"))
    assert done.status != S.QC_PENDING
    with pytest.raises(WorkflowUpdateFailedError) as e:  # a second verdict
        await qc(handle, QcVerdict(passed=False, inspector="别人"))
    assert "already checked" in e.value.cause.message
    final = await handle.result()
    # 3 pads at 268 less the 4.00 coupon = 800.00 → 266.67/266.67/266.66 per unit (largest
    # remainder); 2 of them, no freight (it comes back with the last unit)
    assert final.status == S.COMPLETED and final.refund_amount == Decimal("533.34")
    assert final.qc.passed and final.qc.inspector == "质检员老李"
    refund = store.get_refund(hub.engine, inp.case_id)
    assert refund["amount_fen"] == 53334 and refund["refund_no"] == final.refund_no
    r = row(hub.engine, inp.case_id, lambda r: r["status"] == "completed")
    assert r["refund_amount"] == Decimal("533.34") and r["qc_passed"] is True
    notices = httpx.get(f"{hub.mini_url}/_control/notices", params={"order_id": inp.order.order_id}).json()["items"]
    assert any("533.34" in n["text"] for n in notices)
    # its history replays against the current code (checked here, not by a later test that may run first)
    await Replayer(workflows=[AftersalesWorkflow], data_converter=encrypted_data_converter("")).replay_workflow(
        await handle.fetch_history())


async def test_return_qc_failed_tells_customer(worker):
    hub = worker
    handle, inp = await open_case(hub, "return")
    await back_at_warehouse(hub, handle)
    await qc(handle, QcVerdict(passed=False, inspector="质检员老李", note="刹车片已装车使用,有磨损"))
    final = await handle.result()
    assert final.status == S.REJECTED and final.refund_amount is None
    assert store.get_refund(hub.engine, inp.case_id) is None
    assert row(hub.engine, inp.case_id, lambda r: r["status"] == "rejected")["qc_passed"] is False
    notices = httpx.get(f"{hub.mini_url}/_control/notices", params={"order_id": inp.order.order_id}).json()["items"]
    assert len(notices) == 1 and "未通过质检" in notices[0]["title"] and "有磨损" in notices[0]["text"]


async def test_no_return_parcel_within_deadline_closes_case(worker):
    hub = worker
    handle, inp = await open_case(hub, "return", deadline_days=3)
    final = await handle.result()  # the time-skipping server passes the 3 days at once
    assert final.status == S.CANCELLED
    closed = final.timeline[-1]
    assert closed.event == "case.closed" and "3天内未寄回" in closed.reason
    assert (closed.at - final.created_at) >= timedelta(days=3)
    assert row(hub.engine, inp.case_id, lambda r: r["status"] != "awaiting_return")["status"] == "cancelled"
    parcel_result = await hub.client.get_workflow_handle(parcel_id(inp.case_id), result_type=SH.SHIPMENT.result).result()
    assert parcel_result.status == SH.ShipmentStatus.NOT_COLLECTED


async def test_parcel_in_transit_is_not_closed_by_the_deadline(worker):
    """The deadline is for handing the parcel over; once collected the case waits for it."""
    hub = worker
    handle, inp = await open_case(hub, "return", deadline_days=1)
    await until(handle, lambda s: s.return_waybill_no is not None)
    await push(hub, inp.case_id, "collected", 1)
    await until(handle, lambda s: s.status == S.RETURN_IN_TRANSIT)
    await asyncio.wait_for(hub.env.sleep(timedelta(days=3)), 30)  # time skips while sleeping
    st = await case_state(handle)
    assert st.status == S.RETURN_IN_TRANSIT
    await push(hub, inp.case_id, "returned_to_sender", 2)
    final = await handle.result()
    assert final.status == S.CANCELLED and "退回寄件人" in final.timeline[-1].reason


# ---------------------------------------------------------------- exchange, reissue, refund only


async def test_exchange_starts_replacement_order_after_qc(worker):
    hub = worker
    handle, inp = await open_case(hub, "exchange", qty=1)
    await back_at_warehouse(hub, handle)
    await qc(handle, QcVerdict(passed=True, inspector="质检员老李"))
    final = await closed_result(handle)
    rid = replacement_order_id(inp.order, inp.case_id)
    assert final.status == S.COMPLETED and final.replacement_order_id == rid and final.refund_amount is None
    assert [e.event for e in final.timeline][-2:] == ["replacement.started", "case.completed"]
    assert row(hub.engine, inp.case_id, lambda r: r["status"] == "completed")["replacement_order_id"] == rid
    rep, started = await finish_replacement(hub.client, rid)
    assert rep.paid_amount == 0 and started.submission.paid_amount == 0
    assert rep.lines[0].sku == PADS["sku"] and rep.lines[0].quantity == 1
    assert inp.order.order_id in started.submission.note
    assert rep.timeline[0].event == "order.received" and rep.timeline[0].actor == "aftersales"
    assert rep.replacement_of == inp.order.order_id and started.aftersales_id == inp.case_id
    desc = await hub.client.get_workflow_handle(rid).describe()
    assert desc.workflow_type == C.ORDER.name
    assert desc.parent_id == inp.case_id  # a child of the case, which is a child of the order


async def test_reissue_starts_replacement_at_once(worker):
    hub = worker
    handle, inp = await open_case(hub, "reissue", qty=3)
    final = await closed_result(handle)
    assert final.status == S.COMPLETED and final.return_waybill_no is None
    with pytest.raises(RPCError):  # nothing comes back: no return parcel
        await hub.client.get_workflow_handle(parcel_id(inp.case_id)).describe()
    rep, started = await finish_replacement(hub.client, final.replacement_order_id)
    assert rep.lines[0].quantity == 3 and "补发" in started.submission.note
    events = [e.event for e in rep.timeline]
    assert "risk.skipped" in events and "order.routed" in events and "duplicate.merged_into" not in events
    assert rep.replacement_of == inp.order.order_id


async def test_refund_only(worker):
    hub = worker
    handle, inp = await open_case(hub, "refund_only", qty=3)
    final = await handle.result()
    # the whole order: exactly what was paid, freight included
    assert final.status == S.COMPLETED and final.refund_amount == Decimal("810.00")
    assert [e.event for e in final.timeline] == ["case.opened", "refund.recorded", "case.completed"]
    # a retried refund writes nothing new and answers the first record
    again, created = store.record_refund(hub.engine, case_id=inp.case_id, order_id=inp.order.order_id, channel="tmall",
                                         amount_fen=1, lines=[], reason="retry", refunded_at=final.updated_at)
    assert not created and again["amount_fen"] == 81000
