"""The redesigned order on the time-skipping server: its own server per test module, the real worker
(every activity, the real wave workflows) against a SQLite read model and the shipped fakes over HTTP.

``Flow`` starts orders and plays the people around them: pickers at the wave, the customer confirming
the delivery point, the carrier pushing tracking, reviewers deciding tasks.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from zhongshu_devtools.binaries import temporal_test_server

from activities import warehouse as wh
from domain import geo
from domain.confirmation import AddressConfirmation
from domain.contracts import fulfilment as F
from domain.contracts import order as C
from domain.contracts import shipment as SH
from domain.logistics import TrackingCode, TrackingEvent
from domain.order import OrderSubmission
from domain.policy import FulfilmentPolicy, OrderPolicy, OrderWorkflowInput, RetryBounds
from domain.review import Decision, ReviewDecision, ReviewTask
from domain.warehouse import PickConfirmation, PickTask, TaskClaim, WavePolicy
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes import supplier as fake_supplier
from fakes import technician as fake_technician
from fakes.serve import serve_in_thread
from store import read_model, risk_data
from store.db import engine_for, migrate
from tests.support import order_payload
from workers.order_worker import build_worker
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.search_attributes import register_search_attributes
from zhongshu.settings import Settings

SKU, OIL, KIT = "BOSCH-BP-COROLLA18", "MOBIL1-5W30-4L", "KIT-BRAKE_PADS"
WAREHOUSES = ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD")
POLICY = OrderPolicy(fulfilment=FulfilmentPolicy(), retry=RetryBounds(data_attempts=2, partner_hours=0.05))


@workflow.defn(name="OrderFlowClockAnchor", sandboxed=False)
class ClockAnchor:
    """A timer every 6 hours, so the test server never jumps to the wave workflows' far deadlines."""

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.sleep(timedelta(hours=6))


def line(sku: str = SKU, qty: int = 2, price: str = "268.00", **extra: Any) -> dict[str, Any]:
    brake = sku.startswith("BOSCH")
    return {"sku": sku, "name": "博世刹车片(前)" if brake else "美孚1号机油", "category": "刹车片" if brake else "机油",
            "quantity": qty, "unit_price": price, "vehicle_model": "卡罗拉18款", **extra}


def payload(*lines: dict[str, Any], address: str | None = None, **top: Any) -> dict[str, Any]:
    p = order_payload(**top)
    if lines:
        p["lines"] = list(lines)
        p["paid_amount"] = f"{sum(float(ln['unit_price']) * ln['quantity'] for ln in lines):.2f}"
    if address:
        p["address"] = {"raw": address}
    return p


class Flow:
    def __init__(self, env: WorkflowEnvironment, task_queue: str, engine: Any, fakes: dict[str, str]) -> None:
        self.env, self.client, self.task_queue, self.engine, self.fakes = env, env.client, task_queue, engine, fakes
        self.started: list[WorkflowHandle[Any, Any]] = []

    async def start(self, p: dict[str, Any], policy: OrderPolicy = POLICY) -> WorkflowHandle[Any, C.OrderOutcome]:
        sub = OrderSubmission.model_validate(p)
        h = await self.client.start_workflow(
            C.ORDER.name, OrderWorkflowInput(submission=sub, policy=policy), id=sub.order_id, task_queue=self.task_queue,
            result_type=C.ORDER.result, id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
        self.started.append(h)
        return h

    async def view(self, h: WorkflowHandle[Any, Any]) -> C.OrderView:
        return await h.query(C.STATE.name, result_type=C.OrderView)

    async def until(self, h: WorkflowHandle[Any, Any], pred: Any, timeout: float = 20) -> C.OrderView:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            v = await self.view(h)
            if pred(v):
                return v
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"never matched: {v.status}, {[e.event for e in v.timeline]}, parts {v.parts}, "
                                     f"reviews {[(r.kind.value, r.features, r.state.value) for r in v.reviews]}")
            await asyncio.sleep(0.05)

    async def status(self, h: WorkflowHandle[Any, Any], *statuses: str, timeout: float = 20) -> C.OrderView:
        return await self.until(h, lambda v: v.status.value in statuses, timeout)

    async def part(self, part_id: str) -> F.PartView:
        return await self.client.get_workflow_handle(part_id).query(F.STATE.name, result_type=F.PartView)

    async def pick(self, warehouse: str, order_id: str, short_by: int = 0) -> list[PickTask]:
        """A scanner picks every task of this order in the warehouse's wave (``short_by`` fewer units)."""
        wave = self.client.get_workflow_handle(f"wave-{warehouse}")
        done: list[PickTask] = []
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline:
            try:
                raw = await wave.execute_update("claim_task", TaskClaim(device_id="MC33-T", picker="小张"))
            except RPCError:
                await asyncio.sleep(0.2)
                continue
            if raw is None:
                if done:
                    return done
                await asyncio.sleep(0.2)
                continue
            t = PickTask.model_validate(raw)
            qty = t.quantity - short_by if any(a.order_id.startswith(order_id) for a in t.allocations) else t.quantity
            try:
                await wave.execute_update("confirm_pick", PickConfirmation(task_id=t.task_id, picked_qty=max(qty, 0),
                                                                            picker="小张", device_id="MC33-T"))
            except Exception:  # noqa: BLE001 - a resent confirmation
                pass
            done.append(t)
        return done

    async def confirm(self, h: WorkflowHandle[Any, Any]) -> Any:
        v = await self.until(h, lambda v: v.confirm_round > 0 and v.address is not None)
        assert v.address is not None
        c = geo.centroid(v.address.adcode)
        assert c is not None
        return await h.execute_update(C.CONFIRM_ADDRESS.name, AddressConfirmation(lat=c.lat, lng=c.lng, round=v.confirm_round))

    async def track(self, shipment_id: str, code: TrackingCode = TrackingCode.SIGNED, at: datetime | None = None) -> None:
        view = await self.client.get_workflow_handle(shipment_id).query(SH.STATE.name, result_type=SH.ShipmentView)
        assert view.shipment is not None, f"{shipment_id} has no waybill yet"
        wb = view.shipment.waybill
        await self.client.get_workflow_handle(shipment_id).signal(SH.TRACKING_EVENT.name, TrackingEvent(
            event_id=f"{code.value}-{uuid.uuid4().hex[:6]}", carrier=wb.carrier, waybill_no=wb.waybill_no,
            order_id=shipment_id, code=code, at=at or await self.env.get_current_time(), location="杭州"))

    async def shipped(self, part_id: str, n: int = 1) -> str:
        sid = SH.shipment_id(part_id, n)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                v = await self.client.get_workflow_handle(sid).query(SH.STATE.name, result_type=SH.ShipmentView)
                if v.shipment is not None:
                    return sid
            except RPCError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{sid} never got its waybill")
            await asyncio.sleep(0.1)

    async def decide(self, owner: str, task: ReviewTask, decision: Decision, **kw: Any) -> ReviewTask:
        d = ReviewDecision(review_id=task.review_id, decision=decision, reviewer=kw.pop("reviewer", "审核员李"), **kw)
        return await self.client.get_workflow_handle(owner).execute_update(C.DECIDE_REVIEW.name, d, result_type=ReviewTask)

    def read(self, order_id: str) -> C.OrderView | None:
        return read_model.order_view(self.engine, order_id)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flow_env():
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server())
    await register_search_attributes(env.client)
    anchor_q = f"anchor-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=anchor_q, workflows=[ClockAnchor]):
        h = await env.client.start_workflow(ClockAnchor.run, id=f"anchor-{anchor_q}", task_queue=anchor_q)
        yield env
        await h.terminate()
    await env.shutdown()


@pytest.fixture(scope="module")
def flow_fakes():
    servers = {name: serve_in_thread(mod.create_app()) for name, mod in (
        ("carriers", fake_carriers), ("mini", fake_miniprogram), ("technician", fake_technician), ("supplier", fake_supplier))}
    yield {name: srv.url for name, srv in servers.items()}
    for srv in servers.values():
        srv.stop()


@pytest.fixture(scope="module")
def flow_engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('flow') / 'zhongshu.db'}"
    migrate(url)
    eng = engine_for(url)
    risk_data.seed_defaults(eng)
    return eng


def stock(engine: Any, warehouse: str, sku: str, quantity: int = 500, bin: str = "A-03-12") -> None:
    wh.import_stock(engine, [dict(warehouse=warehouse, bin=bin, sku=sku, name=sku, quantity=quantity,
                                  barcode="6901234567890")], replace=False)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flow(flow_env, flow_engine, flow_fakes, fake_wecom):
    task_queue = f"orders-flow-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        carrier_url=flow_fakes["carriers"], carrier_app_key=fake_carriers.APP_KEY, carrier_app_secret=fake_carriers.SECRET,
        miniprogram_url=flow_fakes["mini"], technician_url=flow_fakes["technician"], supplier_url=flow_fakes["supplier"],
        public_base_url="http://127.0.0.1:9", api_key="test-flow-key", wecom_webhook_url=fake_wecom.webhook_url)
    async with build_worker(flow_env.client, task_queue, flow_engine, wecom_webhook_url=fake_wecom.webhook_url,
                            wave_policy=WavePolicy(size=1, auto_pack=True, cutoffs=[]), settings=settings):
        yield Flow(flow_env, task_queue, flow_engine, flow_fakes)


@pytest_asyncio.fixture(loop_scope="session")
async def orders(flow):
    """The test's own view of the flow; orders it leaves running are terminated afterwards."""
    mine = Flow(flow.env, flow.task_queue, flow.engine, flow.fakes)
    yield mine
    for h in mine.started:
        try:
            parts = [p.part_id for p in (await mine.view(h)).parts]
        except Exception:  # noqa: BLE001 - not an order (a parcel started by the test), or gone
            parts = []
        wids = [h.id, *parts, *(SH.shipment_id(p, n) for p in parts for n in (1, 2, 3))]
        for wid in wids:  # the test server keeps its time-skipping lock for good when a workflow is
            await _quiet(mine.client.get_workflow_handle(wid))  # terminated under a running activity
        for wid in wids:
            try:
                await mine.client.get_workflow_handle(wid).terminate("test over")
            except RPCError:
                pass


async def _quiet(handle: WorkflowHandle, tries: int = 100) -> None:
    """Wait (up to ~10 s) until the workflow has no activity or workflow task in flight."""
    for _ in range(tries):
        try:
            d = (await handle.describe()).raw_description
        except RPCError:
            return
        if d.workflow_execution_info.status != 1 or not (d.pending_activities or d.HasField("pending_workflow_task")):
            return
        await asyncio.sleep(0.1)


def cards(fakes: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    return httpx.get(f"{fakes['mini']}/_control/cards", params={"order_id": order_id}).json()["items"]
