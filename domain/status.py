"""The order state machine: every status and every allowed move, in one table.

Adding a stage is a local change: a new member here, its row in ``TRANSITIONS``, and the
workflow step that moves into it. Anything not in the table is a bug and raises.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    HELD = "held"  # waiting for a person (review task open)
    ROUTED = "routed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    MERGED = "merged"  # a duplicate folded into an earlier order

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.MERGED})

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.HELD, S.REJECTED, S.CANCELLED, S.MERGED}),
    S.HELD: frozenset({S.VALIDATED, S.ROUTED, S.REJECTED, S.CANCELLED, S.MERGED}),
    S.VALIDATED: frozenset({S.HELD, S.ROUTED, S.REJECTED, S.CANCELLED, S.MERGED}),
    S.ROUTED: frozenset({S.HELD, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.MERGED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def check_transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal)"
        raise IllegalTransition(f"order cannot go from {current} to {target}; allowed: {allowed}")
    return target
