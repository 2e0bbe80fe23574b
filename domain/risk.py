"""The risk scan (异常熔断): every order through every one of the 17 features, each with a reason.

The field's system caught < 15% of exceptions by eye; here each feature is a small pure function
of (order, context, thresholds) registered in ``CHECKS`` with its code and severity, so it is unit
tested on its own, the console can list all of them, and a hit always says *why* in Chinese for the
reviewer. Everything a check needs from outside the order (history, blacklist, SKU data, carriers)
arrives in ``RiskContext``, looked up by an activity (store/risk_data.py), so the scan itself is
deterministic and safe inside a workflow.

Severity: ``block`` intercepts the order, ``hold`` stops it for risk review before routing,
``flag`` lets it through with a mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import wraps
from typing import Any, Callable, Literal

import phonenumbers
from pydantic import BaseModel, Field

from domain.catalogue import VehicleModel, normalize_text
from domain.cleansing import mask_phone
from domain.order import Channel, CleanOrder, ResolvedAddress
from domain.reference_data import BlacklistEntry, SkuReference


class Severity(StrEnum):
    BLOCK = "block"
    HOLD = "hold"
    FLAG = "flag"


_RANK = {Severity.FLAG: 1, Severity.HOLD: 2, Severity.BLOCK: 3}


class RiskHit(BaseModel):
    code: str
    severity: Severity
    reason: str  # Chinese, for the reviewer and the timeline
    data: dict[str, Any] = {}  # JSON-safe details (money as strings)


class RiskThresholds(BaseModel):
    """Every number and list the checks use; the lead feeds them from settings."""

    burst_count: int = Field(5, ge=2)
    burst_window_minutes: int = Field(30, gt=0)
    history_days: int = Field(90, gt=0)
    amount_multiple: Decimal = Field(Decimal("5"), gt=0)
    min_history_orders: int = Field(1, ge=1, description="history needed before the amount check applies")
    new_customer_amount: Decimal = Field(Decimal("5000"), ge=0)
    max_line_quantity: int = Field(50, gt=0)
    max_coupon_share: Decimal = Field(Decimal("0.5"), ge=0, le=1)
    heavy_kg: Decimal = Field(Decimal("30"), ge=0)
    no_delivery_keywords: list[str] = ["暂不配送", "停止配送", "不要发货"]
    test_name_patterns: list[str] = ["测试", "test", "xxx"]  # substrings, case-insensitive
    remote_provinces: list[str] = ["西藏自治区", "新疆维吾尔自治区", "青海省"]
    remote_cities: list[str] = ["阿拉善盟", "呼伦贝尔市", "锡林郭勒盟", "兴安盟"]  # 内蒙古 remote prefectures
    b2c_channels: list[Channel] = [Channel.TMALL, Channel.TAOBAO, Channel.DOUYIN, Channel.MINIPROGRAM]
    phone_region: str = "CN"


class RiskContext(BaseModel):
    """What the checks need that is not in the order; the defaults mean "nothing known"."""

    as_of: datetime | None = None
    customer_avg_amount: Decimal | None = None  # goods amount, earlier orders in the history window
    customer_order_count: int | None = None  # in the history window; None: no earlier order at all (new)
    burst_count: int = 1  # orders (this one included) by this customer to this address within the window
    burst_order_ids: list[str] = []  # the other orders of that burst
    blacklist_hits: list[BlacklistEntry] = []
    sku_refs: dict[str, SkuReference] = {}
    coupon_redeemed_by: str | None = None  # another order that already redeemed this coupon code
    serving_carriers: list[str] | None = None  # carriers whose area covers the district; None: not known yet
    only_carrier_suspended: bool = False
    remote_area: bool = False  # adds to the thresholds' remote list (e.g. from the carrier table)
    flags: list[str] = []  # the workflow's flags, e.g. suspected_brushing


CheckFn = Callable[[CleanOrder, RiskContext, RiskThresholds], RiskHit | None]


@dataclass(frozen=True)
class RiskCheck:
    no: int
    code: str
    severity: Severity
    title: str
    fn: CheckFn


CHECKS: list[RiskCheck] = []


def _check(no: int, code: str, severity: Severity, title: str):
    """Register a check; the wrapped function returns (reason, data) or None, the wrapper a RiskHit."""

    def deco(fn: Callable[[CleanOrder, RiskContext, RiskThresholds], tuple[str, dict] | None]) -> CheckFn:
        @wraps(fn)
        def run(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> RiskHit | None:
            found = fn(order, ctx, t)
            if found is None:
                return None
            reason, data = found
            return RiskHit(code=code, severity=severity, reason=reason, data=data)

        CHECKS.append(RiskCheck(no, code, severity, title, run))
        return run

    return deco


def _squash(text: str | None) -> str:
    return normalize_text(text or "").replace(" ", "")


def _money(d: Decimal) -> str:
    return f"{d:.2f}"


def is_remote_area(address: ResolvedAddress | None, t: RiskThresholds) -> bool:
    return address is not None and (address.province in t.remote_provinces or address.city in t.remote_cities)


def total_weight_kg(order: CleanOrder) -> Decimal:
    """weight_kg is per unit (as the channels send it); lines without a weight count as 0."""
    return sum(((ln.weight_kg or Decimal(0)) * ln.quantity for ln in order.lines), Decimal(0))


# ---------------------------------------------------------------- the 17 features


@_check(1, "NO_DELIVERY_KEYWORD", Severity.BLOCK, "地址含停止配送关键词")
def check_no_delivery_keyword(order, ctx, t):
    texts = [_squash(order.address_raw)]
    if order.address:
        texts.append(_squash(order.address.text))
    found = [k for k in t.no_delivery_keywords if any(_squash(k) in x for x in texts)]
    if found:
        return f"地址含「{'、'.join(found)}」, 拦截不发货", {"keywords": found}
    return None


@_check(2, "BURST_SAME_ADDRESS", Severity.HOLD, "同一客户短时间内向同一地址连续下单")
def check_burst(order, ctx, t):
    if ctx.burst_count >= t.burst_count:
        return (
            f"客户 {order.customer_id} {t.burst_window_minutes} 分钟内向同一地址下单 {ctx.burst_count} 笔"
            f"(阈值 {t.burst_count}), 熔断待风控审核",
            {"count": ctx.burst_count, "window_minutes": t.burst_window_minutes, "order_ids": ctx.burst_order_ids},
        )
    return None


@_check(3, "SUSPECTED_BRUSHING", Severity.FLAG, "促销刷单疑似(重复单已合并)")
def check_suspected_brushing(order, ctx, t):
    if "suspected_brushing" in ctx.flags:
        return "同一手机号同一SKU短时间内重复下单, 已合并, 疑似促销刷单", {}
    return None


@_check(4, "INVALID_PHONE", Severity.HOLD, "电话号码无效")
def check_invalid_phone(order, ctx, t):
    try:
        n = phonenumbers.parse(order.phone, t.phone_region)
    except phonenumbers.NumberParseException:
        return f"电话「{mask_phone(order.phone)}」无法识别", {"problem": "unparseable"}
    if not phonenumbers.is_valid_number(n) or phonenumbers.region_code_for_number(n) != t.phone_region:
        return f"电话 {mask_phone(order.phone)} 不是有效的中国大陆号码", {"problem": "invalid"}
    mobile = phonenumbers.number_type(n) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if order.channel in t.b2c_channels and not mobile:
        return f"零售渠道({order.channel.value})订单的电话 {mask_phone(order.phone)} 不是手机号", {"problem": "not_mobile"}
    return None


@_check(5, "ADDRESS_UNRESOLVED", Severity.HOLD, "地址无法解析到区县")
def check_address_unresolved(order, ctx, t):
    if order.address is None:
        return f"地址「{order.address_raw}」无法解析到省市区县", {}
    return None


@_check(6, "BLACKLISTED", Severity.BLOCK, "黑名单客户/电话/地址")
def check_blacklisted(order, ctx, t):
    if ctx.blacklist_hits:
        names = {"customer": "客户", "phone": "电话", "address": "地址"}
        parts = [f"{names[h.kind.value]}({h.reason or '无备注'})" for h in ctx.blacklist_hits]
        return f"命中黑名单: {'; '.join(parts)}", {"kinds": sorted({h.kind.value for h in ctx.blacklist_hits})}
    return None


@_check(7, "AMOUNT_OUTLIER", Severity.HOLD, "金额远超客户历史均值")
def check_amount_outlier(order, ctx, t):
    avg, n = ctx.customer_avg_amount, ctx.customer_order_count or 0
    if avg is None or avg <= 0 or n < t.min_history_orders:
        return None
    goods = order.goods_amount
    if goods > avg * t.amount_multiple:
        return (
            f"订单金额 {_money(goods)} 元超过该客户近 {t.history_days} 天均单 {_money(avg)} 元的 "
            f"{t.amount_multiple} 倍",
            {"amount": _money(goods), "average": _money(avg), "history_orders": n},
        )
    return None


@_check(8, "NEW_CUSTOMER_LARGE_ORDER", Severity.HOLD, "新客户大额订单")
def check_new_customer_large(order, ctx, t):
    goods = order.goods_amount
    if ctx.customer_order_count is None and goods > t.new_customer_amount:
        return (
            f"新客户(无历史订单)首单金额 {_money(goods)} 元超过 {_money(t.new_customer_amount)} 元",
            {"amount": _money(goods)},
        )
    return None


@_check(9, "QUANTITY_EXCESSIVE", Severity.HOLD, "单行数量超限")
def check_quantity(order, ctx, t):
    bad = [ln for ln in order.lines if ln.quantity > t.max_line_quantity]
    if bad:
        desc = "、".join(f"第{ln.line_no}行 {ln.sku} ×{ln.quantity}" for ln in bad)
        return f"{desc} 超过单行上限 {t.max_line_quantity} 件", {"lines": [ln.line_no for ln in bad]}
    return None


@_check(10, "PRICE_BELOW_FLOOR", Severity.HOLD, "单价≤0或低于底价")
def check_price_floor(order, ctx, t):
    parts, lines = [], []
    for ln in order.lines:
        ref = ctx.sku_refs.get(ln.sku)
        if ln.unit_price <= 0:
            parts.append(f"第{ln.line_no}行 {ln.sku} 单价 {_money(ln.unit_price)} 元 ≤ 0")
        elif ref and ln.unit_price < ref.floor_price:
            parts.append(f"第{ln.line_no}行 {ln.sku} 单价 {_money(ln.unit_price)} 元低于底价 {_money(ref.floor_price)} 元")
        else:
            continue
        lines.append(ln.line_no)
    if parts:
        return "; ".join(parts), {"lines": lines}
    return None


@_check(11, "COUPON_ABUSE", Severity.HOLD, "优惠券超比例或重复核销")
def check_coupon(order, ctx, t):
    c = order.coupon
    if c is None:
        return None
    goods, parts = order.goods_amount, []
    if c.amount > goods * t.max_coupon_share:
        parts.append(f"优惠券 {c.code} 抵扣 {_money(c.amount)} 元, 超过货值 {_money(goods)} 元的 {t.max_coupon_share:.0%}")
    if ctx.coupon_redeemed_by:
        parts.append(f"优惠券 {c.code} 已被订单 {ctx.coupon_redeemed_by} 核销")
    if parts:
        return "; ".join(parts), {"coupon": c.code, "amount": _money(c.amount), "redeemed_by": ctx.coupon_redeemed_by}
    return None


@_check(12, "PAYMENT_MISMATCH", Severity.HOLD, "实付金额与应付不符")
def check_payment(order, ctx, t):
    coupon = order.coupon.amount if order.coupon else Decimal(0)
    expected = order.goods_amount - coupon + order.freight
    if order.paid_amount != expected:
        return (
            f"实付 {_money(order.paid_amount)} 元 ≠ 货值 {_money(order.goods_amount)} − 优惠 {_money(coupon)} "
            f"+ 运费 {_money(order.freight)} = {_money(expected)} 元",
            {"paid": _money(order.paid_amount), "expected": _money(expected)},
        )
    return None


@_check(13, "FITMENT_MISMATCH", Severity.HOLD, "适配车型不符")
def check_fitment(order, ctx, t):
    parts, lines = [], []
    for ln in order.lines:
        ref = ctx.sku_refs.get(ln.sku)
        if not ln.vehicle_model or ln.vehicle_model == VehicleModel.UNIVERSAL.name or ref is None:
            continue
        if not ref.fits(ln.vehicle_model):
            car = VehicleModel[ln.vehicle_model].value if ln.vehicle_model in VehicleModel.__members__ else ln.vehicle_model
            fits = "、".join(VehicleModel[v].value for v in ref.fitment)
            parts.append(f"第{ln.line_no}行 {ln.sku} 不适配「{car}」(适配: {fits})")
            lines.append(ln.line_no)
    if parts:
        return "; ".join(parts), {"lines": lines}
    return None


@_check(14, "NO_CARRIER", Severity.HOLD, "区县无承运商覆盖")
def check_no_carrier(order, ctx, t):
    if order.address is not None and ctx.serving_carriers is not None and not ctx.serving_carriers:
        return f"{order.address.region} 没有承运商覆盖", {"adcode": order.address.adcode}
    return None


@_check(15, "REMOTE_HEAVY", Severity.HOLD, "偏远地区重货")
def check_remote_heavy(order, ctx, t):
    if order.address is None or not (ctx.remote_area or is_remote_area(order.address, t)):
        return None
    kg = total_weight_kg(order)
    if kg > t.heavy_kg:
        return (
            f"偏远地区 {order.address.region} 重货 {kg.normalize():f} kg(> {t.heavy_kg} kg), 需确认运力与运费",
            {"weight_kg": f"{kg.normalize():f}", "region": order.address.region},
        )
    return None


@_check(16, "TEST_RECIPIENT", Severity.HOLD, "疑似测试收件人")
def check_test_recipient(order, ctx, t):
    name = normalize_text(order.customer_name).lower()
    found = [p for p in t.test_name_patterns if normalize_text(p).lower() in name]
    if found:
        return f"收件人「{order.customer_name}」像测试数据(含「{'、'.join(found)}」)", {"patterns": found}
    return None


@_check(17, "CARRIER_SUSPENDED", Severity.HOLD, "唯一承运商在该区县停运")
def check_carrier_suspended(order, ctx, t):
    if order.address is not None and ctx.only_carrier_suspended:
        only = ctx.serving_carriers[0] if ctx.serving_carriers else None
        return f"{order.address.region} 唯一的承运商{f' {only} ' if only else ''}当前停运", {"carrier": only}
    return None


# ---------------------------------------------------------------- the scan


def scan(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> list[RiskHit]:
    """Every feature on the order, in registry order; an empty list means clean."""
    return [hit for c in CHECKS if (hit := c.fn(order, ctx, t)) is not None]


def risk_level(hits: list[RiskHit]) -> Literal["none", "flag", "hold", "block"]:
    """The most severe hit decides: block > hold > flag > none."""
    if not hits:
        return "none"
    return max((h.severity for h in hits), key=_RANK.__getitem__).value


def catalogue() -> list[dict[str, Any]]:
    """All features for the console: number, code, severity and Chinese title."""
    return [{"no": c.no, "code": c.code, "severity": c.severity.value, "title": c.title} for c in CHECKS]
