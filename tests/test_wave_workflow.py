"""WaveWorkflow on the time-skipping server: waves close at N orders or at the cut-off, devices
claim and confirm picks, short picks and QC failures raise exceptions (read model + WeCom), orders
learn by the ``wave_done`` signal, cancelled picks go back on the shelf, continue-as-new carries the
state, and every history replays.

``WaveTestOrder`` (the benchmark's ``BenchOrder``) stands in for OrderWorkflow's warehouse stage: it calls the ``join_wave``
activity (signal-with-start of ``wave-{warehouse}``) and waits durably for ``wave_done`` — exactly
what the order workflow does once integrated.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Replayer, Worker

from zhongshu.payload_codec import encrypted_data_converter

with workflow.unsafe.imports_passed_through():

    from zhongshu_devtools.bench_waves import BenchOrder, BenchOrderInput

    from activities import warehouse as wh
    from activities.warehouse import WarehouseActivities
    from domain.warehouse import (
        CN_TZ,
        DeviceException,
        PackConfirmation,
        PickConfirmation,
        PickTask,
        QcResult,
        TaskClaim,
        TaskKind,
        TaskState,
        WaveLine,
        WaveOrder,
        WavePolicy,
    )
    from workflows.wave import WaveSummary, WaveWorkflow


# what OrderWorkflow's warehouse stage does, and nothing else: the same stand-in the waves benchmark uses
WaveTestOrder, StubInput = BenchOrder, BenchOrderInput


STOCK = [
    ("A-03-12", "BOSCH-BP-COROLLA18", "博世刹车片(前)", 10, "6901234567890", "易碎品轻拿"),
    ("A-01-02", "MANN-OF-W712", "曼牌机滤", 50, "", ""),
    ("B-02-07", "ENG-1.5T-EA211", "发动机总成 EA211", 4, "6900000000211", "重物,两人搬运"),
]


@pytest.fixture(scope="module")
def engine(sqlite_session_url):
    from tests.test_warehouse_store import warehouse_engine

    return warehouse_engine(sqlite_session_url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def wave_ts_env():
    """Its own time-skipping server: a workflow another file leaves open would jam the shared one."""
    from tests.test_routing_workflow import start_time_skipping_env

    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def env(wave_ts_env, task_queue, engine, fake_wecom):
    ts_env = wave_ts_env
    acts = WarehouseActivities(engine, wecom_webhook_url=fake_wecom.webhook_url)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[WaveWorkflow, WaveTestOrder],
                      activities=acts.all(), activity_executor=ThreadPoolExecutor(8)):
        yield ts_env


def new_warehouse(engine) -> str:
    name = f"WH-{uuid.uuid4().hex[:6].upper()}"
    wh.import_stock(engine, [dict(warehouse=name, bin=b, sku=s, name=n, quantity=q, barcode=bc, notes=no)
                             for b, s, n, q, bc, no in STOCK])
    return name


def wave_order(warehouse: str, oid: str, lines=(("BOSCH-BP-COROLLA18", 2),), carrier="SF", category="刹车片") -> WaveOrder:
    return WaveOrder(order_id=f"order-test-{oid}-{uuid.uuid4().hex[:6]}", warehouse=warehouse, carrier=carrier,
                     ordered_at=datetime.now(CN_TZ),
                     lines=[WaveLine(sku=s, name=s, quantity=q, category=category) for s, q in lines])


async def join(env, task_queue, order: WaveOrder, policy: WavePolicy) -> WorkflowHandle:
    return await env.client.start_workflow(WaveTestOrder.run, StubInput(order=order, policy=policy), id=order.order_id,
                                           task_queue=task_queue)


def wave_of(env, warehouse: str) -> WorkflowHandle:
    return env.client.get_workflow_handle(f"wave-{warehouse}")


async def until(handle: WorkflowHandle, pred, timeout: float = 20) -> WaveSummary:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            s = await handle.query(WaveWorkflow.summary, rpc_timeout=timedelta(seconds=2))
            if pred(s):
                return s
        except Exception as exc:  # noqa: BLE001 - not started yet
            s = exc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"wave state never matched: {s}")
        await asyncio.sleep(0.05)


async def pick_all(handle: WorkflowHandle, device="MC33-01", picker="小张", short: dict[str, int] | None = None) -> list[PickTask]:
    """A device working through its tasks: claim, confirm (short by SKU where asked), until none left."""
    done = []
    while (t := await handle.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id=device, picker=picker))) is not None:
        qty = (short or {}).get(t.sku, t.quantity)
        done.append(await handle.execute_update(
            WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=qty, picker=picker, device_id=device)))
    return done


async def refused(call) -> str:
    """The reason an update was refused (the handler's or validator's ApplicationError)."""
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await call
    return e.value.cause.message


async def replay(env, *handles: WorkflowHandle) -> None:
    replayer = Replayer(workflows=[WaveWorkflow, WaveTestOrder], data_converter=encrypted_data_converter(""))
    for h in handles:
        await replayer.replay_workflow(await h.fetch_history())


async def far_cutoff(env) -> list[str]:
    """A cut-off ~12 h away on the server's clock, so only size closes the wave while the test runs.
    The server's clock, not ours: it has skipped ahead by however much earlier tests waited."""
    return [((await env.get_current_time()).astimezone(CN_TZ) + timedelta(hours=12)).strftime("%H:%M")]


async def test_wave_closes_at_size_pick_pack_and_orders_learn(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=2, cutoffs=await far_cutoff(env))
    o1 = wave_order(warehouse, "a", lines=[("BOSCH-BP-COROLLA18", 2), ("MANN-OF-W712", 1)])
    o2, o3 = wave_order(warehouse, "b"), wave_order(warehouse, "c", carrier="ZTO")
    wave = wave_of(env, warehouse)
    h1 = await join(env, task_queue, o1, policy)
    await until(wave, lambda s: bool(s.open))
    h2, h3 = [await join(env, task_queue, o, policy) for o in (o2, o3)]
    s = await until(wave, lambda s: len(s.active) == 1 and s.open)
    (aw,) = s.active
    assert aw.close_reason == "size" and aw.carrier == "SF" and [o.order_id for o in aw.orders] == [o1.order_id, o2.order_id]
    assert aw.wave_no.startswith("B") and aw.wave_no.endswith("-01")
    assert [(t.bin, t.sku, t.quantity) for t in aw.tasks] == [("A-01-02", "MANN-OF-W712", 1), ("A-03-12", "BOSCH-BP-COROLLA18", 4)]
    assert [o.order_id for o in s.open[0].orders] == [o3.order_id]  # ZTO waits for its own wave

    picked = await pick_all(wave)
    assert [t.state for t in picked] == [TaskState.DONE, TaskState.DONE]
    assert "not open" in await refused(wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id="nope", packer="老李")))
    assert await wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=aw.wave_id, packer="老李")) == "done"

    r1, r2 = await h1.result(), await h2.result()
    assert (r1.outcome, r1.wave_id, r2.outcome) == ("packed", aw.wave_id, "packed") and not r1.shortages
    stock = {(r.bin, r.sku): r.quantity for r in wh.stock_rows(engine, warehouse)}
    assert stock[("A-03-12", "BOSCH-BP-COROLLA18")] == 6 and stock[("A-01-02", "MANN-OF-W712")] == 49
    row = await asyncio.to_thread(lambda: _wait_row(engine, aw.wave_id, "done"))
    assert row["done_count"] == 2 and row["packed_by"] == "老李"
    await until(wave, lambda s: not s.active and s.waves_done == 1)
    await replay(env, wave, h1)
    await wave.signal(WaveWorkflow.cancel_order, o3.order_id)  # leave no order dangling
    await until(wave, lambda s: not s.open)


def _wait_row(engine, wave_id: str, state: str, timeout: float = 10) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        row = wh.get_wave(engine, wave_id)
        if row and row["state"] == state:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"wave {wave_id} row never reached {state}: {row and row['state']}")
        time.sleep(0.05)


async def test_wave_closes_at_cutoff_with_a_durable_timer(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    # a cut-off a few seconds ahead on the server's clock: a short skip, whatever other tests left running
    at = ((await env.get_current_time()).astimezone(CN_TZ) + timedelta(seconds=5)).strftime("%H:%M:%S")
    policy = WavePolicy(size=50, cutoffs=[at], auto_pack=True)
    o = wave_order(warehouse, "cut")
    h = await join(env, task_queue, o, policy)
    wave = wave_of(env, warehouse)
    s = await until(wave, lambda s: bool(s.open))
    cutoff = s.open[0].cutoff_at
    assert cutoff is not None and cutoff.astimezone(CN_TZ).strftime("%H:%M:%S") == at
    await env.sleep(cutoff - await env.get_current_time() + timedelta(seconds=1))  # the durable timer fires
    s = await until(wave, lambda s: bool(s.active))
    assert s.active[0].close_reason == "cutoff" and s.active[0].closed_at >= cutoff and not s.open
    await pick_all(wave)
    done = await h.result()  # auto_pack: packed as soon as picking is over
    assert done.outcome == "packed" and done.order_id == o.order_id
    await replay(env, wave, h)


async def test_short_pick_raises_an_exception_and_the_order_is_told(env, task_queue, engine, fake_wecom):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=2, cutoffs=await far_cutoff(env), auto_pack=True)
    o1 = wave_order(warehouse, "s1", lines=[("BOSCH-BP-COROLLA18", 3)])
    o2 = wave_order(warehouse, "s2", lines=[("BOSCH-BP-COROLLA18", 2), ("NO-SUCH-SKU", 1)])
    wave = wave_of(env, warehouse)
    h1 = await join(env, task_queue, o1, policy)
    await until(wave, lambda s: bool(s.open))  # o1 first: first come, first served
    h2 = await join(env, task_queue, o2, policy)
    await until(wave, lambda s: bool(s.active))
    picked = await pick_all(wave, short={"BOSCH-BP-COROLLA18": 4})
    assert [t.state for t in picked] == [TaskState.SHORT]
    r1, r2 = await h1.result(), await h2.result()
    assert r1.outcome == "packed"  # first come, first served
    assert r2.outcome == "short" and {(x.sku, x.wanted, x.picked) for x in r2.shortages} == {
        ("BOSCH-BP-COROLLA18", 2, 1), ("NO-SUCH-SKU", 1, 0)}
    assert len(r2.exception_ids) == 2
    excs = wh.list_exceptions(engine, warehouse=warehouse)
    assert {e["kind"] for e in excs} == {"short_pick"} and any("实拣4件,应拣5件" in e["reason"] for e in excs)
    stock = {(r.bin, r.sku): r.quantity for r in wh.stock_rows(engine, warehouse)}
    assert stock[("A-03-12", "BOSCH-BP-COROLLA18")] == 0  # the bin is known to be empty now

    def wecom():
        return [m for m in fake_wecom.messages() if warehouse in str(m)]
    deadline = asyncio.get_running_loop().time() + 10
    while len(wecom()) < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert len(wecom()) == 2 and "缺货异常" in str(wecom()[0])
    await replay(env, wave, h2)


async def test_qc_pending_blocks_packing_and_reprint_goes_to_the_lead(env, task_queue, engine, fake_wecom):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=1, cutoffs=await far_cutoff(env))
    o = wave_order(warehouse, "qc", lines=[("ENG-1.5T-EA211", 1)], category="发动机总成")
    h = await join(env, task_queue, o, policy)
    wave = wave_of(env, warehouse)
    (aw,) = (await until(wave, lambda s: bool(s.active))).active
    t = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id="MC33-02", picker="小王"))
    assert t.qc_required and "拣货后送质检" in t.notes and "重物,两人搬运" in t.notes
    again = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id="MC33-02", picker="小王"))
    assert again.task_id == t.task_id  # the device's current task survives a restart of the device

    exc_id = await wave.execute_update(WaveWorkflow.report_exception, DeviceException(
        task_id=t.task_id, bin=t.bin, picker="小王", device_id="MC33-02"))
    (row,) = [e for e in wh.list_exceptions(engine, warehouse=warehouse) if e["exception_id"] == exc_id]
    assert row["kind"] == "reprint_label" and row["bin"] == "B-02-07" and "补打" in row["reason"]

    assert "picked 2 > 1" in await refused(wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=2)))
    done = await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1, picker="小王"))
    assert done.state == TaskState.QC_PENDING
    retried = await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=t.task_id, picked_qty=1))
    assert retried.state == TaskState.QC_PENDING  # idempotent
    assert "still has 1 task" in await refused(wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=aw.wave_id)))
    passed = await wave.execute_update(WaveWorkflow.qc_result, QcResult(task_id=t.task_id, passed=True, inspector="质检员"))
    assert passed.state == TaskState.DONE
    assert await wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=aw.wave_id, packer="老李")) == "done"
    assert (await h.result()).outcome == "packed"
    assert any("补打标签" in str(m) and warehouse in str(m) for m in fake_wecom.messages())


async def test_cancelled_order_leaves_its_wave_and_picked_goods_go_back(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=2, cutoffs=await far_cutoff(env))
    o1 = wave_order(warehouse, "keep", lines=[("MANN-OF-W712", 1)])
    o2 = wave_order(warehouse, "cancel", lines=[("BOSCH-BP-COROLLA18", 2)])
    h1, _h2 = [await join(env, task_queue, o, policy) for o in (o1, o2)]
    wave = wave_of(env, warehouse)
    (aw,) = (await until(wave, lambda s: bool(s.active))).active
    await pick_all(wave)
    await wave.signal(WaveWorkflow.cancel_order, o2.order_id)  # picked, not yet packed
    s = await until(wave, lambda s: any(t.kind == TaskKind.PUTAWAY for w in s.active for t in w.tasks))
    (put,) = [t for w in s.active for t in w.tasks if t.kind == TaskKind.PUTAWAY]
    assert (put.state, put.bin, put.quantity) == (TaskState.PUTAWAY_PENDING, "A-03-12", 2)
    assert await wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=aw.wave_id)) == "done"
    assert (await h1.result()).outcome == "packed"
    claimed = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id="MC33-03", picker="小赵"))
    assert claimed.task_id == put.task_id  # put-away first
    back = await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(task_id=put.task_id, picked_qty=2))
    assert back.state == TaskState.DONE
    stock = {(r.bin, r.sku): r.quantity for r in wh.stock_rows(engine, warehouse)}
    assert stock[("A-03-12", "BOSCH-BP-COROLLA18")] == 10
    await until(wave, lambda s: not s.active and s.waves_done == 1)


@pytest.mark.parametrize("limits", [dict(history_limit=40), dict(updates_per_run=3)], ids=["history", "updates"])
async def test_continue_as_new_carries_open_and_active_waves(env, task_queue, engine, limits):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=3, cutoffs=await far_cutoff(env), **limits)
    wave = wave_of(env, warehouse)
    handles = []
    for i in range(8):  # one after the other: joins run concurrently, and the first six must be the picked ones
        handles.append(await join(env, task_queue, wave_order(warehouse, f"can{i}"), policy))
        await until(wave, lambda s, n=i + 1: s.orders_seen == n)
    s = await until(wave, lambda s: len(s.active) == 2 and s.open and len(s.open[0].orders) == 2)
    first_run = (await wave.describe()).run_id
    for _ in range(2):
        await pick_all(wave)
    s = await until(wave, lambda s: s.runs > 1 and all(w.state == "packing" for w in s.active))
    assert (await wave.describe()).run_id != first_run
    assert len(s.active) == 2 and len(s.open[0].orders) == 2
    for w in s.active:
        await wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=w.wave_id, packer="老李"))
    results = [await h.result() for h in handles[:6]]
    assert {r.outcome for r in results} == {"packed"} and len({r.wave_id for r in results}) == 2
    s = await until(wave, lambda s: s.waves_done == 2)
    assert {o.order_id for o in s.open[0].orders} == {h.id for h in handles[6:]}
    await wave.signal(WaveWorkflow.cancel_order, handles[6].id)
    await wave.signal(WaveWorkflow.cancel_order, handles[7].id)
    await until(wave, lambda s: not s.open)


# ---------------------------------------------------------------- 加急 (urgent)


def urgent_in_read_model(engine, warehouse: str, tag: str) -> WaveOrder:
    """An order a person marked 加急 in the console before it reached its wave."""
    from domain.order import OrderSubmission
    from store import order_marks, read_model
    from tests.support import order_payload

    sub = OrderSubmission.model_validate(order_payload(f"URG-{tag}-{uuid.uuid4().hex[:6]}"))
    read_model.record_received(engine, sub)
    assert order_marks.add_mark(engine, sub.order_id, "order.marked_urgent", actor="小李")
    return wave_order(warehouse, tag).model_copy(update={"order_id": sub.order_id})


async def test_an_order_marked_urgent_before_it_joins_closes_its_wave_at_once(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=30, cutoffs=await far_cutoff(env))
    calm, rush = wave_order(warehouse, "calm"), urgent_in_read_model(engine, warehouse, "rush")
    wave = wave_of(env, warehouse)
    h1 = await join(env, task_queue, calm, policy)
    await until(wave, lambda s: bool(s.open))
    h2 = await join(env, task_queue, rush, policy)  # the join_wave activity reads the mark
    s = await until(wave, lambda s: len(s.active) == 1)
    (aw,) = s.active
    assert aw.close_reason == "urgent" and aw.urgent == [rush.order_id] and not s.open
    assert [o.order_id for o in aw.orders] == [calm.order_id, rush.order_id]  # the calm one rides along
    assert all(t.notes[0] == "⚡加急" for t in aw.tasks)  # one bin serves both: the line is urgent
    await pick_all(wave)
    await wave.execute_update(WaveWorkflow.confirm_pack, PackConfirmation(wave_id=aw.wave_id, packer="老李"))
    assert (await h1.result()).outcome == (await h2.result()).outcome == "packed"
    await replay(env, wave, h2)


async def test_marked_urgent_in_a_wave_being_picked_its_picks_come_first(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=1, cutoffs=await far_cutoff(env), auto_pack=True)
    first = wave_order(warehouse, "first", lines=[("MANN-OF-W712", 1)])
    later = wave_order(warehouse, "later", lines=[("BOSCH-BP-COROLLA18", 1)])
    wave = wave_of(env, warehouse)
    h1 = await join(env, task_queue, first, policy)
    await until(wave, lambda s: len(s.active) == 1)
    h2 = await join(env, task_queue, later, policy)
    await until(wave, lambda s: len(s.active) == 2)
    await wave.signal("expedite_order", later.order_id)  # what POST /v1/orders/{id}/marks sends
    s = await until(wave, lambda s: any(w.urgent for w in s.active))
    older, newer = sorted(s.active, key=lambda w: w.closed_at)
    assert newer.urgent == [later.order_id] and newer.tasks[0].notes[0] == "⚡加急" and not older.urgent
    t = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id="MC33-09", picker="小王"))
    assert t is not None and t.allocations[0].order_id == later.order_id  # the newer wave's urgent pick, first
    await pick_all(wave, device="MC33-09", picker="小王")
    assert (await h2.result()).outcome == (await h1.result()).outcome == "packed"
    await replay(env, wave)


async def test_expediting_an_order_the_wave_does_not_hold_changes_nothing(env, task_queue, engine):
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=30, cutoffs=await far_cutoff(env))
    o = wave_order(warehouse, "solo")
    wave = wave_of(env, warehouse)
    await join(env, task_queue, o, policy)
    await until(wave, lambda s: bool(s.open))
    await wave.signal("expedite_order", "order-test-somebody-else")
    s = await until(wave, lambda s: s.orders_seen == 1)
    assert s.open and not s.active
    await wave.signal(WaveWorkflow.cancel_order, o.order_id)  # leave no order dangling
    await until(wave, lambda s: not s.open)
