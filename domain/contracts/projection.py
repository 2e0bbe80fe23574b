"""The read model's side of every workflow: thin, idempotent deltas, and the stuck-order alert.

A workflow keeps what it last projected and sends only what changed since: new timeline events
(its own sequence numbers), changed columns of its row, changed review tasks. ``seq`` counts the
workflow's projections; a row only takes a delta newer than the one it holds, so a retried or
replayed activity changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain.contracts import Activity
from domain.review import ReviewTask
from domain.state import OrderState
from domain.timeline import TimelineEvent

RowKind = Literal["order", "part", "shipment"]


class ProjectionDelta(BaseModel):
    kind: RowKind
    key: str  # the workflow id: the order id, a part id ({order}~F1) or a shipment id ({…}~S1)
    order_id: str
    seq: int  # this workflow's projection number, from 1
    columns: dict[str, Any] = {}  # changed columns of the row (JSON values; the store validates them)
    lines: list[dict[str, Any]] | None = None  # the order's lines, when they changed
    events: list[TimelineEvent] = []  # new since the last projection
    reviews: list[ReviewTask] = []  # changed since the last projection


class StuckAlert(BaseModel):
    """A workflow whose activity kept failing past its bound: shown to people even when the
    projection itself is what fails."""

    workflow_id: str
    order_id: str
    review_id: str  # the ops task that retries it
    activity: str
    error: str
    at: datetime
    resolved: bool = False


PROJECT: Activity[ProjectionDelta, None] = Activity("project", ProjectionDelta, None)
RECORD_STUCK: Activity[StuckAlert, None] = Activity("record_stuck", StuckAlert, None)
PROJECT_ORDER_V1: Activity[OrderState, None] = Activity("project_order", OrderState, None)  # OrderWorkflow v1 only
