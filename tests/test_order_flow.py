"""The redesigned order (``Order`` → ``Fulfilment`` parts → ``Shipment`` parcels) on the time-skipping
server with the real worker, waves and fakes: the whole path, a split order, cancels and address
changes before release, holds that gate dispatch, the parcel's reviews, stuck activities, reroute
checks, a late burst, aftersales returns. Histories are kept for the replay test."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from temporalio.client import WorkflowUpdateFailedError

from domain.contracts import order as C
from domain.logistics import TrackingCode
from domain.review import Decision, ReviewKind
from tests.order_flow_support import OIL, SKU, cards, flow, flow_engine, flow_env, flow_fakes, line, orders, payload, stock  # noqa: F401
from tests.support import skip_time
from tests.workflow_helpers import keep_history

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(autouse=True)
def _stock(flow_engine):  # noqa: F811
    """Every test starts with full shelves: a short pick in an earlier test leaves its bin empty, and
    the split planner would then rightly send this test's order elsewhere."""
    from activities import warehouse as wh

    wh.import_stock(flow_engine, [dict(warehouse=w, bin="A-03-12", sku=SKU, name=SKU, quantity=500, barcode="6901234567890")
                                  for w in ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD")])


async def _deliver(orders, h, v):  # noqa: F811
    for p in v.parts:
        await orders.pick(p.warehouse, v.order_id)
    await orders.status(h, "packed")
    await orders.confirm(h)
    v = await orders.status(h, "shipped")
    for p in v.parts:
        await orders.track(await orders.shipped(p.part_id))
    return await orders.status(h, "delivered")


async def test_one_part_from_intake_to_completed(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    assert [p.status for p in v.parts] == ["picking"] and v.parts[0].warehouse == "HZ-CLOUD"
    v = await _deliver(orders, h, v)
    assert v.delivered_at is not None and v.waybill_no
    outcome = await h.result()
    assert outcome.status == "completed" and outcome.waybills == [v.waybill_no]
    read = orders.read(v.order_id)
    assert read is not None and read.status == "completed" and read.parts[0].status == "delivered"
    events = [e.event for e in read.timeline]
    for e in ("order.received", "order.routed", "order.wave_joined", "order.packed", "address.confirmed",
              "order.shipped", "shipment.waybill_created", "tracking.event", "order.delivered", "order.completed"):
        assert e in events, e
    history = await h.fetch_history()
    size = sum(e.ByteSize() for e in history.events)  # what Temporal stores (and reports as the history size)
    # every call is a regular activity since 2026-12-03 (workflows/io.py), each ≈ 6 events, so the
    # order makes one call per stage (workflows/order_calls.py): ≈ 116–125 events here (171 call by
    # call), ≈ 92 in `zhongshu bench pipeline`, where no confirmation is retried before its card is out
    assert len(history.events) <= 150 and size <= 60_000, (len(history.events), size)
    projections = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
                   and e.activity_task_scheduled_event_attributes.activity_type.name == "project"]
    stages = {e.status for e in read.timeline}
    assert len(projections) <= len(stages), (len(projections), sorted(stages))  # thin: at most one per stage
    await keep_history(h, "order_v2_one_part")
    await keep_history(orders.client.get_workflow_handle(v.parts[0].part_id), "fulfilment_v2_one_part")


async def test_split_across_warehouses_each_part_ships_on_its_own(orders, flow_engine):  # noqa: F811
    stock(flow_engine, "HZ-CLOUD", "BOSCH-HZ-ONLY", 50)  # only Hangzhou has these pads …
    stock(flow_engine, "GZ-CLOUD", OIL, 50, bin="B-01-02")  # … and only Guangzhou the oil
    h = await orders.start(payload(line("BOSCH-HZ-ONLY", 1), line(OIL, 2, "88.00")))
    v = await orders.until(h, lambda v: len(v.parts) == 2)
    assert sorted(p.warehouse for p in v.parts) == ["GZ-CLOUD", "HZ-CLOUD"]
    assert any(e.event == "order.split" for e in v.timeline)
    for p in v.parts:
        await orders.pick(p.warehouse, v.order_id)
    await orders.status(h, "packed")
    await orders.confirm(h)
    v = await orders.until(h, lambda v: all(p.waybill_no for p in v.parts))
    first, second = v.parts
    await orders.track(await orders.shipped(first.part_id))
    v = await orders.until(h, lambda v: v.parts[0].status == "delivered")
    assert v.status == "shipped"  # one parcel is still on its way
    await orders.track(await orders.shipped(second.part_id))
    v = await orders.status(h, "delivered")
    read = orders.read(v.order_id)
    assert read is not None and len(read.parts) == 2 and "," in (read.warehouse or "")
    await keep_history(h, "order_v2_split")


async def test_cancel_before_release_takes_the_goods_back(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    await orders.pick(v.parts[0].warehouse, v.order_id)
    await orders.status(h, "packed")
    await h.signal(C.CANCEL.name, C.CancelRequest(reason="客户不要了", actor="客服小王"))
    assert (await h.result()).status == "cancelled"
    part = await orders.part(v.parts[0].part_id)
    assert part.status == "cancelled"
    assert any(e.event == "stock.returned" for e in part.timeline)


async def test_cancel_after_release_is_refused(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    await orders.pick(v.parts[0].warehouse, v.order_id)
    await orders.confirm(h)
    await orders.status(h, "shipped")
    await h.signal(C.CANCEL.name, C.CancelRequest(reason="晚了", actor="客服小王"))
    v = await orders.until(h, lambda v: any(e.event == "order.cancel_refused" for e in v.timeline))
    assert v.status == "shipped"


async def test_unconfirmed_address_reminds_then_asks_a_person(orders, flow_fakes):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    await orders.pick(v.parts[0].warehouse, v.order_id)
    await orders.status(h, "packed")
    await skip_time(orders.env, timedelta(hours=12, minutes=5))
    await orders.until(h, lambda v: any(e.event == "address.reminder_sent" for e in v.timeline))
    assert len(cards(flow_fakes, v.order_id)) == 2
    await skip_time(orders.env, timedelta(hours=2, minutes=5))
    v = await orders.status(h, "held")
    task = v.open_review()
    assert task is not None and task.kind == ReviewKind.ADDRESS and task.features == ["ADDRESS_UNCONFIRMED"]
    await orders.decide(v.order_id, task, Decision.APPROVE, note="电话确认过")
    await orders.status(h, "shipped")


async def test_address_change_before_release_same_warehouse_follows_the_part(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    part = v.parts[0].part_id
    r = await h.execute_update(C.CHANGE_ADDRESS.name, {"address": "浙江省杭州市萧山区城厢街道人民路66号",
                                                        "requested_by": "customer"}, result_type=None)
    assert r["accepted"], r
    v = await orders.until(h, lambda v: v.confirm_round == 2)
    assert [p.part_id for p in v.parts] == [part]  # same warehouse: the same part, still in its wave
    assert any(e.event == "part.redirected" for e in (await orders.part(part)).timeline)


async def test_address_change_to_another_warehouse_starts_a_new_part(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    r = await h.execute_update(C.CHANGE_ADDRESS.name, {"address": "广东省广州市天河区天河路385号", "requested_by": "customer"},
                               result_type=None)
    assert r["accepted"], r
    v = await orders.until(h, lambda v: len(v.parts) == 2)
    assert v.parts[0].status == "cancelled" and v.parts[1].warehouse == "GZ-CLOUD"


async def test_short_pick_holds_the_part_and_a_reroute_picks_elsewhere(orders):  # noqa: F811
    h = await orders.start(payload(line(SKU, 3)))
    v = await orders.status(h, "picking")
    p = v.parts[0]
    await orders.pick(p.warehouse, v.order_id, short_by=1)
    v = await orders.status(h, "held")
    part = await orders.part(p.part_id)
    task = next(t for t in part.reviews if t.state == "open")
    assert task.kind == ReviewKind.STOCK and task.review_id.startswith(p.part_id)
    await orders.decide(p.part_id, task, Decision.REROUTE, warehouse="GZ-CLOUD", note="杭州缺货")
    await orders.until(h, lambda v: v.parts[0].warehouse == "GZ-CLOUD" and v.status == "picking")
    await orders.pick("GZ-CLOUD", v.order_id)
    await orders.status(h, "packed")


async def test_reroute_is_checked_like_a_rule_unless_overridden(orders):  # noqa: F811
    # 新疆 has no routing rule: a routing review; JD is suspended in 余杭 but this is 乌鲁木齐
    h = await orders.start(payload(line(), address="新疆乌鲁木齐市天山区解放北路88号"))
    v = await orders.status(h, "held")
    task = v.open_review()
    assert task is not None and task.kind == ReviewKind.ROUTING
    with pytest.raises(WorkflowUpdateFailedError) as exc:
        await orders.decide(v.order_id, task, Decision.REROUTE, warehouse="NOWHERE")
    assert "未知仓库" in str(exc.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as exc:
        await orders.decide(v.order_id, task, Decision.REROUTE, warehouse="HZ-CLOUD", carrier="UPS")
    assert "未知承运商" in str(exc.value.cause)
    done = await orders.decide(v.order_id, task, Decision.REROUTE, warehouse="HZ-CLOUD", carrier="SF")
    assert done.state == "decided"
    v = await orders.status(h, "picking")
    assert v.carrier == "SF" and v.warehouse == "HZ-CLOUD"


async def test_jd_suspended_in_yuhang_is_refused_then_overridden_on_purpose(orders):  # noqa: F811
    h = await orders.start(payload(line(SKU, 500), address="浙江省杭州市余杭区五常街道文一西路969号"))  # a risk hold
    v = await orders.status(h, "held")
    task = v.open_review()
    assert task is not None
    with pytest.raises(WorkflowUpdateFailedError) as exc:
        await orders.decide(v.order_id, task, Decision.REROUTE, warehouse="HZ-CLOUD", carrier="JD")
    assert "停运" in str(exc.value.cause)
    await orders.decide(v.order_id, task, Decision.REROUTE, warehouse="HZ-CLOUD", carrier="JD", override=True,
                        note="客户指定京东, 站长确认可自提")
    v = await orders.status(h, "picking")
    assert v.carrier == "JD"
    assert any("强制" in e.reason for e in v.timeline if e.event == "order.routed")


async def test_a_late_burst_holds_orders_already_in_the_warehouse(orders):  # noqa: F811
    """A sync catching up delivers the fifth order of a burst when the first four are being picked:
    they are held before dispatch and not released until a person decides."""
    base = dict(customer={"id": "SHOP-BURST-1", "name": "刷单王", "phone": "13900001111"},
                ordered_at=(datetime.now(UTC) - timedelta(minutes=40)).isoformat())
    first = []
    for i in range(4):
        h = await orders.start(payload(line(f"BURST-{i}", 1), **base))
        first.append(h)
    for h in first:
        await orders.status(h, "picking", "held")
    late = await orders.start(payload(line("BURST-9", 1), **base))
    await orders.status(late, "held")
    for h in first:  # each call a workflow task of its own: wait for the hold, then say what was seen
        await orders.until(h, lambda v: v.status.value == "held" and any(
            t.features == ["BURST_SAME_ADDRESS"] for t in v.reviews if t.state == "open"))


@contextmanager
def table_missing(engine, table: str):
    """The read model without ``table`` for a while (renamed away, then back): every call that needs it fails."""
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_broken"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table}_broken RENAME TO {table}"))


async def test_stuck_activity_becomes_an_ops_task_and_retries_after_the_fix(orders, flow_engine):  # noqa: F811
    with table_missing(flow_engine, "dedupe_keys"):
        h = await orders.start(payload(line()))
        v = await orders.until(h, lambda v: v.stuck is not None, timeout=30)
        assert "stuck" in v.flags and "dedupe_keys" in v.stuck.error
        task = next(t for t in v.reviews if t.kind == ReviewKind.OPS)
    await orders.decide(v.order_id, task, Decision.APPROVE, note="表已修复")
    v = await orders.status(h, "picking")
    assert v.stuck is None and "stuck" not in v.flags


async def test_a_failing_finance_call_projects_on_its_own_then_stops_for_ops(orders, flow_engine):  # noqa: F811
    """The release's projection rides on its call (money and parts plan: one activity); when that call keeps failing
    the projection is written on its own — the read model shows the routed order and why it stopped —
    and the order waits for ops, then goes on."""
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # past its release window: nothing to wait for
    with table_missing(flow_engine, "order_finance"):
        h = await orders.start(payload(line(), ordered_at=old))
        v = await orders.until(h, lambda v: v.stuck is not None, timeout=30)
        assert v.stuck.activity == "release_order" and "order_finance" in v.stuck.error
        for _ in range(100):  # the stuck order's own projection follows its alert
            read = orders.read(v.order_id)
            if read is not None and read.stuck is not None:
                break
            await asyncio.sleep(0.1)
        assert read is not None and read.status == "routed" and read.stuck is not None and "stuck" in read.flags
        assert {"order.routed", "order.stuck"} <= {e.event for e in read.timeline}
        task = next(t for t in v.reviews if t.kind == ReviewKind.OPS)
    await orders.decide(v.order_id, task, Decision.APPROVE, note="表已修复")
    v = await orders.status(h, "picking")
    assert v.stuck is None
    with flow_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_finance WHERE order_id = :o"), {"o": v.order_id}).scalar_one() == 1


async def test_returned_parcel_is_shipped_again_under_a_new_waybill(orders):  # noqa: F811
    h = await orders.start(payload(line()))
    v = await orders.status(h, "picking")
    part = v.parts[0].part_id
    await orders.pick(v.parts[0].warehouse, v.order_id)
    await orders.confirm(h)
    first = await orders.shipped(part)
    await orders.track(first, TrackingCode.RETURNED_TO_SENDER)
    view = await orders.until(h, lambda v: any(e.event == "review.opened" for e in v.timeline) or True)
    part_view = None
    for _ in range(100):
        part_view = await orders.part(part)
        if any(t.state == "open" and t.kind == ReviewKind.RETURNED for t in part_view.reviews):
            break
        await asyncio.sleep(0.1)
    assert part_view is not None
    task = next(t for t in part_view.reviews if t.state == "open")
    assert view.status == "shipped"  # a returned parcel does not hold the order
    await orders.decide(part, task, Decision.APPROVE, note="客户确认新地址无误")
    second = await orders.shipped(part, 2)
    await orders.track(second)
    v = await orders.status(h, "delivered")
    assert v.parts[0].waybill_no and len((await orders.part(part)).shipment_ids) == 2


async def test_refused_waybill_is_a_carrier_review_and_another_carrier_takes_it(orders, flow_fakes):  # noqa: F811
    """ZTO refuses parcels over 30 kg: a person sends it with DEBANG instead."""
    from domain.contracts import shipment as SH
    from domain.logistics import WAREHOUSE_SENDERS, CarrierCode, Party, WaybillRequest
    from domain.policy import PartPolicy

    sid = f"ship-test-{datetime.now().timestamp():.0f}~S1"
    req = WaybillRequest(order_id=sid, carrier=CarrierCode.ZTO, warehouse="HZ-CLOUD", sender=WAREHOUSE_SENDERS["HZ-CLOUD"],
                         receiver=Party(name="王建国", phone="+8613800001111", address="浙江省杭州市萧山区北干街道金城路188号",
                                        adcode="330109"), weight_kg="42.000", items="发动机总成×1")
    h = await orders.client.start_workflow(SH.SHIPMENT.name, SH.ShipmentInput(
        shipment_id=sid, order_id="order-test-none", owner_id="nobody", request=req, policy=PartPolicy()),
        id=sid, task_queue=orders.task_queue, result_type=SH.SHIPMENT.result)
    orders.started.append(h)
    view = None
    for _ in range(100):
        view = await h.query(SH.STATE.name, result_type=SH.ShipmentView)
        if view.status == "held":
            break
        await asyncio.sleep(0.1)
    assert view is not None and view.status == "held"
    task = next(t for t in view.reviews if t.state == "open")
    assert task.kind == ReviewKind.CARRIER
    await orders.decide(sid, task, Decision.REROUTE, carrier="DEBANG", note="超重改德邦")
    for _ in range(100):
        view = await h.query(SH.STATE.name, result_type=SH.ShipmentView)
        if view.shipment is not None:
            break
        await asyncio.sleep(0.1)
    assert view.shipment is not None and view.shipment.waybill.carrier == "DEBANG"
    await orders.track(sid)
    assert (await h.result()).status == "delivered"


async def test_aftersales_return_travels_as_a_parcel_then_qc_and_refund(orders):  # noqa: F811
    from domain.aftersales import AftersalesRequest, QcVerdict
    from domain.contracts import aftersales as AS
    from domain.contracts import shipment as SH

    h = await orders.start(payload(line()))
    await _deliver(orders, h, await orders.status(h, "picking"))
    ticket = await h.execute_update(C.REQUEST_AFTERSALES.name, AftersalesRequest(
        type="return", lines=[{"sku": SKU, "quantity": 1}], reason="刹车片异响", requested_by="客服小王"), result_type=None)
    case_id = ticket["case_id"]
    case = orders.client.get_workflow_handle(case_id)
    parcel = SH.shipment_id(case_id, 1)
    await orders.shipped(parcel.rsplit("~S", 1)[0], 1)
    await orders.track(parcel, TrackingCode.COLLECTED)
    await orders.track(parcel, TrackingCode.SIGNED)
    for _ in range(100):
        st = await case.query(AS.STATE.name, result_type=AS.AFTERSALES.result)
        if st.status == "qc_pending":
            break
        await asyncio.sleep(0.1)
    assert st.status == "qc_pending" and st.return_waybill_no
    await case.execute_update(AS.QC_RESULT.name, QcVerdict(passed=True, inspector="质检员陈"))
    st = await orders.client.get_workflow_handle(case_id, result_type=AS.AFTERSALES.result).result()
    assert st.status == "completed" and st.refund_amount is not None
    await orders.until(h, lambda v: any(c.status == "completed" for c in v.aftersales))
