"""domain/team.py: what "untouched" means, the form → a canonical order, the order number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import team
from domain.order import OrderSubmission
from domain.status import OrderStatus
from domain.timeline import TimelineEvent

NOW = datetime.now(UTC)


def ev(actor: str, event: str = "x") -> TimelineEvent:
    return TimelineEvent(seq=1, at=NOW, event=event, status="held", actor=actor)


@pytest.mark.parametrize("actors, who", [
    (["team:xiaoli", "system", "rules", "channel:team", "customer"], None),  # the hub's own steps and the registration
    (["team:xiaoli", "system", "主管"], "主管"),
    (["team:xiaoli", "xiaoli"], "xiaoli"),  # the registering person deciding a review later has acted
    (["team:xiaoli", "key:reviewer"], "key:reviewer"),
])
def test_who_acted(actors, who):
    assert team.person_who_acted([ev(a) for a in actors], "team:xiaoli") == who


@pytest.mark.parametrize("status, untouched", [
    (OrderStatus.RECEIVED, True), (OrderStatus.VALIDATED, True), (OrderStatus.HELD, True), (OrderStatus.ROUTED, True),
    (OrderStatus.PICKING, False), (OrderStatus.SHIPPED, False), (OrderStatus.CANCELLED, False), (OrderStatus.MERGED, False),
])
def test_untouched_is_before_the_warehouse_and_nobody_acted(status, untouched):
    assert team.untouched(status, [ev("team:a")], "team:a") is untouched
    assert team.untouched(status, [ev("team:a"), ev("b")], "team:a") is False


def test_the_form_becomes_a_valid_canonical_order():
    form = {"customer": {"name": "王建国", "phone": "138 0013 8000"}, "address": "浙江省杭州市萧山区北干街道金城路188号",
            "lines": [{"sku": "A1", "name": "刹车片", "category": "刹车片", "quantity": "2", "unit_price": "268",
                       "vehicle_model": ""}, {"sku": "", "name": "", "quantity": "", "unit_price": ""}],
            "freight": "10", "paid_amount": ""}
    p = team.submission_payload(form, order_no="T1", now=NOW)
    sub = OrderSubmission.at_door(p)
    assert sub.channel.value == "team" and sub.order_id == "order-team-T1" and sub.customer.id == "team-13800138000"
    assert len(sub.lines) == 1 and sub.lines[0].vehicle_model is None and str(sub.paid_amount) == "546"


def test_the_order_number_is_the_same_for_the_same_form_the_same_day():
    a = team.order_number(NOW, "abcdef0123456789")
    assert a == team.order_number(NOW + timedelta(seconds=5), "abcdef0123456789") and a.startswith("T") and len(a) == 15
    assert a != team.order_number(NOW, "0123456789abcdef")
    assert "/" not in team.order_number(NOW, "ab/cd-ef_gh12345")
