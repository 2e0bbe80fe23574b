"""OrderWorkflow: one durable process per order. Read top to bottom: intake (cleansing, duplicates,
address), assessment (risk, coupon, routing), the release window (a late duplicate merges, a burst
breaker holds, a cancel takes it out), fulfilment (one ``FulfilmentWorkflow`` child per warehouse part,
released once the customer confirmed and nothing holds the order), then open for aftersales until its
window ends. People decide through review tasks (durable waits with escalation timers). Nothing polls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.aftersales import AftersalesRequest, AftersalesTicket, CaseClosed
    from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult
    from domain.contracts import assessment as A
    from domain.contracts import fulfilment as F
    from domain.contracts import intake as I
    from domain.contracts import order as C
    from domain.order_view import order_lines, order_row, order_view
    from domain.redelivery import VersionedSubmission
    from domain.review import Decision, ReviewDecision, ReviewKind, ReviewTask
    from domain.risk import Severity
    from domain.routing import RoutingDecision
    from domain.state import Admission
    from domain.status import OrderStatus, check_transition
    from workflows import search_attributes as sa

from workflows import order_aftersales as aftersales
from workflows import order_guards as guards
from workflows.delivery_address import DeliveryAddress
from workflows.io import Abandoned, Io, wait_until
from workflows.ledger import Ledger
from workflows.order_calls import StageCalls
from workflows.order_fulfilment import OrderFulfilment
from workflows.order_parts import OrderParts
from workflows.reviews import ReviewDesk
from workflows.team_watch import TeamWatch

S = OrderStatus
ONE_CALL_PER_STAGE = "one-call-per-stage"  # workflow.patched id (2026-12-03)


@workflow.defn(name=C.ORDER.name)
class OrderWorkflow:
    @workflow.init
    def __init__(self, inp: C.OrderInput) -> None:
        now, oid = workflow.now(), inp.submission.order_id
        self.inp, self.policy = inp, inp.policy
        self.rec = C.OrderRecord(order_id=oid, status=S.RECEIVED, submission=inp.submission,
                                 replacement_of=inp.replacement_of, created_at=now, updated_at=now)
        self.one_call = workflow.patched(ONE_CALL_PER_STAGE)  # asked first: implies every earlier patch (order_calls.py)
        self.ledger = Ledger("order", oid, oid, status=lambda: self.rec.status.value, row=lambda: order_row(self.rec),
                             reviews=lambda: self.rec.reviews, lines=lambda: order_lines(self.rec), after=inp.resumed_after(),
                             current=self.one_call)
        self.io = Io(oid, oid, self.ledger, inp.policy.retry, inp.policy.queues)
        self.desk = ReviewDesk(oid, oid, self.policy, self.ledger, self.io, self.rec.reviews)
        self.io.desk, self.io.on_stuck = self.desk, self._on_stuck
        self.parts = OrderParts(self.rec, self.policy, self.io, self.ledger)
        self.address = DeliveryAddress(self.rec, self.policy.fulfilment, self.io, self.ledger) if self.policy.fulfilment else None
        self.fulfilment = None if self.address is None else OrderFulfilment(self, self.parts, self.address, self.desk,
                                                                             current=self.one_call)
        self.team = TeamWatch(self.rec, self.policy, self.io, self.ledger, inp.received_by, inp.replacement_of)
        self.parts.on_change = self._wake
        self.attributes: dict[str, str] = {}  # search attributes as last upserted
        self.channel_submission = inp.submission  # what the channel sent last (our own address changes aside)
        self.intake_done = False
        self.cancel_request: C.CancelRequest | None = None
        self.burst: list[C.BurstNotice] = []
        self.burst_seen: set[str] = set()
        self.erp: asyncio.Future[None] | None = None
        self.completion_reason = ""
        self.calls = StageCalls(inp, self.rec, self.io, self.ledger, self.parts, self.address, current=self.one_call)

    @workflow.run
    async def run(self, inp: C.OrderInput) -> C.OrderOutcome:
        guards.opened(self.ledger, inp)  # order.received, or order.unmerged for a duplicate split back out
        self.team.start()  # a small team's order: WeCom notice, red when untouched for 24 h (else nothing)
        try:
            for stage in (self._intake, self.assess, self._release, self._fulfil, self._aftersales_window):
                if self.rec.status.terminal:
                    break
                await stage()
            if not self.rec.status.terminal:
                if self.erp is not None:
                    await self.erp  # completed means the ERP has the order too
                await self.move(S.COMPLETED, "order.completed", reason=self.completion_reason)
        except Abandoned as a:
            if not self.rec.status.terminal:
                await self.end(S.REJECTED, "order.rejected", a.reason, a.actor)
        self.intake_done = True
        await self.parts.settle()
        await self.team.settle()
        if self.erp is not None:  # rejected or cancelled too: the history never ends with the push in flight
            await self.erp
        await self.ledger.settle()
        r = self.rec
        return C.OrderOutcome(order_id=r.order_id, status=r.status, merged_into=r.merged_into, parts=len(r.parts),
                              waybills=[p.waybill_no for p in r.parts if p.waybill_no])

    # ================================================================ the stages

    async def _intake(self) -> None:
        """Cleanse, reject bad data, fold duplicates, hold unresolvable addresses."""
        got = await self.calls.intake()
        result, anchor, self.rec.rule_version = got.cleansing, got.anchor, self.rec.rule_version or got.rule_version
        if result.errors:
            self.rec.errors = result.errors
            return await self.move(S.REJECTED, "order.rejected", data={"rejection_id": got.rejection_id},
                                    reason="; ".join(f"{e.field}: {e.message}" for e in result.errors))
        order = self.rec.order = result.order
        assert order is not None
        if anchor and not (self.rec.replacement_of or self.inp.unmerge):
            return await self.move(S.MERGED, "duplicate.merged_into", **await guards.merge_into(self.rec, anchor, self.policy, self.io))
        while order.address is None:
            self.intake_done = True  # a caller waiting for admission learns it is held; the wait is the reviewer's
            d = await self.hold(ReviewKind.ADDRESS, f"地址无法解析到区县: {order.address_raw}", ["ADDRESS_UNRESOLVED"])
            if d is None or d.decision == Decision.REJECT:
                return await self.stopped_by(d, "地址驳回 address rejected")
            if d.decision == Decision.APPROVE:
                self.ledger.event("address.accepted_unresolved", actor=d.reviewer, reason=d.note)
                break
            order.address = await self.io.local(I.RESOLVE_ADDRESS, d.address or "")
            order.address_raw = d.address or order.address_raw
            self.ledger.event("address.corrected", actor=d.reviewer,
                              reason=f"{d.address} → {order.address.region if order.address else '仍无法解析 still unresolved'}")
        await self.move(S.VALIDATED, "order.validated",
                         reason=f"地址解析为 {order.address.region} ({order.address.adcode})" if order.address else "")
        self.intake_done = True
        self.erp = asyncio.ensure_future(guards.push_to_erp(self.io, self.rec, self.ledger))

    async def assess(self) -> None:
        """Risk scan on every order (17 features), the coupon, then routing by the pinned rules version."""
        order = self.rec.order
        assert order is not None
        if self.rec.rule_version is None:
            self.rec.rule_version = await self.io.local(A.PIN_RULES_VERSION, None)
        if self.rec.replacement_of:
            self.ledger.event("risk.skipped", reason=f"换货/补发单, 原订单 {self.rec.replacement_of} 已过风控 replacement order")
            return await self._route(None)
        risk = A.RiskRequest(order=order, flags=self.rec.flags, rule_version=self.rec.rule_version, thresholds=self.policy.risk,
                             acknowledged=["ADDRESS_UNRESOLVED"] if self.ledger.has("address.accepted_unresolved") else [])
        a = await self.calls.assessment(risk)  # with the coupon, the route and the trust check when nothing holds
        scan, got = a.risk, a if a.went_on else None
        self.rec.risk_hits, self.rec.risk_level = scan.hits, scan.level
        self.ledger.event("risk.scanned", data={"level": scan.level, "codes": [h.code for h in scan.hits]},
                          reason="; ".join(f"[{h.severity}] {h.reason}" for h in scan.hits) or "17项风险特征均未命中 no risk feature hit")
        blocks = [h for h in scan.hits if h.severity == Severity.BLOCK]
        if blocks:
            return await self.move(S.REJECTED, "order.intercepted", data={"codes": [h.code for h in blocks]},
                                    reason="拦截 intercepted: " + "; ".join(h.reason for h in blocks))
        if any(h.code == "BURST_SAME_ADDRESS" for h in scan.hits):
            for oid in await guards.trip_burst_breaker(self.rec, scan.burst_order_ids, self.policy):
                self.ledger.event("burst.peer_closed", reason=f"{oid} 已结束 already closed", data={"order_id": oid})
        override = None
        holds = [h for h in scan.hits if h.severity == Severity.HOLD]
        if holds:
            d = await self.hold(ReviewKind.RISK, "; ".join(h.reason for h in holds), [h.code for h in holds])
            if d is None or d.decision == Decision.REJECT:
                return await self.stopped_by(d, "风控驳回 rejected in risk review")
            override = d if d.decision == Decision.REROUTE else None
        if order.coupon is not None and not self.rec.coupon_redeemed:
            first = got.coupon_first if got else await self.io.local(A.REDEEM_COUPON, A.CouponRequest(order=order))
            self.rec.coupon_redeemed = first == order.order_id
            self.ledger.event("coupon.redeemed", reason=f"{order.coupon.code} ¥{order.coupon.amount}",
                              data={"code": order.coupon.code, "first_redeemed_by": first})
        await self._route(override, got.decision if got else None)

    async def _route(self, override: ReviewDecision | None, decided: RoutingDecision | None = None) -> None:
        """Warehouse and carrier from the decision tables (``decided``: asked with the risk scan); no match or no carrier → routing review."""
        order, version = self.rec.order, self.rec.rule_version
        assert order is not None and version is not None
        while True:
            decision, decided = decided, None
            if decision is None and (order.address is not None or override is not None):
                decision = await self.io.local(A.ROUTE_ORDER, A.RouteRequest(
                    order=order, rule_version=version, warehouse=override.warehouse if override else None,
                    carrier=override.carrier if override else None, override=bool(override and override.override)))
            if decision is not None and not decision.needs_review:
                break
            reason = (f"{decision.reason}; {decision.carrier_reason}" if decision
                      else "地址未解析到区县,无法自动分单 address has no district: routing needs a person")
            features = ["NO_RULE_MATCH"] if decision is None or not decision.matched else ["NO_CARRIER"]
            override = await self.hold(ReviewKind.ROUTING, reason, features)
            if override is None or override.decision == Decision.REJECT:
                return await self.stopped_by(override, "分单驳回 rejected in routing review")
        self.rec.routing, self.rec.warehouse, self.rec.carrier = decision, decision.warehouse, decision.carrier
        await self.move(S.ROUTED, "order.routed", actor="reviewer" if decision.rule_id == "manual" else "rules",
                         reason=f"{decision.reason}; 快递 carrier {decision.carrier}: {decision.carrier_reason}",
                         data={"rule_version": decision.rule_version, "rule_id": decision.rule_id,
                               "warehouse": decision.warehouse, "carrier": decision.carrier,
                               "freight": str(decision.freight) if decision.freight is not None else None})

    async def _release(self) -> None:
        """The release window: a late duplicate merges, a burst breaker holds, a cancel ends; then the money is recorded."""
        deadline = guards.release_deadline(self.rec, self.policy.release_delay_seconds, self.ledger)
        while True:
            if not self.one_call or deadline > workflow.now():  # before a wait (else the release's call carries it)
                await self.ledger.flush()
            if deadline > workflow.now():
                await wait_until(lambda: self.cancel_request is not None or bool(self.burst)
                                 or bool(self.address and self.address.pending), deadline - workflow.now())
            if self.cancel_request is not None:
                return await self.cancelled()
            if self.fulfilment is not None and bool(self.address and self.address.pending):
                await self.fulfilment.readdress()  # a new address in the window: risk and routing again now
            elif not self.burst:
                break
            else:
                await self.burst_review()
            if self.rec.status.terminal:
                return
        await self.calls.release(workflow.now())

    async def _fulfil(self) -> None:
        """One part per warehouse, released once the address is confirmed and nothing holds (order_fulfilment.py)."""
        if self.fulfilment is not None:  # without fulfilment the hub stops at routing: completed at release
            await self.fulfilment.run()

    async def _aftersales_window(self) -> None:
        """Signed for: open for aftersales requests for the window after the last signature."""
        end = aftersales.window_end(self.rec, self.policy)
        await self.ledger.flush()
        if end is not None and end > workflow.now():
            await workflow.sleep(end - workflow.now())

    async def hold(self, kind: ReviewKind, reason: str, features: list[str],
                   settled: Callable[[], bool] = lambda: False) -> ReviewDecision | None:
        """A review that holds the order; a cancel (or a new address) ends the wait."""
        if self.rec.status != S.HELD:
            self.set_status(S.HELD, None)
        d = await self.desk.ask(kind, reason, features,
                                interrupt=lambda: self.cancel_request is not None or bool(self.address and self.address.pending) or settled())
        if d is None and self.cancel_request is not None and not self.rec.status.terminal:
            await self.cancelled()
        return d

    async def stopped_by(self, d: ReviewDecision | None, default: str) -> None:
        if d is not None and not self.rec.status.terminal:
            await self.end(S.REJECTED, "order.rejected", d.note or default, d.reviewer)

    async def burst_review(self) -> None:
        notices, self.burst = self.burst, []
        d = await self.hold(ReviewKind.RISK, notices[-1].reason, ["BURST_SAME_ADDRESS"])
        if d is None or d.decision == Decision.REJECT:
            return await self.stopped_by(d, "熔断驳回 rejected after burst hold")
        if d.decision == Decision.REROUTE and not self.rec.parts:
            return await self._route(d)
        if not self.rec.parts:
            self.set_status(S.ROUTED, "order.released_from_hold", actor=d.reviewer, reason=d.note or "熔断审核通过")

    async def cancelled(self) -> None:
        assert self.cancel_request is not None
        await self.end(S.CANCELLED, "order.cancelled", self.cancel_request.reason, self.cancel_request.actor)

    async def end(self, target: OrderStatus, event: str, reason: str, actor: str = "system") -> None:
        await self.parts.cancel_all(reason, actor)
        await self.move(target, event, actor=actor, reason=reason)

    # ================================================================ messages

    @workflow.update(name=C.DECIDE_REVIEW.name)
    async def decide_review(self, d: ReviewDecision) -> ReviewTask:
        await guards.check_reroute(self.io, self.rec, d)  # like a rule, unless an explicit, recorded override
        return await self.desk.submit(d)

    @decide_review.validator
    def _validate_decision(self, d: ReviewDecision) -> None:
        self.desk.validate(d)

    @workflow.signal(name=C.CANCEL.name)
    def cancel(self, req: C.CancelRequest) -> None:
        if self.parts.released:  # a parcel is leaving or left: that is aftersales now
            self.ledger.event("order.cancel_refused", actor=req.actor,
                              reason=f"已发货, 不能取消; 请发起售后 shipped: cancel refused, open an aftersales case ({req.reason})")
            self._wake()
        elif not self.rec.status.terminal and self.cancel_request is None:
            self.cancel_request = req
            if self.fulfilment is not None:
                self.fulfilment.changed = True

    @workflow.signal(name=F.PART_REPORT.name)
    def on_part_report(self, r: F.PartReport) -> None:
        if self.parts.report(r):
            self._wake()

    @workflow.signal(name=C.DUPLICATE_MERGED.name)
    def duplicate_merged(self, notice: C.DuplicateNotice) -> None:
        if guards.merged(self.rec, self.ledger, notice):
            self._wake()

    @workflow.signal(name=C.BURST_HOLD.name)
    def burst_hold(self, notice: C.BurstNotice) -> None:
        if guards.should_hold(self.rec, self.ledger, self.burst_seen, notice, released=bool(self.parts.released),
                              in_risk_review=any(r.kind == ReviewKind.RISK for r in self.desk.open)):
            self.burst.append(notice)
        self._wake()

    @workflow.update(name=C.CONFIRM_ADDRESS.name)
    def confirm_address(self, c: AddressConfirmation) -> ConfirmationResult:
        assert self.address is not None
        self._wake()
        return self.address.confirm(c)

    @confirm_address.validator
    def _validate_confirmation(self, c: AddressConfirmation) -> None:
        if self.address is None:
            raise ApplicationError("本订单无需确认地址 this order needs no confirmation", type="NotAwaitingConfirmation")
        self.address.validate(c, bool(self.parts.released), bool(self.address and self.address.pending))

    @workflow.update(name=C.CHANGE_ADDRESS.name)
    async def change_address(self, c: AddressChange) -> ConfirmationResult:
        assert self.fulfilment is not None
        result = await self.fulfilment.change(c)
        if not result.accepted and self.parts.released:
            raise ApplicationError(result.message, type="AddressChangeRefused", non_retryable=True)
        return result

    @change_address.validator
    def _validate_change(self, c: AddressChange) -> None:
        if self.address is None:
            raise ApplicationError("本订单不经仓库发货, 不能修改地址 no fulfilment", type="NotAwaitingConfirmation")
        self.address.validate_change()

    @workflow.signal(name=C.CHANNEL_REDELIVERED.name)
    async def channel_redelivered(self, sub: VersionedSubmission) -> None:
        """The channel sent the order again: a new address before dispatch is the customer's change,
        anything else a task for a person that does not hold the order. An older copy changes nothing."""
        await workflow.wait_condition(lambda: self.intake_done)  # an address change during intake waits for it
        found = guards.redelivery_changes(self.channel_submission, sub, self.rec, self.ledger)
        if not found:
            return
        self.channel_submission, by, refused = sub, f"channel:{sub.channel.value}", None
        if any(c.field == "address" for c in found) and self.fulfilment is not None:
            refused = await guards.apply_redelivered_address(self.fulfilment.change, self.ledger, sub, by)
        text = guards.changes_for_a_person(found, self.ledger, by, address_applies=self.address is not None)
        if text := guards.refused_address_text(refused, sub, text):
            self.desk.beside(self.desk.ask(ReviewKind.FOLLOW_UP, f"渠道重推订单有变更, 请人工核对 {text}", ["CHANNEL_CHANGED"]))
        self._wake()

    @workflow.update(name=C.REQUEST_AFTERSALES.name)
    async def request_aftersales(self, req: AftersalesRequest) -> AftersalesTicket:
        """Before anything left: a cancellation. After: a case (child workflow) linked to the order."""
        ticket, cancel = await aftersales.request(self.rec, self.policy, req, released=bool(self.parts.released),
                                                  ledger=self.ledger)
        self.cancel_request = self.cancel_request or cancel
        self._wake()
        return ticket

    @request_aftersales.validator
    def _validate_aftersales(self, req: AftersalesRequest) -> None:
        aftersales.validate_case(self.rec, req)

    @workflow.signal(name=C.AFTERSALES_CLOSED.name)
    def on_aftersales_closed(self, closed: CaseClosed) -> None:
        if aftersales.closed(self.rec, self.ledger, closed):
            self._wake()

    @workflow.update(name=C.ADMIT.name)
    async def admit(self) -> Admission:
        """For a caller that asks to wait: the answer once intake has decided."""
        self.rec.deliveries += 1
        await workflow.wait_condition(lambda: self.intake_done)
        return Admission(order_id=self.rec.order_id, status=self.rec.status, created=self.rec.deliveries == 1,
                         merged_into=self.rec.merged_into, errors=self.rec.errors)

    @workflow.query(name=C.STATE.name)
    def state(self) -> C.OrderView:
        return order_view(self.rec, self.ledger.timeline)

    def _wake(self) -> None:  # a message changed the order: the fulfilment loop looks again, the change is projected
        if self.fulfilment is not None:
            self.fulfilment.changed = True
        self.ledger.flush_soon()

    def _on_stuck(self, stuck: C.Stuck | None) -> None:
        self.rec.stuck, self.rec.flags = stuck, [f for f in self.rec.flags if f != "stuck"] + (["stuck"] if stuck else [])

    def set_status(self, target: OrderStatus, event: str | None, *, actor: str = "system", reason: str = "",
                   data: dict[str, Any] | None = None) -> None:
        """A move of the state machine (an illegal one is a bug: it fails the task, not the order)."""
        self.rec.status, self.rec.updated_at = check_transition(self.rec.status, target), workflow.now()
        if event:  # None: the event that follows (e.g. review.opened) records the new status
            self.ledger.event(event, actor=actor, reason=reason, data=data)
        if changed := sa.changed(self.rec, self.attributes):
            workflow.upsert_search_attributes(changed)

    async def move(self, target: OrderStatus, event: str, **kw: Any) -> None:
        """A status change; a terminal one closes open tasks, gives the coupon back and is projected at once."""
        self.set_status(target, event, **kw)
        if target.terminal:
            self.desk.close_all(f"订单已{target.value}, 任务关闭 closed with the order")
            if target in (S.REJECTED, S.CANCELLED) and self.rec.coupon_redeemed and self.rec.order:
                await self.io.local(A.RELEASE_COUPON, A.CouponRequest(order=self.rec.order))
                self.rec.coupon_redeemed = False
            await self.ledger.flush()
