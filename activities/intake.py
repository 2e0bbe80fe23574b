"""Intake activities: cleansing, the duplicate check, rejections, and the read-model projection."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity

from domain.cleansing import CleansingResult, cleanse, resolve_address
from domain.dedupe import dedupe_keys, first_collision
from domain.errors import FieldError
from domain.order import OrderSubmission, ResolvedAddress
from domain.state import OrderState
from store import read_model


class DuplicateCheck(BaseModel):
    order_id: str
    phone: str
    skus: list[str]
    ordered_at: datetime
    window_seconds: int


class RejectionIn(BaseModel):
    source: str
    submission: OrderSubmission
    errors: list[FieldError]


class IntakeActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name="cleanse_order")
    def cleanse_order(self, sub: OrderSubmission) -> CleansingResult:
        return cleanse(sub)

    @activity.defn(name="resolve_address")
    def resolve_address(self, text: str) -> ResolvedAddress | None:
        return resolve_address(text)

    @activity.defn(name="find_duplicate")
    def find_duplicate(self, check: DuplicateCheck) -> str | None:
        """The order this one duplicates, or None (then this order's keys become an anchor)."""
        mine = dedupe_keys(check.order_id, check.phone, check.skus, check.ordered_at)
        window = timedelta(seconds=check.window_seconds)
        existing = read_model.claim_dedupe(self.engine, mine, window)
        hit = first_collision(mine, existing, window)
        return hit.order_id if hit else None

    @activity.defn(name="record_rejection")
    def record_rejection(self, rej: RejectionIn) -> int:
        return read_model.record_rejection(
            self.engine,
            source=rej.source,
            payload=rej.submission.model_dump(mode="json"),
            errors=[e.model_dump() for e in rej.errors],
            channel=rej.submission.channel.value,
            channel_order_id=rej.submission.channel_order_id,
        )

    @activity.defn(name="project_order")
    def project_order(self, state: OrderState) -> None:
        read_model.project_order(self.engine, state)

    def all(self) -> list:
        return [self.cleanse_order, self.resolve_address, self.find_duplicate, self.record_rejection, self.project_order]
