"""A duplicate folded into an order whose workflow has closed marks the closed order's row (both
backends): the brushing flag once, and one timeline event under the duplicate's source."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.cleansing import cleanse
from domain.order import OrderSubmission
from domain.state import OrderState
from domain.status import OrderStatus
from store import read_model
from tests.support import order_payload

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_closed_anchor_is_flagged_once_with_the_duplicates_event(engine):
    sub = OrderSubmission.model_validate(order_payload("ANCHOR-1"))
    read_model.project_order(engine, OrderState(order_id=sub.order_id, status=OrderStatus.COMPLETED, submission=sub,
                                                order=cleanse(sub).order, flags=["vip"], created_at=AT, updated_at=AT))
    for _ in range(2):  # a retried activity changes nothing more
        assert read_model.flag_closed_anchor(engine, anchor_order_id=sub.order_id, duplicate_order_id="order-dup-9",
                                             skus=["BOSCH-0986AF0134"], at=AT, reason="促销刷单疑似: order-dup-9 并入本单")
    row = read_model.get_order(engine, sub.order_id)
    assert row["flags"] == ["vip", "suspected_brushing"] and row["status"] == "completed"
    extra = [e for e in row["timeline"] if e["source"] == "order-dup-9"]
    assert [(e["event"], e["seq"], e["status"]) for e in extra] == [("duplicate.merged", 1, "completed")]
    assert extra[0]["data"]["duplicate_order_id"] == "order-dup-9"


def test_no_row_for_the_anchor_is_no_error(engine):
    assert read_model.flag_closed_anchor(engine, anchor_order_id="order-nowhere", duplicate_order_id="order-dup-1",
                                         skus=[], at=AT, reason="x") is False
