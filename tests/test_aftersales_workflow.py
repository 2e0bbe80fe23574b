"""AftersalesWorkflow on the time-skipping server, every type end to end.

The case runs as the order would start it (workflow id = case id, ``AftersalesInput``); the worker
is real: our OrderWorkflow for replacements, the project/refund activities on the SQLite read
model, ``create_waybill`` against the fake carrier gateway (fakes/carriers.py) and
``notify_customer`` against the fake mini-program (fakes/miniprogram.py). Carrier tracking pushes
are sent as the carrier webhook route would send them: signal ``tracking_event`` to the case.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities.aftersales import AftersalesActivities
from activities.channels import ChannelActivities
from activities.confirmation import ConfirmationActivities
from activities.logistics import LogisticsActivities
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
from domain.logistics import TrackingEvent
from domain.order import OrderSubmission
from domain.state import OrderState
from domain.status import OrderStatus
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes.serve import serve_in_thread
from store import aftersales as store
from store import risk_data
from store.db import engine_for
from tests.support import order_payload, random_mobile
from tests.test_routing_workflow import start_time_skipping_env
from workers.order_worker import WORKFLOWS, activities_for
from zhongshu.settings import Settings
from workflows.aftersales import AftersalesWorkflow
from workflows.order import CancelRequest, OrderWorkflow

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


def _name(fn) -> str:
    return fn.__temporal_activity_definition.name


@pytest_asyncio.fixture(loop_scope="session")
async def worker(ts_env, sqlite_session_url, fakes, fake_wecom):
    carriers_url, mini_url = fakes
    engine = engine_for(sqlite_session_url)
    risk_data.seed_defaults(engine)
    tq = f"as-{uuid.uuid4().hex[:8]}"
    settings = Settings(carrier_url=carriers_url, carrier_app_key=fake_carriers.APP_KEY,
                        carrier_app_secret=fake_carriers.SECRET, miniprogram_url=mini_url,
                        public_base_url="http://127.0.0.1:9", api_key="test-secret")
    acts = [*activities_for(engine, fake_wecom.webhook_url, settlement_url="", settings=settings),
            *ChannelActivities(engine, task_queue=tq).all()]
    workflows = WORKFLOWS
    async with Worker(ts_env.client, task_queue=tq, workflows=workflows, activities=acts,
                      activity_executor=ThreadPoolExecutor(max_workers=8)):
        yield ts_env.client, tq, engine, carriers_url, mini_url


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


async def open_case(worker, kind: str, qty: int = 1, *, deadline_days: int = 7) -> tuple[WorkflowHandle, AftersalesInput]:
    client, tq, *_ = worker
    order = original_order()
    inp = AftersalesInput(
        case_id=case_id_for(order.order_id, 1), order=order,
        request=AftersalesRequest(type=kind, lines=[{"sku": PADS["sku"], "quantity": qty}], reason="刹车片异响",
                                  requested_by="客服小王"),
        warehouse="HZ-CLOUD", carrier="ZTO", return_deadline_days=deadline_days,
    )
    handle = await client.start_workflow(AftersalesWorkflow.run, inp, id=inp.case_id, task_queue=tq)
    return handle, inp


async def until(handle: WorkflowHandle, pred, timeout: float = 20) -> AftersalesState:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        st = await handle.query(AftersalesWorkflow.get_state)
        if pred(st):
            return st
        if loop.time() > end:
            raise AssertionError(f"case never matched; status {st.status}, events {[e.event for e in st.timeline]}")
        await asyncio.sleep(0.05)


def push(st: AftersalesState, code: str, n: int, location: str = "杭州萧山") -> TrackingEvent:
    return TrackingEvent(event_id=f"{st.case_id}-{n}", carrier=st.return_carrier, waybill_no=st.return_waybill_no,
                         order_id=st.case_id, code=code, at="2026-12-01T10:00:00+08:00", location=location)


async def back_at_warehouse(handle: WorkflowHandle) -> AftersalesState:
    """Waybill made, then the carrier's pushes: collected, in transit, signed at our warehouse."""
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    assert st.status == S.AWAITING_RETURN
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "collected", 1, "杭州西湖"))
    st = await until(handle, lambda s: s.status == S.RETURN_IN_TRANSIT)
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "collected", 1, "杭州西湖"))  # re-sent: ignored
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "in_transit", 2))
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "signed", 3))
    return await until(handle, lambda s: s.status == S.QC_PENDING)


def row(engine, case_id: str) -> dict:
    found = store.get_case(engine, case_id)
    assert found is not None
    return found


async def closed_result(handle: WorkflowHandle):
    """The case's result once it has closed. Long-polling result() while the replacement order's own
    timers make the time-skipping server jump can come back without the close event."""
    from temporalio.client import WorkflowExecutionStatus

    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        assert loop.time() < end, "case never closed"
        await asyncio.sleep(0.05)
    return await handle.result()


async def finish_replacement(client, order_id: str) -> OrderState:
    """The replacement is an ordinary order (no dedupe, no risk hold: it reaches routing); end it."""
    handle = client.get_workflow_handle(order_id, result_type=OrderState)
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while True:
        st = await handle.query(OrderWorkflow.get_state)
        if st.status in (OrderStatus.HELD, OrderStatus.ROUTED) or st.status.terminal:
            break
        assert loop.time() < end, f"replacement stuck in {st.status}"
        await asyncio.sleep(0.05)
    if st.status in (OrderStatus.HELD, OrderStatus.ROUTED):  # routed: it would wait out its release window
        await handle.signal(OrderWorkflow.cancel, CancelRequest(reason="test over", actor="test"))
    return await closed_result(handle)


# ---------------------------------------------------------------- return


async def test_return_tracking_qc_pass_refund(worker):
    client, tq, engine, carriers_url, mini_url = worker
    handle, inp = await open_case(worker, "return", qty=2)
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    # the fake carrier made a return waybill keyed by the case id: customer → our warehouse
    wbs = httpx.get(f"{carriers_url}/control/waybills", params={"order_id": inp.case_id}).json()["items"]
    assert len(wbs) == 1 and wbs[0]["waybill_no"] == st.return_waybill_no and st.return_carrier == "ZTO"
    assert row(engine, inp.case_id)["status"] == "awaiting_return"

    # QC before the parcel is back: refused with the reason
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await handle.execute_update(AftersalesWorkflow.qc_result, QcVerdict(passed=True, inspector="质检员老李"))
    assert "not qc_pending" in e.value.cause.message and "待质检" in e.value.cause.message

    st = await back_at_warehouse(handle)
    assert [e.event for e in st.timeline if e.event.startswith("return.")] == [
        "return.waybill_created", "return.collected", "return.in_transit", "return.signed"]
    r = row(engine, inp.case_id)
    assert r["status"] == "qc_pending" and r["return_waybill_no"] == st.return_waybill_no

    done = await handle.execute_update(AftersalesWorkflow.qc_result,
                                       QcVerdict(passed=True, inspector="质检员老李", note="包装完好"))
    assert done.status != S.QC_PENDING
    with pytest.raises(WorkflowUpdateFailedError) as e:  # a second verdict
        await handle.execute_update(AftersalesWorkflow.qc_result, QcVerdict(passed=False, inspector="别人"))
    assert "already checked" in e.value.cause.message
    final = await handle.result()
    # 3 pads at 268 less the 4.00 coupon = 800.00 → 266.67/266.67/266.66 per unit (largest
    # remainder); 2 of them, no freight (it comes back with the last unit)
    assert final.status == S.COMPLETED and final.refund_amount == Decimal("533.34")
    assert final.qc.passed and final.qc.inspector == "质检员老李"
    refund = store.get_refund(engine, inp.case_id)
    assert refund["amount_fen"] == 53334 and refund["refund_no"] == final.refund_no
    r = row(engine, inp.case_id)
    assert r["status"] == "completed" and r["refund_amount"] == Decimal("533.34") and r["qc_passed"] is True
    notices = httpx.get(f"{mini_url}/_control/notices", params={"order_id": inp.order.order_id}).json()["items"]
    assert any("533.34" in n["text"] for n in notices)
    # its history replays against the current code (checked here, not by a later test that may run first)
    await Replayer(workflows=[AftersalesWorkflow], data_converter=pydantic_data_converter).replay_workflow(
        await handle.fetch_history())


async def test_return_qc_failed_tells_customer(worker):
    client, tq, engine, _, mini_url = worker
    handle, inp = await open_case(worker, "return")
    await back_at_warehouse(handle)
    await handle.execute_update(AftersalesWorkflow.qc_result,
                                QcVerdict(passed=False, inspector="质检员老李", note="刹车片已装车使用,有磨损"))
    final = await handle.result()
    assert final.status == S.REJECTED and final.refund_amount is None
    assert store.get_refund(engine, inp.case_id) is None
    assert row(engine, inp.case_id)["qc_passed"] is False
    notices = httpx.get(f"{mini_url}/_control/notices", params={"order_id": inp.order.order_id}).json()["items"]
    assert len(notices) == 1 and "未通过质检" in notices[0]["title"] and "有磨损" in notices[0]["text"]


async def test_no_return_parcel_within_deadline_closes_case(worker):
    _, _, engine, _, _ = worker
    handle, inp = await open_case(worker, "return", deadline_days=3)
    final = await handle.result()  # the time-skipping server passes the 3 days at once
    assert final.status == S.CANCELLED
    closed = final.timeline[-1]
    assert closed.event == "case.closed" and "3天内未寄回" in closed.reason
    assert (closed.at - final.created_at) >= timedelta(days=3)
    assert row(engine, inp.case_id)["status"] == "cancelled"


async def test_parcel_in_transit_is_not_closed_by_the_deadline(worker, ts_env):
    """The deadline is for handing the parcel over; once collected the case waits for it."""
    client, *_ = worker
    handle, inp = await open_case(worker, "return", deadline_days=1)
    st = await until(handle, lambda s: s.return_waybill_no is not None)
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "collected", 1))
    await until(handle, lambda s: s.status == S.RETURN_IN_TRANSIT)
    await asyncio.wait_for(ts_env.sleep(timedelta(days=3)), 30)  # time skips while sleeping
    st = await handle.query(AftersalesWorkflow.get_state)
    assert st.status == S.RETURN_IN_TRANSIT
    await handle.signal(AftersalesWorkflow.tracking_event, push(st, "returned_to_sender", 2))
    final = await handle.result()
    assert final.status == S.CANCELLED and "退回寄件人" in final.timeline[-1].reason


# ---------------------------------------------------------------- exchange, reissue, refund only


async def test_exchange_starts_replacement_order_after_qc(worker):
    client, tq, engine, *_ = worker
    handle, inp = await open_case(worker, "exchange", qty=1)
    await back_at_warehouse(handle)
    await handle.execute_update(AftersalesWorkflow.qc_result, QcVerdict(passed=True, inspector="质检员老李"))
    final = await closed_result(handle)
    rid = replacement_order_id(inp.order, inp.case_id)
    assert final.status == S.COMPLETED and final.replacement_order_id == rid and final.refund_amount is None
    assert [e.event for e in final.timeline][-2:] == ["replacement.started", "case.completed"]
    assert row(engine, inp.case_id)["replacement_order_id"] == rid
    rep = await finish_replacement(client, rid)
    assert rep.submission.paid_amount == 0 and rep.submission.lines[0].sku == PADS["sku"]
    assert rep.submission.lines[0].quantity == 1 and inp.order.order_id in rep.submission.note
    assert rep.timeline[0].actor == "aftersales"
    desc = await client.get_workflow_handle(rid).describe()
    assert desc.parent_id == inp.case_id  # a child of the case, which is a child of the order


async def test_reissue_starts_replacement_at_once(worker):
    client, *_ = worker
    handle, inp = await open_case(worker, "reissue", qty=3)
    final = await closed_result(handle)
    assert final.status == S.COMPLETED and final.return_waybill_no is None
    rep = await finish_replacement(client, final.replacement_order_id)
    assert rep.submission.lines[0].quantity == 3 and "补发" in rep.submission.note
    events = [e.event for e in rep.timeline]
    assert "risk.skipped" in events and "order.routed" in events and "duplicate.merged_into" not in events
    assert rep.replacement_of == inp.order.order_id


async def test_refund_only(worker):
    _, _, engine, *_ = worker
    handle, inp = await open_case(worker, "refund_only", qty=3)
    final = await handle.result()
    # the whole order: exactly what was paid, freight included
    assert final.status == S.COMPLETED and final.refund_amount == Decimal("810.00")
    assert [e.event for e in final.timeline] == ["case.opened", "refund.recorded", "case.completed"]
    # a retried refund writes nothing new and answers the first record
    again, created = store.record_refund(engine, case_id=inp.case_id, order_id=inp.order.order_id, channel="tmall",
                                         amount_fen=1, lines=[], reason="retry", refunded_at=final.updated_at)
    assert not created and again["amount_fen"] == 81000

