"""The order's warehouse stage on the time-skipping server, with the real WaveWorkflow: a released
order starts its warehouse part (child ``Fulfilment``), which joins the warehouse's wave (PICKING),
waits durably for pick and pack (PACKED → completed when shipping is off), a short pick holds it for a
person (re-pick, another warehouse, reject), and a cancel while in the wave takes its tasks out of the
wave. Part reviews are decided where the API sends them: the workflow that holds them
(``C.owner_of_review``)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle

from activities import warehouse as wh
from domain.contracts import fulfilment as F
from domain.contracts import order as C
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.review import Decision, ReviewDecision, ReviewTask
from domain.status import OrderStatus
from domain.warehouse import PickConfirmation, PickTask, TaskClaim, TaskKind, WavePolicy
from store import read_model, risk_data
from store.db import engine_for, migrate
from tests.support import order_payload
from tests.workflow_helpers import HISTORIES, keep_history, replay_fails, result_of, start_order, until, wave_update
from workers.order_worker import build_worker
from workflows.fulfilment import FulfilmentWorkflow
from workflows.wave import WaveSummary, WaveWorkflow

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
    return t.kind == TaskKind.PICK and any(a.order_id.startswith(order_id) for a in t.allocations)


def events(v) -> list[str]:
    return [e.event for e in v.timeline]


async def part_view(env, part_id: str) -> F.PartView:
    return await env.client.get_workflow_handle(part_id).query(F.STATE.name, result_type=F.PartView)


async def part_until(env, part_id: str, pred, timeout: float = 20) -> F.PartView:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        v = await part_view(env, part_id)
        if pred(v):
            return v
        if loop.time() > deadline:
            raise AssertionError(f"part never matched; status {v.status}, events {events(v)}")
        await asyncio.sleep(0.05)


def open_task(v: F.PartView) -> ReviewTask | None:
    return next((t for t in v.reviews if t.state == "open"), None)


async def decide(env, task: ReviewTask, decision: Decision, **kw) -> ReviewTask:
    """A reviewer's decision, sent where the API sends it: the workflow holding the task."""
    owner = C.owner_of_review(task.review_id)
    return await env.client.get_workflow_handle(owner).execute_update(
        C.DECIDE_REVIEW.name, ReviewDecision(review_id=task.review_id, decision=decision, reviewer="仓库主管", **kw),
        result_type=ReviewTask)


async def pick(env, warehouse: str, order_id: str, qty: int | None = None) -> None:
    """A scanner working through every open task of the warehouse's wave, taking ``qty`` for this
    order's picks (None: all asked for) and doing the rest in full (the wave lives on from test to test).
    The part has joined the wave, but the wave may still be planning its tasks: waits (10 s at most)
    until it has picked one of them."""
    wave = env.client.get_workflow_handle(f"wave-{warehouse}")
    loop = asyncio.get_running_loop()
    deadline, picked = loop.time() + 10, False
    while True:
        t = await wave_update(wave, WaveWorkflow.claim_task, TaskClaim(device_id="MC33-T", picker="小张"))
        if t is None:
            if picked or loop.time() > deadline:
                return
            await asyncio.sleep(0.1)
            continue
        picked = picked or mine(t, order_id)
        await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(
            task_id=t.task_id, picked_qty=qty if (qty is not None and mine(t, order_id)) else t.quantity, picker="小张",
            device_id="MC33-T"))


async def claim_for(wave: WorkflowHandle, order_id: str, device: str, picker: str, *, wait: bool = True) -> PickTask | None:
    """The next task of this order (pick or put-away) a device is offered; any other order's task the
    wave offers first (what an earlier test left) is done in full on the way. With ``wait``, gives the
    wave 10 s to plan it (its signal may still be on the way)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (10 if wait else 0)
    while True:
        t = await wave_update(wave, WaveWorkflow.claim_task, TaskClaim(device_id=device, picker=picker))
        if t is None:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.1)
            continue
        if any(a.order_id.startswith(order_id) for a in t.allocations):
            return t
        await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(
            task_id=t.task_id, picked_qty=t.quantity, picker=picker, device_id=device))


async def keep_part_history(env, part_id: str, name: str) -> None:
    """``keep_history`` for a fulfilment part: its history replays against the current code (and is
    saved with ZHONGSHU_RECORD_HISTORIES=1)."""
    history = await env.client.get_workflow_handle(part_id).fetch_history()
    failure = await replay_fails(history, FulfilmentWorkflow)
    assert failure is None, f"history {name} does not replay: {failure}"
    if os.environ.get("ZHONGSHU_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(json.dumps(json.loads(history.to_json()), ensure_ascii=False, indent=1))


async def in_wave(env, h: WorkflowHandle) -> tuple[str, str]:
    """The order is picking and its one part has joined its warehouse's wave: (part id, warehouse)."""
    st = await until(h, lambda s: s.status == S.PICKING and len(s.parts) == 1)
    part = st.parts[0]
    assert part.warehouse and part.part_id == F.part_id(h.id, 1)
    await part_until(env, part.part_id, lambda v: "order.wave_joined" in events(v))
    return part.part_id, part.warehouse


async def test_order_joins_wave_waits_for_pick_and_pack_then_completes(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    pv = await part_view(worker, part)
    assert pv.timeline[-1].event == "order.wave_joined" and pv.timeline[-1].data["skus"] == [SKU]
    assert pv.status == F.PartStatus.PICKING
    await until(h, lambda s: read_model.get_order(engine, h.id) is not None
                and read_model.get_order(engine, h.id)["status"] == "picking")
    await pick(worker, warehouse, h.id)
    result = await result_of(h)
    assert result.status == S.COMPLETED and result.wave_no and result.wave_no.startswith("B")
    assert [p.status for p in result.parts] == ["handed_over"] and result.parts[0].wave_no == result.wave_no
    pv = await part_view(worker, part)
    assert [e for e in events(pv) if e in ("order.wave_joined", "order.packed", "part.handed_over")] == [
        "order.wave_joined", "order.packed", "part.handed_over"]
    assert events(result)[-1] == "order.completed" and "order.packed" in events(result)
    assert events(result).index("order.picking") < events(result).index("order.packed")
    # the read model has the order's and its part's story in one timeline
    await until(h, lambda s: read_model.get_order(engine, h.id)["status"] == "completed")
    read = read_model.order_view(engine, h.id)
    assert read is not None and {"order.wave_joined", "order.packed", "order.completed"} <= set(events(read))
    await keep_history(h, "order_v2_warehouse_picked_and_packed")
    await keep_part_history(worker, part, "fulfilment_v2_warehouse_picked_and_packed")


async def test_short_pick_holds_for_review_then_repicks_the_shortage(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    await pick(worker, warehouse, h.id, qty=1)  # asked for 2
    await until(h, lambda s: s.status == S.HELD)
    pv = await part_until(worker, part, lambda v: open_task(v) is not None)
    review = open_task(pv)
    assert review is not None and review.kind == "stock" and "应拣2 实拣1" in review.reason
    assert review.review_id.startswith(part) and review.features == ["SHORT_PICK"]
    assert events(pv)[-3:] == ["order.short_picked", "part.held", "review.opened"]
    assert pv.status == F.PartStatus.HELD
    await decide(worker, review, Decision.APPROVE, note="已补货")
    pv = await part_until(worker, part, lambda v: v.timeline[-1].event == "order.wave_joined"
                          and v.timeline[-1].data.get("round") == 2)
    assert pv.timeline[-1].data["skus"] == [SKU]
    await until(h, lambda s: s.status == S.PICKING)
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    t = await claim_for(wave, h.id, "MC33-T", "小张")
    assert t is not None and t.quantity == 1 and t.sku == SKU  # only what was short
    await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1, picker="小张"))
    result = await result_of(h)
    assert result.status == S.COMPLETED
    await keep_history(h, "order_v2_warehouse_short_pick_repicked")
    await keep_part_history(worker, part, "fulfilment_v2_warehouse_short_pick_repicked")


async def test_short_pick_rerouted_to_another_warehouse(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    await pick(worker, warehouse, h.id, qty=0)
    await until(h, lambda s: s.status == S.HELD)
    review = open_task(await part_until(worker, part, lambda v: open_task(v) is not None))
    other = "GZ-CLOUD" if warehouse != "GZ-CLOUD" else "HZ-CLOUD"
    await decide(worker, review, Decision.REROUTE, warehouse=other)
    st = await until(h, lambda s: s.status == S.PICKING and s.parts[0].warehouse == other)
    assert len(st.parts) == 1  # the same part moves on, no second part
    pv = await part_until(worker, part, lambda v: v.timeline[-1].event == "order.wave_joined")
    assert pv.warehouse == other and any(e.event == "order.rerouted" and e.data["to"] == other for e in pv.timeline)
    await pick(worker, other, h.id)
    result = await result_of(h)
    assert result.status == S.COMPLETED and result.parts[0].warehouse == other


async def test_short_pick_rejected_rejects_the_order(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    await pick(worker, warehouse, h.id, qty=0)
    await until(h, lambda s: s.status == S.HELD)
    review = open_task(await part_until(worker, part, lambda v: open_task(v) is not None))
    await decide(worker, review, Decision.REJECT, note="停产")
    result = await result_of(h)
    assert result.status == S.REJECTED
    assert (await part_view(worker, part)).status == F.PartStatus.REJECTED


async def test_rejected_after_a_short_pick_puts_what_was_picked_back_on_the_shelf(worker, task_queue, engine):
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    await pick(worker, warehouse, h.id, qty=1)  # 1 of 2: short (the bin counts as empty now)
    review = open_task(await part_until(worker, part, lambda v: open_task(v) is not None))
    await decide(worker, review, Decision.REJECT, note="客户不要了")
    result = await result_of(h)
    assert result.status == S.REJECTED
    pv = await part_view(worker, part)
    returned = next(e for e in pv.timeline if e.event == "stock.returned")
    assert returned.data["lines"] == [{"sku": SKU, "bin": "A-03-12", "quantity": 1, "name": "博世刹车片(前)",
                                       "barcode": "6901234567890"}]
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    t = await claim_for(wave, h.id, "MC33-R", "小王")
    assert t is not None and t.kind == "putaway" and t.state == "putaway_pending" and (t.bin, t.quantity) == ("A-03-12", 1)
    assert "不发货" in t.notes[0]
    await wave_update(wave, WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1, picker="小王"))
    after = {r.bin: r.quantity for r in wh.stock_rows(engine, warehouse, [SKU])}["A-03-12"]
    assert after == 1  # the short pick emptied the bin; the returned unit is back in it


async def test_cancel_while_in_wave_leaves_the_wave(worker, task_queue, engine):
    stock(engine, "HZ-DIRECT", 0, sku=f"NOPE-{uuid.uuid4().hex[:4]}")
    h = await start_order(worker.client, task_queue, payload(), WAREHOUSE_ONLY)
    part, warehouse = await in_wave(worker, h)
    wave = worker.client.get_workflow_handle(f"wave-{warehouse}")
    await h.signal(C.CANCEL.name, C.CancelRequest(reason="客户取消", actor="客服"))
    result = await result_of(h)
    assert result.status == S.CANCELLED and result.timeline[-1].actor == "客服"
    pv = await part_view(worker, part)
    assert pv.status == F.PartStatus.CANCELLED and "stock.returned" not in events(pv)  # nothing was picked yet
    # the wave dropped the order's pending task: nothing is left to claim for it (read by the wave's
    # query: the time-skipping server now and then loses updates to a wave for seconds)
    summary = await wave.query("summary", result_type=WaveSummary)
    assert not [t for w in summary.active for t in w.tasks
                if mine(t, h.id) and not t.state.finished], "a pick task of the cancelled order is still offered"
    await keep_history(h, "order_v2_warehouse_cancelled_in_wave")


async def test_without_fulfilment_policy_orders_complete_at_release(worker, task_queue):
    h = await start_order(worker.client, task_queue, payload(), OrderPolicy())
    result = await result_of(h)
    assert result.status == S.COMPLETED and not result.parts
    assert not any(e.event in ("order.wave_joined", "order.picking") for e in result.timeline)
    assert timedelta(0) <= result.updated_at - result.created_at
