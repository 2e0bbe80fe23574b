"""Routing stage of OrderWorkflow on the time-skipping server: every default warehouse rule (R1..R5)
end to end, the carrier table (light → ZTO, heavy → DEBANG/JD, JD suspended in 余杭区), the routing
review (reroute → rule_id manual) and the search attributes an order carries once routed.

Every order uses its own customer id and phone, so the shared SQLite read model (burst and history
per customer, duplicates per phone + SKU) never lets one test's orders bother another's. Order
times come from the test server's clock (``worker.get_current_time()``), not the wall clock.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from zhongshu_devtools.binaries import temporal_test_server

from domain.review import Decision, ReviewDecision
from domain.status import OrderStatus
from store import risk_data
from store.db import engine_for
from store.schema import orders
from tests.support import order_payload, random_mobile
from tests.workflow_helpers import keep_history, result_of, start_order, until
from workers.order_worker import build_worker
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.search_attributes import register_search_attributes

S = OrderStatus

# ---------------------------------------------------------------- shared helpers (also used by the
# risk and burst tests)

XIHU = "浙江省杭州市西湖区文三路90号"
XIAOSHAN = "杭州萧山区北干街道金城路188号"
YUHANG = "浙江省杭州市余杭区五常大道181号"
CHENGDU = "四川省成都市武侯区人民南路四段1号"


def line(sku: str = "BOSCH-BP-COROLLA18", name: str = "博世刹车片(前)", category: str = "刹车片", qty: int = 2,
         price: str = "268.00", vehicle: str | None = "卡罗拉18款", kg: str | None = None) -> dict[str, Any]:
    ln: dict[str, Any] = {"sku": sku, "name": name, "category": category, "quantity": qty, "unit_price": price}
    if vehicle:
        ln["vehicle_model"] = vehicle
    if kg is not None:
        ln["weight_kg"] = kg
    return ln


def brake_pads(qty: int = 2, price: str = "268.00") -> dict[str, Any]:
    return line(qty=qty, price=price)


def battery(price: str, qty: int = 1) -> dict[str, Any]:
    """VARTA battery: floor ¥380, no fitment; a handy way to reach an exact goods amount."""
    return line("VARTA-BAT-60AH", "瓦尔塔蓄电池 60Ah", "蓄电池", qty, price, vehicle=None)


def tyres(qty: int = 4, kg: str = "9") -> dict[str, Any]:
    return line("MICHELIN-205-55R16", "米其林轮胎 205/55R16", "轮胎", qty, "480.00", vehicle=None, kg=kg)


def engine_line(price: str = "9800.00", kg: str | None = "120") -> dict[str, Any]:
    return line("ENG-1.5T-EA211", "EA211 1.5T 发动机总成", "发动机总成", 1, price, vehicle="大众速腾2019款", kg=kg)


def new_customer() -> str:
    return f"SHOP-T-{uuid.uuid4().hex[:10].upper()}"


def goods_of(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(ln["unit_price"]) * ln["quantity"] for ln in lines), Decimal("0"))


def make_order(at: datetime, address: str = XIAOSHAN, lines: list[dict[str, Any]] | None = None, *,
               customer: str | None = None, name: str = "王建国", phone: str | None = None,
               coupon: dict[str, str] | None = None, freight: str = "0.00", paid: str | None = None,
               channel: str = "miniprogram") -> dict[str, Any]:
    """A consistent order (paid = goods − coupon + freight unless ``paid`` is given)."""
    lines = lines or [brake_pads()]
    expected = goods_of(lines) - (Decimal(coupon["amount"]) if coupon else 0) + Decimal(freight)
    return order_payload(
        channel=channel,
        ordered_at=at.isoformat(),
        customer={"id": customer or new_customer(), "name": name, "phone": phone or random_mobile()},
        address={"raw": address},
        lines=lines,
        coupon=coupon,
        freight=freight,
        paid_amount=paid if paid is not None else f"{expected:.2f}",
    )


def settled(st) -> bool:
    """Routed, held for a person, or finished: the scan and routing have been projected."""
    return st.status in (S.ROUTED, S.HELD) or st.status.terminal


# events of work that runs beside the order's stages (the ERP push); the exact stage sequences
# asserted here leave them out
SIDE_EVENTS = ("erp.",)


def events(st) -> list[str]:
    return [e.event for e in st.timeline if not e.event.startswith(SIDE_EVENTS)]


def last_event(st):
    return [e for e in st.timeline if not e.event.startswith(SIDE_EVENTS)][-1]


def event(st, name: str):
    found = [e for e in st.timeline if e.event == name]
    assert found, f"no {name} event in {events(st)}"
    return found[-1]


def history_safe_now(server_now: datetime) -> datetime:
    """The risk activity measures history back from min(order time, wall clock); once the test
    server has skipped ahead of the wall clock, "earlier" has to be earlier than both."""
    return min(server_now, datetime.now(UTC))


async def decide(handle, review_id: str, decision: Decision, reviewer: str = "审核员小陈", **kw):
    return await handle.execute_update(
        OrderWorkflow.decide_review, ReviewDecision(review_id=review_id, decision=decision, reviewer=reviewer, **kw)
    )


async def search_attrs(handle) -> dict[str, Any]:
    desc = await handle.describe()
    return {k.name: desc.typed_search_attributes.get(k) for k in sa.ALL}


async def assert_routed(handle, st, warehouse: str, rule_id: str, carrier: str) -> None:
    """The routed event, the result fields and the search attributes all say the same thing."""
    routed = event(st, "order.routed")
    assert routed.data["rule_id"] == rule_id, routed.reason
    assert routed.data["warehouse"] == warehouse, routed.reason
    assert routed.data["carrier"] == carrier, routed.reason
    assert isinstance(routed.data["rule_version"], int) and routed.data["rule_version"] == st.rule_version
    assert (st.warehouse, st.carrier) == (warehouse, carrier)
    assert st.routing is not None and st.routing.rule_id == rule_id
    attrs = await search_attrs(handle)
    assert attrs["Warehouse"] == warehouse and attrs["Carrier"] == carrier, attrs


OPEN_STATUSES = ("received", "validated", "held", "routed")
_SETTLED_IDS: set[str] = set()  # orders known to be closed (finished or terminated here)


async def terminate_leftovers(client, engine, reason: str) -> list[str]:
    """Terminate order workflows still running when a test ends (a failed assertion, usually).

    On the time-skipping server a leftover is not harmless: once a later test lets time skip, its
    timer fires, its workflow task waits for a worker that no longer exists, and the server stops
    skipping time for everyone, so the next ``result()`` or ``sleep`` hangs. Terminating is only
    safe once no activity is in flight (a WeCom send, a projection): terminating under a running
    activity leaves the server's time-skipping lock taken for good. The test server cannot list
    workflows, so the open orders are found in the shared read model.
    """
    with engine.connect() as conn:
        ids = [r.order_id for r in conn.execute(select(orders.c.order_id).where(orders.c.status.in_(OPEN_STATUSES)))]
    terminated = []
    for oid in ids:
        if oid in _SETTLED_IDS:
            continue
        handle = client.get_workflow_handle(oid)
        try:
            for _ in range(300):
                desc = await handle.describe()
                busy = desc.raw_description.pending_activities or desc.raw_description.HasField("pending_workflow_task")
                if desc.status != WorkflowExecutionStatus.RUNNING or not busy:
                    break
                await asyncio.sleep(0.1)
            if desc.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason=reason)
                terminated.append(oid)
        except RPCError:
            pass  # not on this server (another module's server, or the session's); nothing to do
        _SETTLED_IDS.add(oid)
    return terminated


@asynccontextmanager
async def order_worker(env, task_queue: str, db_url: str, fake_wecom):
    """The worker fixture of tests/test_order_workflow.py, plus clean-up of workflows left running."""
    engine = engine_for(db_url)
    risk_data.seed_defaults(engine)
    await terminate_leftovers(env.client, engine, "left running by an earlier test whose worker is gone")
    async with build_worker(env.client, task_queue, engine, wecom_webhook_url=fake_wecom.webhook_url):
        try:
            yield env
        finally:
            await terminate_leftovers(env.client, engine, "test finished with this order still open")


async def start_time_skipping_env() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server()
    )
    await register_search_attributes(env.client)
    return env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_module_env():
    """A time-skipping server of this module's own (same setup as conftest's ``ts_env``).

    Not the session's ``ts_env``: a workflow another test file leaves with a task scheduled when its
    worker stops (e.g. an order still being assessed when its test returns) keeps the test server's
    time-skipping lock taken for good, and every later ``result()``/``sleep`` on that server hangs.
    Terminating such an order afterwards does not give the lock back.
    """
    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom):
    async with order_worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom) as env:
        yield env


# ---------------------------------------------------------------- default warehouse rules R1..R4


RULE_CASES = {
    # id: (address, lines, warehouse, rule_id)
    "R1-xihu-2000.00-direct": (XIHU, [battery("1000.00", qty=2)], "HZ-DIRECT", "R1"),
    "R1-xihu-1999.99-cloud": (XIHU, [battery("1999.99")], "HZ-CLOUD", "R3"),
    "R1-other-district-2000-cloud": ("浙江省宁波市鄞州区天童南路588号", [battery("1000.00", qty=2)], "HZ-CLOUD", "R3"),
    "R2-xiaoshan-engine-500.01-direct": (
        XIAOSHAN, [line("ENG-REMAN-EA111", "再制造发动机总成", "发动机总成", 1, "500.01", vehicle=None)], "HZ-DIRECT", "R2"),
    "R2-xiaoshan-engine-500.00-cloud": (
        XIAOSHAN, [line("ENG-REMAN-EA111", "再制造发动机总成", "发动机总成", 1, "500.00", vehicle=None)], "HZ-CLOUD", "R3"),
    "R2-xiaoshan-gearbox-not-engine-cloud": (
        XIAOSHAN, [line("GBX-DQ200", "DQ200 变速箱总成", "变速箱总成", 1, "3000.00", vehicle=None)], "HZ-CLOUD", "R3"),
    "R2-xihu-engine-not-xiaoshan-cloud": (
        XIHU, [line("ENG-REMAN-EA111", "再制造发动机总成", "发动机总成", 1, "800.00", vehicle=None)], "HZ-CLOUD", "R3"),
    "R3-zhejiang-xiaoshan-pads": (XIAOSHAN, [brake_pads()], "HZ-CLOUD", "R3"),
    "R3-jiangsu": ("江苏省南京市鼓楼区中山路1号", [brake_pads()], "HZ-CLOUD", "R3"),
    "R3-shanghai": ("上海市浦东新区世纪大道100号", [brake_pads()], "HZ-CLOUD", "R3"),
    "R3-anhui": ("安徽省合肥市蜀山区长江西路200号", [brake_pads()], "HZ-CLOUD", "R3"),
    "R4-guangdong": ("广东省广州市天河区天河路385号", [brake_pads()], "GZ-CLOUD", "R4"),
    "R3-fujian": ("福建省厦门市思明区鹭江道8号", [brake_pads()], "HZ-CLOUD", "R3"),  # 华东 (domain/regions.py)
    "R4-dongguan-town": ("广东省东莞市长安镇锦厦路1号", [brake_pads()], "GZ-CLOUD", "R4"),
    "R4-guangxi": ("广西壮族自治区南宁市青秀区民族大道100号", [brake_pads()], "GZ-CLOUD", "R4"),
    "R4-hainan": ("海南省海口市龙华区滨海大道88号", [brake_pads()], "GZ-CLOUD", "R4"),
}


@pytest.mark.parametrize("case", list(RULE_CASES), ids=list(RULE_CASES))
async def test_default_warehouse_rule_end_to_end(worker, task_queue, case):
    address, lines, warehouse, rule_id = RULE_CASES[case]
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), address, lines))
    st = await until(h, settled)
    assert st.status == S.ROUTED, (st.status, events(st))
    assert events(st) == ["order.received", "order.validated", "risk.scanned", "order.routed"]
    assert event(st, "risk.scanned").data == {"level": "none", "codes": []}
    await assert_routed(h, st, warehouse, rule_id, "ZTO")  # light parcel: ZTO is the cheapest
    attrs = await search_attrs(h)
    assert attrs["OrderStatus"] == "routed" and attrs["RiskLevel"] == "none"
    result = await result_of(h)
    assert result.status == S.COMPLETED and result.warehouse == warehouse and result.carrier == "ZTO"
    assert (await search_attrs(h))["OrderStatus"] == "completed"
    if case == "R1-xihu-2000.00-direct":
        assert st.routing.ship_mode == "direct"
        await keep_history(h, "routed_r1_direct")


async def test_r2_engine_for_new_customer_is_held_then_approved_and_ships_direct(worker, task_queue, fake_wecom):
    """An engine costs > ¥5000: a new customer's first such order is held (NEW_CUSTOMER_LARGE_ORDER);
    once approved, R2 sends it to HZ-DIRECT, and at 120 kg only DEBANG can carry it."""
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), XIAOSHAN, [engine_line()]))
    st = await until(h, settled)
    assert st.status == S.HELD
    review = st.open_review()
    assert review.kind == "risk" and review.features == ["NEW_CUSTOMER_LARGE_ORDER"]
    assert "order.routed" not in events(st)
    await decide(h, review.review_id, Decision.APPROVE, note="老客户新开门店, 已电话确认")
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "HZ-DIRECT", "R2", "DEBANG")
    assert "萧山" in st.routing.reason and st.routing.ship_mode == "direct"
    result = await result_of(h)
    assert result.status == S.COMPLETED


async def test_r2_engine_for_customer_with_history_routes_without_review(worker, task_queue):
    customer = new_customer()
    now = await worker.get_current_time()
    earlier = history_safe_now(now) - timedelta(days=3)
    prior = await start_order(worker.client, task_queue, make_order(earlier, XIAOSHAN, [battery("2000.00")], customer=customer))
    assert (await result_of(prior)).status == S.COMPLETED
    now = await worker.get_current_time()  # awaiting a result lets the server skip time
    h = await start_order(worker.client, task_queue, make_order(now, XIAOSHAN, [engine_line()], customer=customer))
    st = await until(h, settled)
    assert st.status == S.ROUTED, [r.features for r in st.reviews]
    assert st.reviews == [] and event(st, "risk.scanned").data["codes"] == []
    await assert_routed(h, st, "HZ-DIRECT", "R2", "DEBANG")
    assert (await result_of(h)).status == S.COMPLETED


# ---------------------------------------------------------------- carriers


async def test_light_parcel_goes_zto_with_reasons_for_the_others(worker, task_queue):
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), XIAOSHAN,
                                                                 [line(qty=2, kg="1.8")]))
    st = await until(h, settled)
    await assert_routed(h, st, "HZ-CLOUD", "R3", "ZTO")
    options = {o.code: o for o in st.routing.carrier_options}
    assert options["ZTO"].excluded is None and options["ZTO"].freight == Decimal("17.00")  # 8 + 3 × (ceil(3.6 kg) − 1)
    assert "min weight" in options["DEBANG"].excluded
    assert options["SF"].excluded is None and options["SF"].freight > options["ZTO"].freight
    assert st.routing.freight == Decimal("17.00") and event(st, "order.routed").data["freight"] == "17.00"
    assert (await result_of(h)).status == S.COMPLETED


# The default suspension runs 2026-01-01 .. 2028-01-01 (China time). Every ``result()`` lets the
# time-skipping server jump to its next pending timer, which after a few tests is years ahead, so
# this test pins the order time inside the suspension instead of taking the server's "now".
IN_JD_SUSPENSION = datetime(2027, 3, 15, 2, 0, tzinfo=UTC)


async def test_yuhang_never_gets_jd_and_says_it_is_suspended(worker, task_queue):
    for lines, expected in (([brake_pads()], "ZTO"), ([tyres(qty=4, kg="10")], "DEBANG")):
        h = await start_order(worker.client, task_queue, make_order(IN_JD_SUSPENSION, YUHANG, lines))
        st = await until(h, settled)
        await assert_routed(h, st, "HZ-CLOUD", "R3", expected)
        jd = next(o for o in st.routing.carrier_options if o.code == "JD")
        assert jd.excluded and "停运" in jd.excluded and "suspended" in jd.excluded, jd
        assert "JD: 停运" in st.routing.carrier_reason
        assert "JD" not in (st.carrier, event(st, "order.routed").data["carrier"])
        assert (await result_of(h)).carrier == expected


async def test_jd_is_not_suspended_outside_yuhang(worker, task_queue):
    """Same parcel, same time, next district: JD is only dearer, not suspended."""
    h = await start_order(worker.client, task_queue, make_order(IN_JD_SUSPENSION, XIHU, [brake_pads()]))
    st = await until(h, settled)
    jd = next(o for o in st.routing.carrier_options if o.code == "JD")
    assert jd.excluded is None and "JD: 更贵" in st.routing.carrier_reason
    assert (await result_of(h)).status == S.COMPLETED


async def test_heavy_parcel_goes_debang_where_it_serves_else_by_the_table(worker, task_queue):
    now = await worker.get_current_time()
    # 36 kg of tyres: ZTO refuses (> 30 kg); in 浙江 DEBANG (heavy goods from 30 kg) is cheapest
    h = await start_order(worker.client, task_queue, make_order(now, XIAOSHAN, [tyres(qty=4, kg="9")]))
    st = await until(h, settled)
    await assert_routed(h, st, "HZ-CLOUD", "R3", "DEBANG")
    options = {o.code: o for o in st.routing.carrier_options}
    assert "over weight" in options["ZTO"].excluded
    assert options["DEBANG"].freight == Decimal("112.50")  # 60 + 1.5 × 35
    assert (await result_of(h)).status == S.COMPLETED
    now = await worker.get_current_time()
    # 广西 is outside DEBANG's area: the table's next cheapest that takes 36 kg is JD
    h = await start_order(worker.client, task_queue,
                          make_order(now, "广西壮族自治区南宁市青秀区民族大道100号", [tyres(qty=4, kg="9")]))
    st = await until(h, settled)
    await assert_routed(h, st, "GZ-CLOUD", "R4", "JD")
    options = {o.code: o for o in st.routing.carrier_options}
    assert "does not serve" in options["DEBANG"].excluded and "over weight" in options["ZTO"].excluded
    assert options["JD"].freight < options["SF"].freight
    assert (await result_of(h)).status == S.COMPLETED


# ---------------------------------------------------------------- R5: routing review


async def test_r5_no_rule_routing_review_reroute_with_carrier(worker, task_queue, fake_wecom):
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), CHENGDU))
    st = await until(h, settled)
    assert st.status == S.HELD
    review = st.open_review()
    assert review.kind == "routing" and review.features == ["NO_RULE_MATCH"]
    assert "R5" in review.reason and "人工分单" in review.reason
    assert "order.routed" not in events(st) and st.warehouse is None
    attrs = await search_attrs(h)
    assert attrs["OrderStatus"] == "held" and attrs["Warehouse"] is None
    msgs = await wait_for_messages(fake_wecom, h.id, 1)
    assert "人工分单" in msgs[0]["content"] and "无匹配分单规则" in msgs[0]["content"]  # the feature in Chinese

    task = await decide(h, review.review_id, Decision.REROUTE, warehouse="GZ-CLOUD", carrier="SF", note="川渝走广州仓")
    assert task.state == "decided" and task.decision == "reroute"
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "GZ-CLOUD", "manual", "SF")
    routed = event(st, "order.routed")
    assert routed.actor == "reviewer" and "审核人指定" in routed.reason
    result = await result_of(h)
    assert result.status == S.COMPLETED
    assert [e for e in events(result) if e.startswith(("review.", "order.r"))] == [
        "order.received", "review.opened", "review.decided", "order.routed"
    ]
    await keep_history(h, "routing_review_rerouted")


async def test_r5_reroute_without_carrier_takes_the_cheapest_by_the_table(worker, task_queue):
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), CHENGDU))
    st = await until(h, lambda s: s.open_review() is not None)
    await decide(h, st.open_review().review_id, Decision.REROUTE, warehouse="HZ-CLOUD")
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "HZ-CLOUD", "manual", "ZTO")
    assert (await result_of(h)).status == S.COMPLETED


async def test_r5_routing_review_reject(worker, task_queue):
    h = await start_order(worker.client, task_queue, make_order(await worker.get_current_time(), CHENGDU))
    st = await until(h, lambda s: s.open_review() is not None)
    await decide(h, st.open_review().review_id, Decision.REJECT, reviewer="分单主管", note="西南暂不开放")
    result = await result_of(h)
    assert result.status == S.REJECTED and result.warehouse is None
    assert last_event(result).event == "order.rejected" and last_event(result).actor == "分单主管"
    assert "order.routed" not in events(result)
    assert (await search_attrs(h))["OrderStatus"] == "rejected"


async def wait_for_messages(fake_wecom, order_id: str, count: int, timeout: float = 20, contains: str = "") -> list[dict]:
    """Messages the fake WeCom robot received naming ``order_id`` (polls; the send runs beside the order)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msgs = await asyncio.to_thread(fake_wecom.messages, order_id)
        if len(msgs) >= count and all(contains in m["content"] for m in msgs[count - 1:count]):
            return msgs
        if loop.time() > deadline:
            raise AssertionError(f"expected {count} WeCom message(s) for {order_id}, got {len(msgs)}: {msgs}")
        await asyncio.sleep(0.1)
