"""AftersalesWorkflow: one durable process per aftersales case, a child of the original order.

Workflow id = case id ``{order_id}~AS{n}``. The order opens it (``workflows.order_aftersales``) with parent close
policy ABANDON, so the case outlives the order's aftersales window if it must.

- refund_only: refund through finance → completed.
- return: the customer's parcel comes back as a ``ShipmentWorkflow`` (return waybill, carrier
  collects; signed at our warehouse, or brought in by hand) → qc_pending (待质检); update
  ``qc_result``: passed → refund → completed, failed → rejected (the customer is told). Never handed
  to the carrier within ``return_deadline_days``, or sent back to the customer → cancelled.
- exchange: the return, then on QC pass a replacement ``OrderWorkflow`` (child, ABANDON) →
  replacement_sent → completed. reissue: the replacement at once.

Projected into the read model at each step (``project_aftersales``). Waits are durable; nothing polls.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
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
        initial_status,
        refund_fen_for,
        replacement_order_id,
        replacement_submission,
    )
    from domain.allocation import from_fen
    from domain.contracts import aftersales as AS
    from domain.contracts import order as C
    from domain.contracts import shipment as SH
    from domain.contracts.notify import NOTIFY_CUSTOMER, CustomerNotice
    from domain.contracts.task_queues import Stage
    from domain.logistics import WaybillError, waybill_request_for
    from domain.policy import OrderWorkflowInput, PartPolicy

from workflows.io import BEST_EFFORT, DATA, failure_text

S = CaseStatus
T = AftersalesType


@workflow.defn(name=AS.AFTERSALES.name)
class AftersalesWorkflow:
    @workflow.init
    def __init__(self, inp: AftersalesInput) -> None:
        now, req = workflow.now(), inp.request
        self.inp = inp
        self.state = AftersalesState(case_id=inp.case_id, order_id=inp.order.order_id, type=req.type, status=initial_status(req.type),
                                     lines=req.lines, reason=req.reason, requested_by=req.requested_by,
                                     customer_id=inp.order.customer_id, created_at=now, updated_at=now)
        self.received: AS.ReturnReceipt | None = None
        self.collected = False
        self.verdict: QcVerdict | None = None

    @workflow.run
    async def run(self, inp: AftersalesInput) -> AftersalesState:
        kind = inp.request.type
        self._event("case.opened", actor=inp.request.requested_by, reason=f"{kind.label}: {inp.request.reason} ({self._lines()})")
        await self._project()
        if not kind.needs_return or await self._return_parcel():
            await (self._refund() if kind.refunds else self._replace())
            await self._move(S.COMPLETED, "case.completed")
        try:  # the order keeps the case's outcome (its units are free again if nothing came of it)
            await workflow.get_external_workflow_handle(inp.order.order_id).signal(
                C.AFTERSALES_CLOSED.name, CaseClosed(case_id=self.state.case_id, status=self.state.status.value))
        except Exception:  # noqa: BLE001 - the order has completed: its window is over anyway
            pass
        return self.state

    async def _return_parcel(self) -> bool:
        """The parcel back at the warehouse, then QC. False: the case ended here (closed or rejected)."""
        sid = SH.shipment_id(self.inp.case_id, 1)
        shipment = None
        try:
            req = waybill_request_for(self.inp, direction="return", order_id=sid)
        except WaybillError as exc:
            self._event("return.waybill_failed", reason=f"无法生成退货运单 {exc}; 请客户自行寄回或仓库收货")
            await self._project()
        else:
            shipment = await workflow.start_child_workflow(
                SH.SHIPMENT.name, SH.ShipmentInput(shipment_id=sid, order_id=self.state.order_id, owner_id=self.inp.case_id,
                                                   direction="return", request=req, policy=PartPolicy.of(self.inp.policy),
                                                   collect_within_days=self.inp.return_deadline_days),
                id=sid, result_type=SH.SHIPMENT.result, parent_close_policy=ParentClosePolicy.TERMINATE,
                static_summary=f"退货包裹 return parcel · {self.inp.case_id}", **self.inp.policy.queues.options(Stage.LOGISTICS))
        deadline = self.state.created_at + timedelta(days=self.inp.return_deadline_days)
        ended = (lambda: self.received is not None or shipment.done()) if shipment else (lambda: self.received is not None)
        try:
            await workflow.wait_condition(ended, timeout=None if shipment else deadline - workflow.now())
        except TimeoutError:
            pass
        if self.received is None:
            result = await shipment if shipment is not None else None
            if result is None or result.status != SH.ShipmentStatus.DELIVERED:
                returned = result is not None and result.status == SH.ShipmentStatus.RETURNED
                why = ("退件被退回寄件人 the return parcel went back to the customer" if returned else
                       f"{self.inp.return_deadline_days}天内未寄回 no return parcel within {self.inp.return_deadline_days} days")
                await self._move(S.CANCELLED, "case.closed", reason=why)
                return False
            how = "退件已签收入仓 return parcel signed for at the warehouse"
        else:
            if shipment is not None and not shipment.done():
                await shipment.signal(SH.STOP.name, SH.StopShipment(reason="仓库已收货 received by hand"))
            how = f"仓库收货 received by {self.received.received_by}"
        await self._move(S.QC_PENDING, "qc.pending", reason=f"{how}; 待质检 waiting for QC")
        await workflow.wait_condition(lambda: self.verdict is not None)
        v = self.verdict
        assert v is not None
        self.state.qc = v
        if v.passed:
            self._event("qc.passed", actor=v.inspector, reason=v.note)
            return True
        await self._move(S.REJECTED, "qc.failed", actor=v.inspector, reason=v.note or "质检不通过 QC failed")
        await self._tell_customer("售后申请未通过质检", f"您的{self.state.type.label}申请({self.state.case_id})退回商品未通过质检: "
                                                    f"{v.note or '不符合退换条件'}。如有疑问请联系客服。")
        return False

    async def _refund(self) -> None:
        if self.state.status != S.REFUNDING:
            await self._move(S.REFUNDING, "refund.started")
        fen = refund_fen_for(self.inp.order, self.state.lines, self.inp.already_refunded)
        result = await workflow.execute_activity(
            AS.REFUND_AFTERSALES.name, AS.RefundRequest(
                case_id=self.state.case_id, order_id=self.state.order_id, channel=self.inp.order.channel.value, amount_fen=fen,
                lines=self.state.lines, reason=self.state.reason, refunded_at=workflow.now()),
            result_type=AS.RefundResult, **DATA)
        self.state.refund_amount, self.state.refund_no = from_fen(result.amount_fen), result.refund_no
        self._event("refund.recorded", reason=f"退款 ¥{self.state.refund_amount} ({result.refund_no})")
        await self._project()
        await self._tell_customer("退款已受理", f"您的{self.state.type.label}申请({self.state.case_id})已退款 "
                                             f"¥{self.state.refund_amount},退款单号 {result.refund_no}。")

    async def _replace(self) -> None:
        order = self.inp.order
        rid = replacement_order_id(order, self.state.case_id)
        sub = replacement_submission(order, self.state.case_id, self.state.lines, at=workflow.now(), kind=self.state.type)
        try:
            await workflow.start_child_workflow(
                C.ORDER.name, OrderWorkflowInput(submission=sub, policy=self.inp.policy, received_by="aftersales",
                                                 replacement_of=order.order_id, aftersales_id=self.state.case_id),
                id=rid, parent_close_policy=ParentClosePolicy.ABANDON, **self.inp.policy.queues.options(Stage.ORDERS),
                static_summary=f"{self.state.type.label}新订单 replacement of {order.order_id} ({self.state.case_id})")
            started = "started"
        except WorkflowAlreadyStartedError:  # a retried start after a reset: the replacement exists
            started = "already started"
        self.state.replacement_order_id = rid
        await self._move(S.REPLACEMENT_SENT, "replacement.started",
                         reason=f"{self.state.type.label}新订单 replacement order {rid} ({self._lines()}) {started}")

    async def _tell_customer(self, title: str, text: str) -> None:
        """Best effort: a customer message that cannot be sent never blocks or fails the case."""
        try:
            await workflow.execute_activity(NOTIFY_CUSTOMER.name, CustomerNotice(
                order_id=self.state.order_id, customer_id=self.state.customer_id, title=title, text=text), **BEST_EFFORT)
        except Exception as exc:  # noqa: BLE001
            self._event("notify.failed", reason=failure_text(exc)[:300])

    # ---------------------------------------------------------------- messages

    @workflow.signal(name=SH.SHIPMENT_REPORT.name)
    async def on_shipment_report(self, r: SH.ShipmentReport) -> None:
        if r.kind == "waybill" and r.waybill is not None:
            self.state.return_waybill_no, self.state.return_carrier = r.waybill.waybill_no, r.waybill.carrier.value
            self._event("return.waybill_created", reason=f"{r.waybill.carrier.name_zh} {r.waybill.waybill_no}: 上门取件 pick-up")
            await self._project()
        elif r.kind == "collected" and self.state.status == S.AWAITING_RETURN:
            await self._move(S.RETURN_IN_TRANSIT, "return.collected", reason=r.reason)

    @workflow.signal(name=AS.RETURN_RECEIVED.name)
    def return_received(self, receipt: AS.ReturnReceipt) -> None:
        if self.received is None and self.state.status in (S.AWAITING_RETURN, S.RETURN_IN_TRANSIT):
            self.received = receipt

    @workflow.update(name=AS.QC_RESULT.name)
    async def qc_result(self, verdict: QcVerdict) -> AftersalesState:
        self.verdict = verdict
        await workflow.wait_condition(lambda: self.state.status != S.QC_PENDING)
        return self.state

    @qc_result.validator
    def _validate_qc(self, verdict: QcVerdict) -> None:
        if self.verdict is not None:
            raise ApplicationError(f"case {self.state.case_id} is already checked ({'passed' if self.verdict.passed else 'failed'} "
                                   f"by {self.verdict.inspector})", type="InvalidQc", non_retryable=True)
        if self.state.status != S.QC_PENDING:
            raise ApplicationError(
                f"case {self.state.case_id} is {self.state.status.value} ({self.state.status.label}), not qc_pending (待质检): "
                "nothing to check yet" if not self.state.status.terminal else f"case {self.state.case_id} is closed "
                f"({self.state.status.label})", type="InvalidQc", non_retryable=True)

    @workflow.query(name=AS.STATE.name)
    def get_state(self) -> AftersalesState:
        return self.state

    # ---------------------------------------------------------------- bookkeeping

    def _lines(self) -> str:
        return "、".join(f"{ln.sku}×{ln.quantity}" for ln in self.state.lines)

    def _event(self, event: str, *, actor: str = "system", reason: str = "") -> None:
        now = workflow.now()
        self.state.timeline.append(CaseEvent(at=now, event=event, status=self.state.status, actor=actor, reason=reason))
        self.state.updated_at = now

    async def _move(self, status: CaseStatus, event: str, *, actor: str = "system", reason: str = "") -> None:
        self.state.status = status
        self._event(event, actor=actor, reason=reason)
        await self._project()

    async def _project(self) -> None:
        await workflow.execute_activity(AS.PROJECT_AFTERSALES.name, self.state, **DATA)
