"""WaveWorkflow on the real dev server, in real time: three waves each wait idle for their cut-off
(a durable timer whose expiry is the normal path, not an error), close at it, hand out their pick
tasks and tell their orders — before and after a continue-as-new — and every history replays.
Cut-offs two seconds apart keep it to seconds."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker
from zhongshu_devtools.bench_waves import BenchOrder, BenchOrderInput

from activities import warehouse as wh
from activities.warehouse import WarehouseActivities
from domain.warehouse import CN_TZ, PickConfirmation, TaskClaim, WaveLine, WaveOrder, WavePolicy
from tests.channel_support import eventually, replay_all, run_histories, timers_fired
from tests.test_warehouse_store import warehouse_engine
from workflows.wave import WaveSummary, WaveWorkflow


async def test_waves_close_at_idle_cutoffs_and_hand_out_tasks_across_continue_as_new(dev_env, tmp_path, fake_wecom):
    engine = warehouse_engine(f"sqlite:///{tmp_path / 'waves.db'}")
    warehouse = f"WH-RT-{uuid.uuid4().hex[:6].upper()}"
    wh.import_stock(engine, [dict(warehouse=warehouse, bin="A-03-12", sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)",
                                  quantity=100, barcode="6901234567890", notes="易碎品轻拿")])
    start = datetime.now(CN_TZ)
    cutoffs = [(start + timedelta(seconds=s)).strftime("%H:%M:%S") for s in range(3, 120, 2)]
    # continue-as-new after 3 device updates: the second wave's claim + confirm cross it
    policy = WavePolicy(size=30, cutoffs=cutoffs, auto_pack=True, updates_per_run=3)
    tq = f"wave-rt-{uuid.uuid4().hex[:6]}"
    wave = dev_env.client.get_workflow_handle(f"wave-{warehouse}")

    async def summary(pred) -> WaveSummary | None:
        s: WaveSummary = await wave.query(WaveWorkflow.summary)
        return s if pred(s) else None

    async with Worker(dev_env.client, task_queue=tq, workflows=[WaveWorkflow, BenchOrder],
                      activities=WarehouseActivities(engine, wecom_webhook_url=fake_wecom.webhook_url).all(),
                      activity_executor=ThreadPoolExecutor(8)):
        done = []
        for n in range(3):
            order = WaveOrder(order_id=f"order-rt-{n}-{uuid.uuid4().hex[:6]}", warehouse=warehouse, carrier="SF",
                              ordered_at=datetime.now(CN_TZ),
                              lines=[WaveLine(sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)", quantity=2, category="刹车片")])
            h = await dev_env.client.start_workflow(BenchOrder.run, BenchOrderInput(order=order, policy=policy),
                                                    id=order.order_id, task_queue=tq)
            s = await eventually(lambda oid=order.order_id: summary(
                lambda sm: any(o.order_id == oid for w in sm.open for o in w.orders)), what="order in an open wave")
            assert not s.active or all(order.order_id not in w.order_ids() for w in s.active)  # waiting for its cut-off
            # idle until the cut-off: the timer fires, the wave closes and its task is handed out
            await eventually(lambda oid=order.order_id: summary(
                lambda sm: any(oid in w.order_ids() and w.close_reason == "cutoff" for w in sm.active)),
                timeout=15, what="the wave closed at its cut-off")
            task = await wave.execute_update(WaveWorkflow.claim_task, TaskClaim(device_id=f"MC33-{n}", picker="小张"))
            assert task.wave_id and task.bin == "A-03-12" and task.quantity == 2
            await wave.execute_update(WaveWorkflow.confirm_pick, PickConfirmation(
                task_id=task.task_id, picked_qty=2, picker="小张", device_id=f"MC33-{n}"))
            result = await h.result()  # wave_done: packed (auto pack), the order learns it
            assert result.outcome == "packed" and result.order_id == order.order_id
            done.append(result)
        s = await eventually(lambda: summary(lambda s: s.waves_done == 3 and s.runs >= 2), what="3 waves, 2 runs")
        assert len({d.wave_id for d in done}) == 3
        await wave.terminate("test over")

    histories = await run_histories(dev_env.client, f"wave-{warehouse}")
    assert len(histories) >= 2
    assert histories[0].events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert sum(timers_fired(h) for h in histories) >= 3  # each wave's idle wait ended by its cut-off timer
    from sqlalchemy import select

    from store.schema import waves

    with engine.connect() as conn:
        reasons = [r.close_reason for r in conn.execute(select(waves.c.close_reason).where(waves.c.warehouse == warehouse))]
    assert reasons.count("cutoff") == 3
    await replay_all([WaveWorkflow], histories)
