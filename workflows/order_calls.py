"""The order's data calls, one per stage.

An order begun on today's code (``workflow.patched("one-call-per-stage")``, 2026-12-03) makes one
activity per stage where it made two to six: the intake (cleansing, the recorded refusal or the
duplicate check, the rules version — and for a clean new order with a district the assessment too),
the assessment when it was not made with the intake (the risk scan and, when nothing blocks or holds,
the coupon, the route and the trusted-address check), and the release (the money, the parts plan, and
the projection riding along). Every call is a workflow task (≈ 6 history events and a round trip), so
this is most of an order's cost. Runs from before make the same calls one by one; both paths give
the order the same results, so ``OrderWorkflow`` reads the same either way.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts import assessment as A
    from domain.contracts import finance as FIN
    from domain.contracts import intake as I
    from domain.contracts.order import OrderInput, OrderRecord

from workflows.delivery_address import DeliveryAddress
from workflows.io import Io
from workflows.ledger import Ledger
from workflows.order_parts import OrderParts


class StageCalls:
    def __init__(self, inp: OrderInput, rec: OrderRecord, io: Io, ledger: Ledger, parts: OrderParts,
                 address: DeliveryAddress | None, *, current: bool) -> None:
        self.inp, self.rec, self.policy, self.io, self.ledger = inp, rec, inp.policy, io, ledger
        self.parts, self.address, self.current = parts, address, current
        self._assessed: A.Assessment | None = None  # made with the intake, for the assessment stage
        self._flags: list[str] = []  # the order's flags that assessment saw

    async def intake(self) -> I.IntakeResult:
        """Cleanse; a refusal recorded, else the duplicate check and the rules version (and maybe the assessment)."""
        rec, window = self.rec, self.policy.dedupe_window_seconds
        if self.current:
            ahead = None if rec.replacement_of else I.AssessAhead(  # a replacement skips the risk scan
                flags=rec.flags, thresholds=self.policy.risk, rule_version=rec.rule_version,
                check_trust=self.address is not None, despite_duplicate=bool(self.inp.unmerge))
            got = await self.io.local(I.INTAKE_ORDER, I.IntakeRequest(
                submission=rec.submission, source=self.inp.received_by, assess=ahead, window_seconds=window,
                pin_rules=rec.rule_version is None))
            self._assessed, self._flags = got.assessment, list(rec.flags)
            return got
        result = await self.io.local(I.CLEANSE_ORDER, rec.submission)
        if result.errors:  # (the record holds what it learnt before the next call, as it always did:
            rec.errors = result.errors  # a flush during that call projects it)
            rid = await self.io.local(I.RECORD_REJECTION, I.RejectionIn(
                source=self.inp.received_by, submission=rec.submission, errors=result.errors))
            return I.IntakeResult(cleansing=result, rejection_id=rid)
        order = rec.order = result.order
        assert order is not None
        anchor = await self.io.local(I.FIND_DUPLICATE, I.DuplicateCheck(
            order_id=order.order_id, phone=order.phone, skus=order.skus, ordered_at=order.ordered_at, window_seconds=window))
        return I.IntakeResult(cleansing=result, anchor=anchor)

    async def assessment(self, risk: A.RiskRequest) -> A.Assessment:
        """The risk scan; ``went_on`` when the coupon, the route and the trust check came with it."""
        if not self.current:
            return A.Assessment(risk=await self.io.local(A.ASSESS_RISK, risk))
        a, self._assessed = self._assessed, None
        if a is not None and risk.flags != self._flags:  # a flag came meanwhile (a duplicate folded in): scan again
            a = None  # (a coupon this order redeemed stays its own: redeeming again answers the same)
        order = risk.order
        if a is None:
            a = await self.io.local(A.ASSESS_ORDER, A.AssessRequest(
                **dict(risk), redeem_coupon=order.coupon is not None and not self.rec.coupon_redeemed,
                customer_id=order.customer_id if self.address is not None else ""))
        if a.went_on and self.address is not None and order.address is not None and a.trusted_address is not None:
            self.address.trust = (order.address.text, a.trusted_address)
        return a

    async def release(self, completed_at: datetime) -> None:
        """The money recorded and, for a fulfilled order, its parts planned (with the projection riding along)."""
        order = self.rec.order
        assert order is not None
        if not self.current:
            await self.io.local(FIN.RECORD_ORDER_FINANCE, FIN.OrderFinanceRequest(order=order, completed_at=completed_at))
            return
        split = self.parts.split_request() if self.address is not None else None
        released = await self.ledger.carried_by(FIN.RELEASE_ORDER, lambda p: FIN.ReleaseRequest(
            finance=FIN.OrderFinanceRequest(order=order, completed_at=completed_at, projection=p), split=split))
        self.parts.planned = released.plan
