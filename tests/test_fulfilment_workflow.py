"""The order after release on the time-skipping server, in the redesigned shape: the order (type
``Order``) runs one ``Fulfilment`` child per warehouse part (supplier stock, the warehouse wave, the
wait for release, installation) and each parcel is a ``Shipment`` child of its part (the e-waybill,
tracking, the in-transit alert). The order gates dispatch on the customer's address re-confirmation
and stays open for aftersales (child ``Aftersales``) — days of timers in milliseconds.

Everything partner-side is the shipped fake over real HTTP (carriers, mini-program, technician app,
supplier, WeCom); the waves are the real WaveWorkflow. Carrier pushes are sent as the webhook route
sends them: signal ``tracking_event`` to the workflow whose id the carrier knows (the parcel's: it is
the waybill's order id). Reviews are decided where the API sends them: ``C.owner_of_review``.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import warehouse as wh
from domain import geo
from domain.aftersales import AftersalesRequest, AftersalesState, CaseStatus, QcVerdict
from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult
from domain.contracts import aftersales as AS
from domain.contracts import fulfilment as F
from domain.contracts import order as C
from domain.contracts import shipment as SH
from domain.logistics import TrackingEvent
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.review import Decision, ReviewDecision, ReviewTask
from domain.status import OrderStatus
from domain.warehouse import PickConfirmation, TaskClaim, TaskKind, WavePolicy
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes import supplier as fake_supplier
from fakes import technician as fake_technician
from fakes.serve import serve_in_thread
from store import read_model, risk_data
from store.db import engine_for, migrate
from tests.support import order_payload, skip_time
from tests.workflow_helpers import HISTORIES, keep_history, replay_fails, result_of, start_order, state_of, until, wave_update
from workers.order_worker import build_worker
from workflows.aftersales import AftersalesWorkflow
from workflows.fulfilment import FulfilmentWorkflow
from workflows.shipment import ShipmentWorkflow
from workflows.wave import WaveWorkflow
from zhongshu.settings import Settings

S = OrderStatus
P = F.PartStatus
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


# ---------------------------------------------------------------- helpers: orders and their children


def payload(*lines: dict, address: str | None = None) -> dict:
    p = order_payload()
    if lines:
        p["lines"] = list(lines)
        p["paid_amount"] = f"{sum(float(ln['unit_price']) * ln['quantity'] for ln in lines):.2f}"
    if address:
        p["address"] = {"raw": address}
    return p


def line(sku: str = SKU, qty: int = 2, price: str = "268.00", **extra) -> dict:
    return {"sku": sku, "name": "博世刹车片(前)" if sku.startswith("BOSCH") else "美孚1号机油", "category":
            "刹车片" if sku.startswith("BOSCH") else "机油", "quantity": qty, "unit_price": price,
            "vehicle_model": "卡罗拉18款", **extra}


def events(v) -> list[str]:
    return [e.event for e in v.timeline]


async def _poll(what: str, read, pred, timeout: float = 20):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        try:
            v = await read()
        except RPCError:  # not started yet
            v = None
        if v is not None and pred(v):
            return v
        if loop.time() > end:
            raise AssertionError(f"{what} never matched; last {getattr(v, 'status', v)}, "
                                 f"events {events(v) if v is not None else None}")
        await asyncio.sleep(0.05)


async def part_view(env, part_id: str) -> F.PartView:
    return await env.client.get_workflow_handle(part_id).query(F.STATE.name, result_type=F.PartView)


async def part_until(env, part_id: str, pred, timeout: float = 20) -> F.PartView:
    return await _poll(part_id, lambda: part_view(env, part_id), pred, timeout)


async def parcel_view(env, shipment_id: str) -> SH.ShipmentView:
    return await env.client.get_workflow_handle(shipment_id).query(SH.STATE.name, result_type=SH.ShipmentView)


async def parcel_until(env, shipment_id: str, pred, timeout: float = 20) -> SH.ShipmentView:
    return await _poll(shipment_id, lambda: parcel_view(env, shipment_id), pred, timeout)


async def case_until(env, case_id: str, pred, timeout: float = 20) -> AftersalesState:
    case = env.client.get_workflow_handle(case_id)
    return await _poll(case_id, lambda: case.query(AS.STATE.name, result_type=AftersalesState), pred, timeout)


async def the_part(h: WorkflowHandle) -> str:
    """The order's one live part (its id; an address change to another warehouse starts a new one)."""
    st = await until(h, lambda s: any(p.status not in ("cancelled", "rejected") for p in s.parts))
    return next(p.part_id for p in reversed(st.parts) if p.status not in ("cancelled", "rejected"))


async def the_parcel(env, h: WorkflowHandle) -> str:
    """The order's current parcel (shipment id) once its waybill is made."""
    part = await the_part(h)
    pv = await part_until(env, part, lambda v: bool(v.shipment_ids))
    sid = pv.shipment_ids[-1]
    await parcel_until(env, sid, lambda v: v.shipment is not None)
    return sid


async def every_review(env, h: WorkflowHandle) -> list[ReviewTask]:
    """The order's review tasks and those of its parts and parcels (the console's queue for it)."""
    st = await state_of(h)
    tasks = list(st.reviews)
    for p in st.parts:
        pv = await part_view(env, p.part_id)
        tasks += pv.reviews
        for sid in pv.shipment_ids:
            tasks += (await parcel_view(env, sid)).reviews
    return tasks


async def open_review(env, h: WorkflowHandle, timeout: float = 20) -> ReviewTask:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        found = [t for t in await every_review(env, h) if t.state == "open"]
        if found:
            return found[0]
        if loop.time() > end:
            raise AssertionError(f"no open review for {h.id}")
        await asyncio.sleep(0.05)


async def decide(env, review: ReviewTask, decision: Decision, **kw) -> ReviewTask:
    """A reviewer's decision, sent where the API sends it: the workflow holding the task."""
    return await env.client.get_workflow_handle(C.owner_of_review(review.review_id)).execute_update(
        C.DECIDE_REVIEW.name, ReviewDecision(review_id=review.review_id, decision=decision, reviewer="客服主管", **kw),
        result_type=ReviewTask)


async def keep_child_history(env, workflow_id: str, name: str, cls) -> None:
    """``keep_history`` for a child (part, parcel): its history replays against the current code, and is
    saved with ZHONGSHU_RECORD_HISTORIES=1."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    failure = await replay_fails(history, cls)
    assert failure is None, f"history {name} does not replay: {failure}"
    if os.environ.get("ZHONGSHU_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(json.dumps(json.loads(history.to_json()), ensure_ascii=False, indent=1))


# ---------------------------------------------------------------- helpers: the people around the order


async def pick(env, warehouse: str, order_id: str, *, wait: bool = True) -> list[str]:
    """A scanner working through every open task of the warehouse's wave; answers the SKUs of the pick
    tasks for ``order_id`` (its part's). The wave lives on from test to test (one per warehouse on this
    module's server), so it may also hold what earlier tests left — e.g. the put-away of a cancelled
    order's goods, which the wave offers first: those are done too, as on the floor, but are not this
    order's picks. With ``wait``, first waits (a few seconds at most) for the wave to plan the tasks."""
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
        if t.kind == TaskKind.PICK and any(a.order_id.startswith(order_id) for a in t.allocations):
            skus.append(t.sku)
            mine = True
        try:
            await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(
                task_id=t.task_id, picked_qty=t.quantity, picker="小张", device_id="MC33-F"))
        except WorkflowUpdateFailedError:  # a resent confirmation of a pick the wave already has
            pass


def near(st: C.OrderView, km_north: float = 0.0) -> AddressConfirmation:
    """A delivery point at the district centroid, ``km_north`` further north (1° latitude ≈ 111 km)."""
    assert st.address is not None
    c = geo.centroid(st.address.adcode)
    assert c is not None
    return AddressConfirmation(lat=c.lat + km_north / 111.0, lng=c.lng, round=st.confirm_round)


def cards(fakes, order_id: str) -> list[dict]:
    return httpx.get(f"{fakes['mini']}/_control/cards", params={"order_id": order_id}).json()["items"]


def notices(fakes, order_id: str) -> list[dict]:
    return httpx.get(f"{fakes['mini']}/_control/notices", params={"order_id": order_id}).json()["items"]


def waybills_at_carrier(fakes, order_id: str | None = None) -> list[dict]:
    params = {"order_id": order_id} if order_id else {}
    return httpx.get(f"{fakes['carriers']}/control/waybills", params=params).json()["items"]


async def picking(env, h: WorkflowHandle) -> tuple[C.OrderView, str]:
    """The order is picking and its part has joined its warehouse's wave: (view, part id)."""
    await until(h, lambda s: s.status == S.PICKING)
    part = await the_part(h)
    await part_until(env, part, lambda v: "order.wave_joined" in events(v))
    return await state_of(h), part


async def packed_and_waiting(env, h: WorkflowHandle) -> C.OrderView:
    st, part = await picking(env, h)
    await pick(env, next(p.warehouse for p in st.parts if p.part_id == part), h.id)
    return await until(h, lambda s: s.status == S.PACKED and s.confirm_round > 0)


async def confirm(h: WorkflowHandle, st: C.OrderView) -> ConfirmationResult:
    return await h.execute_update(C.CONFIRM_ADDRESS.name, near(st), result_type=ConfirmationResult)


async def ship(env, h: WorkflowHandle) -> C.OrderView:
    return await until(h, lambda s: s.status == S.SHIPPED and all(p.waybill_no for p in s.parts if p.status == "shipped"))


async def track(env, shipment_id: str, code: str, *, after_hours: float = 0) -> SH.ShipmentView:
    """The carrier's push ``after_hours`` of (skipped) time from now, to the parcel it is about."""
    if after_hours:
        await skip_time(env, timedelta(hours=after_hours))
    v = await parcel_until(env, shipment_id, lambda s: s.shipment is not None)
    wb = v.shipment.waybill
    n = len(v.shipment.events) + 1
    ev = TrackingEvent(event_id=f"{wb.waybill_no}-{n:03d}-{code}", carrier=wb.carrier, waybill_no=wb.waybill_no,
                       order_id=wb.order_id, code=code, at=await env.get_current_time(), location="杭州萧山")
    await env.client.get_workflow_handle(wb.order_id).signal(SH.TRACKING_EVENT.name, ev)
    return await parcel_until(env, shipment_id, lambda s: any(e.event_id == ev.event_id for e in s.shipment.events))


async def deliver_and_finish(env, h: WorkflowHandle) -> C.OrderView:
    await track(env, await the_parcel(env, h), "signed", after_hours=1)
    await until(h, lambda s: s.status == S.DELIVERED)
    result = await result_of(h)  # skips the aftersales window
    assert result.status == S.COMPLETED
    return result


async def cancel(h: WorkflowHandle, reason: str, actor: str) -> None:
    await h.signal(C.CANCEL.name, C.CancelRequest(reason=reason, actor=actor))


# ---------------------------------------------------------------- 1. the whole way


async def test_full_path_routed_picked_confirmed_shipped_delivered_completed(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st, part = await picking(worker, h)
    assert st.warehouse == "HZ-CLOUD" and [p.warehouse for p in st.parts] == ["HZ-CLOUD"] and st.confirm_round == 1
    assert [c["round"] for c in cards(fakes, h.id)] == [1] and not cards(fakes, h.id)[0]["reminder"]
    assert await pick(worker, "HZ-CLOUD", h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED)
    # nothing leaves before the customer confirms
    await asyncio.sleep(0.3)
    pv = await part_view(worker, part)
    assert pv.status == P.PACKED and not pv.shipment_ids and st.parts[0].waybill_no is None
    assert waybills_at_carrier(fakes, SH.shipment_id(part, 1)) == []

    answer = await confirm(h, st)
    assert answer.accepted and answer.distance_km is not None and answer.distance_km < 1
    st = await ship(worker, h)
    sid = await the_parcel(worker, h)
    assert sid == SH.shipment_id(part, 1)
    wb = (await parcel_view(worker, sid)).shipment.waybill
    assert len(waybills_at_carrier(fakes, sid)) == 1 and st.parts[0].waybill_no == wb.waybill_no == st.waybill_no
    assert st.address_confirmed_at is not None and st.delivery_point is not None

    await track(worker, sid, "collected", after_hours=2)
    await track(worker, sid, "in_transit", after_hours=6)
    assert (await state_of(h)).status == S.SHIPPED
    await track(worker, sid, "signed", after_hours=12)
    st = await until(h, lambda s: s.status == S.DELIVERED)
    delivered = next(e for e in st.timeline if e.event == "order.delivered")
    assert delivered.data["signed_within_48h"] is True

    result = await result_of(h)
    assert result.status == S.COMPLETED
    assert result.updated_at - result.delivered_at >= timedelta(days=15)
    ev = events(result)
    order = ["order.routed", "address.confirmation_sent", "order.picking", "order.packed", "address.confirmed",
             "part.released", "order.shipped", "order.delivered", "order.completed"]
    assert [e for e in ev if e in order] == order
    pv = await part_view(worker, part)
    assert pv.status == P.DELIVERED
    part_order = ["order.wave_joined", "order.packed", "part.packed", "order.shipped", "order.signed"]
    assert [e for e in events(pv) if e in part_order] == part_order
    parcel = await parcel_view(worker, sid)
    assert parcel.status == SH.ShipmentStatus.DELIVERED and sum(e == "tracking.event" for e in events(parcel)) == 3
    assert wb.waybill_no.startswith("7")  # ZTO
    await keep_history(h, "order_v2_fulfilment_full_path")
    await keep_child_history(worker, part, "fulfilment_v2_fulfilment_full_path", FulfilmentWorkflow)
    await keep_child_history(worker, sid, "shipment_v2_fulfilment_full_path", ShipmentWorkflow)


# ---------------------------------------------------------------- 2. a point too far


async def test_point_too_far_is_refused_and_the_customer_asked_again(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    answer = await h.execute_update(C.CONFIRM_ADDRESS.name, near(st, km_north=120), result_type=ConfirmationResult)
    assert not answer.accepted and answer.distance_km > 100
    assert "超出" in answer.message and "pick again" in answer.message
    st = await until(h, lambda s: "address.point_rejected" in events(s))
    assert st.status == S.PACKED and st.parts[0].waybill_no is None and st.address_confirmed_at is None
    assert not (await part_view(worker, st.parts[0].part_id)).shipment_ids
    assert (await confirm(h, st)).accepted
    await ship(worker, h)
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 3. nobody confirms


async def test_no_confirmation_reminder_then_address_review_approved_ships(worker, task_queue, fakes, fake_wecom):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    await packed_and_waiting(worker, h)
    await skip_time(worker, timedelta(hours=12, minutes=1))
    st = await until(h, lambda s: "address.reminder_sent" in events(s))
    assert [c["reminder"] for c in cards(fakes, h.id)] == [False, True]
    assert st.status == S.PACKED
    await skip_time(worker, timedelta(hours=2))
    st = await until(h, lambda s: s.status == S.HELD)
    review = st.open_review()
    assert review is not None and review.kind == "address" and review.features == ["ADDRESS_UNCONFIRMED"]
    assert C.owner_of_review(review.review_id) == h.id
    await decide(worker, review, Decision.APPROVE, note="电话确认过, 按原地址发")
    st = await ship(worker, h)
    ev = events(st)
    assert "address.accepted_unconfirmed" in ev and "review.decided" in ev
    assert ev.index("address.reminder_sent") < ev.index("review.opened") < ev.index("review.decided")
    assert ev.index("review.decided") < ev.index("part.released") < ev.index("order.shipped")  # released from the hold
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 4. address changes


async def test_address_change_while_picking_moves_the_order_to_the_new_warehouse(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st, first = await picking(worker, h)
    assert st.parts[0].warehouse == "HZ-CLOUD"
    answer = await h.execute_update(C.CHANGE_ADDRESS.name, AddressChange(address="广州市天河区天河路385号"),
                                    result_type=ConfirmationResult)
    assert answer.accepted and answer.round == 2
    st = await until(h, lambda s: s.status == S.PICKING and len(s.parts) == 2 and s.warehouse == "GZ-CLOUD")
    assert st.parts[0].status == "cancelled" and st.parts[1].warehouse == "GZ-CLOUD"
    assert st.confirm_round == 2 and [c["round"] for c in cards(fakes, h.id)] == [1, 2]
    assert "address.changed" in events(st)
    # the first part left the Hangzhou wave: nothing left to pick there, the new part's wave has it
    pv = await part_until(worker, first, lambda v: v.status == P.CANCELLED)
    assert "part.cancelled" in events(pv) and "stock.returned" not in events(pv)
    second = st.parts[1].part_id
    await part_until(worker, second, lambda v: "order.wave_joined" in events(v))
    assert await pick(worker, "HZ-CLOUD", h.id, wait=False) == []
    assert await pick(worker, "GZ-CLOUD", h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED)
    # the first card's link is for the old address
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(C.CONFIRM_ADDRESS.name, AddressConfirmation(lat=30.18, lng=120.26, round=1),
                               result_type=ConfirmationResult)
    assert "链接已过期" in str(err.value.cause)
    assert (await confirm(h, st)).accepted
    st = await ship(worker, h)
    sid = await the_parcel(worker, h)
    assert sid == SH.shipment_id(second, 1) and st.address.city == "广州市"
    parcel = await parcel_view(worker, sid)
    assert parcel.shipment.waybill.carrier and (await part_view(worker, second)).warehouse == "GZ-CLOUD"
    await deliver_and_finish(worker, h)
    await keep_history(h, "order_v2_fulfilment_address_changed_while_picking")


async def test_address_change_while_picking_same_warehouse_keeps_the_wave(worker, task_queue, fakes):
    """Same warehouse after the change: the part stays in its wave (no second join, no double pick),
    and the wave's wave_done is not lost while the new address is being assessed."""
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st, part = await picking(worker, h)
    warehouse = st.parts[0].warehouse
    answer = await h.execute_update(C.CHANGE_ADDRESS.name, AddressChange(address="杭州市滨江区江南大道588号"),
                                    result_type=ConfirmationResult)
    assert answer.accepted
    pv = await part_until(worker, part, lambda v: "part.redirected" in events(v))
    st = await until(h, lambda s: s.status == S.PICKING and s.confirm_round == 2)
    assert [p.part_id for p in st.parts] == [part] and st.parts[0].warehouse == warehouse
    assert pv.warehouse == warehouse and events(pv).count("order.wave_joined") == 1
    assert await pick(worker, warehouse, h.id) == [SKU]
    st = await until(h, lambda s: s.status == S.PACKED)
    assert st.address.district == "滨江区" and st.confirm_round == 2
    assert events(await part_view(worker, part)).count("order.wave_joined") == 1
    await cancel(h, "test over", "test")
    assert (await result_of(h)).status == S.CANCELLED


async def test_address_change_while_packed_reroutes_and_after_dispatch_is_refused(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    part = st.parts[0].part_id
    answer = await h.execute_update(C.CHANGE_ADDRESS.name, AddressChange(address="杭州市滨江区江南大道588号", name="王建国"),
                                    result_type=ConfirmationResult)
    assert answer.accepted
    st = await until(h, lambda s: s.confirm_round == 2 and s.status == S.PACKED)
    assert [c["round"] for c in cards(fakes, h.id)] == [1, 2]
    # same warehouse: the packed part follows the new address, it is not picked again
    pv = await part_until(worker, part, lambda v: "part.redirected" in events(v))
    assert [p.part_id for p in st.parts] == [part] and pv.status == P.PACKED
    assert events(pv).count("order.wave_joined") == 1 and events(pv).count("order.packed") == 1
    assert "滨江区" in next(e.reason for e in pv.timeline if e.event == "part.redirected")
    assert (await confirm(h, st)).accepted and st.address.district == "滨江区" and st.customer_name == "王建国"
    st = await ship(worker, h)
    sid = await the_parcel(worker, h)
    parcel = await parcel_view(worker, sid)
    waybill_no = st.parts[0].waybill_no
    assert waybill_no == parcel.shipment.waybill.waybill_no
    at_carrier = waybills_at_carrier(fakes, sid)  # the label goes to the new address and name
    assert len(at_carrier) == 1 and "滨江区" in at_carrier[0]["label_zpl"] and "王建国" in at_carrier[0]["label_zpl"]

    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(C.CHANGE_ADDRESS.name, AddressChange(address="杭州市西湖区文三路100号"),
                               result_type=ConfirmationResult)
    assert err.value.cause.type == "AddressChangeRefused" and waybill_no in str(err.value.cause)
    await cancel(h, "不想要了", "客户")
    st = await until(h, lambda s: "order.cancel_refused" in events(s))
    assert "address.change_refused" in events(st) and st.status == S.SHIPPED
    assert st.address.district == "滨江区"
    await deliver_and_finish(worker, h)


async def test_change_and_cancel_while_the_waybill_is_being_made_are_refused(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    # the carrier hangs 2 s then answers 504: the waybill call is in flight (and retried) for a while
    httpx.post(f"{fakes['carriers']}/_control/timeout_next", params={"count": 1, "seconds": 2})
    assert (await confirm(h, st)).accepted
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(C.CHANGE_ADDRESS.name, AddressChange(address="杭州市西湖区文三路100号"),
                               result_type=ConfirmationResult)
    assert err.value.cause.type == "AddressChangeRefused" and "正在出库" in str(err.value.cause)
    await cancel(h, "不想要了", "客户")
    ticket = await h.execute_update(C.REQUEST_AFTERSALES.name, AftersalesRequest(
        type="refund_only", lines=[{"sku": SKU, "quantity": 1}], reason="少发一片", requested_by="客户"), result_type=None)
    assert ticket["kind"] == "aftersales"  # a case, not the cancellation of a leaving order
    st = await until(h, lambda s: s.status == S.SHIPPED, timeout=30)
    ev = events(st)
    assert "order.cancel_refused" in ev and "address.change_refused" in ev and st.address.district == "萧山区"
    assert "order.cancelled" not in ev and "aftersales.cancellation" not in ev
    # the refused cancel is gone: a stalled parcel still gets its transit review
    sid = await the_parcel(worker, h)
    await skip_time(worker, timedelta(hours=25))
    parcel = await parcel_until(worker, sid, lambda v: any(r.kind == "transit" for r in v.reviews))
    assert next(r for r in parcel.reviews if r.kind == "transit").state == "open"
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 5. a silent parcel


async def test_in_transit_alert_opens_a_transit_review_and_a_signature_closes_it(worker, task_queue, fake_wecom, engine):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    await ship(worker, h)
    sid = await the_parcel(worker, h)
    await skip_time(worker, timedelta(hours=24, minutes=5))
    review = await open_review(worker, h)
    assert review.kind == "transit" and review.features == ["TRANSIT_STALLED"] and C.owner_of_review(review.review_id) == sid
    parcel = await parcel_view(worker, sid)
    assert "tracking.stalled" in events(parcel) and parcel.shipment.alerts[0].kind == "stalled"
    assert (await state_of(h)).status == S.SHIPPED  # a transit review holds nothing
    await until(h, lambda s: bool(fake_wecom.messages(h.id)))  # the WeCom to-do

    await track(worker, sid, "signed", after_hours=1)
    await until(h, lambda s: s.status == S.DELIVERED)
    parcel = await parcel_until(worker, sid, lambda v: v.status == SH.ShipmentStatus.DELIVERED)
    assert [(r.kind, r.state) for r in parcel.reviews] == [("transit", "cancelled")] and parcel.reviews[0].note
    # … and off the console's queue: the read model has the task closed
    await until(h, lambda s: [(r["review_id"], r["state"]) for r in read_model.list_reviews(engine, order_id=h.id)]
                == [(review.review_id, "cancelled")])
    assert (await result_of(h)).status == S.COMPLETED


async def test_returned_to_sender_is_reshipped_under_a_new_waybill_once_a_person_approves(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    part = st.parts[0].part_id
    await confirm(h, st)
    await ship(worker, h)
    first_sid = await the_parcel(worker, h)
    first = (await parcel_view(worker, first_sid)).shipment.waybill
    await track(worker, first_sid, "collected", after_hours=1)
    await track(worker, first_sid, "returned_to_sender", after_hours=20)
    review = await open_review(worker, h)
    assert review.kind == "returned" and review.features == ["RETURNED_TO_SENDER"] and C.owner_of_review(review.review_id) == part
    assert (await state_of(h)).status == S.SHIPPED  # a returned parcel does not hold the order
    # one task, not an alert and a reship task
    assert len([r for r in await every_review(worker, h) if r.state == "open"]) == 1
    await decide(worker, review, Decision.APPROVE, note="已与客户确认地址")
    pv = await part_until(worker, part, lambda v: "order.reshipped" in events(v) and len(v.shipment_ids) == 2)
    second_sid = await the_parcel(worker, h)
    assert pv.shipment_ids == [first_sid, second_sid] and second_sid == SH.shipment_id(part, 2)
    second = (await parcel_view(worker, second_sid)).shipment.waybill
    assert second.waybill_no != first.waybill_no and second.order_id == second_sid
    assert (await parcel_view(worker, first_sid)).status == SH.ShipmentStatus.RETURNED
    waybills = waybills_at_carrier(fakes)
    assert {w["order_id"] for w in waybills if w["order_id"].startswith(h.id)} == {first_sid, second_sid}
    st = await until(h, lambda s: s.parts[0].waybill_no == second.waybill_no)
    await deliver_and_finish(worker, h)


async def test_returned_to_sender_and_not_reshipped_closes_the_order(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    part = st.parts[0].part_id
    await confirm(h, st)
    await ship(worker, h)
    sid = await the_parcel(worker, h)
    await track(worker, sid, "returned_to_sender", after_hours=20)
    review = await open_review(worker, h)
    assert review.kind == "returned"
    await decide(worker, review, Decision.REJECT, note="客户拒收, 走售后退款")
    result = await result_of(h)
    assert result.status == S.COMPLETED and "包裹退回" in result.timeline[-1].reason
    assert [p.status for p in result.parts] == ["returned"]
    pv = await part_view(worker, part)
    assert "order.not_reshipped" in events(pv) and pv.shipment_ids == [sid]  # no second parcel


# ---------------------------------------------------------------- 6. installation


async def test_installation_line_kit_in_wave_work_order_and_notice(worker, task_queue, fakes):
    h = await start_order(worker.client, task_queue, payload(line(needs_installation=True)), POLICY)
    st, part = await picking(worker, h)
    joined = next(e for e in (await part_view(worker, part)).timeline if e.event == "order.wave_joined")
    assert sorted(joined.data["skus"]) == sorted([SKU, KIT])
    assert sorted(await pick(worker, st.parts[0].warehouse, h.id)) == sorted([SKU, KIT])
    st = await until(h, lambda s: s.status == S.PACKED)
    await confirm(h, st)
    pv = await part_until(worker, part, lambda v: v.appointment is not None)
    appt = pv.appointment
    st = await ship(worker, h)
    assert pv.status == P.SHIPPED and appt.slot_start > st.parts[0].shipped_at
    assert "installation.booked" in events(pv)
    wos = httpx.get(f"{fakes['technician']}/_control/work-orders", params={"order_id": h.id}).json()["items"]
    assert [w["work_order_no"] for w in wos] == [appt.work_order_no]
    await until(h, lambda s: bool(notices(fakes, h.id)))
    sent = notices(fakes, h.id)
    assert len(sent) == 1 and appt.technician_name in sent[0]["text"] and appt.work_order_no in sent[0]["text"]
    await deliver_and_finish(worker, h)


# ---------------------------------------------------------------- 7. supplier stock


async def test_supplier_line_reserved_at_the_supplier_not_picked_here(worker, task_queue, fakes):
    p = payload(line(supplier="BOSCH"), line(OWN_SKU, qty=1, price="399.00"))
    h = await start_order(worker.client, task_queue, p, POLICY)
    st, part = await picking(worker, h)
    assert len(st.parts) == 1  # the supplier line rides with the warehouse's part
    pv = await part_view(worker, part)
    assert next(e for e in pv.timeline if e.event == "order.wave_joined").data["skus"] == [OWN_SKU]
    assert [r.supplier_warehouse for r in pv.reservations] == ["BOSCH-EAST"] and pv.supplier_eta is not None
    held = httpx.get(f"{fakes['supplier']}/_control/reservations", params={"order_id": h.id}).json()
    assert held["count"] == 1 and held["items"][0]["lines"][0]["sku"] == SKU
    assert await pick(worker, st.parts[0].warehouse, h.id) == [OWN_SKU]
    await until(h, lambda s: s.status == S.PACKED)
    await cancel(h, "客户取消", "客服")
    result = await result_of(h)
    assert result.status == S.CANCELLED
    # the supplier's stock is given back
    held = httpx.get(f"{fakes['supplier']}/_control/reservations", params={"order_id": h.id}).json()["items"]
    pv = await part_view(worker, part)
    assert [r["status"] for r in held] == ["released"] and pv.reservations == [] and pv.status == P.CANCELLED
    assert "supplier.released" in events(pv)


async def test_supplier_out_of_stock_everywhere_opens_a_stock_review(worker, task_queue, fakes):
    sku = "BOSCH-BD-LAVIDA19"
    r = httpx.post(f"{fakes['supplier']}/_control/stock", json=[
        {"warehouse": w, "sku": sku, "quantity": 0} for w in ("BOSCH-EAST", "BOSCH-NORTH")])
    assert r.status_code == 200
    h = await start_order(worker.client, task_queue, payload(line(sku, price="420.00", supplier="BOSCH")), POLICY)
    await until(h, lambda s: s.status == S.HELD)
    review = await open_review(worker, h)
    assert review.kind == "stock" and review.features == ["SUPPLIER_UNAVAILABLE"]
    assert C.owner_of_review(review.review_id) == F.part_id(h.id, 1)
    assert sku in review.reason and "BOSCH-EAST" in review.reason and "BOSCH-NORTH" in review.reason
    await decide(worker, review, Decision.REJECT, note="博世断货")
    assert (await result_of(h)).status == S.REJECTED


# ---------------------------------------------------------------- 8. aftersales


async def test_aftersales_before_shipping_cancels_the_order(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    ticket = await h.execute_update(C.REQUEST_AFTERSALES.name, AftersalesRequest(
        type="return", lines=[{"sku": SKU, "quantity": 1}], reason="不想要了", requested_by="客户"), result_type=None)
    assert ticket["kind"] == "cancellation"
    result = await result_of(h)
    assert result.status == S.CANCELLED and "aftersales.cancellation" in events(result)
    assert result.waybill_no is None and not result.aftersales
    pv = await part_view(worker, st.parts[0].part_id)
    assert pv.status == P.CANCELLED and not pv.shipment_ids and "stock.returned" in events(pv)


async def test_aftersales_after_delivery_starts_a_child_case(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), POLICY)
    st = await packed_and_waiting(worker, h)
    await confirm(h, st)
    await ship(worker, h)
    await track(worker, await the_parcel(worker, h), "signed", after_hours=20)
    await until(h, lambda s: s.status == S.DELIVERED)
    ticket = await h.execute_update(C.REQUEST_AFTERSALES.name, AftersalesRequest(
        type="return", lines=[{"sku": SKU, "quantity": 1}], reason="刹车片异响", requested_by="客户"), result_type=None)
    assert ticket["kind"] == "aftersales" and ticket["status"] == "awaiting_return"
    case_id = ticket["case_id"]
    st = await until(h, lambda s: bool(s.aftersales))
    assert st.aftersales[0].case_id == case_id and st.status == S.DELIVERED

    # the customer's parcel comes back as the case's own Shipment
    cs = await case_until(worker, case_id, lambda c: c.return_waybill_no is not None)
    parcel = SH.shipment_id(case_id, 1)
    assert (await parcel_view(worker, parcel)).shipment.waybill.waybill_no == cs.return_waybill_no
    await track(worker, parcel, "collected")
    await track(worker, parcel, "signed")
    await case_until(worker, case_id, lambda c: c.status == CaseStatus.QC_PENDING)
    case = worker.client.get_workflow_handle(case_id, result_type=AftersalesState)
    await case.execute_update(AS.QC_RESULT.name, QcVerdict(passed=True, inspector="质检小李"), result_type=AftersalesState)
    done = await case.result()
    assert done.status == CaseStatus.COMPLETED and done.refund_amount is not None
    st = await until(h, lambda s: s.aftersales[0].status == "completed")  # the case told its order
    assert "aftersales.closed" in events(st)

    result = await result_of(h)
    assert result.status == S.COMPLETED and "aftersales.opened" in events(result)
    await keep_history(h, "order_v2_fulfilment_aftersales_return")
    await keep_child_history(worker, case_id, "aftersales_v2_fulfilment_aftersales_return", AftersalesWorkflow)
