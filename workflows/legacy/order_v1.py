"""OrderWorkflow v1 (workflow type ``OrderWorkflow``): kept so orders started before the redesign finish
on the code they started with. New orders run ``workflows/order.py`` (type ``Order``). Frozen: do not
change its commands; remove it once no ``OrderWorkflow`` runs (README: draining the old shape).

OrderWorkflow: one durable process per order, from intake to completion.

The run method walks a list of stages; each stage moves the order through the state machine in
``domain.status`` with ``_transition``, which records a timeline event, updates the search
attributes and projects the state into the read model. Waiting for people (review tasks) is a
durable wait on an update, with escalation timers; nothing polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.cleansing import CleansingResult
    from domain.confirmation import AddressChange
    from domain.contracts.assessment import CouponRequest, RiskAssessment, RiskRequest, RouteRequest
    from domain.contracts.finance import ErpPushRequest, ErpPushResult, OrderFinanceRequest
    from domain.contracts.intake import DuplicateCheck, RejectionIn
    from domain.contracts.notify import NotifyRequest
    from domain.contracts.order import BurstNotice, CancelRequest, DuplicateNotice
    from domain.order import OrderSubmission, ResolvedAddress
    from domain.policy import OrderWorkflowInput
    from domain.redelivery import changes as delivery_changes
    from domain.review import (
        Decision,
        InvalidDecision,
        ReviewDecision,
        ReviewKind,
        ReviewState,
        ReviewTask,
        validate_decision,
    )
    from domain.risk import Severity
    from domain.routing import RoutingDecision
    from domain.state import Admission, OrderState
    from domain.status import OrderStatus, check_transition
    from domain.timeline import TimelineEvent
    from workflows import search_attributes as sa

from workflows.legacy.fulfilment_v1 import FulfilmentStages

S = OrderStatus
IO = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
SYSTEM = "system"


ERP_PUSH = dict(  # no attempt limit: the ERP being down delays the push, never the order
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=10)),
)
NOTIFY = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=2), maximum_attempts=10),
)


@workflow.defn(name="OrderWorkflow")
class OrderWorkflow(FulfilmentStages):
    @workflow.init
    def __init__(self, inp: OrderWorkflowInput) -> None:
        now = workflow.now()
        self.policy = inp.policy
        self.received_by = inp.received_by
        self.state = OrderState(
            order_id=inp.submission.order_id,
            status=S.RECEIVED,
            submission=inp.submission,
            created_at=now,
            updated_at=now,
        )
        self.intake_done = False
        self.state.replacement_of = inp.replacement_of
        self.channel_submission = inp.submission  # what the channel sent last (our address changes aside)
        self.decisions: dict[str, ReviewDecision] = {}
        self.cancel_request: CancelRequest | None = None
        self.burst_notices: list[BurstNotice] = []
        self.burst_seen: set[str] = set()
        self._background: set[asyncio.Task] = set()
        self._erp_push: asyncio.Task | None = None
        self._init_fulfilment()

    # ---------------------------------------------------------------- run

    @workflow.run
    async def run(self, inp: OrderWorkflowInput) -> OrderState:
        self._event("order.received", actor=self.received_by, reason=f"delivered via {self.received_by}")
        await self._project()
        stages: list[Callable[[], Awaitable[None]]] = [self._intake, self._assess, self._release]
        for stage in stages:
            if self.state.status.terminal:
                break
            await stage()
        self.intake_done = True
        return self.state

    # ---------------------------------------------------------------- stages

    async def _intake(self) -> None:
        """Cleanse, reject bad data, fold duplicates, hold unresolvable addresses."""
        result: CleansingResult = await workflow.execute_activity(
            "cleanse_order", self.state.submission, result_type=CleansingResult, **IO
        )
        if result.errors:
            self.state.errors = result.errors
            rid = await workflow.execute_activity(
                "record_rejection",
                RejectionIn(source=self.received_by, submission=self.state.submission, errors=result.errors),
                result_type=int,
                **IO,
            )
            why = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            await self._transition(S.REJECTED, "order.rejected", reason=why, data={"rejection_id": rid})
            self.intake_done = True
            return
        order = result.order
        assert order is not None
        self.state.order = order

        anchor = await workflow.execute_activity(
            "find_duplicate",
            DuplicateCheck(
                order_id=order.order_id,
                phone=order.phone,
                skus=order.skus,
                ordered_at=order.ordered_at,
                window_seconds=self.policy.dedupe_window_seconds,
            ),
            result_type=str | None,
            **IO,
        )
        if anchor and not self.state.replacement_of:
            await self._merge_into(anchor)
            self.intake_done = True
            return

        if order.address is None:
            self.intake_done = True  # the caller learns it is held; the wait is the reviewer's
            await self._address_review()
            if self.state.status.terminal:
                return
        await self._transition(
            S.VALIDATED,
            "order.validated",
            reason=f"address resolved to {order.address.region} ({order.address.adcode})" if order.address else "",
        )
        self.intake_done = True
        if workflow.patched("erp-push-v1"):
            self._erp_push = asyncio.create_task(self._push_to_erp())

    async def _assess(self) -> None:
        """Risk scan on every order (17 features), then routing by the pinned rules version."""
        order = self.state.order
        assert order is not None
        if self.state.rule_version is None:
            self.state.rule_version = await workflow.execute_activity("pin_rules_version", result_type=int, **IO)
        if self.state.replacement_of:
            self._event("risk.skipped", reason=f"换货/补发单, 原订单 {self.state.replacement_of} 已过风控 replacement order")
            await self._route(None)
            return
        acknowledged = ["ADDRESS_UNRESOLVED"] if self._has_event("address.accepted_unresolved") else []
        assessment: RiskAssessment = await workflow.execute_activity(
            "assess_risk",
            RiskRequest(order=order, flags=self.state.flags, rule_version=self.state.rule_version,
                        thresholds=self.policy.risk, acknowledged=acknowledged),
            result_type=RiskAssessment,
            **IO,
        )
        hits = assessment.hits
        self.state.risk_hits = hits
        self.state.risk_level = assessment.level
        self._event(
            "risk.scanned",
            reason="; ".join(f"[{h.severity}] {h.reason}" for h in hits) or "17项风险特征均未命中 no risk feature hit",
            data={"level": assessment.level, "codes": [h.code for h in hits]},
        )
        blocks = [h for h in hits if h.severity == Severity.BLOCK]
        if blocks:
            await self._transition(
                S.REJECTED, "order.intercepted", reason="拦截 intercepted: " + "; ".join(h.reason for h in blocks),
                data={"codes": [h.code for h in blocks]},
            )
            return
        if any(h.code == "BURST_SAME_ADDRESS" for h in hits):
            await self._trip_burst_breaker(assessment.burst_order_ids, len(assessment.burst_order_ids) + 1)
        holds = [h for h in hits if h.severity == Severity.HOLD]
        override: tuple[str, str | None] | None = None
        if holds:
            d = await self._review(ReviewKind.RISK, "; ".join(h.reason for h in holds), [h.code for h in holds])
            if d is None:
                return
            if d.decision == Decision.REJECT:
                await self._rejected_by(d, "风控驳回 rejected in risk review")
                return
            if d.decision == Decision.REROUTE:
                override = (d.warehouse or "", d.carrier)
        await self._redeem_coupon()
        await self._route(override)

    async def _route(self, override: tuple[str, str | None] | None) -> None:
        """Warehouse and carrier from the decision tables; no match or no carrier → routing review."""
        order = self.state.order
        assert order is not None and self.state.rule_version is not None
        while not self.state.status.terminal:
            decision: RoutingDecision | None = None
            if order.address is not None or override:
                decision = await workflow.execute_activity(
                    "route_order",
                    RouteRequest(order=order, rule_version=self.state.rule_version,
                                 warehouse=override[0] if override else None, carrier=override[1] if override else None),
                    result_type=RoutingDecision,
                    **IO,
                )
                if not decision.needs_review:
                    break
            reason = (
                f"{decision.reason}; {decision.carrier_reason}" if decision
                else "地址未解析到区县,无法自动分单 address has no district: routing needs a person"
            )
            features = ["NO_RULE_MATCH"] if decision is None or not decision.matched else ["NO_CARRIER"]
            d = await self._review(ReviewKind.ROUTING, reason, features)
            if d is None:
                return
            if d.decision == Decision.REJECT:
                await self._rejected_by(d, "分单驳回 rejected in routing review")
                return
            override = (d.warehouse or "", d.carrier)
        else:
            return
        assert decision is not None
        self.state.routing = decision
        self.state.warehouse = decision.warehouse
        self.state.carrier = decision.carrier
        await self._transition(
            S.ROUTED,
            "order.routed",
            actor="reviewer" if decision.rule_id == "manual" else "rules",
            reason=f"{decision.reason}; 快递 carrier {decision.carrier}: {decision.carrier_reason}",
            data={
                "rule_version": decision.rule_version,
                "rule_id": decision.rule_id,
                "warehouse": decision.warehouse,
                "carrier": decision.carrier,
                "freight": str(decision.freight) if decision.freight is not None else None,
            },
        )

    async def _release(self) -> None:
        """Keep the routed order open through its release window (late duplicates can merge, a burst
        breaker can still hold it), then complete."""
        deadline = self.state.submission.ordered_at + timedelta(seconds=self.policy.release_delay_seconds)
        while not self.state.status.terminal:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            try:
                await workflow.wait_condition(
                    lambda: self.cancel_request is not None or bool(self.burst_notices), timeout=timedelta(seconds=remaining)
                )
            except TimeoutError:
                break
            if self.cancel_request is not None:
                await self._cancel()
                return
            notices, self.burst_notices = self.burst_notices, []
            await self._burst_review(notices)
        if (not self.state.status.terminal and self.cancel_request is not None
                and workflow.patched("release-cancel-v1")):  # a cancel that came as the window ended
            await self._cancel()
            return
        if not self.state.status.terminal:
            if self._erp_push is not None and self.policy.fulfilment is None:
                await self._erp_push  # completed means the ERP has the order too
            if workflow.patched("finance-record-v1") and self.state.order is not None:
                await workflow.execute_activity(
                    "record_order_finance",
                    OrderFinanceRequest(order=self.state.order, completed_at=workflow.now()),
                    result_type=bool,
                    **IO,
                )
            if self.policy.fulfilment is not None and workflow.patched("fulfilment-v1"):
                await self._fulfil()  # the ERP push goes on beside it: an ERP outage never stops the warehouse
                if self.state.status.terminal:
                    return
                if self._erp_push is not None:
                    await self._erp_push  # completed means the ERP has the order too
            await self._transition(S.COMPLETED, "order.completed")

    async def _push_to_erp(self) -> None:
        """Push the accepted order to the ERP beside the order's own progress; record the doc number."""
        assert self.state.order is not None
        result: ErpPushResult = await workflow.execute_activity(
            "push_order_to_erp", ErpPushRequest(order=self.state.order), result_type=ErpPushResult, **ERP_PUSH
        )
        if result.doc_no:
            self.state.erp_doc_no = result.doc_no
            self._event("erp.pushed", reason=f"ERP 销售订单 {result.doc_no}", data={"doc_no": result.doc_no})
            await self._project()

    # ---------------------------------------------------------------- burst breaker

    async def _trip_burst_breaker(self, earlier: list[str], count: int) -> None:
        """Hold every other order of the burst too (they may already be routed)."""
        notice = BurstNotice(
            by_order_id=self.state.order_id, count=count,
            reason=f"熔断: 同一客户同一地址{self.policy.risk.burst_window_minutes}分钟内{count}单 (由 {self.state.order_id} 触发)",
        )
        for oid in earlier:
            try:
                await workflow.get_external_workflow_handle(oid).signal("burst_hold", notice)
            except Exception:  # noqa: BLE001 - that order has closed; nothing left to hold
                self._event("burst.peer_closed", reason=f"{oid} already closed", data={"order_id": oid})

    @workflow.signal(name="burst_hold")
    def burst_hold(self, notice: BurstNotice) -> None:
        if self.state.status.terminal or notice.by_order_id in self.burst_seen:
            return
        self.burst_seen.add(notice.by_order_id)
        if any(r.state == ReviewState.OPEN and r.kind == ReviewKind.RISK for r in self.state.reviews):
            return  # already held for risk review: the reviewer sees the burst there
        if self.state.status == S.ROUTED:
            self.burst_notices.append(notice)
        # earlier than routing: this order's own scan counts the burst

    async def _burst_review(self, notices: list[BurstNotice]) -> None:
        d = await self._review(ReviewKind.RISK, notices[-1].reason, ["BURST_SAME_ADDRESS"])
        if d is None:
            return
        if d.decision == Decision.REJECT:
            await self._rejected_by(d, "熔断驳回 rejected after burst hold")
            return
        if d.decision == Decision.REROUTE:
            await self._route((d.warehouse or "", d.carrier))
            return
        await self._transition(S.ROUTED, "order.released_from_hold", actor=d.reviewer, reason=d.note)

    # ---------------------------------------------------------------- coupon ledger

    async def _redeem_coupon(self) -> None:
        order = self.state.order
        if order is None or order.coupon is None or self.state.coupon_redeemed:
            return
        first = await workflow.execute_activity("redeem_coupon", CouponRequest(order=order), result_type=str | None, **IO)
        self.state.coupon_redeemed = first == order.order_id
        self._event("coupon.redeemed", reason=f"{order.coupon.code} ¥{order.coupon.amount}",
                    data={"code": order.coupon.code, "first_redeemed_by": first})

    # ---------------------------------------------------------------- duplicates

    async def _merge_into(self, anchor: str) -> None:
        self._flag("suspected_brushing")
        self.state.merged_into = anchor
        order = self.state.order
        assert order is not None
        try:
            await workflow.get_external_workflow_handle(anchor).signal(
                "duplicate_merged",
                DuplicateNotice(duplicate_order_id=order.order_id, skus=order.skus, channel=order.channel.value),
            )
            delivered = True
        except Exception:  # noqa: BLE001 - the anchor closed meanwhile; our own timeline still says where we went
            delivered = False
        await self._transition(
            S.MERGED,
            "duplicate.merged_into",
            reason=f"促销刷单疑似: same phone and SKU ({', '.join(order.skus)}) within "
            f"{self.policy.dedupe_window_seconds // 60} min of {anchor}",
            data={"merged_into": anchor, "anchor_notified": delivered},
        )

    @workflow.signal(name="duplicate_merged")
    async def duplicate_merged(self, notice: DuplicateNotice) -> None:
        if notice.duplicate_order_id in self.state.merged_duplicates:
            return
        self.state.merged_duplicates.append(notice.duplicate_order_id)
        self._flag("suspected_brushing")
        self._event(
            "duplicate.merged",
            reason=f"促销刷单疑似: {notice.duplicate_order_id} merged into this order (SKU {', '.join(notice.skus)})",
            data={"duplicate_order_id": notice.duplicate_order_id},
        )
        await self._project()

    # ---------------------------------------------------------------- reviews

    async def _address_review(self) -> None:
        order = self.state.order
        assert order is not None
        while order.address is None and not self.state.status.terminal:
            d = await self._review(ReviewKind.ADDRESS, f"地址无法解析到区县: {order.address_raw}", ["ADDRESS_UNRESOLVED"])
            if d is None:
                return
            if d.decision == Decision.REJECT:
                await self._rejected_by(d, "address rejected")
                return
            if d.decision == Decision.APPROVE:
                self._event("address.accepted_unresolved", actor=d.reviewer, reason=d.note)
                return
            resolved = await workflow.execute_activity(
                "resolve_address", d.address, result_type=ResolvedAddress | None, **IO
            )
            order.address_raw = d.address or order.address_raw
            order.address = resolved
            self._event(
                "address.corrected",
                actor=d.reviewer,
                reason=f"{d.address} → {resolved.region if resolved else 'still unresolved'}",
            )

    async def _review(self, kind: ReviewKind, reason: str, features: list[str], *, hold: bool = True,
                      obsolete: Callable[[], bool] | None = None) -> ReviewDecision | None:
        """Open a review task and wait durably for its decision; escalate and mark red on timers.
        ``hold=False``: the order keeps its status (a parcel in transit is not held). ``obsolete``:
        the task closes itself (None returned) once that becomes true, e.g. the parcel got signed."""
        n = len(self.state.reviews) + 1
        task = ReviewTask(
            review_id=f"{self.state.order_id}~{kind.value}-{n}",
            order_id=self.state.order_id,
            kind=kind,
            reason=reason,
            features=features,
            created_at=workflow.now(),
        )
        self.state.reviews.append(task)
        opened = {"review_id": task.review_id, "kind": kind, "features": features}
        if self.state.status == S.HELD or not hold:
            self._event("review.opened", reason=reason, data=opened)
            await self._project()
        else:
            await self._transition(S.HELD, "review.opened", reason=reason, data=opened)
        self._notify(task, escalated=False)

        decided = lambda: (task.review_id in self.decisions or self.cancel_request is not None  # noqa: E731
                           or (obsolete is not None and obsolete()) or task.state != ReviewState.OPEN)
        escalation = timedelta(seconds=self.policy.review_escalation_seconds)
        red = timedelta(seconds=max(0, self.policy.review_red_seconds - self.policy.review_escalation_seconds))
        try:
            await workflow.wait_condition(decided, timeout=escalation)
        except TimeoutError:
            task.escalated_at = workflow.now()
            self._event("review.escalated", reason=f"no decision within {escalation}", data={"review_id": task.review_id})
            await self._project()
            self._notify(task, escalated=True)
            try:
                await workflow.wait_condition(decided, timeout=red)
            except TimeoutError:
                task.red_at = workflow.now()
                self._event("review.red", reason="no decision within 24 h", data={"review_id": task.review_id})
                await self._project()
                await workflow.wait_condition(decided)

        if task.state != ReviewState.OPEN and task.review_id not in self.decisions:
            return None  # closed from outside (the order moved on or ended): nothing to decide or escalate
        if self.cancel_request is not None and task.review_id not in self.decisions and hold:
            task.state = ReviewState.CANCELLED
            await self._cancel()
            return None
        if task.review_id not in self.decisions:  # obsolete: nothing left to decide
            task.state = ReviewState.CANCELLED
            self._event("review.closed", reason="不再需要处理 no longer needed", data={"review_id": task.review_id})
            await self._project()
            return None
        d = self.decisions[task.review_id]
        task.state = ReviewState.DECIDED
        task.decision = d.decision
        task.reviewer = d.reviewer
        task.note = d.note
        task.decided_at = workflow.now()
        self._event(
            "review.decided",
            actor=d.reviewer,
            reason=f"{d.decision}" + (f": {d.note}" if d.note else ""),
            data={"review_id": task.review_id, "decision": d.decision},
        )
        await self._project()
        return d

    async def _rejected_by(self, d: ReviewDecision, default_reason: str) -> None:
        await self._transition(S.REJECTED, "order.rejected", actor=d.reviewer, reason=d.note or default_reason)

    def _find_review(self, review_id: str) -> ReviewTask | None:
        return next((r for r in self.state.reviews if r.review_id == review_id), None)

    @workflow.update(name="decide_review")
    async def decide_review(self, d: ReviewDecision) -> ReviewTask:
        self.decisions[d.review_id] = d
        task = self._find_review(d.review_id)
        assert task is not None
        await workflow.wait_condition(lambda: task.state != ReviewState.OPEN)
        return task

    @decide_review.validator
    def _validate_decision(self, d: ReviewDecision) -> None:
        try:
            if d.review_id in self.decisions:
                first = self.decisions[d.review_id]
                raise InvalidDecision(f"review {d.review_id} is already decided ({first.decision} by {first.reviewer})")
            validate_decision(self._find_review(d.review_id), d)
        except InvalidDecision as exc:
            raise ApplicationError(str(exc), type="InvalidDecision", non_retryable=True) from None

    # ---------------------------------------------------------------- intake answer, queries, cancel

    @workflow.update(name="admit")
    async def admit(self) -> Admission:
        """Answer a delivery once intake has decided; the first delivery is the one that created it."""
        self.state.deliveries += 1
        created = self.state.deliveries == 1
        await workflow.wait_condition(lambda: self.intake_done)
        return Admission(
            order_id=self.state.order_id,
            status=self.state.status,
            created=created,
            merged_into=self.state.merged_into,
            errors=self.state.errors,
        )

    @workflow.signal(name="channel_redelivered")
    async def channel_redelivered(self, sub: OrderSubmission) -> None:
        """The channel sent this order again. Same content: nothing to do. A new address before
        dispatch is applied as the customer's change; everything else is put before a person."""
        found = delivery_changes(self.channel_submission, sub)
        if sub.order_id != self.state.order_id:
            return
        self.channel_submission = sub  # the next re-delivery is compared with this one
        if not found or self.state.status.terminal:
            return
        by = f"channel:{sub.channel.value}"
        address = next((c for c in found if c.field == "address"), None)
        others = [c for c in found if c.field != "address"]
        if address is not None:
            if self.policy.fulfilment is None or self.state.order is None or self._too_late_to_change():
                self._event("channel.change_not_applied", actor=by, reason=f"渠道改址未生效 not applied: {address.text()}")
            else:
                result = await self._cleanse_new_address(AddressChange(address=sub.address.as_text(), requested_by=by))
                self._event("channel.address_changed" if result.accepted else "address.change_invalid", actor=by,
                            reason=f"{address.text()}; {result.message}")
        if others:
            text = "; ".join(c.text() for c in others)
            self._event("channel.redelivered_changed", actor=by, reason=f"渠道重推订单有变更 changed on re-delivery: {text}",
                        data={"changes": [c.model_dump() for c in others]})
            if not self.state.status.terminal:
                self._review_in_background(ReviewKind.FOLLOW_UP, f"渠道重推订单有变更, 请人工核对 {text}", ["CHANNEL_CHANGED"])
        await self._project()

    def _review_in_background(self, kind: ReviewKind, reason: str, features: list[str], *,
                              obsolete: Callable[[], bool] | None = None) -> None:
        """A task for a person that does not hold the order."""
        self._beside(self._review(kind, reason, features, hold=False, obsolete=obsolete))

    def _beside(self, coro: Awaitable[Any]) -> None:
        """Run beside the order's own progress (kept referenced until it ends)."""
        t = asyncio.create_task(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    @workflow.query(name="state")
    def get_state(self) -> OrderState:
        return self.state

    @workflow.signal(name="cancel")
    async def cancel(self, req: CancelRequest) -> None:
        if self.state.status in (S.SHIPPED, S.DELIVERED):  # the parcel left: that is aftersales now
            self._event("order.cancel_refused", actor=req.actor,
                        reason=f"已发货, 不能取消; 请发起售后 shipped: cancel refused, open an aftersales case ({req.reason})")
            await self._project()
            return
        if not self.state.status.terminal and self.cancel_request is None:
            self.cancel_request = req

    async def _wait_or_cancel(self, timeout: timedelta) -> None:
        try:
            await workflow.wait_condition(lambda: self.cancel_request is not None, timeout=timeout)
        except TimeoutError:
            return
        await self._cancel()

    async def _cancel(self) -> None:
        req = self.cancel_request
        assert req is not None
        await self._transition(S.CANCELLED, "order.cancelled", actor=req.actor, reason=req.reason)

    def _notify(self, task: ReviewTask, *, escalated: bool) -> None:
        """WeCom to-do for the review; runs beside the order and never blocks it."""

        async def send() -> None:
            try:
                await workflow.execute_activity(
                    "notify_wecom",
                    NotifyRequest(order_id=task.order_id, kind=task.kind.value, reason=task.reason,
                                  features=task.features, console_url=self.policy.console_url, escalated=escalated),
                    **NOTIFY,
                )
            except Exception as exc:  # noqa: BLE001 - a lost notification must not fail the order
                self._event("notify.failed", reason=str(exc)[:300], data={"review_id": task.review_id})

        self._beside(send())

    def _has_event(self, name: str) -> bool:
        return any(e.event == name for e in self.state.timeline)

    # ---------------------------------------------------------------- bookkeeping

    def _flag(self, flag: str) -> None:
        if flag not in self.state.flags:
            self.state.flags.append(flag)

    def _event(self, event: str, *, actor: str = SYSTEM, reason: str = "", data: dict[str, Any] | None = None) -> None:
        now = workflow.now()
        self.state.timeline.append(
            TimelineEvent(
                seq=len(self.state.timeline) + 1,
                at=now,
                event=event,
                status=self.state.status,
                actor=actor,
                reason=reason,
                data=data or {},
            )
        )
        self.state.updated_at = now

    async def _transition(
        self, target: OrderStatus, event: str, *, actor: str = SYSTEM, reason: str = "", data: dict[str, Any] | None = None
    ) -> None:
        try:
            self.state.status = check_transition(self.state.status, target)
        except ValueError as exc:  # a bug in a stage: fail the task, not the order; fix and it resumes
            raise RuntimeError(str(exc)) from exc
        self._event(event, actor=actor, reason=reason, data=data)
        if target.terminal:  # nobody needs to act on this order any more: no task stays open in the queue
            for task in self.state.reviews:
                if task.state == ReviewState.OPEN:
                    task.state = ReviewState.CANCELLED
                    task.note = task.note or f"订单已{target.value}, 任务关闭 closed with the order"
        self._upsert_search_attributes()
        if target in (S.REJECTED, S.CANCELLED) and self.state.coupon_redeemed and self.state.order:
            await workflow.execute_activity("release_coupon", CouponRequest(order=self.state.order), result_type=bool, **IO)
            self.state.coupon_redeemed = False
        await self._project()

    def _upsert_search_attributes(self) -> None:
        st = self.state
        updates = [
            sa.ORDER_STATUS.value_set(st.status.value),
            sa.CHANNEL.value_set(st.submission.channel.value),
            sa.CUSTOMER_ID.value_set(st.submission.customer.id),
            sa.RISK_LEVEL.value_set(st.risk_level),
        ]
        if st.warehouse:
            updates.append(sa.WAREHOUSE.value_set(st.warehouse))
        if st.carrier:
            updates.append(sa.CARRIER.value_set(st.carrier))
        workflow.upsert_search_attributes(updates)

    async def _project(self) -> None:
        await workflow.execute_activity("project_order", self.state, **IO)


