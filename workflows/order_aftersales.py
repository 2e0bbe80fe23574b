"""The order's side of aftersales: validating a request, opening a case as a child workflow (or
turning a request before dispatch into a cancellation), the window after delivery, and a case's
report of how it ended.

Kept apart from ``workflows.aftersales`` (the case's own workflow) so every order run does not load
that workflow's module in the sandbox; it starts the child by its contract name. Passed through the
sandbox as a workflow helper (``workers.sandbox``): functions only, no module state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.aftersales import (
        AftersalesInput,
        AftersalesRequest,
        AftersalesTicket,
        CaseClosed,
        case_id_for,
        initial_status,
        requested_quantities,
        validate_request,
    )
    from domain.contracts import aftersales as AS
    from domain.contracts import order as C
    from domain.contracts.task_queues import Stage
    from domain.errors import FieldError
    from domain.policy import OrderPolicy
    from domain.state import CaseRef

from workflows.ledger import Ledger


def invalid_request_error(errors: list[FieldError]) -> ApplicationError:
    """What the order's ``request_aftersales`` validator raises for a bad request; the API turns its
    details into a 422 with the field list."""
    msg = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApplicationError(msg, [e.model_dump() for e in errors], type="InvalidAftersales", non_retryable=True)


def validate_case(rec: C.OrderRecord, req: AftersalesRequest) -> None:
    if rec.order is None or rec.status.terminal:
        raise ApplicationError(f"订单 {rec.order_id} 已结束 ({rec.status}), 不能发起售后 the order is closed", type="OrderClosed")
    already = requested_quantities([(c.type, c.status, c.lines) for c in rec.aftersales])
    errors = validate_request(rec.order, req, already)
    if errors:
        raise invalid_request_error(errors)


async def request(rec: C.OrderRecord, policy: OrderPolicy, req: AftersalesRequest, *, released: bool,
                  ledger: Ledger) -> tuple[AftersalesTicket, C.CancelRequest | None]:
    """The order's answer to an aftersales request: before anything left, a cancellation (the second
    value is the cancel to apply); after, a case opened as a child of the order."""
    if not released:
        ledger.event("aftersales.cancellation", actor=req.requested_by, reason=f"{req.type} 申请于发货前 → 取消订单")
        return AftersalesTicket(case_id=rec.order_id, order_id=rec.order_id, kind="cancellation", workflow_id=rec.order_id,
                                status="cancelling", message="订单尚未发货, 已转为取消 the order had not shipped: it is being "
                                                             "cancelled"), \
            C.CancelRequest(reason=f"售后转取消 (未发货): {req.reason}", actor=req.requested_by)
    ticket = await open_case(rec, policy, req)
    ledger.event("aftersales.opened", actor=req.requested_by, reason=f"{req.type.label}: {req.reason}",
                 data={"case_id": ticket.case_id, "type": req.type.value})
    return ticket, None


def window_end(rec: C.OrderRecord, policy: OrderPolicy) -> datetime | None:
    """When a delivered order stops taking aftersales requests: the window after its last signature."""
    delivered = [p.delivered_at for p in rec.parts if p.delivered_at]
    if policy.fulfilment is None or not delivered:
        return None
    return max(delivered) + timedelta(days=policy.fulfilment.aftersales_window_days)


def closed(rec: C.OrderRecord, ledger: Ledger, done: CaseClosed) -> bool:
    """A case told its order how it ended (cancelled or rejected cases free their units again)."""
    case = next((c for c in rec.aftersales if c.case_id == done.case_id), None)
    if case is None or case.status == done.status:
        return False
    case.status = done.status
    ledger.event("aftersales.closed", reason=f"售后单 {done.case_id}: {done.status}", data={"case_id": done.case_id,
                                                                                         "status": done.status})
    return True


async def open_case(rec: C.OrderRecord, policy: OrderPolicy, req: AftersalesRequest) -> AftersalesTicket:
    """Start the case as a child of the order; returns go back to the warehouse that shipped the lines."""
    assert rec.order is not None
    case_id = case_id_for(rec.order_id, len(rec.aftersales) + 1)
    refunded: dict[str, int] = {}
    for c in rec.aftersales:
        if c.type in ("return", "refund_only") and c.status not in ("cancelled", "rejected"):
            for line in c.lines:
                refunded[line.sku] = refunded.get(line.sku, 0) + line.quantity
    skus = {ln.sku for ln in req.lines}
    part = next((p for p in rec.parts if any(pl.sku in skus for pl in p.lines) and p.waybill_no), None)
    inp = AftersalesInput(case_id=case_id, order=rec.order, request=req, warehouse=part.warehouse if part else rec.warehouse,
                          carrier=part.carrier if part else rec.carrier, policy=policy, already_refunded=refunded)
    rec.aftersales.append(CaseRef(case_id=case_id, type=req.type.value, lines=req.lines, opened_at=workflow.now()))
    await workflow.start_child_workflow(
        AS.AFTERSALES.name, inp, id=case_id, parent_close_policy=ParentClosePolicy.ABANDON, **policy.queues.options(Stage.ORDERS),
        static_summary=(f"售后 {req.type.label} · {rec.order_id} · " + ", ".join(f"{ln.sku}×{ln.quantity}" for ln in req.lines))[:180])
    return AftersalesTicket(case_id=case_id, order_id=rec.order_id, kind="aftersales", workflow_id=case_id,
                            status=initial_status(req.type).value, message=f"售后单 {case_id} 已创建")
