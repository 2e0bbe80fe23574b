"""domain/status.py: the order state machine table and its guard."""

from __future__ import annotations

import itertools

import pytest

from domain.status import TERMINAL, TRANSITIONS, IllegalTransition, OrderStatus, check_transition

S = OrderStatus
ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
DISALLOWED = sorted((a, b) for a, b in itertools.product(S, S) if b not in TRANSITIONS[a])


def reachable(start: OrderStatus) -> set[OrderStatus]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_table_covers_every_status():
    assert set(TRANSITIONS) == set(S)
    for targets in TRANSITIONS.values():
        assert set(targets) <= set(S)


def test_partition_is_complete():
    assert len(ALLOWED) + len(DISALLOWED) == len(S) ** 2
    assert ALLOWED and DISALLOWED


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition_passes(current, target):
    assert check_transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), DISALLOWED, ids=[f"{a}->{b}" for a, b in DISALLOWED])
def test_disallowed_transition_raises_naming_both_states(current, target):
    with pytest.raises(IllegalTransition) as exc:
        check_transition(current, target)
    msg = str(exc.value)
    assert f"from {current.value}" in msg
    assert f"to {target.value}" in msg


@pytest.mark.parametrize(("current", "target"), DISALLOWED, ids=[f"{a}->{b}" for a, b in DISALLOWED])
def test_disallowed_message_lists_what_is_allowed(current, target):
    with pytest.raises(IllegalTransition) as exc:
        check_transition(current, target)
    msg = str(exc.value)
    if TRANSITIONS[current]:
        for allowed in TRANSITIONS[current]:
            assert allowed.value in msg.split("allowed:", 1)[1]
    else:
        assert "terminal" in msg


def test_illegal_transition_is_a_value_error():
    assert issubclass(IllegalTransition, ValueError)


@pytest.mark.parametrize("status", list(S))
def test_no_self_loops(status):
    assert status not in TRANSITIONS[status]
    with pytest.raises(IllegalTransition):
        check_transition(status, status)


def test_terminal_set():
    assert TERMINAL == {S.COMPLETED, S.REJECTED, S.CANCELLED, S.MERGED}


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_states_have_no_exits(status):
    assert status.terminal
    assert TRANSITIONS[status] == frozenset()
    for target in S:
        with pytest.raises(IllegalTransition, match="terminal"):
            check_transition(status, target)


@pytest.mark.parametrize("status", sorted(set(S) - TERMINAL))
def test_non_terminal_states_have_exits(status):
    assert not status.terminal
    assert TRANSITIONS[status]


def test_received_can_reach_completed():
    assert S.COMPLETED in reachable(S.RECEIVED)


def test_happy_path_is_legal():
    path = [S.RECEIVED, S.VALIDATED, S.ROUTED, S.COMPLETED]
    for a, b in itertools.pairwise(path):
        check_transition(a, b)


def test_held_path_is_legal():
    path = [S.RECEIVED, S.HELD, S.VALIDATED, S.HELD, S.ROUTED, S.HELD, S.ROUTED, S.COMPLETED]
    for a, b in itertools.pairwise(path):
        check_transition(a, b)


def test_received_reaches_every_status():
    assert reachable(S.RECEIVED) == set(S)


@pytest.mark.parametrize("status", sorted(set(S) - TERMINAL))
def test_every_non_terminal_state_can_reach_a_terminal_one(status):
    assert reachable(status) & TERMINAL


@pytest.mark.parametrize("status", sorted(set(S) - TERMINAL - {S.SHIPPED, S.DELIVERED}))
def test_every_non_terminal_state_can_be_cancelled_or_reach_cancel(status):
    assert S.CANCELLED in reachable(status)


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED])
def test_after_dispatch_there_is_no_cancel_only_aftersales(status):
    """Once the parcel left, a change of mind is an aftersales case, never a cancellation."""
    assert S.CANCELLED not in reachable(status)
    assert S.COMPLETED in reachable(status)


@pytest.mark.parametrize("status", list(S))
def test_nothing_returns_to_received(status):
    assert S.RECEIVED not in TRANSITIONS[status]


def test_merged_only_before_routing():
    """A duplicate is folded before it is routed; a routed order is never merged."""
    assert S.MERGED not in TRANSITIONS[S.ROUTED]
    assert {a for a, b in ALLOWED if b is S.MERGED} == {S.RECEIVED, S.VALIDATED, S.HELD}


def test_completed_only_at_the_end_of_the_configured_stages():
    """routed (no fulfilment), packed (warehouse only, no shipping), delivered (the full path),
    shipped (returned to us and not re-shipped); picking or held when every part of a split order ended
    without a parcel signed for (cancelled, rejected or returned parts)."""
    assert {a for a, b in ALLOWED if b is S.COMPLETED} == {S.ROUTED, S.PACKED, S.SHIPPED, S.DELIVERED, S.PICKING, S.HELD}
