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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import wraps
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, Field

from domain import labels
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
    reason: str  # Chinese, for the reviewer and the timeline: labels.risk_sentence(code, data)
    data: dict[str, Any] = {}  # JSON-safe details (money as strings): the numbers that tripped it

    @property
    def title(self) -> str:
        return labels.risk_feature(self.code)


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
# what a check returns: the hit's data, optionally with words for the sentence only, or None
Found = dict[str, Any] | tuple[dict[str, Any], dict[str, Any]] | None
CheckBody = Callable[[CleanOrder, RiskContext, RiskThresholds], Found]


@dataclass(frozen=True)
class RiskCheck:
    no: int
    code: str
    severity: Severity
    fn: CheckFn

    @property
    def title(self) -> str:  # the Chinese name, from the label table
        return labels.risk_feature(self.code)


CHECKS: list[RiskCheck] = []


def _check(no: int, code: str, severity: Severity) -> Callable[[CheckBody], CheckFn]:
    """Register a check; the wrapped function returns the hit's data (the numbers that tripped it),
    optionally with more words for the sentence only (``(data, extra)``), or None; the wrapper a
    RiskHit whose reason is the label table's sentence for them."""

    def deco(fn: CheckBody) -> CheckFn:
        @wraps(fn)
        def run(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> RiskHit | None:
            found = fn(order, ctx, t)
            if found is None:
                return None
            data, extra = found if isinstance(found, tuple) else (found, {})
            return RiskHit(code=code, severity=severity, reason=labels.risk_sentence(code, data | extra), data=data)

        CHECKS.append(RiskCheck(no, code, severity, run))
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


@_check(1, "NO_DELIVERY_KEYWORD", Severity.BLOCK)
def check_no_delivery_keyword(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    texts = [_squash(order.address_raw)]
    if order.address:
        texts.append(_squash(order.address.text))
    found = [k for k in t.no_delivery_keywords if any(_squash(k) in x for x in texts)]
    if found:
        return {"keywords": found}
    return None


@_check(2, "BURST_SAME_ADDRESS", Severity.HOLD)
def check_burst(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if ctx.burst_count >= t.burst_count:
        return {"count": ctx.burst_count, "window_minutes": t.burst_window_minutes, "order_ids": ctx.burst_order_ids,
                "threshold": t.burst_count, "customer_id": order.customer_id}
    return None


@_check(3, "SUSPECTED_BRUSHING", Severity.FLAG)
def check_suspected_brushing(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if "suspected_brushing" in ctx.flags:
        return {}
    return None


@_check(4, "INVALID_PHONE", Severity.HOLD)
def check_invalid_phone(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    try:
        n = phonenumbers.parse(order.phone, t.phone_region)
    except phonenumbers.NumberParseException:
        return {"problem": "unparseable", "phone": mask_phone(order.phone)}
    if not phonenumbers.is_valid_number(n) or phonenumbers.region_code_for_number(n) != t.phone_region:
        return {"problem": "invalid", "phone": mask_phone(order.phone)}
    mobile = phonenumbers.number_type(n) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if order.channel in t.b2c_channels and not mobile:
        return {"problem": "not_mobile", "phone": mask_phone(order.phone), "channel": order.channel.value,
                "channel_label": labels.channel(order.channel)}
    return None


@_check(5, "ADDRESS_UNRESOLVED", Severity.HOLD)
def check_address_unresolved(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if order.address is None:
        return {"address": order.address_raw}
    return None


@_check(6, "BLACKLISTED", Severity.BLOCK)
def check_blacklisted(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if ctx.blacklist_hits:
        items = [{"kind": h.kind.value, "kind_label": labels.blacklist_kind(h.kind), "reason": h.reason or "无备注"}
                 for h in ctx.blacklist_hits]
        return {"kinds": sorted({h.kind.value for h in ctx.blacklist_hits}), "items": items}
    return None


@_check(7, "AMOUNT_OUTLIER", Severity.HOLD)
def check_amount_outlier(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    avg, n = ctx.customer_avg_amount, ctx.customer_order_count or 0
    if avg is None or avg <= 0 or n < t.min_history_orders:
        return None
    goods = order.goods_amount
    if goods > avg * t.amount_multiple:
        return ({"amount": _money(goods), "average": _money(avg), "history_orders": n},
                {"history_days": t.history_days, "multiple": str(t.amount_multiple)})
    return None


@_check(8, "NEW_CUSTOMER_LARGE_ORDER", Severity.HOLD)
def check_new_customer_large(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    goods = order.goods_amount
    if ctx.customer_order_count is None and goods > t.new_customer_amount:
        return {"amount": _money(goods), "limit": _money(t.new_customer_amount)}
    return None


@_check(9, "QUANTITY_EXCESSIVE", Severity.HOLD)
def check_quantity(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    bad = [ln for ln in order.lines if ln.quantity > t.max_line_quantity]
    if bad:
        return {"lines": [ln.line_no for ln in bad], "limit": t.max_line_quantity,
                "items": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity} for ln in bad]}
    return None


@_check(10, "PRICE_BELOW_FLOOR", Severity.HOLD)
def check_price_floor(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    parts, lines = [], []
    for ln in order.lines:
        ref = ctx.sku_refs.get(ln.sku)
        item = {"line_no": ln.line_no, "sku": ln.sku, "price": _money(ln.unit_price)}
        if ln.unit_price <= 0:
            parts.append(item | {"kind": "not_positive"})
        elif ref and ln.unit_price < ref.floor_price:
            parts.append(item | {"kind": "below_floor", "floor": _money(ref.floor_price)})
        else:
            continue
        lines.append(ln.line_no)
    if parts:
        return {"lines": lines, "items": parts}
    return None


@_check(11, "COUPON_ABUSE", Severity.HOLD)
def check_coupon(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    c = order.coupon
    if c is None:
        return None
    goods, parts = order.goods_amount, []
    item = {"coupon": c.code, "amount": _money(c.amount)}
    if c.amount > goods * t.max_coupon_share:
        parts.append(item | {"kind": "over_share", "goods": _money(goods), "max_share": f"{t.max_coupon_share:.0%}"})
    if ctx.coupon_redeemed_by:
        parts.append(item | {"kind": "redeemed", "redeemed_by": ctx.coupon_redeemed_by})
    if parts:
        return {"coupon": c.code, "amount": _money(c.amount), "redeemed_by": ctx.coupon_redeemed_by,
                "goods": _money(goods), "max_share": f"{t.max_coupon_share:.0%}", "items": parts}
    return None


@_check(12, "PAYMENT_MISMATCH", Severity.HOLD)
def check_payment(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    coupon = order.coupon.amount if order.coupon else Decimal(0)
    expected = order.goods_amount - coupon + order.freight
    if order.paid_amount != expected:
        return ({"paid": _money(order.paid_amount), "expected": _money(expected)},
                {"goods": _money(order.goods_amount), "coupon_amount": _money(coupon), "freight": _money(order.freight)})
    return None


@_check(13, "FITMENT_MISMATCH", Severity.HOLD)
def check_fitment(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    parts, lines = [], []
    for ln in order.lines:
        ref = ctx.sku_refs.get(ln.sku)
        if not ln.vehicle_model or ln.vehicle_model == VehicleModel.UNIVERSAL.name or ref is None:
            continue
        if not ref.fits(ln.vehicle_model):
            parts.append({"line_no": ln.line_no, "sku": ln.sku, "vehicle_model": ln.vehicle_model,
                          "vehicle": labels.vehicle_model(ln.vehicle_model), "fitment": list(ref.fitment),
                          "fits": [labels.vehicle_model(v) for v in ref.fitment]})
            lines.append(ln.line_no)
    if parts:
        return {"lines": lines, "items": parts}
    return None


@_check(14, "NO_CARRIER", Severity.HOLD)
def check_no_carrier(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if order.address is not None and ctx.serving_carriers is not None and not ctx.serving_carriers:
        return {"adcode": order.address.adcode, "region": order.address.region}
    return None


@_check(15, "REMOTE_HEAVY", Severity.HOLD)
def check_remote_heavy(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if order.address is None or not (ctx.remote_area or is_remote_area(order.address, t)):
        return None
    kg = total_weight_kg(order)
    if kg > t.heavy_kg:
        return {"weight_kg": f"{kg.normalize():f}", "region": order.address.region, "heavy_kg": str(t.heavy_kg)}
    return None


@_check(16, "TEST_RECIPIENT", Severity.HOLD)
def check_test_recipient(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    name = normalize_text(order.customer_name).lower()
    found = [p for p in t.test_name_patterns if normalize_text(p).lower() in name]
    if found:
        return {"patterns": found, "name": order.customer_name}
    return None


@_check(17, "CARRIER_SUSPENDED", Severity.HOLD)
def check_carrier_suspended(order: CleanOrder, ctx: RiskContext, t: RiskThresholds) -> Found:
    if order.address is not None and ctx.only_carrier_suspended:
        only = ctx.serving_carriers[0] if ctx.serving_carriers else None
        return {"carrier": only, "carrier_label": labels.carrier(only) if only else "", "region": order.address.region}
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
