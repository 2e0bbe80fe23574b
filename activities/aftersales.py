"""Aftersales activities: project a case into the read model and record its refund.

The refund is recorded in our finance tables only (``refunds``, one row per case, in fen): the
settlement fake (devtools/fakes/settlement.py) has no refund endpoint, and real channels refund through
their own after-sale APIs, which this hub does not drive yet.
"""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from domain.aftersales import AftersalesState
from domain.contracts.aftersales import PROJECT_AFTERSALES, REFUND_AFTERSALES, RefundRequest, RefundResult
from store import aftersales as store


class AftersalesActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=PROJECT_AFTERSALES.name)
    def project_aftersales(self, state: AftersalesState) -> bool:
        """Upsert the case row (never moves it backwards)."""
        return store.project_case(self.engine, state)

    @activity.defn(name=REFUND_AFTERSALES.name)
    def refund_aftersales(self, req: RefundRequest) -> RefundResult:
        """Record the case's refund once; a retry answers with the first record."""
        row, created = store.record_refund(
            self.engine, case_id=req.case_id, order_id=req.order_id, channel=req.channel, amount_fen=req.amount_fen,
            lines=[ln.model_dump(mode="json") for ln in req.lines], reason=req.reason,
            refunded_at=req.refunded_at,
        )
        return RefundResult(case_id=req.case_id, refund_no=row["refund_no"], amount_fen=row["amount_fen"], created=created)

    def all(self) -> list:
        return [self.project_aftersales, self.refund_aftersales]
