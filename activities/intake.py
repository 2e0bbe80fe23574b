"""Intake activities: cleansing, the duplicate check and recorded rejections."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from temporalio import activity

from activities.assessment import AssessmentActivities
from domain.cleansing import CleansingResult, cleanse, resolve_address
from domain.contracts.assessment import AssessRequest
from domain.contracts.intake import (
    CLEANSE_ORDER,
    FIND_DUPLICATE,
    FLAG_CLOSED_ANCHOR,
    INTAKE_ORDER,
    RECORD_REJECTION,
    RESOLVE_ADDRESS,
    ClosedAnchorNotice,
    DuplicateCheck,
    IntakeRequest,
    IntakeResult,
    RejectionIn,
)
from domain.dedupe import dedupe_keys, first_collision
from domain.order import OrderSubmission, ResolvedAddress
from store import read_model, rules

__all__ = ["DuplicateCheck", "IntakeActivities", "RejectionIn"]


class IntakeActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=CLEANSE_ORDER.name)
    def cleanse_order(self, sub: OrderSubmission) -> CleansingResult:
        return cleanse(sub)

    @activity.defn(name=INTAKE_ORDER.name)
    def intake_order(self, req: IntakeRequest) -> IntakeResult:
        """The intake stage in one call: cleanse; a refusal is recorded, a clean order checked for
        duplicates and pinned to the active rules version — and, when asked and it is new and has a
        district, assessed too (what the order would ask for in the very next call)."""
        result = cleanse(req.submission)
        if result.errors:
            rid = self.record_rejection(RejectionIn(source=req.source, submission=req.submission, errors=result.errors))
            return IntakeResult(cleansing=result, rejection_id=rid)
        order = result.order
        assert order is not None
        anchor = self.find_duplicate(DuplicateCheck(order_id=order.order_id, phone=order.phone, skus=order.skus,
                                                    ordered_at=order.ordered_at, window_seconds=req.window_seconds))
        ahead, assessment, version = req.assess, None, None
        if ahead is not None and order.address is not None and (anchor is None or ahead.despite_duplicate):
            # pinned here only for the assessment made here (a held or merged order pins when it is assessed)
            version = rules.version_to_pin(self.engine) if req.pin_rules else None
            assessment = AssessmentActivities(self.engine).assess_order(AssessRequest(
                order=order, flags=ahead.flags, rule_version=version or ahead.rule_version or rules.version_to_pin(self.engine),
                thresholds=ahead.thresholds, redeem_coupon=ahead.redeem_coupon and order.coupon is not None,
                customer_id=order.customer_id if ahead.check_trust else ""))
        return IntakeResult(cleansing=result, anchor=anchor, rule_version=version, assessment=assessment)

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
        return [self.intake_order, self.cleanse_order, self.resolve_address, self.find_duplicate, self.flag_closed_anchor, self.record_rejection]
