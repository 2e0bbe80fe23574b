"""The 17 risk features, each on its own: a hit when the condition holds, silence when it does not,
thresholds taken from RiskThresholds, and the level aggregation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import risk
from domain.order import Channel, CleanLine, CleanOrder, Coupon, ResolvedAddress
from domain.reference_data import DEFAULT_SKUS, BlacklistEntry, BlacklistKind, SkuReference
from domain.risk import CHECKS, RiskContext, RiskHit, RiskThresholds, Severity, risk_level, scan

T = RiskThresholds()
XIAOSHAN = ResolvedAddress(
    province="浙江省", city="杭州市", district="萧山区", adcode="330109",
    detail="北干街道金城路188号", text="浙江省杭州市萧山区北干街道金城路188号",
)
LHASA = ResolvedAddress(
    province="西藏自治区", city="拉萨市", district="城关区", adcode="540102",
    detail="北京中路1号", text="西藏自治区拉萨市城关区北京中路1号",
)
HULUNBUIR = ResolvedAddress(
    province="内蒙古自治区", city="呼伦贝尔市", district="海拉尔区", adcode="150702",
    detail="胜利大街1号", text="内蒙古自治区呼伦贝尔市海拉尔区胜利大街1号",
)
REFS = {r.sku: r for r in DEFAULT_SKUS}


def line(no=1, sku="BOSCH-BP-COROLLA18", qty=2, price="268.00", vehicle="TOYOTA_COROLLA_2018", kg="1.8"):
    return CleanLine(
        line_no=no, sku=sku, name="博世刹车片(前)", category="刹车片", quantity=qty, unit_price=Decimal(price),
        vehicle_model=vehicle, weight_kg=Decimal(kg) if kg is not None else None,
    )


def order(**kw) -> CleanOrder:
    """A clean order that trips nothing; override any field."""
    lines = kw.pop("lines", [line()])
    goods = sum((ln.amount for ln in lines), Decimal(0))
    coupon = kw.pop("coupon", None)
    freight = kw.pop("freight", Decimal("0.00"))
    paid = goods - (coupon.amount if coupon else 0) + freight
    base = dict(
        order_id="order-miniprogram-R1", channel=Channel.MINIPROGRAM, channel_order_id="R1",
        ordered_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC), customer_id="SHOP-HZ-002",
        customer_name="李明", phone="+8613967154321", address_raw="杭州萧山区北干街道金城路188号",
        address=XIAOSHAN, lines=lines, coupon=coupon, freight=freight, paid_amount=paid, note="",
    )
    base.update(kw)
    return CleanOrder(**base)


def ctx(**kw) -> RiskContext:
    """A known customer with an ordinary history, SKU data loaded, two carriers serving the district."""
    base = dict(customer_avg_amount=Decimal("600.00"), customer_order_count=12, sku_refs=REFS,
                serving_carriers=["SF", "ZTO"])
    base.update(kw)
    return RiskContext(**base)


def codes(hits: list[RiskHit]) -> list[str]:
    return [h.code for h in hits]


def test_clean_order_trips_nothing():
    assert scan(order(), ctx(), T) == []
    assert risk_level([]) == "none"


def test_registry_has_17_distinct_features_with_titles():
    assert [c.no for c in CHECKS] == list(range(1, 18))
    assert len({c.code for c in CHECKS}) == 17
    assert all(c.title and c.severity in Severity for c in CHECKS)
    assert {c["code"]: c["severity"] for c in risk.catalogue()}["NO_DELIVERY_KEYWORD"] == "block"


# 1 ------------------------------------------------------------------ no-delivery keyword
@pytest.mark.parametrize("kw", ["暂不配送", "停止配送", "不要发货"])
def test_no_delivery_keyword_blocks(kw):
    o = order(address_raw=f"杭州萧山区北干街道金城路188号({kw})")
    hit = risk.check_no_delivery_keyword(o, ctx(), T)
    assert hit.code == "NO_DELIVERY_KEYWORD" and hit.severity == Severity.BLOCK and kw in hit.reason


def test_no_delivery_keyword_in_resolved_text_and_spaced():
    o = order(address_raw="x", address=XIAOSHAN.model_copy(update={"text": XIAOSHAN.text + "暂 不 配 送"}))
    assert risk.check_no_delivery_keyword(o, ctx(), T) is not None
    assert risk.check_no_delivery_keyword(order(), ctx(), T) is None
    assert risk.check_no_delivery_keyword(order(address_raw="配送到店"), ctx(), T) is None
    custom = RiskThresholds(no_delivery_keywords=["禁止发货"])
    assert risk.check_no_delivery_keyword(order(address_raw="禁止发货 萧山"), ctx(), custom) is not None


# 2 ------------------------------------------------------------------ burst
def test_burst_holds_at_threshold_and_names_the_others():
    earlier = ["order-miniprogram-A", "order-miniprogram-B", "order-miniprogram-C", "order-miniprogram-D"]
    hit = risk.check_burst(order(), ctx(burst_count=5, burst_order_ids=earlier), T)
    assert hit.severity == Severity.HOLD and hit.data["order_ids"] == earlier and "5 笔" in hit.reason
    assert risk.check_burst(order(), ctx(burst_count=4), T) is None
    assert risk.check_burst(order(), ctx(burst_count=3), RiskThresholds(burst_count=3)) is not None


# 3 ------------------------------------------------------------------ suspected brushing
def test_suspected_brushing_flags():
    hit = risk.check_suspected_brushing(order(), ctx(flags=["suspected_brushing"]), T)
    assert hit.severity == Severity.FLAG and "刷单" in hit.reason
    assert risk.check_suspected_brushing(order(), ctx(flags=["other"]), T) is None


# 4 ------------------------------------------------------------------ phone
@pytest.mark.parametrize("phone", ["", "12345", "+8610123", "+14155552671"])
def test_invalid_phone_holds(phone):
    hit = risk.check_invalid_phone(order(phone=phone), ctx(), T)
    assert hit is not None and hit.code == "INVALID_PHONE" and hit.severity == Severity.HOLD


def test_landline_ok_for_b2b_not_for_retail_channels():
    landline = "+8657188888888"  # 0571-8888 8888, Hangzhou
    hit = risk.check_invalid_phone(order(phone=landline, channel=Channel.TMALL), ctx(), T)
    assert hit is not None and hit.data["problem"] == "not_mobile"
    assert risk.check_invalid_phone(order(phone=landline, channel=Channel.ERP), ctx(), T) is None
    assert risk.check_invalid_phone(order(phone="+8613967154321", channel=Channel.TMALL), ctx(), T) is None
    b2b_only = RiskThresholds(b2c_channels=[])
    assert risk.check_invalid_phone(order(phone=landline, channel=Channel.TMALL), ctx(), b2b_only) is None


def test_phone_reason_is_masked():
    hit = risk.check_invalid_phone(order(phone="+8657188888888", channel=Channel.DOUYIN), ctx(), T)
    assert "57188888888" not in hit.reason and "****" in hit.reason


# 5 ------------------------------------------------------------------ address unresolved
def test_address_unresolved_holds():
    hit = risk.check_address_unresolved(order(address=None, address_raw="某某小区3栋"), ctx(), T)
    assert hit.severity == Severity.HOLD and "某某小区3栋" in hit.reason
    assert risk.check_address_unresolved(order(), ctx(), T) is None


# 6 ------------------------------------------------------------------ blacklist
def test_blacklist_blocks_with_reasons():
    entries = [
        BlacklistEntry(kind=BlacklistKind.CUSTOMER, value="SHOP-HZ-002", reason="恶意拒收"),
        BlacklistEntry(kind=BlacklistKind.PHONE, value="+8613967154321", reason="冒用"),
    ]
    hit = risk.check_blacklisted(order(), ctx(blacklist_hits=entries), T)
    assert hit.severity == Severity.BLOCK and "恶意拒收" in hit.reason and hit.data["kinds"] == ["customer", "phone"]
    assert risk.check_blacklisted(order(), ctx(), T) is None


# 7 ------------------------------------------------------------------ amount outlier
def test_amount_outlier_above_multiple_of_average():
    big = order(lines=[line(qty=12)])  # 12 × 268 = 3216 > 5 × 600
    hit = risk.check_amount_outlier(big, ctx(), T)
    assert hit.severity == Severity.HOLD and hit.data == {"amount": "3216.00", "average": "600.00", "history_orders": 12}
    at_limit = order(lines=[line(qty=1, price="3000.00", vehicle=None)])  # exactly 5×: not over
    assert risk.check_amount_outlier(at_limit, ctx(), T) is None
    assert risk.check_amount_outlier(big, ctx(), RiskThresholds(amount_multiple=Decimal("6"))) is None


def test_amount_outlier_needs_history():
    big = order(lines=[line(qty=40)])
    assert risk.check_amount_outlier(big, ctx(customer_avg_amount=None, customer_order_count=None), T) is None
    assert risk.check_amount_outlier(big, ctx(customer_avg_amount=None, customer_order_count=0), T) is None
    assert risk.check_amount_outlier(big, ctx(customer_order_count=2), RiskThresholds(min_history_orders=3)) is None


# 8 ------------------------------------------------------------------ new customer, large order
def test_new_customer_large_order():
    big = order(lines=[line(sku="ENG-1.5T-EA211", qty=1, price="12800.00", vehicle="VW_SAGITAR_2019", kg="95")])
    new = ctx(customer_avg_amount=None, customer_order_count=None)
    hit = risk.check_new_customer_large(big, new, T)
    assert hit.severity == Severity.HOLD and "12800.00" in hit.reason
    assert risk.check_new_customer_large(big, ctx(customer_avg_amount=None, customer_order_count=0), T) is None
    small = order(lines=[line(qty=1, price="5000.00")])  # exactly 5000: not over
    assert risk.check_new_customer_large(small, new, T) is None
    assert risk.check_new_customer_large(small, new, RiskThresholds(new_customer_amount=Decimal("4999.99"))) is not None


# 9 ------------------------------------------------------------------ quantity
def test_line_quantity_over_limit():
    o = order(lines=[line(1, qty=50), line(2, sku="MANN-OF-W712", qty=51, price="45.00", vehicle=None)])
    hit = risk.check_quantity(o, ctx(), T)
    assert hit.severity == Severity.HOLD and hit.data["lines"] == [2] and "×51" in hit.reason
    assert risk.check_quantity(order(lines=[line(qty=50)]), ctx(), T) is None
    assert risk.check_quantity(order(lines=[line(qty=11)]), ctx(), RiskThresholds(max_line_quantity=10)) is not None


# 10 ----------------------------------------------------------------- price floor
@pytest.mark.parametrize("price", ["0.00", "-1.00", "119.99"])
def test_price_at_or_below_zero_or_under_floor(price):
    hit = risk.check_price_floor(order(lines=[line(price=price)]), ctx(), T)
    assert hit is not None and hit.severity == Severity.HOLD and hit.data["lines"] == [1]


def test_price_floor_boundaries():
    assert risk.check_price_floor(order(lines=[line(price="120.00")]), ctx(), T) is None
    assert risk.check_price_floor(order(lines=[line(sku="UNKNOWN-SKU", price="1.00")]), ctx(), T) is None
    assert risk.check_price_floor(order(lines=[line(sku="UNKNOWN-SKU", price="0.00")]), ctx(), T) is not None


# 11 ----------------------------------------------------------------- coupon
def test_coupon_share_over_half():
    o = order(coupon=Coupon(code="D12-OFF", amount=Decimal("268.01")))  # goods 536.00
    hit = risk.check_coupon(o, ctx(), T)
    assert hit.severity == Severity.HOLD and "50%" in hit.reason and hit.data["redeemed_by"] is None
    assert risk.check_coupon(order(coupon=Coupon(code="D12-OFF", amount=Decimal("268.00"))), ctx(), T) is None
    assert risk.check_coupon(order(), ctx(), T) is None
    tight = RiskThresholds(max_coupon_share=Decimal("0.3"))
    assert risk.check_coupon(order(coupon=Coupon(code="X", amount=Decimal("200.00"))), ctx(), tight) is not None


def test_coupon_already_redeemed():
    o = order(coupon=Coupon(code="D12-0001", amount=Decimal("20.00")))
    hit = risk.check_coupon(o, ctx(coupon_redeemed_by="order-tmall-OTHER"), T)
    assert hit is not None and "order-tmall-OTHER" in hit.reason and hit.data["redeemed_by"] == "order-tmall-OTHER"
    assert risk.check_coupon(o, ctx(), T) is None


# 12 ----------------------------------------------------------------- payment
def test_paid_amount_must_equal_goods_minus_coupon_plus_freight_exactly():
    o = order(coupon=Coupon(code="C", amount=Decimal("36.00")), freight=Decimal("12.00"))
    assert o.paid_amount == Decimal("512.00") and risk.check_payment(o, ctx(), T) is None
    off_by_a_fen = o.model_copy(update={"paid_amount": Decimal("511.99")})
    hit = risk.check_payment(off_by_a_fen, ctx(), T)
    assert hit.severity == Severity.HOLD and hit.data == {"paid": "511.99", "expected": "512.00"}
    assert risk.check_payment(o.model_copy(update={"paid_amount": Decimal("512")}), ctx(), T) is None


# 13 ----------------------------------------------------------------- fitment
def test_fitment_mismatch():
    o = order(lines=[line(vehicle="HONDA_CIVIC_2020")])
    hit = risk.check_fitment(o, ctx(), T)
    assert hit.severity == Severity.HOLD and "本田 思域 2020款" in hit.reason and "丰田 卡罗拉 2018款" in hit.reason
    assert risk.check_fitment(order(lines=[line(vehicle="NISSAN_SYLPHY_2020")]), ctx(), T) is None
    assert risk.check_fitment(order(lines=[line(vehicle=None)]), ctx(), T) is None  # line names no car
    assert risk.check_fitment(order(lines=[line(vehicle="UNIVERSAL")]), ctx(), T) is None
    oil = order(lines=[line(sku="MOBIL-1-5W30-4L", price="329.00", vehicle="BMW_3_2020")])
    assert risk.check_fitment(oil, ctx(), T) is None  # SKU has no fitment list
    assert risk.check_fitment(o, ctx(sku_refs={}), T) is None  # SKU unknown


def test_universal_sku_fits_everything():
    refs = {"X": SkuReference(sku="X", floor_price=Decimal("1"), fitment=["UNIVERSAL"])}
    o = order(lines=[line(sku="X", vehicle="BYD_HAN_2021")])
    assert risk.check_fitment(o, ctx(sku_refs=refs), T) is None


# 14 ----------------------------------------------------------------- no carrier
def test_no_carrier_serves_district():
    hit = risk.check_no_carrier(order(), ctx(serving_carriers=[]), T)
    assert hit.severity == Severity.HOLD and "萧山区" in hit.reason
    assert risk.check_no_carrier(order(), ctx(serving_carriers=None), T) is None  # routing has not run
    assert risk.check_no_carrier(order(), ctx(serving_carriers=["SF"]), T) is None
    assert risk.check_no_carrier(order(address=None), ctx(serving_carriers=[]), T) is None  # feature 5's job


# 15 ----------------------------------------------------------------- remote + heavy
def test_remote_heavy_goods():
    engine_line = line(sku="ENG-1.5T-EA211", qty=1, price="12800.00", vehicle="VW_SAGITAR_2019", kg="95")
    hit = risk.check_remote_heavy(order(address=LHASA, lines=[engine_line]), ctx(), T)
    assert hit.severity == Severity.HOLD and hit.data["weight_kg"] == "95"
    assert risk.check_remote_heavy(order(address=HULUNBUIR, lines=[engine_line]), ctx(), T) is not None
    assert risk.check_remote_heavy(order(lines=[engine_line]), ctx(), T) is None  # 杭州 is not remote
    assert risk.check_remote_heavy(order(lines=[engine_line]), ctx(remote_area=True), T) is not None


def test_remote_weight_is_per_unit_times_quantity():
    pads = line(qty=17, kg="1.8")  # 30.6 kg
    assert risk.check_remote_heavy(order(address=LHASA, lines=[pads]), ctx(), T) is not None
    assert risk.check_remote_heavy(order(address=LHASA, lines=[line(qty=16, kg="1.8")]), ctx(), T) is None
    assert risk.check_remote_heavy(order(address=LHASA, lines=[line(qty=40, kg=None)]), ctx(), T) is None
    not_remote = RiskThresholds(remote_provinces=[], remote_cities=[])
    assert risk.check_remote_heavy(order(address=LHASA, lines=[pads]), ctx(), not_remote) is None


# 16 ----------------------------------------------------------------- test recipient
@pytest.mark.parametrize("name", ["测试", "张三测试", "TEST", "Test User", "xxx", "ＴＥＳＴ"])
def test_test_looking_recipient(name):
    hit = risk.check_test_recipient(order(customer_name=name), ctx(), T)
    assert hit is not None and hit.severity == Severity.HOLD


@pytest.mark.parametrize("name", ["李明", "王建国", "Alex Chen"])
def test_real_names_pass(name):
    assert risk.check_test_recipient(order(customer_name=name), ctx(), T) is None


# 17 ----------------------------------------------------------------- only carrier suspended
def test_only_carrier_suspended():
    hit = risk.check_carrier_suspended(order(), ctx(serving_carriers=["JD"], only_carrier_suspended=True), T)
    assert hit.severity == Severity.HOLD and "JD" in hit.reason
    assert risk.check_carrier_suspended(order(), ctx(serving_carriers=["JD"]), T) is None


# ------------------------------------------------------------------- scan and level
def test_scan_runs_every_check_and_level_takes_the_worst():
    o = order(customer_name="测试", address_raw="萧山区 暂不配送", phone="+8657188888888")
    hits = scan(o, ctx(flags=["suspected_brushing"]), T)
    assert codes(hits) == ["NO_DELIVERY_KEYWORD", "SUSPECTED_BRUSHING", "INVALID_PHONE", "TEST_RECIPIENT"]
    assert risk_level(hits) == "block"
    assert risk_level([h for h in hits if h.severity != Severity.BLOCK]) == "hold"
    assert risk_level([h for h in hits if h.severity == Severity.FLAG]) == "flag"


def test_every_feature_can_fire_in_one_scan():
    o = order(
        customer_name="测试", address_raw="拉萨 暂不配送", address=LHASA, phone="+8657188888888",
        lines=[line(qty=60, price="1.00", vehicle="HONDA_CIVIC_2020", kg="1")],
        coupon=Coupon(code="C", amount=Decimal("1.00")),
    ).model_copy(update={"paid_amount": Decimal("1.00")})
    c = ctx(
        burst_count=6, flags=["suspected_brushing"], customer_avg_amount=Decimal("0.01"),
        blacklist_hits=[BlacklistEntry(kind=BlacklistKind.PHONE, value=o.phone)], serving_carriers=[],
        only_carrier_suspended=True, coupon_redeemed_by="order-erp-9",
    )
    hits = scan(o, c, T)
    # 5 (unresolved address) and 8 (new customer) contradict the rest; they are checked just below
    assert set(codes(hits)) == {k.code for k in CHECKS} - {"ADDRESS_UNRESOLVED", "NEW_CUSTOMER_LARGE_ORDER"}
    assert codes(hits) == sorted(codes(hits), key=[k.code for k in CHECKS].index)  # registry order
    assert "ADDRESS_UNRESOLVED" in codes(scan(o.model_copy(update={"address": None}), c, T))
    assert "NEW_CUSTOMER_LARGE_ORDER" in codes(
        scan(order(lines=[line(qty=20, price="300.00")]), ctx(customer_order_count=None, customer_avg_amount=None), T)
    )
    assert all(h.reason for h in hits)


def test_hits_are_json_safe_payloads():
    hits = scan(order(coupon=Coupon(code="C", amount=Decimal("300.00"))), ctx(), T)
    dumped = [h.model_dump(mode="json") for h in hits]
    assert dumped[0]["code"] == "COUPON_ABUSE" and dumped[0]["severity"] == "hold"
    assert RiskHit.model_validate(dumped[0]) == hits[0]
