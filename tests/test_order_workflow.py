"""OrderWorkflow on the time-skipping server: hours of review timers pass in milliseconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError

from domain.contracts.order import CancelRequest
from domain.policy import OrderPolicy
from domain.review import Decision, ReviewDecision
from domain.status import OrderStatus
from store import read_model
from store.db import engine_for
from tests.support import order_payload
from tests.workflow_helpers import keep_history, order_worker, result_of, start_order, state_of, until
from workflows.order import OrderWorkflow


@pytest_asyncio.fixture
async def worker(ts_env, task_queue, sqlite_session_url, fake_wecom):
    async with order_worker(ts_env.client, task_queue, sqlite_session_url, fake_wecom.webhook_url):
        yield ts_env


async def test_happy_path_completes_with_timeline_and_read_model(worker, task_queue, sqlite_session_url):
    h = await start_order(worker.client, task_queue, order_payload())
    result = await result_of(h)
    assert result.status == OrderStatus.COMPLETED
    assert [e.event for e in result.timeline] == [
        "order.received", "order.validated", "risk.scanned", "order.routed", "order.completed"
    ]
    assert [e.seq for e in result.timeline] == [1, 2, 3, 4, 5]
    assert result.address.region == "浙江省杭州市萧山区"
    row = read_model.get_order(engine_for(sqlite_session_url), result.order_id)
    assert row["status"] == "completed" and len(row["timeline"]) == 5 and row["district"] == "萧山区"
    desc = await h.describe()
    assert desc.typed_search_attributes.get(__import__("workflows.search_attributes", fromlist=["x"]).ORDER_STATUS) == "completed"
    await keep_history(h, "happy_path")


async def test_order_waits_for_release_window_before_completing(worker, task_queue):
    payload = order_payload(ordered_at=(await worker.get_current_time()).isoformat())
    h = await start_order(worker.client, task_queue, payload)
    st = await until(h, lambda s: s.status == OrderStatus.ROUTED)
    assert st.status == OrderStatus.ROUTED  # still open: a duplicate could arrive
    result = await result_of(h)  # the time-skipping server jumps the 5 minutes
    assert result.status == OrderStatus.COMPLETED


async def test_duplicate_merges_into_first_and_both_timelines_say_so(worker, task_queue):
    now = await worker.get_current_time()
    first = order_payload(ordered_at=now.isoformat())
    second = order_payload(ordered_at=(now + timedelta(minutes=4)).isoformat())
    second["customer"]["phone"] = first["customer"]["phone"]
    h1 = await start_order(worker.client, task_queue, first)
    await until(h1, lambda s: s.status == OrderStatus.ROUTED)
    h2 = await start_order(worker.client, task_queue, second)
    dup = await result_of(h2)
    assert dup.status == OrderStatus.MERGED
    assert dup.merged_into == h1.id and "suspected_brushing" in dup.flags
    anchor = await result_of(h1)
    assert anchor.status == OrderStatus.COMPLETED
    assert anchor.merged_duplicates == [h2.id] and "suspected_brushing" in anchor.flags
    assert any(e.event == "duplicate.merged" and h2.id in e.reason for e in anchor.timeline)
    await keep_history(h1, "duplicate_anchor")
    await keep_history(h2, "duplicate_merged")


async def test_a_duplicate_of_a_closed_order_marks_the_closed_orders_row(worker, task_queue, sqlite_session_url):
    """The anchor completed before its duplicate arrived (it can no longer be signalled): its row in
    the read model still gets the brushing flag and a timeline event naming the duplicate, and the
    order's one view (live from the closed history, merged with the row) shows both."""
    from api.intake import current_view

    now = await worker.get_current_time() - timedelta(minutes=30)  # released at once: completes
    first = order_payload(ordered_at=now.isoformat())
    second = order_payload(ordered_at=(now + timedelta(minutes=3)).isoformat())
    second["customer"]["phone"] = first["customer"]["phone"]
    h1 = await start_order(worker.client, task_queue, first)
    assert (await result_of(h1)).status == OrderStatus.COMPLETED
    h2 = await start_order(worker.client, task_queue, second)
    dup = await result_of(h2)
    assert dup.status == OrderStatus.MERGED and dup.merged_into == h1.id
    merged = next(e for e in dup.timeline if e.event == "duplicate.merged_into")
    assert merged.data["anchor_notified"] is False and merged.data["anchor_flagged"] is True
    engine = engine_for(sqlite_session_url)
    row = read_model.get_order(engine, h1.id)
    assert row["status"] == "completed" and "suspected_brushing" in row["flags"]
    assert [(e["source"], e["event"]) for e in row["timeline"] if e["source"]] == [(h2.id, "duplicate.merged")]
    assert row["merged_duplicates"] == [h2.id]
    view = await current_view(worker.client, engine, h1.id)
    assert "suspected_brushing" in view.flags
    assert any(e.event == "duplicate.merged" and h2.id in e.reason for e in view.timeline)
    await keep_history(h2, "duplicate_of_a_closed_anchor")


async def test_same_phone_other_sku_or_outside_window_is_not_a_duplicate(worker, task_queue):
    now = await worker.get_current_time() - timedelta(hours=1)
    a = order_payload(ordered_at=now.isoformat())
    b = order_payload(ordered_at=(now + timedelta(minutes=5, seconds=1)).isoformat())
    b["customer"]["phone"] = a["customer"]["phone"]
    c = order_payload(ordered_at=(now + timedelta(minutes=1)).isoformat())
    c["customer"]["phone"] = a["customer"]["phone"]
    c["lines"][0].update(sku="MANN-OF-W712", name="曼牌机油滤清器", category="机油滤清器", unit_price="268.00", vehicle_model="大众朗逸2019款")
    for p in (a, b, c):
        res = await result_of(await start_order(worker.client, task_queue, p))
        assert res.status == OrderStatus.COMPLETED, p


def unresolvable() -> dict:
    return order_payload(address={"raw": "老地方仓库后门"})


async def test_address_review_approve_after_correction(worker, task_queue):
    h = await start_order(worker.client, task_queue, unresolvable())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    task = st.open_review()
    assert task.kind == "address" and "老地方仓库后门" in task.reason
    decided = await h.execute_update(
        OrderWorkflow.decide_review,
        ReviewDecision(review_id=task.review_id, decision=Decision.CORRECT_ADDRESS, reviewer="小王",
                       address="浙江省杭州市西湖区文三路90号"),
    )
    assert decided.state == "decided" and decided.reviewer == "小王"
    result = await result_of(h)
    assert result.status == OrderStatus.COMPLETED
    assert result.address.district == "西湖区"
    events = [e.event for e in result.timeline]
    assert events[:6] == ["order.received", "review.opened", "review.decided", "address.corrected", "order.validated", "risk.scanned"]
    decided_event = next(e for e in result.timeline if e.event == "review.decided")
    assert decided_event.actor == "小王"
    await keep_history(h, "address_review_corrected")


async def test_address_review_reject(worker, task_queue):
    h = await start_order(worker.client, task_queue, unresolvable())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    await h.execute_update(
        OrderWorkflow.decide_review,
        ReviewDecision(review_id=st.open_review().review_id, decision=Decision.REJECT, reviewer="小李", note="空地址"),
    )
    result = await result_of(h)
    assert result.status == OrderStatus.REJECTED
    assert result.timeline[-1].event == "order.rejected" and result.timeline[-1].actor == "小李"
    await keep_history(h, "address_review_rejected")


async def test_invalid_decisions_are_refused_synchronously(worker, task_queue):
    h = await start_order(worker.client, task_queue, unresolvable())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    rid = st.open_review().review_id
    with pytest.raises(WorkflowUpdateFailedError) as wrong_kind:
        await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid, decision=Decision.REROUTE, reviewer="x", warehouse="HZ-CLOUD"))
    assert "not a decision for a address review" in str(wrong_kind.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as unknown:
        await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid + "9", decision=Decision.APPROVE, reviewer="x"))
    assert "does not belong" in str(unknown.value.cause)
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid, decision=Decision.APPROVE, reviewer="x"))
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid, decision=Decision.REJECT, reviewer="y"))
    assert "already decided (approve by x)" in str(twice.value.cause)
    # approved as-is: no district, so routing needs a person too
    st = await until(h, lambda s: s.open_review() is not None and s.open_review().kind == "routing")
    assert st.open_review().features == ["NO_RULE_MATCH"]
    await h.execute_update(
        OrderWorkflow.decide_review,
        ReviewDecision(review_id=st.open_review().review_id, decision=Decision.REROUTE, reviewer="x",
                       warehouse="HZ-CLOUD", carrier="SF"),
    )
    result = await result_of(h)
    assert result.status == OrderStatus.COMPLETED
    assert any(e.event == "address.accepted_unresolved" for e in result.timeline)
    assert (result.warehouse, result.carrier, result.routing.rule_id) == ("HZ-CLOUD", "SF", "manual")


async def test_escalation_after_two_hours_and_red_after_a_day(worker, task_queue, sqlite_session_url):
    h = await start_order(worker.client, task_queue, unresolvable(), OrderPolicy())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    rid = st.open_review().review_id
    await worker.sleep(timedelta(hours=1, minutes=59))
    assert (await state_of(h)).open_review().escalated_at is None
    await worker.sleep(timedelta(minutes=2))
    st = await until(h, lambda s: s.open_review().escalated_at is not None)
    assert st.timeline[-1].event == "review.escalated"
    row = read_model.get_review(engine_for(sqlite_session_url), rid)
    assert row["escalated_at"] is not None and row["red_at"] is None
    await worker.sleep(timedelta(hours=22, minutes=1))
    st = await until(h, lambda s: s.open_review().red_at is not None)
    assert st.timeline[-1].event == "review.red"
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid, decision=Decision.REJECT, reviewer="主管"))
    assert (await result_of(h)).status == OrderStatus.REJECTED
    await keep_history(h, "review_escalated_red")


async def test_cancel_while_held(worker, task_queue):
    h = await start_order(worker.client, task_queue, unresolvable())
    await until(h, lambda s: s.status == OrderStatus.HELD)
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="客户取消", actor="客服小周"))
    result = await result_of(h)
    assert result.status == OrderStatus.CANCELLED
    assert result.reviews[0].state == "cancelled"
    assert result.timeline[-1].actor == "客服小周"
    await keep_history(h, "cancel_while_held")


async def test_bad_data_from_a_channel_is_rejected_and_recorded(worker, task_queue, sqlite_session_url):
    payload = order_payload()
    payload["customer"]["phone"] = "12345"  # the API would 422 this; a channel sync starts it directly
    h = await start_order(worker.client, task_queue, payload)
    result = await result_of(h)
    assert result.status == OrderStatus.REJECTED
    assert result.errors[0].field == "customer.phone"
    rid = result.timeline[-1].data["rejection_id"]
    assert read_model.get_rejection(engine_for(sqlite_session_url), rid)["channel_order_id"] == payload["channel_order_id"]


async def test_admit_update_reports_creation_once(worker, task_queue):
    h = await start_order(worker.client, task_queue, order_payload(ordered_at=(await worker.get_current_time()).isoformat()))
    first = await h.execute_update(OrderWorkflow.admit)
    second = await h.execute_update(OrderWorkflow.admit)
    assert first.created and not second.created and first.order_id == second.order_id
    assert (await result_of(h)).status == OrderStatus.COMPLETED  # leave nothing running on the shared server
