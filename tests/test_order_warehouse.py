"""OrderWorkflow's warehouse stage on the time-skipping server, with the real WaveWorkflow: a released
order joins its warehouse's wave (PICKING), waits durably for pick and pack (PACKED → completed when
shipping is off), a short pick holds it for a person (re-pick, another warehouse, reject), and a
cancel while in the wave takes its tasks out of the wave."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle

from activities import warehouse as wh
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.review import Decision, ReviewDecision
from domain.status import OrderStatus
from domain.warehouse import PickConfirmation, PickTask, TaskClaim, TaskKind, WavePolicy
from store import read_model, risk_data
from store.db import engine_for, migrate
from tests.support import order_payload
from tests.workflow_helpers import keep_history, start_order, until
from workers.order_worker import build_worker
from workflows.order import CancelRequest, OrderWorkflow
from workflows.wave import WaveWorkflow

S = OrderStatus
WAREHOUSE_ONLY = OrderPolicy(fulfilment=FulfilmentPolicy(warehouse=True, confirm_address=False, ship=False))
SKU = "BOSCH-BP-COROLLA18"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_env():
    """Its own time-skipping server: the wave workflows here run for ever (continue-as-new)."""
    from tests.test_routing_workflow import start_time_skipping_env

    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine(tmp_path_factory):
    """The module's own read model: its waves (on its own server) number their waves and tasks from 01
    each day like those of tests/test_fulfilment_workflow.py, and stock moves are idempotent per task
    id, so in a shared database one module's pick would be taken for the other's and not counted."""
    url = f"sqlite:///{tmp_path_factory.mktemp('order-warehouse') / 'zhongshu.db'}"
    migrate(url)
    eng = engine_for(url)
    risk_data.seed_defaults(eng)
    return eng


@pytest.fixture(scope="module")
def task_queue() -> str:
    """One queue (and worker) for the module: the wave workflows live on from test to test."""
    return f"orders-warehouse-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker(own_env, task_queue, engine, fake_wecom):
    for w in ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"):
        stock(engine, w, 500)
    policy = WavePolicy(size=1, auto_pack=True, cutoffs=[])
    async with build_worker(own_env.client, task_queue, engine, wecom_webhook_url=fake_wecom.webhook_url,
                            wave_policy=policy):
        yield own_env


def stock(engine, warehouse: str, qty: int, sku: str = SKU) -> None:
    wh.import_stock(engine, [dict(warehouse=warehouse, bin="A-03-12", sku=sku, name="博世刹车片(前)", quantity=qty,
                                  barcode="6901234567890", notes="易碎品轻拿")], replace=False)


def payload() -> dict:
    p = order_payload()
    p["lines"][0]["sku"] = f"{SKU}"
    return p


def mine(t: PickTask, order_id: str) -> bool:
    return t.kind == TaskKind.PICK and any(a.order_id == order_id for a in t.allocations)


async def pick(env, warehouse: str, order_id: str, qty: int | None = None) -> None:
    """A scanner working through every open task of the warehouse's wave, taking ``qty`` for this
    order's picks (None: all asked for) and doing the rest in full (the wave lives on from test to test).
    The order has joined the wave, but the wave may still be planning its tasks: waits (10 s at most)
    until it has picked one of them."""
    wave = env.client.get_workflow_handle(f"wave-{warehouse}")
    loop = asyncio.get_running_loop()
    deadline, picked = loop.time() + 10, False
    while True:
        t = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id="MC33-T", picker="小张"))
        if t is None:
            if picked or loop.time() > deadline:
                return
            await asyncio.sleep(0.1)
            continue
        picked = picked or mine(t, order_id)
        await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(
            task_id=t.task_id, picked_qty=qty if (qty is not None and mine(t, order_id)) else t.quantity, picker="小张",
            device_id="MC33-T"))


async def claim_for(wave: WorkflowHandle, order_id: str, device: str, picker: str, *, wait: bool = True) -> PickTask | None:
    """The next task of this order (pick or put-away) a device is offered; any other order's task the
    wave offers first (what an earlier test left) is done in full on the way. With ``wait``, gives the
    wave 10 s to plan it (its signal may still be on the way)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (10 if wait else 0)
    while True:
        t = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id=device, picker=picker))
        if t is None:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.1)
            continue
        if any(a.order_id == order_id for a in t.allocations):
            return t
        await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(
            task_id=t.task_id, picked_qty=t.quantity, picker=picker, device_id=device))


async def routed_warehouse(h: WorkflowHandle) -> str:
    st = await until(h, lambda s: s.status == S.PICKING)
    assert st.warehouse
    return st.warehouse


async def test_order_joins_wave_waits_for_pick_and_pack_then_completes(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h)
    st = await until(h, lambda s: s.status == S.PICKING)
    assert st.timeline[-1].event == "order.wave_joined" and st.timeline[-1].data["skus"] == [SKU]
    assert read_model.get_order(engine, h.id)["status"] == "picking"
    await pick(worker, warehouse, h.id)
    result = await h.result()
    assert result.status == S.COMPLETED and result.wave_no and result.wave_no.startswith("B")
    events = [e.event for e in result.timeline]
    assert events[-3:] == ["order.wave_joined", "order.packed", "order.completed"]
    await keep_history(h, "warehouse_picked_and_packed")


async def test_short_pick_holds_for_review_then_repicks_the_shortage(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h)
    await pick(worker, warehouse, h.id, qty=1)  # asked for 2
    st = await until(h, lambda s: s.status == S.HELD)
    review = st.open_review()
    assert review is not None and review.kind == "stock" and "应拣2 实拣1" in review.reason
    assert [e.event for e in st.timeline][-2:] == ["order.short_picked", "review.opened"]
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=review.review_id, decision=Decision.APPROVE, reviewer="仓库主管", note="已补货"))
    st = await until(h, lambda s: s.status == S.PICKING and s.timeline[-1].data.get("round") == 2)
    assert st.timeline[-1].event == "order.wave_joined"
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    t = await claim_for(wave, h.id, "MC33-T", "小张")
    assert t is not None and t.quantity == 1 and t.sku == SKU  # only what was short
    await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1, picker="小张"))
    result = await h.result()
    assert result.status == S.COMPLETED
    await keep_history(h, "warehouse_short_pick_repicked")


async def test_short_pick_rejected_and_rerouted(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h)
    await pick(worker, warehouse, h.id, qty=0)
    review = (await until(h, lambda s: s.status == S.HELD)).open_review()
    other = "GZ-CLOUD" if warehouse != "GZ-CLOUD" else "HZ-CLOUD"
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=review.review_id, decision=Decision.REROUTE, warehouse=other, reviewer="仓库主管"))
    st = await until(h, lambda s: s.status == S.PICKING and s.warehouse == other)
    assert any(e.event == "order.rerouted" for e in st.timeline)
    await pick(worker, other, h.id)
    assert (await h.result()).status == S.COMPLETED

    h2 = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h2)
    await pick(worker, warehouse, h2.id, qty=0)
    review = (await until(h2, lambda s: s.status == S.HELD)).open_review()
    await h2.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=review.review_id, decision=Decision.REJECT, reviewer="仓库主管", note="停产"))
    assert (await h2.result()).status == S.REJECTED


async def test_rejected_after_a_short_pick_puts_what_was_picked_back_on_the_shelf(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h)
    await pick(worker, warehouse, h.id, qty=1)  # 1 of 2: short (the bin counts as empty now)
    review = (await until(h, lambda s: s.status == S.HELD)).open_review()
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=review.review_id, decision=Decision.REJECT, reviewer="仓库主管", note="客户不要了"))
    result = await h.result()
    assert result.status == S.REJECTED
    returned = next(e for e in result.timeline if e.event == "stock.returned")
    assert returned.data["lines"] == [{"sku": SKU, "bin": "A-03-12", "quantity": 1, "name": "博世刹车片(前)",
                                       "barcode": "6901234567890"}]
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    t = await claim_for(wave, h.id, "MC33-R", "小王")
    assert t is not None and t.kind == "putaway" and t.state == "putaway_pending" and (t.bin, t.quantity) == ("A-03-12", 1)
    assert "不发货" in t.notes[0]
    await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1, picker="小王"))
    after = {r.bin: r.quantity for r in wh.stock_rows(engine, warehouse, [SKU])}["A-03-12"]
    assert after == 1  # the short pick emptied the bin; the returned unit is back in it


async def test_cancel_while_in_wave_leaves_the_wave(worker, task_queue, engine):
    stock(engine, "HZ-DIRECT", 0, sku=f"NOPE-{uuid.uuid4().hex[:4]}")
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    warehouse = await routed_warehouse(h)
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="客户取消", actor="客服"))
    result = await h.result()
    assert result.status == S.CANCELLED
    # the wave dropped the order's pending task: nothing is left to claim for it
    assert await claim_for(wave, h.id, "MC33-X", "小李", wait=False) is None
    await keep_history(h, "warehouse_cancelled_in_wave")


async def test_without_fulfilment_policy_orders_complete_at_release(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), OrderPolicy())
    result = await h.result()
    assert result.status == S.COMPLETED and not any(e.event == "order.wave_joined" for e in result.timeline)
    assert timedelta(0) <= result.updated_at - result.created_at
