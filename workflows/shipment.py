"""ShipmentWorkflow: one parcel — outbound, re-shipped, or an aftersales return — from its e-waybill
until it is signed for, comes back, or (a return) is never handed over.

Its id is also the carrier's idempotency key, so a retried waybill request never makes a second
waybill. Carrier pushes (``tracking_event``) arrive here directly; a refused waybill is a carrier
review (retry, another carrier, or give up), a parcel silent for too long a transit review that does
not hold anything, and the owner (a fulfilment part or an aftersales case) hears ``shipment_report``
when the waybill is made and gets the result when the parcel's story ends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.contracts import shipment as SH
    from domain.contracts.logistics import CREATE_WAYBILL
    from domain.logistics import ATTENTION_CODES, Shipment, TrackingCode, TrackingEvent, TransitAlert, Waybill, parse_carrier
    from domain.review import Decision, ReviewDecision, ReviewKind, ReviewTask
    from domain.warehouse import CN_TZ
    from workflows import search_attributes as sa

from workflows.io import Abandoned, Io, failure_text
from workflows.ledger import Ledger
from workflows.reviews import ReviewDesk

St = SH.ShipmentStatus
COLLECTED = frozenset(TrackingCode) - {TrackingCode.RETURNED_TO_SENDER}  # any movement means the carrier has it


@workflow.defn(name=SH.SHIPMENT.name)
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, inp: SH.ShipmentInput) -> None:
        self.inp, self.request = inp, inp.request
        self.status = St.WAYBILLING
        self.shipment: Shipment | None = None
        self.reviews: list[ReviewTask] = []
        self.early: list[TrackingEvent] = []  # pushes that overtook our own record of the waybill
        self.stopped: SH.StopShipment | None = None
        self.ledger = Ledger("shipment", inp.shipment_id, inp.order_id, status=lambda: self.status.value,
                             row=self._row, reviews=lambda: self.reviews)
        self.io = Io(inp.shipment_id, inp.order_id, self.ledger, inp.policy.retry, inp.policy.queues)
        self.desk = ReviewDesk(inp.shipment_id, inp.order_id, inp.policy, self.ledger, self.io, self.reviews)
        self.io.desk = self.desk

    @workflow.run
    async def run(self, inp: SH.ShipmentInput) -> SH.ShipmentResult:
        try:
            waybill = await self._waybill()
            if waybill is not None:
                await self._track(waybill)
        except Abandoned as a:
            self._end(St.REFUSED, "shipment.refused", a.reason, a.actor)
        self.desk.close_all(f"包裹已{self.status.value}")
        await self.ledger.settle(handlers=False)
        sh = self.shipment
        return SH.ShipmentResult(shipment_id=inp.shipment_id, status=self.status, waybill=sh.waybill if sh else None,
                                 shipped_at=sh.shipped_at if sh else None, delivered_at=sh.delivered_at if sh else None,
                                 signed_within_48h=bool(sh and sh.signed_within_48h),
                                 reason=self.ledger.timeline[-1].reason if self.ledger.timeline else "")

    async def _waybill(self) -> Waybill | None:
        """The e-waybill; a refusal (or a carrier down for hours) goes before a person."""
        while True:
            try:
                wb = await self.io.remote(CREATE_WAYBILL, self.request, stuck=False)
                break
            except ActivityError as exc:
                reason = f"电子面单失败 e-waybill failed: {failure_text(exc)}"
                self.status = St.HELD
                await self._report("held", reason)
                d = await self.desk.ask(ReviewKind.CARRIER, reason, ["WAYBILL_FAILED"], interrupt=lambda: self.stopped is not None)
                if d is None or d.decision == Decision.REJECT:
                    why = self.stopped.reason if self.stopped else (d.note if d and d.note else "面单失败, 不再发货 no waybill")
                    self._end(St.STOPPED if self.stopped else St.REFUSED, "shipment.refused", why, d.reviewer if d else "system")
                    return None
                if d.decision == Decision.REROUTE and d.carrier:
                    self.request = self.request.model_copy(update={"carrier": parse_carrier(d.carrier)})
                self.status = St.WAYBILLING
                self.ledger.event("shipment.retry", actor=d.reviewer, reason=f"{self.request.carrier.value} 重新下单 retry")
                await self._report("resumed", d.note)
        self.shipment = Shipment(waybill=wb, shipped_at=workflow.now())
        for ev in self.early:
            self.shipment.apply(ev)
        self.early = []
        self.status = St.IN_TRANSIT
        self.ledger.event("shipment.waybill_created", reason=f"{wb.carrier.name_zh} 运单 {wb.waybill_no}",
                          data={"carrier": wb.carrier.value, "waybill_no": wb.waybill_no, "label_url": wb.label_url})
        workflow.upsert_search_attributes([sa.CARRIER.value_set(wb.carrier.value)])
        await self._report("waybill", "")
        return wb

    async def _track(self, waybill: Waybill) -> None:
        """Follow the pushes until the parcel's story ends; a silent parcel or a problem event is a
        transit review beside the tracking (it closes itself once the parcel is signed)."""
        sh = self.shipment
        assert sh is not None
        hours, seen, last_alert = self.inp.policy.fulfilment.transit_alert_hours, 0, None
        collected = self.inp.direction == "outbound"
        collect_by = (sh.shipped_at + timedelta(days=self.inp.collect_within_days)
                      if self.inp.direction == "return" and self.inp.collect_within_days else None)
        while True:
            fresh, seen = sh.events[seen:], len(sh.events)
            for ev in fresh:
                self.ledger.event("tracking.event", actor=ev.carrier.value, data={"code": ev.code.value, "event_id": ev.event_id,
                                  "at": ev.at.isoformat()}, reason=f"{ev.label} {ev.location}".strip() + (
                                  f": {ev.description}" if ev.description else ""))
                if ev.code in ATTENTION_CODES and ev.code != TrackingCode.RETURNED_TO_SENDER:
                    self._alert(sh.alert_for(ev))
                if not collected and ev.code in COLLECTED:
                    collected = True
                    await self._report("collected", f"{ev.label} {ev.location}".strip())
            if sh.is_delivered:
                at = sh.delivered_at
                assert at is not None
                return self._end(St.DELIVERED, "shipment.delivered", f"已签收 signed {at.astimezone(CN_TZ):%m-%d %H:%M}")
            if sh.is_final:
                return self._end(St.RETURNED, "shipment.returned", f"{waybill.carrier.name_zh} {waybill.waybill_no} 退回寄件人")
            if self.stopped is not None:
                return self._end(St.STOPPED, "shipment.stopped", self.stopped.reason)
            deadline = None if not collected else sh.stalled_deadline(hours)
            if deadline is not None and last_alert is not None:
                deadline = max(deadline, last_alert + timedelta(hours=hours))
            if not collected:
                deadline = collect_by
            await self.ledger.flush()
            try:
                await workflow.wait_condition(lambda: len(sh.events) != seen or self.stopped is not None,  # noqa: B023 - awaited
                                              timeout=(deadline - workflow.now()) if deadline else None)
            except TimeoutError:
                if not collected:
                    return self._end(St.NOT_COLLECTED, "shipment.not_collected",
                                     f"{self.inp.collect_within_days}天内未寄出 never handed to the carrier")
                last_alert = workflow.now()
                self._alert(sh.stall_alert(workflow.now(), hours))

    def _alert(self, alert: TransitAlert | None) -> None:
        sh = self.shipment
        if alert is None or sh is None:
            return
        sh.alerts.append(alert)
        self.ledger.event("tracking.stalled" if alert.kind == "stalled" else "tracking.problem", reason=alert.reason,
                          data={"kind": alert.kind})
        self.desk.beside(self.desk.ask(ReviewKind.TRANSIT, alert.reason, [f"TRANSIT_{alert.kind.upper()}"],
                                       obsolete=lambda: sh.is_final or self.stopped is not None))

    def _end(self, status: SH.ShipmentStatus, event: str, reason: str, actor: str = "system") -> None:
        self.status = status
        self.ledger.event(event, actor=actor, reason=reason)

    async def _report(self, kind: Any, reason: str) -> None:
        sh = self.shipment
        try:
            await workflow.get_external_workflow_handle(self.inp.owner_id).signal(SH.SHIPMENT_REPORT.name, SH.ShipmentReport(
                shipment_id=self.inp.shipment_id, kind=kind, waybill=sh.waybill if sh else None,
                shipped_at=sh.shipped_at if sh else None, reason=reason))
        except Exception:  # noqa: BLE001 - the owner has ended: nobody to tell
            self.ledger.event("shipment.owner_gone", reason=f"{self.inp.owner_id} 已结束")

    def _row(self) -> dict[str, Any]:
        sh = self.shipment
        last = sh.latest if sh else None
        return {"owner_id": self.inp.owner_id, "direction": self.inp.direction, "status": self.status.value,
                "carrier": sh.waybill.carrier.value if sh else self.request.carrier.value,
                "waybill_no": sh.waybill.waybill_no if sh else None, "label_url": sh.waybill.label_url if sh else None,
                "shipped_at": sh.shipped_at.isoformat() if sh else None,
                "delivered_at": sh.delivered_at.isoformat() if sh and sh.delivered_at else None,
                "last_event": last.code.value if last else None, "last_event_at": last.at.isoformat() if last else None,
                "events": len(sh.events) if sh else 0,
                "updated_at": (self.ledger.timeline[-1].at if self.ledger.timeline else workflow.now()).isoformat()}

    # ---------------------------------------------------------------- messages

    @workflow.signal(name=SH.TRACKING_EVENT.name)
    def tracking_event(self, ev: TrackingEvent) -> None:
        if self.shipment is None:
            self.early.append(ev)  # a push can overtake our own record of the waybill
        else:
            self.shipment.apply(ev)  # idempotent by event id; another parcel's event changes nothing

    @workflow.signal(name=SH.STOP.name)
    def stop(self, req: SH.StopShipment) -> None:
        if self.stopped is None and not self.status.final:
            self.stopped = req

    @workflow.update(name=SH.DECIDE_REVIEW.name)
    async def decide_review(self, d: ReviewDecision) -> ReviewTask:
        return await self.desk.submit(d)

    @decide_review.validator
    def _validate_decision(self, d: ReviewDecision) -> None:
        self.desk.validate(d)

    @workflow.query(name=SH.STATE.name)
    def state(self) -> SH.ShipmentView:
        return SH.ShipmentView(shipment_id=self.inp.shipment_id, order_id=self.inp.order_id, owner_id=self.inp.owner_id,
                               direction=self.inp.direction, status=self.status, carrier=self.request.carrier.value,
                               shipment=self.shipment, reviews=self.reviews, timeline=self.ledger.timeline)
