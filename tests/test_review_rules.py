"""domain/review.py validate_decision: the one place a reviewer's decision is checked."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from domain.review import (
    ALLOWED_DECISIONS,
    Decision,
    InvalidDecision,
    ReviewDecision,
    ReviewKind,
    ReviewState,
    ReviewTask,
    validate_decision,
)

NOW = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)


def task(kind: ReviewKind = ReviewKind.RISK, **kw) -> ReviewTask:
    return ReviewTask(
        review_id=kw.pop("review_id", "rv-1"),
        order_id="order-tmall-T1",
        kind=kind,
        reason="test",
        created_at=NOW,
        **kw,
    )


def decision(d: Decision, **kw) -> ReviewDecision:
    defaults = {"review_id": "rv-1", "reviewer": "alice"}
    if d is Decision.REROUTE:
        defaults["warehouse"] = "WH-HZ-01"
        defaults["carrier"] = "SF"  # a refused e-waybill is rerouted to a carrier
    if d is Decision.CORRECT_ADDRESS:
        defaults["address"] = "浙江省杭州市西湖区文三路90号"
    return ReviewDecision(decision=d, **{**defaults, **kw})


PAIRS = list(itertools.product(ReviewKind, Decision))
VALID = [(k, d) for k, d in PAIRS if d in ALLOWED_DECISIONS[k]]
INVALID = [(k, d) for k, d in PAIRS if d not in ALLOWED_DECISIONS[k]]


def test_every_kind_has_allowed_decisions():
    assert set(ALLOWED_DECISIONS) == set(ReviewKind)
    assert all(ALLOWED_DECISIONS[k] for k in ReviewKind)
    # a person can always stop an order held for them; transit/follow-up tasks hold nothing: acknowledge only
    held = set(ReviewKind) - {ReviewKind.TRANSIT, ReviewKind.FOLLOW_UP}  # RETURNED: approve = re-ship, reject = do not
    assert all(Decision.REJECT in ALLOWED_DECISIONS[k] for k in held)
    assert all(ALLOWED_DECISIONS[k] == {Decision.APPROVE} for k in set(ReviewKind) - held)


def test_allowed_table():
    assert ALLOWED_DECISIONS[ReviewKind.ADDRESS] == {Decision.CORRECT_ADDRESS, Decision.APPROVE, Decision.REJECT}
    assert ALLOWED_DECISIONS[ReviewKind.ROUTING] == {Decision.REROUTE, Decision.REJECT}
    assert ALLOWED_DECISIONS[ReviewKind.RISK] == {Decision.APPROVE, Decision.REJECT, Decision.REROUTE}


@pytest.mark.parametrize(("kind", "d"), VALID, ids=[f"{k}-{d}" for k, d in VALID])
def test_valid_decision_passes(kind, d):
    assert validate_decision(task(kind), decision(d)) is None


@pytest.mark.parametrize(("kind", "d"), INVALID, ids=[f"{k}-{d}" for k, d in INVALID])
def test_wrong_decision_kind_lists_allowed(kind, d):
    with pytest.raises(InvalidDecision) as exc:
        validate_decision(task(kind), decision(d))
    msg = str(exc.value)
    assert d.value in msg
    assert f"{kind.value} review" in msg
    listed = msg.split("use one of:", 1)[1]
    for allowed in ALLOWED_DECISIONS[kind]:
        assert allowed.value in listed
    for other in set(Decision) - ALLOWED_DECISIONS[kind]:
        assert other.value not in listed


def test_invalid_decision_is_a_value_error():
    assert issubclass(InvalidDecision, ValueError)


# --- unknown review -------------------------------------------------------------------------


@pytest.mark.parametrize("d", list(Decision))
def test_unknown_review(d):
    with pytest.raises(InvalidDecision, match="does not belong to this order") as exc:
        validate_decision(None, decision(d, review_id="rv-404"))
    assert "rv-404" in str(exc.value)


# --- already decided ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "d"), VALID, ids=[f"{k}-{d}" for k, d in VALID])
def test_already_decided(kind, d):
    done = task(kind, state=ReviewState.DECIDED, decision=Decision.REJECT, reviewer="bob", decided_at=NOW)
    with pytest.raises(InvalidDecision) as exc:
        validate_decision(done, decision(d))
    msg = str(exc.value)
    assert "rv-1" in msg
    assert "already decided" in msg
    assert "reject by bob" in msg  # who decided what, so the second reviewer can stand down


def test_already_cancelled():
    cancelled = task(ReviewKind.RISK, state=ReviewState.CANCELLED)
    with pytest.raises(InvalidDecision, match="already cancelled") as exc:
        validate_decision(cancelled, decision(Decision.APPROVE))
    assert " by " not in str(exc.value)


def test_state_is_checked_before_decision_kind():
    """A late reviewer hears 'already decided', not a lecture on decision kinds."""
    done = task(ReviewKind.ROUTING, state=ReviewState.DECIDED, decision=Decision.REROUTE, reviewer="bob")
    with pytest.raises(InvalidDecision, match="already decided"):
        validate_decision(done, decision(Decision.APPROVE))


# --- reroute / correct_address payloads -----------------------------------------------------


@pytest.mark.parametrize("kind", [ReviewKind.ROUTING, ReviewKind.RISK])
@pytest.mark.parametrize("warehouse", [None, ""])
def test_reroute_without_warehouse(kind, warehouse):
    with pytest.raises(InvalidDecision, match="reroute needs the target warehouse"):
        validate_decision(task(kind), decision(Decision.REROUTE, warehouse=warehouse))


@pytest.mark.parametrize("kind", [ReviewKind.ROUTING, ReviewKind.RISK])
def test_reroute_with_blank_warehouse(kind):
    with pytest.raises(InvalidDecision, match="warehouse"):
        validate_decision(task(kind), decision(Decision.REROUTE, warehouse="   "))


@pytest.mark.parametrize("address", [None, "", "   ", "\t\n"])
def test_correct_address_without_address(address):
    with pytest.raises(InvalidDecision, match="correct_address needs the corrected address text"):
        validate_decision(task(ReviewKind.ADDRESS), decision(Decision.CORRECT_ADDRESS, address=address))


def test_wrong_kind_reported_before_missing_payload():
    """correct_address on a risk review: the kind is wrong, whatever the address says."""
    with pytest.raises(InvalidDecision, match="not a decision for a risk review"):
        validate_decision(task(ReviewKind.RISK), decision(Decision.CORRECT_ADDRESS, address=None))


@pytest.mark.parametrize(
    ("kind", "d"),
    [
        (ReviewKind.ADDRESS, Decision.APPROVE),
        (ReviewKind.ADDRESS, Decision.REJECT),
        (ReviewKind.RISK, Decision.APPROVE),
    ],
)
def test_extra_payload_fields_are_harmless(kind, d):
    validate_decision(task(kind), decision(d, warehouse="WH-1", address="x"))


@pytest.mark.parametrize("reviewer", ["", "x" * 65])
def test_reviewer_required(reviewer):
    with pytest.raises(ValueError):
        ReviewDecision(review_id="rv-1", decision=Decision.APPROVE, reviewer=reviewer)


def test_unknown_decision_value_rejected_by_model():
    with pytest.raises(ValueError):
        ReviewDecision(review_id="rv-1", decision="escalate", reviewer="alice")


def test_a_refused_waybill_is_retried_sent_by_another_carrier_or_stopped():
    from datetime import datetime

    from domain.review import InvalidDecision, ReviewDecision, ReviewKind, ReviewTask, validate_decision

    task = ReviewTask(review_id="o~carrier-1", order_id="o", kind=ReviewKind.CARRIER, reason="ZTO 拒单: 超重",
                      created_at=datetime.now(UTC))
    validate_decision(task, ReviewDecision(review_id=task.review_id, decision="approve", reviewer="调度"))
    validate_decision(task, ReviewDecision(review_id=task.review_id, decision="reroute", reviewer="调度", carrier="DEBANG"))
    with pytest.raises(InvalidDecision, match="needs the other carrier"):
        validate_decision(task, ReviewDecision(review_id=task.review_id, decision="reroute", reviewer="调度",
                                               warehouse="HZ-CLOUD"))
