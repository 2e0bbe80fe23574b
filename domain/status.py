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
    PICKING = "picking"  # in its warehouse's wave: picking and packing (issue 5)
    PACKED = "packed"  # packed, waiting for the customer's address confirmation / the carrier
    SHIPPED = "shipped"  # e-waybill issued, handed to the carrier, tracked
    DELIVERED = "delivered"  # signed for; open for aftersales until its window ends
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
    S.HELD: frozenset({S.VALIDATED, S.ROUTED, S.PICKING, S.PACKED, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.REJECTED,
                       S.CANCELLED, S.MERGED}),
    S.VALIDATED: frozenset({S.HELD, S.ROUTED, S.REJECTED, S.CANCELLED, S.MERGED}),
    # a changed address before dispatch sends the order back to VALIDATED (cleansing, risk, routing again)
    S.ROUTED: frozenset({S.HELD, S.PICKING, S.PACKED, S.COMPLETED, S.CANCELLED, S.VALIDATED}),
    S.PICKING: frozenset({S.PACKED, S.HELD, S.CANCELLED, S.VALIDATED, S.REJECTED, S.COMPLETED}),
    S.PACKED: frozenset({S.SHIPPED, S.PICKING, S.HELD, S.CANCELLED, S.VALIDATED, S.REJECTED, S.COMPLETED}),
    # a stalled parcel opens a review but the order stays shipped; a parcel returned to us and not
    # re-shipped closes the order (any refund is an aftersales case)
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.MERGED: frozenset(),
}


# a split order's status while its parts are in fulfilment: its least advanced live part
_PART_STATUS = {"picking": S.PICKING, "packed": S.PACKED, "shipped": S.SHIPPED, "delivered": S.DELIVERED,
                "returned": S.DELIVERED, "handed_over": S.DELIVERED}


def status_of_parts(parts: list[str], holding: bool) -> OrderStatus | None:
    """HELD while a person must decide (on the order or a part before dispatch), else the status of
    the least advanced part that is still going; None when no part is left going (all cancelled or
    rejected): the order decides what that means."""
    live = [p for p in parts if p not in ("cancelled", "rejected")]
    if holding or "held" in live:
        return S.HELD
    if not live:
        return None
    order = list(_PART_STATUS)
    return _PART_STATUS[min(live, key=order.index)]


class IllegalTransition(ValueError):
    pass


def check_transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal)"
        raise IllegalTransition(f"order cannot go from {current} to {target}; allowed: {allowed}")
    return target
