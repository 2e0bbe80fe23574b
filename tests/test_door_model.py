"""The door's rules in the pure order model: what the stores cannot hold is refused (or, for control
characters in free text, removed) with a Chinese message naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from api.errors import field_errors
from domain.order import MAX_AMOUNT, OrderSubmission, OrderTimeWindow
from tests.support import order_payload

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def errors_of(payload, **door) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        if door:
            OrderSubmission.at_door(payload, **door)
        else:
            OrderSubmission.model_validate(payload)
    return {e.field: e.message for e in field_errors(exc.value)}


def at(dt: datetime) -> dict:
    return order_payload(ordered_at=dt.isoformat())


# ---- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:00:00-05:00",
                                  "0001-01-01T00:00:00+08:00", "1999-12-31T23:59:59+00:00"])
def test_dates_no_store_can_hold_are_refused_everywhere(text):
    errs = errors_of(order_payload(ordered_at=text))
    assert list(errs) == ["ordered_at"] and "下单时间" in errs["ordered_at"]


def test_the_door_window_far_past_and_more_than_a_day_ahead():
    w = OrderTimeWindow()
    ok = [NOW, NOW - timedelta(days=1094), NOW + timedelta(hours=23, minutes=59)]
    for t in ok:
        assert OrderSubmission.at_door(at(t), window=w, now=NOW).ordered_at == t
    ahead = errors_of(at(NOW + timedelta(hours=24, minutes=1)), window=w, now=NOW)["ordered_at"]
    assert "晚于当前时间 24 小时以上" in ahead
    old = errors_of(at(NOW - timedelta(days=1096)), window=w, now=NOW)["ordered_at"]
    assert "早于允许的最早时间" in old and "1095 天" in old
    # the label names the field once, and the times are Beijing's, as the person who typed them reads them
    for text in (ahead, old):
        assert text.count("下单时间") == 1 and "ordered_at" not in text and "(北京时间)" in text, text
    shown = (NOW + timedelta(hours=24, minutes=1)).astimezone(timezone(timedelta(hours=8)))
    assert f"收到 {shown:%Y-%m-%d %H:%M} (北京时间)" in ahead


def test_the_window_is_configurable_and_only_at_the_door():
    w = OrderTimeWindow(earliest=datetime(2020, 1, 1, tzinfo=UTC), max_age_days=36500, max_ahead_hours=1)
    assert "早于" in errors_of(at(datetime(2019, 6, 1, tzinfo=UTC)), window=w, now=NOW)["ordered_at"]
    assert OrderSubmission.at_door(at(datetime(2021, 6, 1, tzinfo=UTC)), window=w, now=NOW)
    assert "晚于" in errors_of(at(NOW + timedelta(hours=2)), window=w, now=NOW)["ordered_at"]
    # a stored order read back later (workflow input, activities) is never judged against a new "now"
    assert OrderSubmission.model_validate(at(NOW + timedelta(days=365 * 50))).ordered_at.year == 2076
    assert OrderSubmission.model_validate(at(datetime(2001, 1, 1, tzinfo=UTC)))


def test_naive_time_is_refused_in_chinese():
    assert "需要带时区" in errors_of(order_payload(ordered_at="2026-11-27T10:00:00"))["ordered_at"]


# ---- control characters -------------------------------------------------------------------------


def test_control_characters_are_removed_from_free_text():
    p = order_payload(note="请\x00尽快\x1b发货\u0085", address={"raw": "杭州萧山区\x00北干街道金城路188号", "detail": None})
    p["customer"]["name"] = "王\x00建国\x7f"
    p["lines"][0]["name"] = "博世\x08刹车片(前)"
    sub = OrderSubmission.model_validate(p)
    assert sub.customer.name == "王建国" and sub.note == "请尽快发货"
    assert sub.address.raw == "杭州萧山区北干街道金城路188号" and sub.lines[0].name == "博世刹车片(前)"


def test_ordinary_whitespace_in_free_text_stays():
    sub = OrderSubmission.model_validate(order_payload(note="第一行\n第二行\t备注"))
    assert sub.note == "第一行\n第二行\t备注"


def test_a_name_of_only_control_characters_is_missing():
    p = order_payload()
    p["customer"]["name"] = "\x00\x01"
    assert "customer.name" in errors_of(p)


@pytest.mark.parametrize(("where", "field"), [
    (lambda p: p["customer"].__setitem__("id", "SHOP\x00-1"), "customer.id"),
    (lambda p: p["customer"].__setitem__("phone", "138\x0057112345"), "customer.phone"),
    (lambda p: p["lines"][0].__setitem__("sku", "BOSCH\x1f-BP"), "lines[0].sku"),
    (lambda p: p["lines"][0].__setitem__("category", "刹车片\x9b"), "lines[0].category"),
    (lambda p: p["lines"][0].__setitem__("vehicle_model", "卡罗拉\x0018款"), "lines[0].vehicle_model"),
    (lambda p: p.__setitem__("coupon", {"code": "C\x00P", "amount": "1.00"}), "coupon.code"),
    (lambda p: p["customer"].__setitem__("id", "SHOP-\ud800"), "customer.id"),
])
def test_control_characters_in_identifiers_are_refused_naming_the_field(where, field):
    p = order_payload()
    where(p)
    errs = errors_of(p)
    assert field in errs and "控制字符" in errs[field] and "U+" in errs[field]


def test_lone_surrogates_in_free_text_are_removed():
    p = order_payload()
    p["customer"]["name"] = "王建国\udc80"
    assert OrderSubmission.model_validate(p).customer.name == "王建国"


# ---- money and quantity bounds ---------------------------------------------------------------


def test_negative_unit_price_is_invalid_data_naming_the_line():
    p = order_payload()
    p["lines"].append(dict(p["lines"][0], sku="X-2", unit_price="-1.00"))
    errs = errors_of(p)
    assert list(errs) == ["lines[1].unit_price"] and "单价不能为负数" in errs["lines[1].unit_price"]


def test_zero_unit_price_stays_a_risk_feature_not_a_422():
    p = order_payload()
    p["lines"][0]["unit_price"] = "0.00"
    assert OrderSubmission.model_validate(p).lines[0].unit_price == Decimal("0")


def test_line_amount_over_what_the_columns_hold_is_refused():
    p = order_payload()
    p["lines"][0].update(quantity=100000, unit_price="9999999999.99")
    errs = errors_of(p)
    assert list(errs) == ["lines[0]"] and "行金额" in errs["lines[0]"]


def test_goods_total_over_the_bound_is_refused_on_lines():
    p = order_payload()
    line = dict(p["lines"][0], quantity=1, unit_price=str(MAX_AMOUNT))
    p["lines"] = [line, dict(line, sku="X-2")]
    errs = errors_of(p)
    assert list(errs) == ["lines"] and "订单货值合计" in errs["lines"]


def test_amounts_at_the_bound_are_accepted():
    p = order_payload(paid_amount=str(MAX_AMOUNT), freight=str(MAX_AMOUNT))
    p["lines"][0].update(quantity=1, unit_price=str(MAX_AMOUNT))
    assert OrderSubmission.model_validate(p).paid_amount == MAX_AMOUNT


@pytest.mark.parametrize("amount", ["-0.01", "10000000000.00", "NaN", "Infinity"])
def test_money_outside_the_bounds_is_refused(amount):
    assert "paid_amount" in errors_of(order_payload(paid_amount=amount))


def test_negative_money_message_is_chinese():
    assert "不能为负数" in errors_of(order_payload(freight="-1.00"))["freight"]


def test_quantity_bound():
    p = order_payload()
    p["lines"][0]["quantity"] = 100001
    assert "lines[0].quantity" in errors_of(p)


def test_unknown_keys_are_found_at_every_depth_and_known_ones_never():
    from domain.unknown_fields import unknown_fields

    assert unknown_fields(OrderSubmission, order_payload()) == []
    p = order_payload()
    p["customer"]["nmae"] = "张三"
    p["coupon"] = {"code": "C1", "amount": "5.00", "foo": 1}
    p["lines"].append(dict(p["lines"][0], colour="red"))
    assert unknown_fields(OrderSubmission, p) == ["customer.nmae", "lines[1].colour", "coupon.foo"]
    assert unknown_fields(OrderSubmission, "not an object") == []
