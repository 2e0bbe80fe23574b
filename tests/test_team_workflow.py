"""A small team's order on the time-skipping server: the WeCom notice when it is registered, red and
told again after 24 untouched hours (the workflow's own timer), the red gone once a person acts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from domain import team
from domain.order import OrderSubmission
from domain.policy import OrderPolicy, OrderWorkflowInput
from domain.review import Decision, ReviewDecision
from domain.status import OrderStatus
from store import read_model
from store.db import engine_for
from tests.support import order_payload
from tests.workflow_helpers import keep_history, order_worker, result_of, state_of, until
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow

NEW, AGAIN = "小微团队新订单", "无人处理,已标红"


@pytest_asyncio.fixture
async def worker(ts_env, task_queue, sqlite_session_url, fake_wecom):
    async with order_worker(ts_env.client, task_queue, sqlite_session_url, fake_wecom.webhook_url):
        yield ts_env


async def start_team_order(client: Client, task_queue: str, payload: dict, policy: OrderPolicy | None = None) -> WorkflowHandle:
    sub = OrderSubmission.model_validate(payload | {"channel": "team"})
    return await client.start_workflow(
        OrderWorkflow.run, OrderWorkflowInput(submission=sub, policy=policy or OrderPolicy(), received_by="team:xiaoli"),
        id=sub.order_id, task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.CHANNEL, sub.channel.value)]))


async def notices(fake_wecom, order_id: str, words: str, n: int) -> list[dict]:
    """The team notices of ``order_id`` at the fake robot containing ``words``, once there are ``n``."""
    for _ in range(200):
        found = [m for m in fake_wecom.messages(order_id) if words in m["content"]]
        if len(found) >= n:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{n} notice(s) '{words}' for {order_id} never arrived: {fake_wecom.messages(order_id)}")


def held_payload() -> dict:
    return order_payload(address={"raw": "老地方仓库后门"})  # unresolvable: held for an address review


async def test_untouched_for_a_day_turns_red_and_is_notified_again(worker, task_queue, sqlite_session_url, fake_wecom):
    h = await start_team_order(worker.client, task_queue, held_payload())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    [first] = await notices(fake_wecom, h.id, NEW, 1)
    assert "登记人 xiaoli" in first["content"] and "王建国" in first["content"]
    await worker.sleep(timedelta(hours=23, minutes=50))
    assert team.STALE_FLAG not in (await state_of(h)).flags
    await worker.sleep(timedelta(minutes=11))
    st = await until(h, lambda s: team.STALE_FLAG in s.flags)
    assert [e for e in st.timeline if e.event == "order.untouched"][0].data["reminder"] == 1
    await notices(fake_wecom, h.id, AGAIN, 1)
    assert team.STALE_FLAG in read_model.get_order(engine_for(sqlite_session_url), h.id)["flags"]  # red in the read model
    assert (await h.describe()).typed_search_attributes.get(sa.UNTOUCHED) == "red"  # … and in the Temporal UI
    await worker.sleep(timedelta(hours=24, minutes=1))
    await notices(fake_wecom, h.id, AGAIN, 2)  # every further day, until someone acts

    rid = st.open_review().review_id
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(review_id=rid, decision=Decision.REJECT,
                                                                         reviewer="主管", note="地址不全"))
    res = await result_of(h)
    assert res.status == OrderStatus.REJECTED and team.STALE_FLAG not in res.flags
    assert "主管" in next(e for e in res.timeline if e.event == "order.touched").reason
    assert team.STALE_FLAG not in read_model.get_order(engine_for(sqlite_session_url), h.id)["flags"]
    assert (await h.describe()).typed_search_attributes.get(sa.UNTOUCHED) is None
    await keep_history(h, "team_untouched_red")


async def test_an_order_a_person_acts_on_in_time_never_turns_red(worker, task_queue, fake_wecom):
    h = await start_team_order(worker.client, task_queue, held_payload())
    st = await until(h, lambda s: s.status == OrderStatus.HELD)
    await worker.sleep(timedelta(hours=3))
    await h.execute_update(OrderWorkflow.decide_review, ReviewDecision(
        review_id=st.open_review().review_id, decision=Decision.CORRECT_ADDRESS, reviewer="小王",
        address="浙江省杭州市萧山区北干街道金城路188号"))
    await worker.sleep(timedelta(hours=30))
    res = await result_of(h)
    assert res.status == OrderStatus.COMPLETED
    assert not any(e.event in ("order.untouched", "order.touched") for e in res.timeline)
    assert len(await notices(fake_wecom, h.id, NEW, 1)) == 1 and not any(
        AGAIN in m["content"] for m in fake_wecom.messages(h.id))


async def test_other_channels_get_no_team_notice(worker, task_queue, fake_wecom):
    p = order_payload()
    h = await start_team_order(worker.client, task_queue, p, OrderPolicy(dedupe_window_seconds=1))
    await result_of(h)
    sub = OrderSubmission.model_validate(order_payload())
    other = await worker.client.start_workflow(
        OrderWorkflow.run, OrderWorkflowInput(submission=sub, policy=OrderPolicy(dedupe_window_seconds=1)),
        id=sub.order_id, task_queue=task_queue)
    await result_of(other)
    await notices(fake_wecom, h.id, NEW, 1)
    assert not any(NEW in m["content"] for m in fake_wecom.messages(other.id))
