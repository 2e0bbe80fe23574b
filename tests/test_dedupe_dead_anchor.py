"""A copy of a rejected or cancelled order is a new order, not its duplicate (both backends): the dead
order's dedupe keys no longer claim anything, while a live anchor still does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.cleansing import cleanse
from domain.dedupe import dedupe_keys
from domain.order import OrderSubmission
from domain.state import OrderState
from domain.status import OrderStatus
from store import read_model
from tests.support import order_payload

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
PHONE = "+8613812345678"


def _anchor(engine, status: OrderStatus) -> str:
    sub = OrderSubmission.model_validate(order_payload("ANCHOR-DEAD-1"))
    mine = dedupe_keys(sub.order_id, PHONE, ["BOSCH-0986AF0134"], AT)
    assert read_model.claim_dedupe(engine, mine, WINDOW) == []  # the first copy becomes the anchor
    read_model.project_order(engine, OrderState(order_id=sub.order_id, status=status, submission=sub,
                                                order=cleanse(sub).order, created_at=AT, updated_at=AT))
    return sub.order_id


@pytest.mark.parametrize("status", [OrderStatus.REJECTED, OrderStatus.CANCELLED])
def test_a_copy_of_a_dead_order_is_not_its_duplicate(engine, status):
    _anchor(engine, status)
    again = dedupe_keys("order-reorder-2", PHONE, ["BOSCH-0986AF0134"], AT + timedelta(minutes=1))
    assert read_model.claim_dedupe(engine, again, WINDOW) == []
    # and the re-order now anchors a later copy of itself
    third = dedupe_keys("order-reorder-3", PHONE, ["BOSCH-0986AF0134"], AT + timedelta(minutes=2))
    assert [k.order_id for k in read_model.claim_dedupe(engine, third, WINDOW)] == ["order-reorder-2"]


@pytest.mark.parametrize("status", [OrderStatus.RECEIVED, OrderStatus.HELD, OrderStatus.COMPLETED])
def test_a_copy_of_a_live_or_delivered_order_still_folds_into_it(engine, status):
    anchor = _anchor(engine, status)
    again = dedupe_keys("order-copy-2", PHONE, ["BOSCH-0986AF0134"], AT + timedelta(minutes=1))
    assert [k.order_id for k in read_model.claim_dedupe(engine, again, WINDOW)] == [anchor]
