"""A small team's order on the real dev server, in real time: held for an address review, it waits idle
through its untouched timer again and again — red and told again each period, as the team rule says —
until a person corrects the address; the red comes off and the order completes, its history replaying.
The rule's 24 h are seconds here (``OrderPolicy.untouched_seconds``), the waits are the real ones."""

from __future__ import annotations

from domain import team
from domain.contracts import search_attributes as sa
from domain.policy import OrderPolicy
from domain.review import Decision, ReviewDecision
from domain.status import OrderStatus as S
from store import read_model
from tests.channel_support import timers_fired
from tests.support import order_payload
from tests.test_team_workflow import AGAIN, NEW, notices, start_team_order
from tests.workflow_helpers import keep_history, order_worker, result_of, until
from workflows.order import OrderWorkflow

POLICY = OrderPolicy(untouched_seconds=2, dedupe_window_seconds=1)


async def test_an_untouched_team_order_turns_red_through_idle_periods_until_a_person_acts(dev_env, tmp_path, fake_wecom):
    tq = f"team-rt-{tmp_path.name[-8:]}"
    async with order_worker(dev_env.client, tq, f"sqlite:///{tmp_path / 'team.db'}", fake_wecom.webhook_url) as engine:
        h = await start_team_order(dev_env.client, tq, order_payload(address={"raw": "老地方仓库后门"}), POLICY)
        st = await until(h, lambda s: s.status == S.HELD and s.open_review() is not None)
        await notices(fake_wecom, h.id, NEW, 1)
        await notices(fake_wecom, h.id, AGAIN, 2)  # two idle periods, each ended by the workflow's own timer
        st = await until(h, lambda s: len([e for e in s.timeline if e.event == "order.untouched"]) >= 2, timeout=20)
        assert team.STALE_FLAG in st.flags and team.STALE_FLAG in read_model.get_order(engine, h.id)["flags"]
        assert (await h.describe()).typed_search_attributes.get(sa.UNTOUCHED) == "red"

        await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
            review_id=st.open_review().review_id, decision=Decision.CORRECT_ADDRESS, reviewer="小王",
            address="浙江省杭州市萧山区北干街道金城路188号"))
        result = await result_of(h)
        assert result.status == S.COMPLETED and team.STALE_FLAG not in result.flags
        assert "小王" in next(e for e in result.timeline if e.event == "order.touched").reason
        assert team.STALE_FLAG not in read_model.get_order(engine, h.id)["flags"]
        assert (await h.describe()).typed_search_attributes.get(sa.UNTOUCHED) is None
        history = await h.fetch_history()
        assert timers_fired(history) >= 2
        await keep_history(h, "team_realtime_red_then_touched")
