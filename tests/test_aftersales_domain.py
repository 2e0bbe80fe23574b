"""Aftersales pure logic: request validation against what was ordered, exact refunds with
coupons and freight, the replacement order of an exchange/reissue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.aftersales import (
    AftersalesLine,
    AftersalesRequest,
    AftersalesType,
    CaseStatus,
    initial_status,
    refund_amount_for,
    refund_fen_for,
    replacement_channel_order_id,
    replacement_order_id,
    replacement_submission,
    requested_quantities,
    validate_request,
)
from domain.cleansing import cleanse
from domain.order import OrderSubmission
from tests.support import order_payload

PADS = {"sku": "博世刹车片-BP001", "name": "博世刹车片(前)", "category": "刹车片", "quantity": 3, "unit_price": "100.00",
        "vehicle_model": "卡罗拉18款"}
BATTERY = {"sku": "VARTA-BAT-60AH", "name": "瓦尔塔蓄电池 60Ah", "category": "蓄电池", "quantity": 1, "unit_price": "200.00"}


def clean(**overrides):
    result = cleanse(OrderSubmission.model_validate(order_payload(**overrides)))
    assert result.ok, result.errors
    return result.order


def req(*lines: tuple[str, int], kind: str = "return") -> AftersalesRequest:
    return AftersalesRequest(type=kind, lines=[{"sku": s, "quantity": q} for s, q in lines], reason="刹车片异响")


def test_labels_and_initial_status():
    assert AftersalesType.EXCHANGE.label == "换货" and AftersalesType.REFUND_ONLY.label == "仅退款"
    assert CaseStatus.QC_PENDING.label == "待质检"
    assert initial_status(AftersalesType.RETURN) == CaseStatus.AWAITING_RETURN
    assert initial_status(AftersalesType.REFUND_ONLY) == CaseStatus.REFUNDING
    assert initial_status(AftersalesType.REISSUE) == CaseStatus.REPLACEMENT_SENT


def test_request_shape_errors():
    with pytest.raises(ValidationError) as e:
        AftersalesRequest(type="swap", lines=[], reason="")
    fields = {".".join(map(str, x["loc"])) for x in e.value.errors()}
    assert fields == {"type", "lines", "reason"}
    with pytest.raises(ValidationError) as e:
        AftersalesLine(sku="博世刹车片-BP001", quantity=0)
    assert e.value.errors()[0]["loc"] == ("quantity",)


def test_validate_unknown_sku_and_quantities():
    order = clean(lines=[PADS, BATTERY], paid_amount="500.00")
    assert validate_request(order, req(("博世刹车片-BP001", 3), ("VARTA-BAT-60AH", 1)), {}) == []
    errs = validate_request(order, req(("博世刹车片-XX", 1), ("博世刹车片-BP001", 4)), {})
    assert [e.field for e in errs] == ["lines[0].sku", "lines[1].quantity"]
    assert "博世刹车片-XX" in errs[0].message and "最多还可申请 3 件" in errs[1].message
    # earlier cases count, and so do earlier lines of the same request
    errs = validate_request(order, req(("博世刹车片-BP001", 1), ("博世刹车片-BP001", 1)), {"博世刹车片-BP001": 2})
    assert [e.field for e in errs] == ["lines[1].quantity"] and "earlier aftersales 2" in errs[0].message


def test_requested_quantities_ignores_closed_cases():
    ln = [AftersalesLine(sku="A", quantity=2)]
    assert requested_quantities([("return", "completed", ln), ("exchange", "qc_pending", ln),
                                 ("return", "cancelled", ln), ("return", "rejected", ln)]) == {"A": 4}


def test_refund_without_coupon_is_unit_price():
    order = clean(lines=[PADS], paid_amount="300.00")
    assert refund_amount_for(order, [AftersalesLine(sku="博世刹车片-BP001", quantity=2)]) == Decimal("200.00")


def test_refund_with_coupon_and_freight_sums_to_paid_exactly():
    # goods 500, coupon 100 (pads 300 → 60, battery 200 → 40), freight 10.01: paid 410.01
    order = clean(lines=[PADS, BATTERY], coupon={"code": "DOUBLE12", "amount": "100.00"}, freight="10.01",
                  paid_amount="410.01")
    one_pad = [AftersalesLine(sku="博世刹车片-BP001", quantity=1)]
    assert refund_amount_for(order, one_pad) == Decimal("80.00")
    # three cases, one unit or line at a time: the freight comes back with the last unit
    f1 = refund_fen_for(order, one_pad)
    f2 = refund_fen_for(order, [AftersalesLine(sku="博世刹车片-BP001", quantity=2)], {"博世刹车片-BP001": 1})
    f3 = refund_fen_for(order, [AftersalesLine(sku="VARTA-BAT-60AH", quantity=1)], {"博世刹车片-BP001": 3})
    assert (f1, f2, f3) == (8000, 16000, 16000 + 1001)
    assert f1 + f2 + f3 == 41001
    # the whole order at once: exactly what was paid
    assert refund_amount_for(order, [AftersalesLine(sku="博世刹车片-BP001", quantity=3),
                                     AftersalesLine(sku="VARTA-BAT-60AH", quantity=1)]) == Decimal("410.01")


def test_refund_uneven_coupon_split_is_exact():
    # 3 pads at 100, coupon 1.00: 33.34/33.33/33.33 fen shares per unit, never a lost fen
    order = clean(lines=[PADS], coupon={"code": "C1", "amount": "1.00"}, paid_amount="299.00")
    shares = [refund_fen_for(order, [AftersalesLine(sku="博世刹车片-BP001", quantity=1)], {"博世刹车片-BP001": i}) for i in range(3)]
    assert sum(shares) == 29900 and max(shares) - min(shares) <= 1


def test_refund_never_exceeds_paid():
    order = clean(lines=[PADS], paid_amount="250.00")  # underpaid, approved in risk review
    assert refund_amount_for(order, [AftersalesLine(sku="博世刹车片-BP001", quantity=3)]) == Decimal("250.00")


def test_replacement_submission():
    order = clean(channel="tmall", channel_order_id="TB2026112700001", lines=[PADS, BATTERY], paid_amount="500.00",
                  coupon={"code": "C", "amount": "0.00"}, freight="12.00")
    case_id = f"{order.order_id}~AS1"
    at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    sub = replacement_submission(order, case_id, [AftersalesLine(sku="博世刹车片-BP001", quantity=2)], at=at)
    assert sub.channel_order_id == "TB2026112700001-AS1"
    assert sub.order_id == replacement_order_id(order, case_id) == "order-tmall-TB2026112700001-AS1"
    assert sub.paid_amount == 0 and sub.freight == 0 and sub.coupon is None and sub.ordered_at == at
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in sub.lines] == [("博世刹车片-BP001", 2, Decimal("100.00"))]
    assert sub.customer.id == order.customer_id and sub.customer.phone == order.phone
    assert order.order_id in sub.note and "换货" in sub.note
    # the replacement cleanses to the same address
    again = cleanse(sub)
    assert again.ok, again.errors
    assert again.order.address.adcode == order.address.adcode
    assert again.order.lines[0].vehicle_model == order.lines[0].vehicle_model


def test_replacement_channel_order_id_stays_within_64():
    long = "X" * 64
    out = replacement_channel_order_id(long, "order-tmall-xxx~AS12")
    assert len(out) <= 64 and out.endswith("-AS12")
    assert out != replacement_channel_order_id("Y" * 64, "order-tmall-xxx~AS12")
