"""OrderWorkflow after release (workflows/fulfilment.py) on the time-skipping server: supplier stock,
the warehouse wave, the customer's address re-confirmation, the e-waybill, installation, tracking,
the in-transit alert and the aftersales window — days of timers in milliseconds.

Everything partner-side is the shipped fake over real HTTP (carriers, mini-program, technician app,
supplier, WeCom); the waves are the real WaveWorkflow. Carrier pushes are sent as the webhook route
would send them: signal ``tracking_event`` to the order.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker

from activities import warehouse as wh
from domain import geo
from domain.aftersales import AftersalesRequest, CaseStatus, QcVerdict
from domain.confirmation import AddressChange, AddressConfirmation
from domain.logistics import TrackingEvent
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.review import Decision, ReviewDecision
from domain.state import OrderState
from domain.status import OrderStatus
from domain.warehouse import PickConfirmation, TaskClaim, TaskKind, WavePolicy
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes import supplier as fake_supplier
from fakes import technician as fake_technician
from fakes.serve import serve_in_thread
from store import risk_data
from store.db import engine_for, migrate
from tests.support import order_payload
from tests.workflow_helpers import keep_history, replay_fails, start_order, until
from workers.order_worker import build_worker
from workflows.aftersales import AftersalesWorkflow
from workflows.order import CancelRequest, OrderWorkflow
from workflows.wave import WaveWorkflow
from zhongshu.settings import Settings

S = OrderStatus
POLICY = OrderPolicy(fulfilment=FulfilmentPolicy())  # the defaults: 12 h window, 2 h grace, 24 h transit, 15 days
SKU = "BOSCH-BP-COROLLA18"
OWN_SKU = "MOBIL1-5W30-4L"
KIT = "KIT-BRAKE_PADS"
WAREHOUSES = ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD")


# ---------------------------------------------------------------- fixtures


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_env():
    """Its own time-skipping server: the wave workflows run for ever (continue-as-new)."""
    from tests.test_routing_workflow import start_time_skipping_env

    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def fakes():
    servers = {name: serve_in_thread(mod.create_app()) for name, mod in (
        ("carriers", fake_carriers), ("mini", fake_miniprogram), ("technician", fake_technician),
        ("supplier", fake_supplier))}
    yield {name: srv.url for name, srv in servers.items()}
    for srv in servers.values():
        srv.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine(tmp_path_factory):
    """The module's own read model (see tests/test_order_warehouse.py: wave and task ids repeat across
    servers, and stock moves are idempotent per task id)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fulfilment') / 'zhongshu.db'}"
    migrate(url)
    eng = engine_for(url)
    risk_data.seed_defaults(eng)
    for w in WAREHOUSES:
        for sku in (SKU, OWN_SKU, KIT):
            wh.import_stock(eng, [dict(warehouse=w, bin="A-03-12" if sku == SKU else "B-01-02", sku=sku, name=sku,
                                       quantity=500, barcode="6901234567890")], replace=False)
    return eng


@pytest.fixture(scope="module")
def task_queue() -> str:
    return f"orders-fulfil-{uuid.uuid4().hex[:8]}"


@workflow.defn(name="FulfilmentTestClockAnchor", sandboxed=False)
class ClockAnchor:
    """A timer every 6 hours, so the test server never skips far past what a test asked for: with no
    timer left it jumps to the next deadline there is — the wave workflows' 10-year run timeout (the
    test server's default), which ends them while an order is still on its way in."""

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.sleep(timedelta(hours=6))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clock_anchor(own_env):
    tq = f"anchor-{uuid.uuid4().hex[:8]}"
    async with Worker(own_env.client, task_queue=tq, workflows=[ClockAnchor]):
        h = await own_env.client.start_workflow(ClockAnchor.run, id=f"anchor-{tq}", task_queue=tq)
        yield
        await h.cancel()
        with pytest.raises(WorkflowFailureError):
            await h.result()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker(own_env, clock_anchor, task_queue, engine, fakes, fake_wecom):
    settings = Settings(
        carrier_url=fakes["carriers"], carrier_app_key=fake_carriers.APP_KEY, carrier_app_secret=fake_carriers.SECRET,
        miniprogram_url=fakes["mini"], technician_url=fakes["technician"], supplier_url=fakes["supplier"],
        public_base_url="http://127.0.0.1:9", api_key="test-fulfilment-key", wecom_webhook_url=fake_wecom.webhook_url,
    )
    async with build_worker(own_env.client, task_queue, engine, wecom_webhook_url=fake_wecom.webhook_url,
                            wave_policy=WavePolicy(size=1, auto_pack=True, cutoffs=[]), settings=settings):
        yield own_env


# ---------------------------------------------------------------- helpers


def payload(*lines: dict, address: str | None = None) -> dict:
    p = order_payload()
    if lines:
        p["lines"] = list(lines)
        p["paid_amount"] = str(sum(float(ln["unit_price"]) * ln["quantity"] for ln in lines)) + "0"
    if address:
        p["address"] = {"raw": address}
    return p


def line(sku: str = SKU, qty: int = 2, price: str = "268.00", **extra) -> dict:
    return {"sku": sku, "name": "博世刹车片(前)" if sku.startswith("BOSCH") else "美孚1号机油", "category":
            "刹车片" if sku.startswith("BOSCH") else "机油", "quantity": qty, "unit_price": price,
            "vehicle_model": "卡罗拉18款", **extra}


async def wave_update(wave: WorkflowHandle, update, arg):
    """A scanner's call; the test server now and then loses an update ("update … not found") under
    load, and a scanner simply sends it again (claiming is idempotent per device)."""
    for attempt in range(40):
        try:
            return await wave.execute_update(update, arg)
        except RPCError:
            if attempt == 39:
                raise
            await asyncio.sleep(0.25)


async def pick(env, warehouse: str, order_id: str, *, wait: bool = True) -> list[str]:
    """A scanner working through every open task of the warehouse's wave; answers the SKUs of the pick
    tasks for ``order_id``. The wave lives on from test to test (one per warehouse on this module's
    server), so it may also hold what earlier tests left — e.g. the put-away of a cancelled order's
    goods, which the wave offers first: those are done too, as on the floor, but are not this order's
    picks. With ``wait``, first waits (a few seconds at most) for the wave to plan the order's tasks."""
    wave = env.client.get_workflow_handle(f"wave-{warehouse}")
    claim = TaskClaim(device_id="MC33-F", picker="小张")
    skus: list[str] = []
    mine = not wait
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        t = await wave_update(wave, WaveWorkflow.claim_task, claim)
        if t is None:
            if mine or asyncio.get_running_loop().time() > deadline:
                return skus
            await asyncio.sleep(0.25)
            continue
        if t.kind == TaskKind.PICK and any(a.order_id == order_id for a in t.allocations):
            skus.append(t.sku)
            mine = True
        try:
            await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(
                task_id=t.task_id, picked_qty=t.quantity, picker="小张", device_id="MC33-F"))
        except WorkflowUpdateFailedError:  # a resent confirmation of a pick the wave already has
            pass


def near(st: OrderState, km_north: float = 0.0) -> AddressConfirmation:
    """A delivery point at the district centroid, ``km_north`` further north (1° latitude ≈ 111 km)."""
    c = geo.centroid(st.order.address.adcode)
    assert c is not None
    return AddressConfirmation(lat=c.lat + km_north / 111.0, lng=c.lng, round=st.confirm_round)


def cards(fakes, order_id: str) -> list[dict]:
    return httpx.get(f"{fakes['mini']}/_control/cards", params={"order_id": order_id}).json()["items"]


def notices(fakes, order_id: str) -> list[dict]:
    return httpx.get(f"{fakes['mini']}/_control/notices", params={"order_id": order_id}).json()["items"]


def events(st: OrderState) -> list[str]:
    return [e.event for e in st.timeline]


async def packed_and_waiting(env, h: WorkflowHandle) -> OrderState:
    st = await until(h, lambda s: s.status == S.PICKING)
    await pick(env, st.warehouse, h.id)
    return await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))


async def confirm(h: WorkflowHandle, st: OrderState):
    return await h.execute_update(OrderWorkflow.confirm_address, near(st))


async def track(env, h: WorkflowHandle, code: str, *, after_hours: float = 0) -> OrderState:
    """The carrier's push ``after_hours`` of (skipped) time from now."""
    if after_hours:
        await env.sleep(timedelta(hours=after_hours))
    st = await until(h, lambda s: s.shipment is not None)
    wb = st.shipment.waybill
    n = len(st.shipment.events) + 1
    ev = TrackingEvent(event_id=f"{wb.waybill_no}-{n:03d}-{code}", carrier=wb.carrier, waybill_no=wb.waybill_no,
                       order_id=st.order_id, code=code, at=await env.get_current_time(), location="杭州萧山")
    await h.signal("tracking_event", ev)
    return await until(h, lambda s: any(e.event_id == ev.event_id for e in s.shipment.events))


async def ship(env, h: WorkflowHandle) -> OrderState:
    return await until(h, lambda s: s.status == S.SHIPPED)


async def deliver_and_finish(env, h: WorkflowHandle) -> OrderState:
    await track(env, h, "signed", after_hours=1)
    await until(h, lambda s: s.status == S.DELIVERED)
    result = await h.result()  # skips the aftersales window
    assert result.status == S.COMPLETED
    return result


async def case_until(case: WorkflowHandle, pred, timeout: float = 20):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred(cs := await case.query(AftersalesWorkflow.get_state)):
        if loop.time() > end:
            raise AssertionError(f"case never matched; status {cs.status}, events {[e.event for e in cs.timeline]}")
        await asyncio.sleep(0.05)
    return cs


async def decide(h: WorkflowHandle, review_id: str, decision: Decision, **kw) -> None:
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=review_id, decision=decision, reviewer="客服主管", **kw))


# ---------------------------------------------------------------- 1. the whole way


async def test_full_path_routed_picked_confirmed_shipped_delivered_completed(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await until(h, lambda s: s.status == S.PICKING)
    assert st.warehouse == "HZ-CLOUD" and st.confirm_round == 1
    assert [c["round"] for c in cards(fakes, h.id)] == [1] and not cards(fakes, h.id)[0]["reminder"]
    assert await pick(worker, "HZ-CLOUD", h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))
    assert st.shipment is None  # nothing leaves before the customer confirms

    answer = await confirm(h, st)
    assert answer.accepted and answer.distance_km is not None and answer.distance_km < 1
    st = await ship(worker, h)
    wb = st.shipment.waybill
    at_fake = httpx.get(f"{fakes['carriers']}/control/waybills", params={"order_id": h.id}).json()
    assert len(at_fake["items"] if isinstance(at_fake, dict) else at_fake) == 1
    assert st.address_confirmed_at is not None and st.delivery_point is not None

    await track(worker, h, "collected", after_hours=2)
    st = await track(worker, h, "in_transit", after_hours=6)
    assert st.status == S.SHIPPED
    await track(worker, h, "signed", after_hours=12)
    st = await until(h, lambda s: s.status == S.DELIVERED)
    delivered = next(e for e in st.timeline if e.event == "order.delivered")
    assert delivered.data["signed_within_48h"] is True

    result = await h.result()
    assert result.status == S.COMPLETED
    assert result.updated_at - result.shipment.delivered_at >= timedelta(days=15)
    ev = events(result)
    order = ["order.routed", "address.confirmation_sent", "order.wave_joined", "order.packed",
             "address.awaiting_confirmation", "address.confirmed", "order.shipped", "order.delivered", "order.completed"]
    assert [e for e in ev if e in order] == order
    assert sum(e == "tracking.event" for e in ev) == 3
    assert wb.waybill_no.startswith("7")  # ZTO
    await keep_history(h, "fulfilment_full_path")


# ---------------------------------------------------------------- 2. a point too far


async def test_point_too_far_is_refused_and_the_customer_asked_again(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    answer = await h.execute_update(OrderWorkflow.confirm_address, near(st, km_north=120))
    assert not answer.accepted and answer.distance_km > 100
    assert "超出" in answer.message and "pick again" in answer.message
    st = await until(h, lambda s: "address.point_rejected" in events(s))
    assert st.status == S.PACKED and st.shipment is None and st.address_confirmed_at is None
    assert (await confirm(h, st)).accepted
    await ship(worker, h)
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 3. nobody confirms


async def test_no_confirmation_reminder_then_address_review_approved_ships(worker, task_queue, fakes, fake_wecom):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    await packed_and_waiting(worker, h)
    await worker.sleep(timedelta(hours=12, minutes=1))
    st = await until(h, lambda s: "address.reminder_sent" in events(s))
    assert [c["reminder"] for c in cards(fakes, h.id)] == [False, True]
    assert st.status == S.PACKED
    await worker.sleep(timedelta(hours=2))
    st = await until(h, lambda s: s.status == S.HELD)
    review = st.open_review()
    assert review.kind == "address" and review.features == ["ADDRESS_UNCONFIRMED"]
    await decide(h, review.review_id, Decision.APPROVE, note="电话确认过, 按原地址发")
    st = await ship(worker, h)
    assert "address.accepted_unconfirmed" in events(st) and "order.released_from_hold" in events(st)
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 4. address changes


async def test_address_change_while_picking_moves_the_order_to_the_new_warehouse(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await until(h, lambda s: s.status == S.PICKING)
    assert st.warehouse == "HZ-CLOUD"
    answer = await h.execute_update(OrderWorkflow.change_address, AddressChange(address="广州市天河区天河路385号"))
    assert answer.accepted and answer.round == 2
    st = await until(h, lambda s: s.status == S.PICKING and s.warehouse == "GZ-CLOUD")
    assert st.confirm_round == 2 and [c["round"] for c in cards(fakes, h.id)] == [1, 2]
    ev = events(st)
    assert "address.changed" in ev and "wave.left" in ev
    # the old wave dropped the order: nothing left to pick in Hangzhou, the new wave has it
    assert await pick(worker, "HZ-CLOUD", h.id, wait=False) == []
    assert await pick(worker, "GZ-CLOUD", h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))
    # the first card's link is for the old address
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(OrderWorkflow.confirm_address, AddressConfirmation(lat=30.18, lng=120.26, round=1))
    assert "链接已过期" in str(err.value.cause)
    assert (await confirm(h, st)).accepted
    st = await ship(worker, h)
    assert st.shipment.waybill.carrier and st.order.address.city == "广州市"
    await deliver_and_finish(worker, h)
    await keep_history(h, "fulfilment_address_changed_while_picking")


async def test_address_change_while_picking_same_warehouse_keeps_the_wave(worker, task_queue, fakes):
    """Same warehouse after the change: the order stays in its wave (no second join, no double pick),
    and the wave's wave_done is not lost while the new address is being assessed."""
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await until(h, lambda s: s.status == S.PICKING)
    warehouse = st.warehouse
    answer = await h.execute_update(OrderWorkflow.change_address, AddressChange(address="杭州市滨江区江南大道588号"))
    assert answer.accepted
    st = await until(h, lambda s: "order.wave_kept" in events(s) and s.status == S.PICKING)
    assert st.warehouse == warehouse and events(st).count("order.wave_joined") == 1
    assert await pick(worker, warehouse, h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))
    assert st.order.address.district == "滨江区" and st.confirm_round == 2
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="test over", actor="test"))
    assert (await h.result()).status == S.CANCELLED


async def test_address_change_while_packed_reroutes_and_after_dispatch_is_refused(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    await packed_and_waiting(worker, h)
    answer = await h.execute_update(OrderWorkflow.change_address,
                                    AddressChange(address="杭州市滨江区江南大道588号", name="王建国"))
    assert answer.accepted
    st = await until(h, lambda s: s.confirm_round == 2 and s.status == S.PACKED
                     and events(s).count("address.awaiting_confirmation") == 2)
    packed = [e for e in st.timeline if e.event == "order.packed"]
    assert len(packed) == 2 and "仓库未变" in packed[-1].reason  # same warehouse: not picked again
    assert (await confirm(h, st)).accepted and st.order.address.district == "滨江区"
    st = await ship(worker, h)

    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(OrderWorkflow.change_address, AddressChange(address="杭州市西湖区文三路100号"))
    assert err.value.cause.type == "AddressChangeRefused" and st.shipment.waybill.waybill_no in str(err.value.cause)
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="不想要了", actor="客户"))
    st = await until(h, lambda s: "order.cancel_refused" in events(s))
    assert "address.change_refused" in events(st) and st.status == S.SHIPPED
    assert st.order.address.district == "滨江区"
    await deliver_and_finish(worker, h)


async def test_change_and_cancel_while_the_waybill_is_being_made_are_refused(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    # the carrier hangs 2 s then answers 504: the waybill call is in flight (and retried) for a while
    httpx.post(f"{fakes['carriers']}/_control/timeout_next", params={"count": 1, "seconds": 2})
    assert (await confirm(h, st)).accepted
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(OrderWorkflow.change_address, AddressChange(address="杭州市西湖区文三路100号"))
    assert err.value.cause.type == "AddressChangeRefused" and "正在出库" in str(err.value.cause)
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="不想要了", actor="客户"))
    ticket = h.execute_update(OrderWorkflow.request_aftersales, AftersalesRequest(
        type="refund_only", lines=[{"sku": SKU, "quantity": 1}], reason="少发一片", requested_by="客户"))
    st = await until(h, lambda s: s.status == S.SHIPPED, timeout=30)
    assert (await ticket).kind == "aftersales"  # waited for the waybill instead of cancelling a leaving order
    ev = events(st)
    assert "order.cancel_refused" in ev and "address.change_refused" in ev and st.order.address.district == "萧山区"
    # the refused cancel is gone: a stalled parcel still gets its transit review
    await worker.sleep(timedelta(hours=25))
    st = await until(h, lambda s: any(r.kind == "transit" for r in s.reviews))
    assert next(r for r in st.reviews if r.kind == "transit").state == "open"
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 5. a silent parcel


async def test_in_transit_alert_opens_a_transit_review_and_a_signature_closes_it(worker, task_queue, fake_wecom):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    await ship(worker, h)
    await worker.sleep(timedelta(hours=24, minutes=5))
    st = await until(h, lambda s: s.open_review() is not None)
    review = st.open_review()
    assert review.kind == "transit" and review.features == ["TRANSIT_STALLED"] and st.status == S.SHIPPED
    assert "tracking.stalled" in events(st) and st.shipment.alerts[0].kind == "stalled"
    await until(h, lambda s: bool(fake_wecom.messages(h.id)))  # the WeCom to-do

    await track(worker, h, "signed", after_hours=1)
    st = await until(h, lambda s: s.status == S.DELIVERED and s.reviews[0].state == "cancelled")
    assert "review.closed" in events(st)
    assert (await h.result()).status == S.COMPLETED


async def test_returned_to_sender_is_reshipped_under_a_new_waybill_once_a_person_approves(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    first = (await ship(worker, h)).shipment.waybill
    await track(worker, h, "collected", after_hours=1)
    await track(worker, h, "returned_to_sender", after_hours=20)
    st = await until(h, lambda s: s.open_review() is not None)
    review = st.open_review()
    assert review.kind == "returned" and review.features == ["RETURNED_TO_SENDER"] and st.status == S.SHIPPED
    assert len([r for r in st.reviews if r.state == "open"]) == 1  # one task, not an alert and a reship task
    await decide(h, review.review_id, Decision.APPROVE, note="已与客户确认地址")
    st = await until(h, lambda s: "order.reshipped" in events(s))
    second = st.shipment.waybill
    assert second.waybill_no != first.waybill_no and second.order_id == f"{h.id}~RS2"
    assert [s.waybill.waybill_no for s in st.earlier_shipments] == [first.waybill_no]
    waybills = httpx.get(f"{fakes['carriers']}/control/waybills").json()["items"]
    assert {w["order_id"] for w in waybills if w["order_id"].startswith(h.id)} == {h.id, f"{h.id}~RS2"}
    await deliver_and_finish(worker, h)


async def test_returned_to_sender_and_not_reshipped_closes_the_order(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    await ship(worker, h)
    await track(worker, h, "returned_to_sender", after_hours=20)
    review = (await until(h, lambda s: s.open_review() is not None)).open_review()
    assert review.kind == "returned"
    await decide(h, review.review_id, Decision.REJECT, note="客户拒收, 走售后退款")
    result = await h.result()
    assert result.status == S.COMPLETED and "order.not_reshipped" in events(result)
    assert not result.earlier_shipments and "包裹退回" in result.timeline[-1].reason


# ---------------------------------------------------------------- 6. installation


async def test_installation_line_kit_in_wave_work_order_and_notice(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(line(needs_installation=True)), POLICY)
    st = await until(h, lambda s: s.status == S.PICKING)
    assert sorted(st.timeline[-1].data["skus"]) == sorted([SKU, KIT])
    assert sorted(await pick(worker, st.warehouse, h.id)) == sorted([SKU, KIT])
    st = await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))
    await confirm(h, st)
    st = await until(h, lambda s: s.appointment is not None)
    appt = st.appointment
    assert st.status == S.SHIPPED and appt.slot_start > st.shipment.shipped_at
    wos = httpx.get(f"{fakes['technician']}/_control/work-orders", params={"order_id": h.id}).json()["items"]
    assert [w["work_order_no"] for w in wos] == [appt.work_order_no]
    st = await until(h, lambda s: bool(notices(fakes, h.id)))
    sent = notices(fakes, h.id)
    assert len(sent) == 1 and appt.technician_name in sent[0]["text"] and appt.work_order_no in sent[0]["text"]
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 7. supplier stock


async def test_supplier_line_reserved_at_the_supplier_not_picked_here(worker, task_queue, fakes):
    p = payload(line(supplier="BOSCH"), line(OWN_SKU, qty=1, price="399.00"))
    h = await start_order(worker.client, task_queue, p, POLICY)
    st = await until(h, lambda s: s.status == S.PICKING)
    assert st.timeline[-1].data["skus"] == [OWN_SKU]
    assert [r.supplier_warehouse for r in st.reservations] == ["BOSCH-EAST"] and st.supplier_eta is not None
    held = httpx.get(f"{fakes['supplier']}/_control/reservations", params={"order_id": h.id}).json()
    assert held["count"] == 1 and held["items"][0]["lines"][0]["sku"] == SKU
    assert await pick(worker, st.warehouse, h.id) == [OWN_SKU]
    st = await until(h, lambda s: s.status == S.PACKED and "address.awaiting_confirmation" in events(s))
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="客户取消", actor="客服"))
    result = await h.result()
    assert result.status == S.CANCELLED
    # the supplier's stock is given back
    held = httpx.get(f"{fakes['supplier']}/_control/reservations", params={"order_id": h.id}).json()["items"]
    assert [r["status"] for r in held] == ["released"] and result.reservations == []
    assert "supplier.released" in events(result)


async def test_supplier_out_of_stock_everywhere_opens_a_stock_review(worker, task_queue, fakes):
    sku = "BOSCH-BD-LAVIDA19"
    r = httpx.post(f"{fakes['supplier']}/_control/stock", json=[
        {"warehouse": w, "sku": sku, "quantity": 0} for w in ("BOSCH-EAST", "BOSCH-NORTH")])
    assert r.status_code == 200
    h = await start_order(worker.client, task_queue, payload(line(sku, price="420.00", supplier="BOSCH")), POLICY)
    st = await until(h, lambda s: s.status == S.HELD)
    review = st.open_review()
    assert review.kind == "stock" and review.features == ["SUPPLIER_UNAVAILABLE"]
    assert sku in review.reason and "BOSCH-EAST" in review.reason and "BOSCH-NORTH" in review.reason
    await decide(h, review.review_id, Decision.REJECT, note="博世断货")
    assert (await h.result()).status == S.REJECTED


# ---------------------------------------------------------------- 8. aftersales


async def test_aftersales_before_shipping_cancels_the_order(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    await packed_and_waiting(worker, h)
    ticket = await h.execute_update(OrderWorkflow.request_aftersales, AftersalesRequest(
        type="return", lines=[{"sku": SKU, "quantity": 1}], reason="不想要了", requested_by="客户"))
    assert ticket.kind == "cancellation"
    result = await h.result()
    assert result.status == S.CANCELLED and "aftersales.cancellation" in events(result)
    assert result.shipment is None


async def test_aftersales_after_delivery_starts_a_child_case(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    await ship(worker, h)
    await track(worker, h, "signed", after_hours=20)
    await until(h, lambda s: s.status == S.DELIVERED)
    ticket = await h.execute_update(OrderWorkflow.request_aftersales, AftersalesRequest(
        type="return", lines=[{"sku": SKU, "quantity": 1}], reason="刹车片异响", requested_by="客户"))
    assert ticket.kind == "aftersales" and ticket.status == "awaiting_return"
    st = await until(h, lambda s: bool(s.aftersales))
    assert st.aftersales[0].case_id == ticket.case_id and st.status == S.DELIVERED

    case = worker.client.get_workflow_handle_for(AftersalesWorkflow.run, ticket.case_id)
    cs = await case_until(case, lambda c: c.return_waybill_no is not None)
    now = await worker.get_current_time()
    for n, code in enumerate(("collected", "signed"), 1):
        await case.signal(AftersalesWorkflow.tracking_event, TrackingEvent(
            event_id=f"{ticket.case_id}-{n}", carrier=cs.return_carrier, waybill_no=cs.return_waybill_no,
            order_id=ticket.case_id, code=code, at=now, location="杭州萧山"))
    await case_until(case, lambda c: c.status == CaseStatus.QC_PENDING)
    await case.execute_update(AftersalesWorkflow.qc_result, QcVerdict(passed=True, inspector="质检小李"))
    done = await case.result()
    assert done.status == CaseStatus.COMPLETED and done.refund_amount is not None
    st = await until(h, lambda s: s.aftersales[0].status == "completed")  # the case told its order
    assert "aftersales.closed" in events(st)

    result = await h.result()
    assert result.status == S.COMPLETED and "aftersales.opened" in events(result)
    await keep_history(h, "fulfilment_aftersales_return")
    assert await replay_fails(await case.fetch_history(), AftersalesWorkflow) is None  # the child case too

