"""The burst breaker (熔断) on the time-skipping server: the same customer placing ≥ 5 orders to the
identical address within 30 minutes stops and holds for risk review, and the earlier orders of the
burst, already routed and waiting in their release window, are held too (the ``burst_hold`` signal).

Each order is started only after the previous one has settled (routed or held), so the read model
the risk scan counts from already has it. The orders of a burst carry different phone numbers:
the same phone and SKU within 5 minutes would be folded by the duplicate rule before any scan.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio

from domain import labels
from domain.review import Decision
from tests.test_routing_workflow import (  # shared helpers and the module-private server fixture
    XIAOSHAN,
    S,
    assert_routed,
    decide,
    event,
    events,
    last_event,
    make_order,
    new_customer,
    order_worker,
    search_attrs,
    settled,
    ts_module_env,  # noqa: F401 - a fixture, used by ``worker``
    wait_for_messages,
)
from tests.workflow_helpers import keep_history, result_of, start_order, until

BURST = "BURST_SAME_ADDRESS"


@pytest_asyncio.fixture
async def worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom):  # noqa: F811
    async with order_worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom) as env:
        yield env


async def place(worker, task_queue, customer: str, offsets_min: list[float], address: str = XIAOSHAN):
    """One order per offset (minutes after the server's now), each started once the last settled."""
    t0 = await worker.get_current_time()
    out = []
    for m in offsets_min:
        h = await start_order(worker.client, task_queue, make_order(t0 + timedelta(minutes=m), address, customer=customer))
        out.append((h, await until(h, settled)))
    return out


def burst_reviews(st) -> list:
    return [r for r in st.reviews if BURST in r.features]


async def test_six_orders_in_30_minutes_trip_the_breaker(worker, task_queue, fake_wecom):
    customer = new_customer()
    orders = await place(worker, task_queue, customer, [0, 5, 10, 15, 20, 25])
    handles = [h for h, _ in orders]
    ids = [h.id for h in handles]

    # orders 1-4 were routed before the 5th arrived
    for h, st in orders[:4]:
        assert st.status == S.ROUTED and st.reviews == [], (h.id, events(st))

    # the 5th and 6th stop before routing
    for n, (h, st) in ((5, orders[4]), (6, orders[5])):
        assert st.status == S.HELD, (n, events(st))
        review = st.open_review()
        assert review.kind == "risk" and BURST in review.features
        assert "order.routed" not in events(st) and st.warehouse is None
        scanned = event(st, "risk.scanned")
        assert BURST in scanned.data["codes"] and scanned.data["level"] == "hold"
        hit = next(x for x in st.risk_hits if x.code == BURST)
        assert hit.data["count"] == n and sorted(hit.data["order_ids"]) == sorted(ids[: n - 1])
        assert (await search_attrs(h))["RiskLevel"] == "hold"

    # orders 1-4 are held too: a risk review opened by the 5th order's burst_hold signal
    for h in handles[:4]:
        st = await until(h, lambda s: s.status == S.HELD)
        assert "order.routed" in events(st) and events(st)[-1] == "review.opened"
        assert [r.features for r in st.reviews] == [[BURST]]  # the 6th order's signal opened no second one
        assert "熔断" in st.open_review().reason and ids[4] in st.open_review().reason
        assert st.warehouse == "HZ-CLOUD"  # still routed there; released, it ships as routed
        attrs = await search_attrs(h)
        assert attrs["OrderStatus"] == "held" and attrs["Warehouse"] == "HZ-CLOUD"
    for h in handles:
        msgs = await wait_for_messages(fake_wecom, h.id, 1)
        assert labels.risk_feature(BURST) in msgs[0]["content"]  # the feature in Chinese, no code

    # decide every review before awaiting any result (a result lets the server skip time)
    sts = [await until(h, lambda s: s.open_review() is not None) for h in handles]
    await decide(handles[0], sts[0].open_review().review_id, Decision.APPROVE, note="门店补货, 已核实")
    await decide(handles[1], sts[1].open_review().review_id, Decision.REJECT, note="刷单")
    await decide(handles[2], sts[2].open_review().review_id, Decision.REROUTE, warehouse="GZ-CLOUD")
    await decide(handles[3], sts[3].open_review().review_id, Decision.APPROVE)
    await decide(handles[4], sts[4].open_review().review_id, Decision.APPROVE)
    await decide(handles[5], sts[5].open_review().review_id, Decision.REJECT, reviewer="风控主管")

    st = await until(handles[0], lambda s: s.status == S.ROUTED)
    released = event(st, "order.released_from_hold")
    assert released.actor == "审核员小陈" and released.reason == "门店补货, 已核实"
    st = await until(handles[2], lambda s: s.status == S.ROUTED)
    await assert_routed(handles[2], st, "GZ-CLOUD", "manual", "ZTO")

    results = [await result_of(h) for h in handles]
    assert [r.status for r in results] == [S.COMPLETED, S.REJECTED, S.COMPLETED, S.COMPLETED, S.COMPLETED, S.REJECTED]
    assert events(results[0])[-4:] == ["review.opened", "review.decided", "order.released_from_hold", "order.completed"]
    assert results[0].warehouse == "HZ-CLOUD" and results[0].routing.rule_id == "R3"
    assert last_event(results[1]).event == "order.rejected" and "order.released_from_hold" not in events(results[1])
    assert results[4].warehouse == "HZ-CLOUD" and events(results[4])[-2:] == ["order.routed", "order.completed"]
    assert last_event(results[5]).actor == "风控主管" and "order.routed" not in events(results[5])
    await keep_history(handles[0], "burst_held_after_routing_released")
    await keep_history(handles[4], "burst_held_before_routing_approved")


async def test_four_orders_in_30_minutes_hold_nothing(worker, task_queue):
    orders = await place(worker, task_queue, new_customer(), [0, 9, 18, 27])
    for _, st in orders:
        assert st.status == S.ROUTED and st.reviews == []
    for h, _ in orders:
        result = await result_of(h)
        assert result.status == S.COMPLETED and result.reviews == [] and BURST not in event(result, "risk.scanned").data["codes"]


async def test_five_orders_spread_over_two_hours_hold_nothing(worker, task_queue):
    orders = await place(worker, task_queue, new_customer(), [0, 30, 60, 90, 120])
    for _, st in orders:
        assert st.status == S.ROUTED and st.reviews == [], events(st)
    for h, _ in orders:
        result = await result_of(h)
        assert result.status == S.COMPLETED and result.reviews == []


@pytest.mark.parametrize("last, held", [(30, True), (30 + 1 / 60, False)], ids=["5th-at-30m00s", "5th-at-30m01s"])
async def test_window_edge(worker, task_queue, last, held):
    """The window is inclusive: five orders spanning exactly 30 minutes trip it, one second more does not."""
    orders = await place(worker, task_queue, new_customer(), [0, 7, 14, 21, last])
    fifth_h, fifth = orders[-1]
    assert (fifth.status == S.HELD) is held, events(fifth)
    if held:
        assert burst_reviews(fifth)
        for h, _ in orders[:4]:
            await until(h, lambda s: s.status == S.HELD)
    for h, _ in orders:
        st = await until(h, lambda s: s.status in (S.ROUTED, S.HELD))
        if st.open_review():
            await decide(h, st.open_review().review_id, Decision.APPROVE)
    for h, _ in orders:
        assert (await result_of(h)).status == S.COMPLETED


async def test_other_address_or_other_customer_is_not_the_same_burst(worker, task_queue):
    customer = new_customer()
    t0 = await worker.get_current_time()
    payloads = [make_order(t0 + timedelta(minutes=4 * i), XIAOSHAN, customer=customer) for i in range(3)]
    payloads.append(make_order(t0 + timedelta(minutes=13), "浙江省杭州市西湖区文三路90号", customer=customer))
    payloads.append(make_order(t0 + timedelta(minutes=14), XIAOSHAN))  # another customer, same address
    handles = []
    for p in payloads:
        h = await start_order(worker.client, task_queue, p)
        st = await until(h, settled)
        assert st.status == S.ROUTED and st.reviews == [], events(st)
        handles.append(h)
    for h in handles:
        assert (await result_of(h)).status == S.COMPLETED
