"""AftersalesWorkflow v1 (type ``AftersalesWorkflow``, frozen): cases opened by OrderWorkflow v1 finish
here; new cases run ``workflows/aftersales.py`` (type ``Aftersales``).

AftersalesWorkflow: one durable process per aftersales case, a child of the original order.

Workflow id = case id ``{order_id}~AS{n}``. The order starts it (``start_aftersales``) with parent
close policy ABANDON, so the case outlives the order's own aftersales window if it must.

- refund_only: refund through finance → completed.
- return: return e-waybill (carrier collects from the customer) → awaiting_return; carrier pushes
  arrive as signal ``tracking_event`` (the waybill's order id is the case id); ``signed`` at our
  warehouse → qc_pending (待质检); update ``qc_result``: passed → refund → completed, failed →
  rejected (the customer is told). No parcel collected within ``return_deadline_days`` → cancelled.
- exchange: the return flow, then on QC pass a replacement ``OrderWorkflow`` (child, ABANDON) →
  replacement_sent → completed. reissue: the replacement at once.

Every stage is projected into the read model (``project_aftersales``). Waits are durable
(``wait_condition`` with timeouts); nothing polls.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():

    from domain.aftersales import (
        AftersalesInput,
        AftersalesState,
        AftersalesType,
        CaseClosed,
        CaseEvent,
        CaseStatus,
        QcVerdict,
        refund_fen_for,
        replacement_order_id,
        replacement_submission,
    )
    from domain.allocation import from_fen
    from domain.contracts.aftersales import RefundRequest, RefundResult, ReturnReceipt
    from domain.contracts.notify import CustomerNotice
    from domain.errors import FieldError
    from domain.logistics import TrackingCode, TrackingEvent, Waybill, WaybillError, waybill_request_for
    from domain.policy import OrderWorkflowInput

S = CaseStatus
T = AftersalesType
IO = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
CARRIER_IO = dict(  # the carrier being down delays the return label, never loses the case
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5)),
)
BEST_EFFORT = dict(
    start_to_close_timeout=timedelta(seconds=15), schedule_to_close_timeout=timedelta(minutes=5),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                             maximum_attempts=5),
)
SYSTEM = "system"
COLLECTED_OR_LATER = frozenset({
    TrackingCode.COLLECTED, TrackingCode.IN_TRANSIT, TrackingCode.ARRIVED, TrackingCode.OUT_FOR_DELIVERY,
    TrackingCode.SIGNED, TrackingCode.DELIVERY_FAILED, TrackingCode.EXCEPTION,
})


def invalid_request_error(errors: list[FieldError]) -> ApplicationError:
    """What ``OrderWorkflow.request_aftersales``'s validator raises for a bad request; the API
    turns its details into a 422 with the field list."""
    msg = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApplicationError(msg, [e.model_dump() for e in errors], type="InvalidAftersales", non_retryable=True)


async def start_aftersales(inp: AftersalesInput) -> workflow.ChildWorkflowHandle:
    """Start the case as a child of the calling (order) workflow; it outlives the order."""
    return await workflow.start_child_workflow(
        AftersalesWorkflow.run, inp, id=inp.case_id, parent_close_policy=ParentClosePolicy.ABANDON,
        static_summary=f"售后 {inp.request.type.label} · {inp.order.order_id} · "
                       + ", ".join(f"{ln.sku}×{ln.quantity}" for ln in inp.request.lines)[:120]
                       + f" · {inp.request.reason}"[:60],
    )


@workflow.defn(name="AftersalesWorkflow")
class AftersalesWorkflow:
    @workflow.init
    def __init__(self, inp: AftersalesInput) -> None:
        now = workflow.now()
        req = inp.request
        self.inp = inp
        self.state = AftersalesState(
            case_id=inp.case_id, order_id=inp.order.order_id, type=req.type,
            status=S.AWAITING_RETURN if req.type.needs_return else S.REFUNDING if req.type == T.REFUND_ONLY else S.REPLACEMENT_SENT,
            lines=req.lines, reason=req.reason, requested_by=req.requested_by, customer_id=inp.order.customer_id,
            created_at=now, updated_at=now,
        )
        self.tracking: list[TrackingEvent] = []
        self.received: ReturnReceipt | None = None
        self.verdict: QcVerdict | None = None

    @workflow.run
    async def run(self, inp: AftersalesInput) -> AftersalesState:
        await self._run_case(inp)
        if workflow.patched("case-closed-v1"):
            try:  # the order keeps the case's outcome (its units are free again if nothing came of it)
                await workflow.get_external_workflow_handle(inp.order.order_id).signal(
                    "aftersales_closed", CaseClosed(case_id=self.state.case_id, status=self.state.status.value))
            except Exception:  # noqa: BLE001 - the order has completed: its window is over anyway
                pass
        return self.state

    async def _run_case(self, inp: AftersalesInput) -> None:
        kind = inp.request.type
        self._event("case.opened", actor=inp.request.requested_by,
                    reason=f"{kind.label}: {inp.request.reason} ({self._lines_text()})")
        await self._project()
        if kind.needs_return:
            if not await self._return_parcel():
                return
        if kind.refunds:
            await self._refund()
        else:
            await self._replace()
        await self._move(S.COMPLETED, "case.completed")

    # ---------------------------------------------------------------- return parcel and QC

    async def _return_parcel(self) -> bool:
        """Waybill, parcel back at the warehouse, QC. False: the case ended here (closed or rejected)."""
        await self._create_return_waybill()
        deadline = self.state.created_at + timedelta(days=self.inp.return_deadline_days)
        seen = 0
        while True:
            fresh, seen = self.tracking[seen:], len(self.tracking)
            for ev in fresh:
                self._event(f"return.{ev.code.value}", actor=ev.carrier.value,
                            reason=f"{ev.code.label} {ev.location} {ev.description}".strip())
                if self.state.status == S.AWAITING_RETURN and ev.code in COLLECTED_OR_LATER:
                    self.state.status = S.RETURN_IN_TRANSIT
            if fresh:
                await self._project()
                continue  # more may have arrived while projecting
            if self.received is not None or any(e.code == TrackingCode.SIGNED for e in self.tracking):
                break
            if any(e.code == TrackingCode.RETURNED_TO_SENDER for e in self.tracking):
                await self._move(S.CANCELLED, "case.closed", reason="退件被退回寄件人 the return parcel went back to the customer")
                return False
            waiting_for_collection = self.state.status == S.AWAITING_RETURN
            timeout = (deadline - workflow.now()).total_seconds() if waiting_for_collection else None
            if timeout is not None and timeout <= 0:
                await self._move(S.CANCELLED, "case.closed",
                                 reason=f"{self.inp.return_deadline_days}天内未寄回 no return parcel within "
                                        f"{self.inp.return_deadline_days} days")
                return False
            try:
                await workflow.wait_condition(
                    lambda: len(self.tracking) > seen or self.received is not None,  # noqa: B023 - awaited here
                    timeout=timedelta(seconds=timeout) if timeout is not None else None,
                )
            except TimeoutError:
                continue
        how = (f"仓库收货 received by {self.received.received_by}" if self.received is not None
               else "退件已签收入仓 return parcel signed for at the warehouse")
        await self._move(S.QC_PENDING, "qc.pending", reason=f"{how}; 待质检 waiting for QC")
        await workflow.wait_condition(lambda: self.verdict is not None)
        v = self.verdict
        assert v is not None
        self.state.qc = v
        if v.passed:
            self._event("qc.passed", actor=v.inspector, reason=v.note)
            return True
        await self._move(S.REJECTED, "qc.failed", actor=v.inspector, reason=v.note or "质检不通过 QC failed")
        await self._tell_customer(
            "售后申请未通过质检",
            f"您的{self.state.type.label}申请({self.state.case_id})退回商品未通过质检: {v.note or '不符合退换条件'}。"
            "如有疑问请联系客服。",
        )
        return False

    async def _create_return_waybill(self) -> None:
        try:
            req = waybill_request_for(self.inp, direction="return", order_id=self.inp.case_id)
        except WaybillError as exc:
            self._event("return.waybill_failed", reason=f"无法生成退货运单 {exc}; 请客户自行寄回或仓库收货")
            await self._project()
            return
        waybill: Waybill = await workflow.execute_activity("create_waybill", req, result_type=Waybill, **CARRIER_IO)
        self.state.return_waybill_no = waybill.waybill_no
        self.state.return_carrier = waybill.carrier.value
        self._event("return.waybill_created",
                    reason=f"{waybill.carrier.name_zh} {waybill.waybill_no}: 上门取件 pick-up from the customer")
        await self._project()

    @workflow.signal(name="tracking_event")
    def tracking_event(self, ev: TrackingEvent) -> None:
        """Carrier pushes for the return parcel (idempotent by event id; other parcels ignored)."""
        if self.state.return_waybill_no and ev.waybill_no != self.state.return_waybill_no:
            return
        if any(e.event_id == ev.event_id for e in self.tracking):
            return
        self.tracking.append(ev)

    @workflow.signal(name="return_received")
    def return_received(self, receipt: ReturnReceipt) -> None:
        if self.received is None and self.state.status in (S.AWAITING_RETURN, S.RETURN_IN_TRANSIT):
            self.received = receipt

    @workflow.update(name="qc_result")
    async def qc_result(self, verdict: QcVerdict) -> AftersalesState:
        self.verdict = verdict
        await workflow.wait_condition(lambda: self.state.status != S.QC_PENDING)
        return self.state

    @qc_result.validator
    def _validate_qc(self, verdict: QcVerdict) -> None:
        if self.verdict is not None:
            raise ApplicationError(
                f"case {self.state.case_id} is already checked ({'passed' if self.verdict.passed else 'failed'} "
                f"by {self.verdict.inspector})", type="InvalidQc", non_retryable=True)
        if self.state.status != S.QC_PENDING:
            raise ApplicationError(
                f"case {self.state.case_id} is {self.state.status.value} ({self.state.status.label}), not "
                f"qc_pending (待质检): nothing to check yet" if not self.state.status.terminal
                else f"case {self.state.case_id} is closed ({self.state.status.label})",
                type="InvalidQc", non_retryable=True)

    # ---------------------------------------------------------------- refund and replacement

    async def _refund(self) -> None:
        if self.state.status != S.REFUNDING:
            await self._move(S.REFUNDING, "refund.started")
        fen = refund_fen_for(self.inp.order, self.state.lines, self.inp.already_refunded)
        result: RefundResult = await workflow.execute_activity(
            "refund_aftersales",
            RefundRequest(case_id=self.state.case_id, order_id=self.state.order_id, channel=self.inp.order.channel.value,
                          amount_fen=fen, lines=self.state.lines, reason=self.state.reason,
                          refunded_at=workflow.now()),
            result_type=RefundResult, **IO,
        )
        self.state.refund_amount = from_fen(result.amount_fen)
        self.state.refund_no = result.refund_no
        self._event("refund.recorded", reason=f"退款 ¥{self.state.refund_amount} ({result.refund_no})")
        await self._project()
        await self._tell_customer("退款已受理", f"您的{self.state.type.label}申请({self.state.case_id})"
                                              f"已退款 ¥{self.state.refund_amount},退款单号 {result.refund_no}。")

    async def _replace(self) -> None:
        order = self.inp.order
        rid = replacement_order_id(order, self.state.case_id)
        sub = replacement_submission(order, self.state.case_id, self.state.lines, at=workflow.now(), kind=self.state.type)
        try:
            await workflow.start_child_workflow(
                "OrderWorkflow",
                OrderWorkflowInput(submission=sub, policy=self.inp.policy, received_by="aftersales",
                                   replacement_of=order.order_id, aftersales_id=self.state.case_id),
                id=rid, parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=f"{self.state.type.label}新订单 replacement of {order.order_id} ({self.state.case_id})",
            )
            started = "started"
        except WorkflowAlreadyStartedError:  # a retried start after a reset: the replacement exists
            started = "already started"
        self.state.replacement_order_id = rid
        await self._move(S.REPLACEMENT_SENT, "replacement.started",
                         reason=f"{self.state.type.label}新订单 replacement order {rid} ({self._lines_text()}) {started}")

    async def _tell_customer(self, title: str, text: str) -> None:
        """Best effort: a customer message that cannot be sent never blocks or fails the case."""
        try:
            await workflow.execute_activity(
                "notify_customer",
                CustomerNotice(order_id=self.state.order_id, customer_id=self.state.customer_id, title=title, text=text),
                **BEST_EFFORT,
            )
        except Exception as exc:  # noqa: BLE001
            self._event("notify.failed", reason=str(exc)[:300])

    # ---------------------------------------------------------------- queries and bookkeeping

    @workflow.query(name="state")
    def get_state(self) -> AftersalesState:
        return self.state

    def _lines_text(self) -> str:
        return "、".join(f"{ln.sku}×{ln.quantity}" for ln in self.state.lines)

    def _event(self, event: str, *, actor: str = SYSTEM, reason: str = "") -> None:
        now = workflow.now()
        self.state.timeline.append(CaseEvent(at=now, event=event, status=self.state.status, actor=actor, reason=reason))
        self.state.updated_at = now

    async def _move(self, status: CaseStatus, event: str, *, actor: str = SYSTEM, reason: str = "") -> None:
        self.state.status = status
        self._event(event, actor=actor, reason=reason)
        await self._project()

    async def _project(self) -> None:
        await workflow.execute_activity("project_aftersales", self.state, **IO)
