"""A channel re-delivers an order the customer edited: the order workflow compares, applies a new
address before dispatch (risk and routing again) and puts other changes before a person without
holding the order. Time-skipping server, the real worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import pytest_asyncio

from domain.contracts.order import CancelRequest
from domain.order import OrderSubmission
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.redelivery import changes
from domain.status import OrderStatus
from tests.support import order_payload
from tests.workflow_helpers import order_worker, result_of, start_order, until
from workflows.order import OrderWorkflow

S = OrderStatus
POLICY = OrderPolicy(fulfilment=FulfilmentPolicy(warehouse=False, confirm_address=False, ship=False,
                                                 aftersales_window_days=1))


def test_changes_name_what_differs_address_first():
    a = OrderSubmission.model_validate(order_payload())
    b = a.model_copy(deep=True)
    assert changes(a, b) == []
    b.address.raw = "广东省广州市天河区体育西路100号"
    b.lines[0].quantity = 3
    found = changes(a, b)
    assert [c.field for c in found] == ["address", "lines"]
    assert found[1].text() == "lines: BOSCH-BP-COROLLA18×2 → BOSCH-BP-COROLLA18×3"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_env():
    from tests.test_routing_workflow import start_time_skipping_env

    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def task_queue() -> str:
    return f"redeliver-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker(own_env, task_queue, sqlite_session_url, fake_wecom):
    async with order_worker(own_env.client, task_queue, sqlite_session_url, fake_wecom.webhook_url):
        yield own_env


async def test_new_address_on_redelivery_reroutes_and_other_changes_go_to_a_person(worker, task_queue):
    payload = order_payload(ordered_at=(await worker.get_current_time()).isoformat())
    h = await start_order(worker.client, task_queue, payload, POLICY)
    st = await until(h, lambda s: s.status == S.ROUTED)
    assert st.warehouse != "GZ-CLOUD"
    edited = OrderSubmission.model_validate(payload)
    edited.address.raw = "广东省广州市天河区体育西路100号"
    edited.lines[0].quantity = 3
    await h.signal(OrderWorkflow.channel_redelivered, edited)
    st = await until(h, lambda s: any(e.event == "channel.redelivered_changed" for e in s.timeline)
                     and s.status != S.VALIDATED)  # risk and routing again for the new address (a task each)
    events = [e.event for e in st.timeline]
    assert "channel.address_changed" in events and st.status == S.ROUTED  # other changes do not hold it
    review = st.open_review()
    assert review is not None and review.kind == "follow_up" and "BOSCH-BP-COROLLA18×3" in review.reason
    await worker.sleep(timedelta(minutes=31))  # the release window; then the change is applied
    st = await until(h, lambda s: s.warehouse == "GZ-CLOUD" and s.status in (S.PACKED, S.DELIVERED, S.COMPLETED))
    assert "address.changed" in [e.event for e in st.timeline] and st.address.city == "广州市"
    result = await result_of(h)
    assert result.status == S.COMPLETED
    assert sum(e.event == "channel.address_changed" for e in result.timeline) == 1
    assert [r.state for r in result.reviews] == ["cancelled"]  # the follow-up closed with the order


async def test_same_content_again_changes_nothing(worker, task_queue):
    payload = order_payload(ordered_at=(await worker.get_current_time()).isoformat())
    h = await start_order(worker.client, task_queue, payload, POLICY)
    await until(h, lambda s: s.status == S.ROUTED)
    await h.signal(OrderWorkflow.channel_redelivered, OrderSubmission.model_validate(payload))
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="test over", actor="test"))
    result = await result_of(h)
    assert result.status == S.CANCELLED and not any(e.event.startswith("channel.") for e in result.timeline)


async def test_an_unchanged_redelivery_does_not_undo_the_customers_address_change(worker, task_queue):
    from domain.confirmation import AddressChange

    payload = order_payload(ordered_at=(await worker.get_current_time()).isoformat())
    h = await start_order(worker.client, task_queue, payload, POLICY)
    await until(h, lambda s: s.status == S.ROUTED)
    answer = await h.execute_update(OrderWorkflow.change_address, AddressChange(address="杭州市滨江区江南大道588号"))
    assert answer.accepted
    await h.signal(OrderWorkflow.channel_redelivered, OrderSubmission.model_validate(payload))  # a sync re-read
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="test over", actor="test"))
    result = await result_of(h)
    assert not any(e.event.startswith("channel.") for e in result.timeline)
    assert "滨江" in result.address_raw


@pytest.mark.parametrize(("address", "said"), [
    ("asdfgh", "地址需包含中文地名"),  # not an address a change takes: before 2026-12-06 the workflow task failed for ever
    ("Room 5, 188 Jincheng Rd", "地址需包含中文地名"),
    ("西湖区文三路90号", "区县"),  # an address that does not resolve to one district
])
async def test_a_redelivered_address_that_cannot_apply_is_a_task_and_the_order_goes_on(worker, task_queue, address, said):
    payload = order_payload(ordered_at=(await worker.get_current_time()).isoformat())
    h = await start_order(worker.client, task_queue, payload, POLICY)
    before = await until(h, lambda s: s.status == S.ROUTED)
    edited = OrderSubmission.model_validate(payload)
    edited.address.raw = address
    await h.signal(OrderWorkflow.channel_redelivered, edited)
    st = await until(h, lambda s: s.open_review() is not None)
    refusal = [e for e in st.timeline if e.event == "channel.change_not_applied"]
    assert len(refusal) == 1 and said in refusal[0].reason, [e.event for e in st.timeline]
    review = st.open_review()
    assert review.kind == "follow_up" and "新地址未能应用" in review.reason and address in review.reason
    assert st.status == S.ROUTED and st.address_raw == before.address_raw  # not held, the old address kept
    await h.signal(OrderWorkflow.cancel, CancelRequest(reason="test over", actor="test"))  # the order still answers
    assert (await result_of(h)).status == S.CANCELLED


async def test_an_order_time_ahead_of_arrival_waits_from_arrival_and_says_so(worker, task_queue):
    """Beijing time sent as UTC is 8 h ahead: the release window runs from arrival, not for 8½ hours."""
    payload = order_payload(ordered_at=(await worker.get_current_time() + timedelta(hours=8)).isoformat())
    h = await start_order(worker.client, task_queue, payload, POLICY)
    st = await until(h, lambda s: s.status == S.ROUTED)
    ahead = [e for e in st.timeline if e.event == "order.time_ahead"]
    assert len(ahead) == 1 and "8.0 小时" in ahead[0].reason, [e.event for e in st.timeline]
    await worker.sleep(timedelta(minutes=31))
    st = await until(h, lambda s: s.status in (S.PACKED, S.DELIVERED, S.COMPLETED))
    assert sum(e.event == "order.time_ahead" for e in st.timeline) == 1
