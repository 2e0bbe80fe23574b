"""Intake activities: cleansing, the duplicate check and recorded rejections."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from temporalio import activity

from domain.cleansing import CleansingResult, cleanse, resolve_address
from domain.contracts.intake import (
    CLEANSE_ORDER,
    FIND_DUPLICATE,
    FLAG_CLOSED_ANCHOR,
    RECORD_REJECTION,
    RESOLVE_ADDRESS,
    ClosedAnchorNotice,
    DuplicateCheck,
    RejectionIn,
)
from domain.dedupe import dedupe_keys, first_collision
from domain.order import OrderSubmission, ResolvedAddress
from store import read_model

__all__ = ["DuplicateCheck", "IntakeActivities", "RejectionIn"]


class IntakeActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=CLEANSE_ORDER.name)
    def cleanse_order(self, sub: OrderSubmission) -> CleansingResult:
        return cleanse(sub)

    @activity.defn(name=RESOLVE_ADDRESS.name)
    def resolve_address(self, text: str) -> ResolvedAddress | None:
        return resolve_address(text)

    @activity.defn(name=FIND_DUPLICATE.name)
    def find_duplicate(self, check: DuplicateCheck) -> str | None:
        """The order this one duplicates, or None (then this order's keys become an anchor)."""
        mine = dedupe_keys(check.order_id, check.phone, check.skus, check.ordered_at)
        window = timedelta(seconds=check.window_seconds)
        existing = read_model.claim_dedupe(self.engine, mine, window)
        hit = first_collision(mine, existing, window)
        return hit.order_id if hit else None

    @activity.defn(name=FLAG_CLOSED_ANCHOR.name)
    def flag_closed_anchor(self, notice: ClosedAnchorNotice) -> bool:
        return read_model.flag_closed_anchor(self.engine, anchor_order_id=notice.anchor_order_id,
                                             duplicate_order_id=notice.duplicate_order_id, skus=notice.skus,
                                             at=notice.at, reason=notice.reason)

    @activity.defn(name=RECORD_REJECTION.name)
    def record_rejection(self, rej: RejectionIn) -> int:
        return read_model.record_rejection(
            self.engine,
            source=rej.source,
            payload=rej.submission.model_dump(mode="json"),
            errors=[e.model_dump() for e in rej.errors],
            channel=rej.submission.channel.value,
            channel_order_id=rej.submission.channel_order_id,
        )

    def all(self) -> list:
        return [self.cleanse_order, self.resolve_address, self.find_duplicate, self.flag_closed_anchor, self.record_rejection]
