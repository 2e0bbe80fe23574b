"""A stage's data in one call (orders since 2026-12-03): intake (cleanse, the recorded refusal or the
duplicate check, the pinned rules version), assessment (the risk scan and, when nothing blocks or
holds, the coupon, the route and the trusted-address check), and the finance call that carries the
order's projection. Real activities on the real read model, both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from activities.assessment import AssessmentActivities
from activities.finance import FinanceActivities
from activities.intake import IntakeActivities
from domain.cleansing import cleanse
from domain.contracts.assessment import AssessRequest
from domain.contracts.finance import OrderFinanceRequest
from domain.contracts.intake import AssessAhead, IntakeRequest
from domain.contracts.projection import ProjectionDelta
from domain.order import OrderSubmission
from domain.risk import RiskThresholds
from domain.timeline import TimelineEvent
from store import risk_data, rules
from store.schema import order_finance, rejected_payloads, timeline_events
from tests.support import order_payload


def _sub(**top) -> OrderSubmission:
    return OrderSubmission.model_validate(order_payload(**top))


def test_intake_refuses_and_records_the_rejection_in_the_same_call(engine):
    sub = _sub(customer={"id": "SHOP-1", "name": "王建国", "phone": "12345"})  # not a phone number
    got = IntakeActivities(engine).intake_order(IntakeRequest(submission=sub, source="api", window_seconds=1800))
    assert got.cleansing.errors and got.rejection_id is not None
    assert got.anchor is None and got.rule_version is None  # a refused order is neither checked nor pinned
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rejected_payloads)).scalar_one() == 1


def test_intake_assesses_a_new_order_and_finds_the_duplicate_of_it(engine):
    acts, ahead = IntakeActivities(engine), AssessAhead(thresholds=RiskThresholds(), check_trust=True)
    first = acts.intake_order(IntakeRequest(submission=_sub(), source="api", window_seconds=1800, assess=ahead))
    assert first.cleansing.order is not None and first.anchor is None and first.rule_version == rules.active_version(engine)
    assert first.assessment is not None and first.assessment.went_on and first.assessment.decision is not None
    again = first.cleansing.order
    twin = _sub(customer={"id": "SHOP-2", "name": "王建国", "phone": again.phone})  # the same phone and goods
    second = acts.intake_order(IntakeRequest(submission=twin, source="api", window_seconds=1800, assess=ahead))
    assert second.anchor == again.order_id  # it merges: neither assessed nor pinned
    assert second.assessment is None and second.rule_version is None
    split_back = acts.intake_order(IntakeRequest(submission=twin, source="api", window_seconds=1800,
                                                 assess=ahead.model_copy(update={"despite_duplicate": True})))
    assert split_back.anchor == again.order_id and split_back.assessment is not None  # an un-merged order is


def test_a_failed_route_gives_the_coupon_back(engine, monkeypatch):
    """No redemption outlives a failed assessment call: the order never learns it holds the coupon."""
    p = order_payload()
    p["coupon"] = {"code": "ROLLBACK", "amount": "1.00"}
    p["paid_amount"] = f"{Decimal(p['paid_amount']) - 1:.2f}"
    order = cleanse(OrderSubmission.model_validate(p)).order
    assert order is not None
    acts = AssessmentActivities(engine)

    def broken(req):
        raise RuntimeError("rules table unreadable")

    monkeypatch.setattr(acts, "route_order", broken)
    with pytest.raises(RuntimeError):
        acts.assess_order(AssessRequest(order=order, flags=[], rule_version=rules.version_to_pin(engine),
                                        thresholds=RiskThresholds(), redeem_coupon=True))
    assert risk_data.redeem_coupon(engine, "ROLLBACK", "SOMEONE-ELSE", Decimal("1.00")) is None  # free again


def _assess(engine, sub: OrderSubmission, **kw) -> tuple:
    order = cleanse(sub).order
    assert order is not None
    req = AssessRequest(order=order, flags=[], rule_version=rules.version_to_pin(engine), thresholds=RiskThresholds(), **kw)
    IntakeActivities(engine).intake_order(IntakeRequest(submission=sub, source="api", window_seconds=1800))
    return order, AssessmentActivities(engine).assess_order(req)


def test_a_clean_order_is_assessed_routed_and_its_coupon_redeemed_in_one_call(engine):
    p = order_payload()
    p["coupon"] = {"code": "DOUBLE12", "amount": "1.00"}
    p["paid_amount"] = f"{Decimal(p['paid_amount']) - 1:.2f}"
    order, got = _assess(engine, OrderSubmission.model_validate(p), redeem_coupon=True, customer_id="SHOP-X")
    assert got.went_on and not got.risk.hits, got.risk.hits
    assert got.coupon_first == order.order_id  # redeemed here, first
    assert got.decision is not None and got.decision.warehouse and got.decision.carrier
    assert got.trusted_address is False  # a new customer's address


def test_a_held_order_gets_only_its_scan(engine):
    """A hold is a person's decision first: no coupon redeemed, no route, no trust check."""
    p = order_payload()
    p["coupon"] = {"code": "HOLD-ME", "amount": "1.00"}
    p["paid_amount"] = f"{Decimal(p['paid_amount']) - 1:.2f}"
    order = cleanse(OrderSubmission.model_validate(p)).order
    assert order is not None
    got = AssessmentActivities(engine).assess_order(AssessRequest(
        order=order, flags=[], rule_version=rules.version_to_pin(engine), thresholds=RiskThresholds(new_customer_amount=Decimal("1")),
        redeem_coupon=True, customer_id="SHOP-X"))
    assert [h.code for h in got.risk.hits] == ["NEW_CUSTOMER_LARGE_ORDER"] and not got.went_on
    assert got.coupon_first is None and got.decision is None and got.trusted_address is None
    assert risk_data.redeem_coupon(engine, "HOLD-ME", "SOMEONE-ELSE", Decimal("1.00")) is None  # nobody redeemed it


def test_the_finance_call_writes_the_projection_it_carries(engine):
    order = cleanse(_sub()).order
    assert order is not None
    now = datetime.now(UTC)
    delta = ProjectionDelta(kind="order", key=order.order_id, order_id=order.order_id, seq=1,
                            events=[TimelineEvent(seq=1, at=now, event="order.routed", status="routed", actor="rules")])
    acts = FinanceActivities(engine)
    assert acts.record_order_finance(OrderFinanceRequest(order=order, completed_at=now, projection=delta)) is True
    assert acts.record_order_finance(OrderFinanceRequest(order=order, completed_at=now, projection=delta)) is False  # once
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(order_finance)).scalar_one() == 1
        events = conn.execute(select(timeline_events.c.event).where(timeline_events.c.order_id == order.order_id)).scalars().all()
    assert events == ["order.routed"]  # carried (twice), kept once
