"""Risk stage of OrderWorkflow on the time-skipping server: block features intercept, hold features
open a risk review (approve → routed and completed, reject → rejected, reroute → manual route), the
coupon ledger, the scan's timeline event and RiskLevel, and the WeCom to-do with its escalation
(2 h → escalated + second message, 24 h → red), also when the robot is failing.

The burst breaker has its own file (tests/test_burst_breaker.py); the 17 checks one by one are unit
tested in tests/test_risk.py. Here every feature the default reference data and rules can trip is
tripped by a real order through a real workflow.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError

from domain import labels
from domain.contracts.order import CancelRequest
from domain.default_rules import build_default_rules
from domain.review import Decision
from domain.routing_rules import Carrier, CarrierSuspension, RuleSet, export_workbook
from store import read_model, rules
from store.db import engine_for
from store.schema import coupon_redemptions
from tests.test_routing_workflow import (  # shared helpers and the module-private server fixture
    CHENGDU,
    XIAOSHAN,
    XIHU,
    YUHANG,
    S,
    assert_routed,
    battery,
    brake_pads,
    decide,
    event,
    events,
    history_safe_now,
    last_event,
    line,
    make_order,
    new_customer,
    order_worker,
    search_attrs,
    settled,
    ts_module_env,  # noqa: F401 - a fixture, used by ``worker``
    tyres,
    wait_for_messages,
)
from tests.workflow_helpers import keep_history, result_of, start_order, state_of, until
from workflows.order import OrderWorkflow


@pytest_asyncio.fixture
async def worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom):  # noqa: F811
    async with order_worker(ts_module_env, task_queue, sqlite_session_url, fake_wecom) as env:
        yield env


@pytest.fixture
def engine(sqlite_session_url):
    return engine_for(sqlite_session_url)


def wipers(qty: int) -> dict:
    return line("BOSCH-WIPER-24", "博世雨刮片 24寸", "雨刮", qty, "35.00", vehicle=None)


def coupon_code() -> str:
    return f"CPN-{uuid.uuid4().hex[:10].upper()}"


def ledger(engine, code: str) -> list[str]:
    with engine.connect() as conn:
        return [r.order_id for r in conn.execute(
            select(coupon_redemptions.c.order_id).where(coupon_redemptions.c.coupon_code == code)
            .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.order_id))]


async def start_settled(worker, task_queue, payload):
    h = await start_order(worker.client, task_queue, payload)
    return h, await until(h, settled)


# ---------------------------------------------------------------- block: intercepted


BLOCK_CASES = {
    "no-delivery-keyword": (dict(address=XIHU + "(暂不配送)"), "NO_DELIVERY_KEYWORD", "暂不配送"),
    "stop-delivery-keyword": (dict(address=XIAOSHAN + " 停止配送"), "NO_DELIVERY_KEYWORD", "停止配送"),
    "blacklisted-customer": (dict(customer="SHOP-SZ-099"), "BLACKLISTED", "恶意拒收"),
    "blacklisted-phone": (dict(phone="130 1234 0000"), "BLACKLISTED", "冒用门店名义"),
    "blacklisted-address": (dict(address="广东省深圳市宝安区福永街道凤凰山大道1号"), "BLACKLISTED", "虚假签收"),
}


@pytest.mark.parametrize("case", list(BLOCK_CASES), ids=list(BLOCK_CASES))
async def test_block_feature_intercepts_the_order(worker, task_queue, fake_wecom, case):
    kw, code, why = BLOCK_CASES[case]
    payload = make_order(await worker.get_current_time(), lines=[wipers(2)], **kw)
    h = await start_order(worker.client, task_queue, payload)
    result = await result_of(h)
    assert result.status == S.REJECTED
    assert events(result) == ["order.received", "order.validated", "risk.scanned", "order.intercepted"]
    intercepted = last_event(result)
    assert intercepted.data["codes"] == [code] and "拦截" in intercepted.reason and why in intercepted.reason
    scanned = event(result, "risk.scanned")
    assert scanned.data["level"] == "block" and code in scanned.data["codes"] and why in scanned.reason
    assert result.reviews == [] and result.warehouse is None and result.routing is None
    attrs = await search_attrs(h)
    assert attrs["RiskLevel"] == "block" and attrs["OrderStatus"] == "rejected" and attrs["Warehouse"] is None
    assert await asyncio.to_thread(fake_wecom.messages, h.id) == []  # nobody to ask: intercepted outright


# ---------------------------------------------------------------- hold: risk review


def _landline() -> str:
    return f"0571-8{uuid.uuid4().int % 10**7:07d}"


HOLD_CASES = {
    # id: (make_order overrides, code)
    "quantity-51": (dict(lines=[wipers(51)]), "QUANTITY_EXCESSIVE"),
    "test-recipient": (dict(name="测试"), "TEST_RECIPIENT"),
    "test-recipient-latin": (dict(name="Test User"), "TEST_RECIPIENT"),
    "payment-mismatch": (dict(paid="535.99"), "PAYMENT_MISMATCH"),
    "payment-ignores-freight": (dict(freight="12.00", paid="536.00"), "PAYMENT_MISMATCH"),
    "price-below-floor": (dict(lines=[brake_pads(price="119.99")]), "PRICE_BELOW_FLOOR"),
    "price-zero": (dict(lines=[line("GIFT-KEYCHAIN", "赠品钥匙扣", "其他", 1, "0.00", vehicle=None)]), "PRICE_BELOW_FLOOR"),
    "fitment-mismatch": (dict(lines=[line(vehicle="本田思域2020款")]), "FITMENT_MISMATCH"),
    "new-customer-over-5000": (dict(lines=[battery("5000.01")]), "NEW_CUSTOMER_LARGE_ORDER"),
    "coupon-over-half": (dict(coupon={"code": "__CODE__", "amount": "268.01"}), "COUPON_ABUSE"),
    "landline-on-retail-channel": (dict(phone="__LANDLINE__"), "INVALID_PHONE"),
    "foreign-phone": (dict(phone="__US__"), "INVALID_PHONE"),
}


def _fill(kw: dict) -> dict:
    kw = dict(kw)
    if kw.get("coupon"):
        kw["coupon"] = {**kw["coupon"], "code": coupon_code()}
    if kw.get("phone") == "__LANDLINE__":
        kw["phone"] = _landline()
    if kw.get("phone") == "__US__":
        kw["phone"] = f"+1 650 253 {uuid.uuid4().int % 10**4:04d}"
    return kw


@pytest.mark.parametrize("case", list(HOLD_CASES), ids=list(HOLD_CASES))
async def test_hold_feature_opens_risk_review_and_approval_routes(worker, task_queue, fake_wecom, case):
    kw, code = HOLD_CASES[case]
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), **_fill(kw)))
    assert st.status == S.HELD, events(st)
    review = st.open_review()
    assert review.kind == "risk" and review.features == [code], review
    scanned = event(st, "risk.scanned")
    assert scanned.data == {"level": "hold", "codes": [code]}
    assert review.reason and review.reason in scanned.reason  # the reviewer reads the scan's own reason
    assert "order.routed" not in events(st) and st.warehouse is None
    attrs = await search_attrs(h)
    assert attrs["RiskLevel"] == "hold" and attrs["OrderStatus"] == "held"
    msgs = await wait_for_messages(fake_wecom, h.id, 1)
    assert msgs[0]["msgtype"] == "markdown" and "风控审核" in msgs[0]["content"] and labels.risk_feature(code) in msgs[0]["content"]

    decided = await decide(h, review.review_id, Decision.APPROVE, note="已电话核实")
    assert decided.state == "decided" and decided.decision == "approve"
    result = await result_of(h)
    assert result.status == S.COMPLETED
    assert [e for e in events(result)[2:] if e != "coupon.redeemed"] == [
        "risk.scanned", "review.opened", "review.decided", "order.routed", "order.completed"]
    assert result.risk_level == "hold" and result.warehouse == "HZ-CLOUD"
    if case == "test-recipient":
        await keep_history(h, "risk_hold_approved")


async def test_near_misses_do_not_hold(worker, task_queue):
    """One step short of each threshold: the order routes without a review."""
    now = await worker.get_current_time()
    near = [
        dict(lines=[wipers(50)]),  # 50 per line is allowed
        dict(lines=[brake_pads(price="120.00")]),  # exactly the floor
        dict(lines=[battery("5000.00")]),  # a new customer up to ¥5000
        dict(coupon={"code": coupon_code(), "amount": "268.00"}),  # exactly half the goods
        dict(freight="12.00"),  # paid = goods + freight
        dict(lines=[line(vehicle="日产轩逸2020款")]),  # these pads fit the Sylphy too
        dict(phone=_landline(), channel="erp"),  # landlines are fine for B2B
        dict(name="王测"),  # '测' alone is a name, not '测试'
    ]
    handles = []
    for kw in near:
        h, st = await start_settled(worker, task_queue, make_order(now, **kw))
        assert st.status == S.ROUTED and event(st, "risk.scanned").data["codes"] == [], (kw, st.risk_hits)
        handles.append(h)
    for h in handles:
        assert (await result_of(h)).status == S.COMPLETED


async def test_amount_outlier_against_the_customers_history(worker, task_queue):
    """History is the customer's accepted orders of the last 90 days, measured back from the order
    time (capped at the wall clock), so the two earlier orders are placed days back."""
    customer = new_customer()
    past = history_safe_now(await worker.get_current_time())
    for days, lines in ((3, [brake_pads()]), (2, [battery("2680.00")])):  # ¥536, then 5 × ¥536: no hold
        h = await start_order(worker.client, task_queue, make_order(past - timedelta(days=days), lines=lines, customer=customer))
        result = await result_of(h)
        assert result.status == S.COMPLETED and result.reviews == [], result.risk_hits
    # history is now ¥536 and ¥2680 (average ¥1608): 5 × ¥1608 = ¥8040 is fine, a cent more is not
    now = await worker.get_current_time()
    h, st = await start_settled(worker, task_queue, make_order(now, lines=[battery("8040.00")], customer=customer))
    assert st.status == S.ROUTED and st.reviews == [], st.risk_hits
    assert (await result_of(h)).status == S.COMPLETED
    now = await worker.get_current_time()
    h, st = await start_settled(worker, task_queue, make_order(now, lines=[battery("8040.01")], customer=customer))
    assert st.status == S.HELD and st.open_review().features == ["AMOUNT_OUTLIER"], st.risk_hits
    assert "1608.00" in st.open_review().reason
    await decide(h, st.open_review().review_id, Decision.REJECT, reviewer="风控小赵", note="联系不上客户")
    result = await result_of(h)
    assert result.status == S.REJECTED and last_event(result).actor == "风控小赵"


async def test_risk_review_reject(worker, task_queue, fake_wecom):
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), lines=[wipers(60)]))
    assert st.open_review().features == ["QUANTITY_EXCESSIVE"]
    await decide(h, st.open_review().review_id, Decision.REJECT, reviewer="风控小赵", note="批量采购请走ERP")
    result = await result_of(h)
    assert result.status == S.REJECTED
    last = last_event(result)
    assert (last.event, last.actor, last.reason) == ("order.rejected", "风控小赵", "批量采购请走ERP")
    assert "order.routed" not in events(result) and result.warehouse is None
    assert result.reviews[0].decision == "reject" and result.reviews[0].reviewer == "风控小赵"
    assert (await search_attrs(h))["OrderStatus"] == "rejected"
    await keep_history(h, "risk_hold_rejected")


async def test_risk_review_reroute_to_gz_cloud(worker, task_queue):
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), name="测试门店"))
    assert st.open_review().features == ["TEST_RECIPIENT"]
    await decide(h, st.open_review().review_id, Decision.REROUTE, warehouse="GZ-CLOUD", note="华东仓爆仓")
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "GZ-CLOUD", "manual", "ZTO")  # carrier still by the table
    assert "人工分单" in st.routing.reason
    assert (await result_of(h)).status == S.COMPLETED


async def test_remote_heavy_hold_then_routing_review(worker, task_queue):
    """西藏 with 36 kg: REMOTE_HEAVY holds for risk; once approved, no rule covers 西藏 (R5), so a
    routing review follows; the reroute picks the carrier by the table (JD: ZTO is over weight,
    DEBANG does not serve 西藏)."""
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(),
                                                                "西藏自治区拉萨市城关区北京中路1号", [tyres(qty=4, kg="9")]))
    assert st.open_review().features == ["REMOTE_HEAVY"] and "36" in st.open_review().reason
    await decide(h, st.open_review().review_id, Decision.APPROVE)
    st = await until(h, lambda s: s.open_review() is not None and s.open_review().kind == "routing")
    assert st.open_review().features == ["NO_RULE_MATCH"] and [r.kind for r in st.reviews] == ["risk", "routing"]
    await decide(h, st.open_review().review_id, Decision.REROUTE, warehouse="HZ-CLOUD")
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "HZ-CLOUD", "manual", "JD")
    assert (await result_of(h)).status == S.COMPLETED


async def test_suspected_brushing_is_flagged_not_held(worker, task_queue):
    """A duplicate folds into an order still in address review; the anchor's scan then carries the
    SUSPECTED_BRUSHING flag (level flag) and it routes without a risk review."""
    now = await worker.get_current_time()
    first = make_order(now, "老地方仓库后门")
    h1 = await start_order(worker.client, task_queue, first)
    st = await until(h1, lambda s: s.status == S.HELD)
    assert st.open_review().kind == "address"
    second = make_order(now + timedelta(minutes=2), XIHU, phone=first["customer"]["phone"])
    h2 = await start_order(worker.client, task_queue, second)
    # poll, not result(): awaiting a result lets the server skip time past the anchor's timers
    assert (await until(h2, lambda s: s.status.terminal)).status == S.MERGED
    st = await until(h1, lambda s: "suspected_brushing" in s.flags)
    await decide(h1, st.open_review().review_id, Decision.CORRECT_ADDRESS, address=XIHU)
    st = await until(h1, lambda s: "order.routed" in events(s))
    assert event(st, "risk.scanned").data == {"level": "flag", "codes": ["SUSPECTED_BRUSHING"]}
    assert [r.kind for r in st.reviews] == ["address"]
    assert (await search_attrs(h1))["RiskLevel"] == "flag"
    assert (await result_of(h1)).status == S.COMPLETED


async def test_unresolved_address_is_held_once_not_again_by_the_scan(worker, task_queue):
    """ADDRESS_UNRESOLVED: the address review is that hold; approved as is, the scan does not hold
    the order a second time for the same feature, and routing asks a person (no district)."""
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), "老地方仓库后门"))
    assert st.open_review().kind == "address"
    await decide(h, st.open_review().review_id, Decision.APPROVE, note="老客户, 司机认识")
    st = await until(h, lambda s: s.open_review() is not None and s.open_review().kind == "routing")
    assert "ADDRESS_UNRESOLVED" not in event(st, "risk.scanned").data["codes"]
    assert [r.kind for r in st.reviews] == ["address", "routing"]
    await decide(h, st.open_review().review_id, Decision.REROUTE, warehouse="HZ-CLOUD", carrier="SF")
    result = await result_of(h)
    assert result.status == S.COMPLETED and (result.warehouse, result.carrier) == ("HZ-CLOUD", "SF")


# ---------------------------------------------------------------- carriers in the risk scan
# NO_CARRIER and CARRIER_SUSPENDED cannot fire with the default table (three carriers serve every
# province), so these tests activate a thinner rules version for their orders and restore the
# previous active version afterwards (orders pin the version they started with).


@pytest.fixture
def thin_carrier_rules(engine):
    before = rules.ensure_default(engine)
    base = build_default_rules()
    thin = RuleSet(
        warehouse_rules=base.warehouse_rules,
        carriers=[Carrier(code="ZTO", name="中通快递", provinces=["浙江省"], first_weight_price=Decimal("8"),
                          price_per_kg=Decimal("3"), sla_days=3, max_weight_kg=Decimal("30"))],
        suspensions=[CarrierSuspension(carrier="ZTO", province="浙江省", city="杭州市", district="余杭区",
                                       valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                                       reason="中通余杭网点停运 ZTO suspended in 余杭区")],
    )
    version = rules.import_rules(engine, export_workbook(thin), "thin_carriers.xlsx", "tests")
    rules.activate(engine, version)
    try:
        yield version
    finally:
        rules.activate(engine, before)


async def test_no_carrier_serves_the_district(worker, task_queue, thin_carrier_rules):
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), "广东省广州市天河区天河路385号"))
    assert st.rule_version == thin_carrier_rules
    assert st.open_review().kind == "risk" and st.open_review().features == ["NO_CARRIER"]
    await decide(h, st.open_review().review_id, Decision.APPROVE)
    # R4 still names GZ-CLOUD, but the table has no carrier for 广东: the routing review asks for one
    st = await until(h, lambda s: s.open_review() is not None and s.open_review().kind == "routing")
    assert st.open_review().features == ["NO_CARRIER"] and "无可用快递" in st.open_review().reason
    rid = st.open_review().review_id
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # not in this rules version's carrier table
        await decide(h, rid, Decision.REROUTE, warehouse="GZ-CLOUD", carrier="SF")
    assert "未知承运商" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # ZTO does not serve 广东: only on purpose
        await decide(h, rid, Decision.REROUTE, warehouse="GZ-CLOUD", carrier="ZTO")
    assert "如确需使用请勾选强制指定" in str(refused.value.cause)
    await decide(h, rid, Decision.REROUTE, warehouse="GZ-CLOUD", carrier="ZTO", override=True, note="广州网点临时代收")
    st = await until(h, lambda s: s.status == S.ROUTED)
    await assert_routed(h, st, "GZ-CLOUD", "manual", "ZTO")
    assert event(st, "order.routed").data["rule_version"] == thin_carrier_rules
    assert (await result_of(h)).status == S.COMPLETED


async def test_only_carrier_suspended_in_the_district(worker, task_queue, thin_carrier_rules):
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), YUHANG))
    assert st.open_review().features == ["CARRIER_SUSPENDED"] and "ZTO" in st.open_review().reason
    await decide(h, st.open_review().review_id, Decision.REJECT, note="等网点恢复再下单")
    assert (await result_of(h)).status == S.REJECTED


# ---------------------------------------------------------------- coupons


async def test_same_coupon_on_another_customers_order_is_held(worker, task_queue, engine):
    now = await worker.get_current_time()
    code = coupon_code()
    a, st_a = await start_settled(worker, task_queue, make_order(now, coupon={"code": code, "amount": "20.00"}))
    assert st_a.status == S.ROUTED and ledger(engine, code) == [a.id]
    redeemed = event(st_a, "coupon.redeemed")
    assert redeemed.data["code"] == code

    b, st_b = await start_settled(worker, task_queue, make_order(now + timedelta(minutes=1), XIHU,
                                                                  coupon={"code": code, "amount": "20.00"}))
    assert st_b.status == S.HELD and st_b.open_review().features == ["COUPON_ABUSE"]
    assert a.id in st_b.open_review().reason and "已被订单" in st_b.open_review().reason
    await decide(b, st_b.open_review().review_id, Decision.REJECT, note="同一张券")
    assert (await result_of(b)).status == S.REJECTED
    assert ledger(engine, code) == [a.id]  # B never redeemed it
    assert (await result_of(a)).status == S.COMPLETED


async def test_cancelled_order_releases_its_coupon(worker, task_queue, engine):
    now = await worker.get_current_time()
    code = coupon_code()
    a, st_a = await start_settled(worker, task_queue, make_order(now, coupon={"code": code, "amount": "20.00"}))
    assert st_a.status == S.ROUTED and ledger(engine, code) == [a.id]
    await a.signal(OrderWorkflow.cancel, CancelRequest(reason="客户取消", actor="客服小周"))
    result_a = await result_of(a)
    assert result_a.status == S.CANCELLED
    after_cancel = ledger(engine, code)
    # a third order with the same code must pass once the redemption is released
    c, st_c = await start_settled(worker, task_queue, make_order(now + timedelta(minutes=2), XIHU,
                                                                  coupon={"code": code, "amount": "20.00"}))
    if st_c.status == S.HELD:
        await decide(c, st_c.open_review().review_id, Decision.REJECT)
    await result_of(c)
    assert after_cancel == [], f"ledger still holds {after_cancel} after {a.id} was cancelled"
    # not held (routed, or already released if the shared test clock skipped past its window)
    assert st_c.status in (S.ROUTED, S.COMPLETED) and st_c.risk_hits == [], [h.reason for h in st_c.risk_hits]
    redeemed = event(st_a, "coupon.redeemed")  # what the workflow recorded on redemption
    assert redeemed.data["code"] == code and redeemed.data["first_redeemed_by"] == a.id


async def test_order_rejected_after_redeeming_releases_its_coupon(worker, task_queue, engine):
    code = coupon_code()
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), CHENGDU,
                                                                coupon={"code": code, "amount": "20.00"}))
    assert st.open_review().kind == "routing" and ledger(engine, code) == [h.id]  # redeemed before routing
    await decide(h, st.open_review().review_id, Decision.REJECT, note="西南暂不开放")
    assert (await result_of(h)).status == S.REJECTED
    assert ledger(engine, code) == []


# ---------------------------------------------------------------- WeCom to-do, escalation, red


async def test_review_todo_escalates_after_2h_and_turns_red_after_24h(worker, task_queue, fake_wecom, engine):
    h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), name="测试"))
    rid = st.open_review().review_id
    msgs = await wait_for_messages(fake_wecom, h.id, 1)
    first = msgs[0]["content"]
    assert h.id in first and "订单待审核" in first and "升级" not in first and labels.risk_feature("TEST_RECIPIENT") in first

    await worker.sleep(timedelta(hours=1, minutes=59))
    st = await state_of(h)
    assert st.open_review().escalated_at is None and len(await asyncio.to_thread(fake_wecom.messages, h.id)) == 1
    await worker.sleep(timedelta(minutes=2))
    st = await until(h, lambda s: s.open_review().escalated_at is not None)
    assert st.status == S.HELD and last_event(st).event == "review.escalated"
    msgs = await wait_for_messages(fake_wecom, h.id, 2, contains="升级")
    assert len(msgs) == 2 and "【升级】" in msgs[1]["content"] and h.id in msgs[1]["content"]
    assert read_model.get_review(engine, rid)["escalated_at"] is not None

    await worker.sleep(timedelta(hours=22, minutes=1))
    st = await until(h, lambda s: s.open_review().red_at is not None)
    assert last_event(st).event == "review.red" and st.status == S.HELD
    assert read_model.get_review(engine, rid)["red_at"] is not None
    assert len(await asyncio.to_thread(fake_wecom.messages, h.id)) == 2  # red is for the console, no third ping

    await decide(h, rid, Decision.APPROVE, reviewer="主管")
    result = await result_of(h)
    assert result.status == S.COMPLETED and result.warehouse == "HZ-CLOUD"
    assert events(result)[-5:] == ["review.escalated", "review.red", "review.decided", "order.routed", "order.completed"]
    await keep_history(h, "risk_hold_escalated_red_approved")


async def test_failing_robot_delays_the_todo_not_the_order(worker, task_queue, fake_wecom):
    before = httpx.get(f"{fake_wecom.url}/_control/state", timeout=10).json()
    httpx.post(f"{fake_wecom.url}/_control/fail_next", params={"count": 3, "status": 500}, timeout=10).raise_for_status()
    try:
        h, st = await start_settled(worker, task_queue, make_order(await worker.get_current_time(), lines=[wipers(51)]))
        assert st.status == S.HELD
        await decide(h, st.open_review().review_id, Decision.APPROVE)
        st = await until(h, lambda s: s.status == S.ROUTED)
        routed_at = time.monotonic()
        # the order did not wait: the robot is still failing (backoff 1 s, 2 s, 4 s before the 4th try)
        assert await asyncio.to_thread(fake_wecom.messages, h.id) == []
        msgs = await wait_for_messages(fake_wecom, h.id, 1, timeout=60)
        assert h.id in msgs[0]["content"] and time.monotonic() >= routed_at
        after = httpx.get(f"{fake_wecom.url}/_control/state", timeout=10).json()
        assert after["injected_failures"] - before["injected_failures"] == 3
        result = await result_of(h)
        assert result.status == S.COMPLETED
        assert "notify.failed" not in events(result)
    finally:
        httpx.post(f"{fake_wecom.url}/_control/fail_next", params={"count": 0}, timeout=10)
