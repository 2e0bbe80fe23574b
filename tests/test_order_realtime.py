"""The Order workflow on the real dev server, in real time: an order held for a risk review waits
idle through its escalation timer, its red timer and (once approved) its release window — three
durable timers whose expiry is the normal path, never an error — and still completes, with every
history replaying. Timers of seconds keep it to seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.policy import OrderPolicy
from domain.review import Decision, ReviewDecision
from domain.risk import RiskThresholds
from domain.status import OrderStatus as S
from tests.channel_support import timers_fired
from tests.support import order_payload
from tests.workflow_helpers import keep_history, order_worker, result_of, start_order, until
from workflows.order import OrderWorkflow

POLICY = OrderPolicy(review_escalation_seconds=2, review_red_seconds=4, dedupe_window_seconds=5,
                     risk=RiskThresholds(burst_window_minutes=1))


async def test_a_held_order_lives_through_its_idle_timers_and_completes(dev_env, tmp_path, fake_wecom):
    tq = f"order-rt-{tmp_path.name[-8:]}"
    # ordered 50 s ago: the release window (1 min burst window) ends a few seconds after the approval
    payload = order_payload(ordered_at=(datetime.now(UTC) - timedelta(seconds=50)).isoformat(),
                            customer={"id": "SHOP-RT-1", "name": "测试", "phone": "13812340000"})
    async with order_worker(dev_env.client, tq, f"sqlite:///{tmp_path / 'orders.db'}", fake_wecom.webhook_url):
        h = await start_order(dev_env.client, tq, payload, POLICY)
        st = await until(h, lambda s: s.status == S.HELD and s.open_review() is not None)
        review = st.open_review()
        assert review.kind == "risk"
        st = await until(h, lambda s: s.open_review().red_at is not None, timeout=20)  # idle: escalated, then red
        assert [e.event for e in st.timeline if e.event.startswith("review.")][-2:] == ["review.escalated", "review.red"]
        await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
            review_id=review.review_id, decision=Decision.APPROVE, reviewer="主管", note="已电话核实"))
        result = await result_of(h)  # idle through the release window, then completed
        assert result.status == S.COMPLETED
        assert [e.event for e in result.timeline][-2:] == ["order.routed", "order.completed"]
        history = await h.fetch_history()
        assert timers_fired(history) >= 3  # escalation, red, release window: each ended by its timer
        await keep_history(h, "order_v2_realtime_held")
