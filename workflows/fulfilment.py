"""FulfilmentWorkflow: one warehouse's part of an order, from stock to signature.

Supplier stock for its supplier-sourced lines; the warehouse's wave (pick and pack; a short pick is a
stock review: re-pick after replenishment, another warehouse, or reject); then it waits for the order
to release it (the customer confirmed the address, nothing holds the order) — or to cancel it, or to
redirect it to a changed address — and sends the parcel as a ``ShipmentWorkflow`` child. Installation
is booked once the parcel left; a parcel that comes back is a returned review (ship again under a
new waybill, or not). Every step is reported to the order. Goods picked for a part that never ships
go back on the shelf; supplier stock is given back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.contracts import fulfilment as F
    from domain.contracts import shipment as SH
    from domain.contracts import warehouse as W
    from domain.contracts.logistics import BOOK_INSTALLATION
    from domain.contracts.notify import NOTIFY_CUSTOMER, CustomerNotice
    from domain.contracts.supplier import RELEASE_SUPPLIER_STOCK, RESERVE_SUPPLIER_STOCK
    from domain.contracts.task_queues import Stage
    from domain.installation import appointment_notice, delivery_eta, installation_request_for, with_installation_kits
    from domain.logistics import WaybillError, waybill_request_for
    from domain.review import Decision, ReviewDecision, ReviewKind, ReviewTask
    from domain.supplier import merge_outcomes, reservation_requests
    from domain.warehouse import PickedLine, ReturnToStock, WaveDone, WaveLine, WaveOrder
    from workflows import search_attributes as sa

from workflows.io import BEST_EFFORT, Abandoned, Io, failure_text
from workflows.ledger import Ledger
from workflows.reviews import ReviewDesk

P = F.PartStatus


class _Stop(Exception):
    """The part ends here (cancelled or rejected); ``run`` tidies up."""


@workflow.defn(name=F.FULFILMENT.name)
class FulfilmentWorkflow:
    @workflow.init
    def __init__(self, inp: F.FulfilmentInput) -> None:
        self.inp, self.order, self.warehouse, self.carrier = inp, inp.order, inp.warehouse, inp.carrier
        self.view = F.PartView(part_id=inp.part_id, order_id=inp.order_id, part_no=inp.part_no, status=P.PICKING,
                               warehouse=inp.warehouse, carrier=inp.carrier, lines=inp.lines)
        self.ledger = Ledger("part", inp.part_id, inp.order_id, status=lambda: self.view.status.value, row=self._row,
                             reviews=lambda: self.view.reviews)
        self.io = Io(inp.part_id, inp.order_id, self.ledger, inp.policy.retry, inp.policy.queues)
        self.desk = ReviewDesk(inp.part_id, inp.order_id, inp.policy, self.ledger, self.io, self.view.reviews)
        self.io.desk = self.desk
        self.wave_done: WaveDone | None = None
        self.in_wave: str | None = None  # the warehouse whose wave holds this part's tasks now
        self.picked: list[PickedLine] = []  # picked and not shipped yet (goes back if it never ships)
        self.picked_at: str | None = None
        self.released: F.Release | None = None
        self.cancelled: F.CancelPart | None = None
        self.shipped_at: datetime | None = None  # waybill_request_for and the report read these off the part
        self.signed_within_48h = False

    @workflow.run
    async def run(self, inp: F.FulfilmentInput) -> F.PartReport:
        try:
            await self._reserve_supplier_stock()
            await self._pick_and_pack()
            await self._move(P.PACKED, "part.packed", f"{self.warehouse} 已打包, 等待放行 packed, waiting for release")
            await self._wait_for_release()
            await self._ship()
        except Abandoned as a:
            await self._move(P.REJECTED, "part.rejected", a.reason, a.actor)
        except _Stop:
            pass
        if self.view.status in (P.CANCELLED, P.REJECTED):
            await self._give_back()
        self.desk.close_all(f"包裹已{self.view.status.value}")
        await self.ledger.settle()
        return self._report()

    # ================================================================ stock and the wave

    async def _reserve_supplier_stock(self) -> None:
        if not any(ln.supplier for ln in self.order.lines):
            return
        outcomes = [await self.io.remote(RESERVE_SUPPLIER_STOCK, req)
                    for req in reservation_requests(self.order, self.inp.policy.fulfilment.suppliers)]
        merged = merge_outcomes(self.order.order_id, outcomes)
        self.view.reservations, self.view.supplier_eta = merged.reservations, merged.expected_arrival
        self.ledger.event("supplier.reserved", reason=merged.summary(),
                          data={"reservations": [r.reservation_no for r in merged.reservations],
                                "expected_arrival": merged.expected_arrival.isoformat() if merged.expected_arrival else None})
        if merged.needs_review:
            d = await self._hold(ReviewKind.STOCK, "供应商备货失败 supplier stock not reserved: " + "; ".join(
                f"{f.sku}×{f.quantity}: {f.reason}" for f in merged.failed), ["SUPPLIER_UNAVAILABLE"])
            d = self._rejected_if(d, "供应商无货驳回 rejected: supplier has no stock")
            await self._move(P.PICKING, "part.released_from_hold", d.note or "缺货已确认, 继续履约", d.reviewer)

    def _wave_order(self, only: dict[str, int] | None) -> WaveOrder:
        """Lines this warehouse picks (supplier lines ship from the supplier) plus installation kits;
        a re-pick takes only what was short."""
        lines = [WaveLine(sku=ln.sku, name=ln.name, category=str(ln.category), quantity=ln.quantity)
                 for ln in self.order.lines if not ln.supplier]
        wo = with_installation_kits(WaveOrder(
            order_id=self.inp.order_id if self.inp.parts == 1 else self.inp.part_id, reply_to=self.inp.part_id,
            warehouse=self.warehouse, carrier=self.carrier or "", ordered_at=self.order.ordered_at, lines=lines), self.order)
        if only is not None:
            wo = wo.model_copy(update={"lines": [ln.model_copy(update={"quantity": only[ln.sku]})
                                                 for ln in wo.lines if only.get(ln.sku)] or wo.lines})
        return wo

    async def _pick_and_pack(self) -> None:
        """Join the wave and wait for pick and pack; a short pick holds the part for a person."""
        only: dict[str, int] | None = None
        pick_round = 0
        while True:
            wo = self._wave_order(only)
            if not wo.lines or not self.inp.policy.fulfilment.warehouse:
                self.ledger.event("part.no_picking", reason="仓内作业未启用 warehouse execution is off" if wo.lines
                                  else "全部由供应商直发 every line ships from its supplier")
                return
            pick_round += 1
            self.wave_done = None
            wid = await self.io.remote(W.JOIN_WAVE, W.JoinWave(order=wo))
            self.in_wave = self.warehouse
            self.ledger.event("order.wave_joined", reason=f"加入 {self.warehouse} 波次 (承运商 {self.carrier})"
                              + (f", 第{pick_round}次拣货" if pick_round > 1 else ""),
                              data={"wave_workflow": wid, "round": pick_round, "skus": [ln.sku for ln in wo.lines]})
            await self.ledger.flush()
            await workflow.wait_condition(lambda: self.wave_done is not None or self.cancelled is not None)
            done = self._wave_signal()
            if done is None:
                await self._leave_wave()
                await self._cancelled()
            self.wave_done, self.in_wave = None, None
            if self.picked_at not in (None, self.warehouse):
                await self._return_picked("改由其他仓库发货")
            self.picked_at, self.picked = self.warehouse, self.picked + done.picked
            self.view.wave_no = done.wave_no
            if done.outcome == "packed":
                self.ledger.event("order.packed", reason=f"波次 {done.wave_no} 拣货打包完成",
                                  data={"wave_id": done.wave_id, "wave_no": done.wave_no})
                return
            short = "; ".join(f"{s.sku} 库位{s.bin} 应拣{s.wanted} 实拣{s.picked}" for s in done.shortages)
            self.ledger.event("order.short_picked", reason=f"波次 {done.wave_no} 缺货: {short}",
                              data={"wave_id": done.wave_id, "exception_ids": done.exception_ids,
                                    "shortages": [s.model_dump() for s in done.shortages]})
            d = await self._hold(ReviewKind.STOCK, f"波次 {done.wave_no} 拣货短缺: {short}", ["SHORT_PICK"])
            d = self._rejected_if(d, "缺货驳回 rejected after a short pick")
            if d.decision == Decision.REROUTE and d.warehouse:
                self.ledger.event("order.rerouted", actor=d.reviewer, reason=f"{self.warehouse} → {d.warehouse}",
                                  data={"from": self.warehouse, "to": d.warehouse})
                self.warehouse, self.carrier = d.warehouse, d.carrier or self.carrier
                workflow.upsert_search_attributes([sa.WAREHOUSE.value_set(d.warehouse)])
            await self._move(P.PICKING, "part.released_from_hold", d.note or "重新拣货 re-pick", d.reviewer, flush=False)
            only = {s.sku: s.wanted - s.picked for s in done.shortages}

    async def _leave_wave(self) -> None:
        """Pending tasks drop this part; what the wave already picked becomes put-away tasks."""
        if self.in_wave is None:
            return
        warehouse, late = self.in_wave, self.wave_done
        self.in_wave, self.wave_done = None, None
        if late is not None and late.picked:
            return await self._return_lines(warehouse, late.picked, "订单已离开波次")
        await self._signal_wave(warehouse, W.CANCEL_ORDER.name, self._wave_order(None).order_id)

    async def _return_picked(self, reason: str) -> None:
        warehouse, lines = self.picked_at, self.picked
        self.picked, self.picked_at = [], None
        await self._return_lines(warehouse, lines, reason)

    async def _return_lines(self, warehouse: str | None, lines: list[PickedLine], reason: str) -> None:
        if warehouse and lines and await self._signal_wave(warehouse, W.RETURN_TO_STOCK.name, ReturnToStock(
                order_id=self._wave_order(None).order_id, lines=lines, reason=reason)):
            self.ledger.event("stock.returned", reason=f"{warehouse} 放回库位: " + ", ".join(
                f"{ln.sku}×{ln.quantity}@{ln.bin}" for ln in lines),
                data={"warehouse": warehouse, "lines": [ln.model_dump() for ln in lines]})

    async def _signal_wave(self, warehouse: str, signal: str, arg: Any) -> bool:
        try:
            await workflow.get_external_workflow_handle(W.wave_workflow_id(warehouse)).signal(signal, arg)
            return True
        except Exception:  # noqa: BLE001 - no wave workflow there: the timeline tells the lead
            self.ledger.event("wave.not_found", reason=f"{warehouse} 没有波次工作流, 请手工处理 no wave workflow")
            return False

    async def _give_back(self) -> None:
        """A part that will not ship: picked goods back on the shelf, supplier stock released."""
        await self._leave_wave()
        if self.picked:
            await self._return_picked(f"包裹已{self.view.status.value}")
        for r in self.view.reservations:
            await self.io.remote(RELEASE_SUPPLIER_STOCK, r)
        if self.view.reservations:
            self.ledger.event("supplier.released", reason="释放供应商预留 " + ", ".join(r.reservation_no for r in self.view.reservations))
            self.view.reservations, self.view.supplier_eta = [], None

    # ================================================================ release and the parcel

    async def _wait_for_release(self) -> None:
        await self.ledger.flush()
        await workflow.wait_condition(lambda: self.released is not None or self.cancelled is not None)
        if self.released is None:
            await self._cancelled()
        assert self.released is not None
        self.order, self.carrier = self.released.order, self.released.carrier or self.carrier

    async def _ship(self) -> None:
        """Parcels until one is signed for or a person decides not to ship again."""
        if not self.inp.policy.fulfilment.ship:
            return await self._move(P.HANDED_OVER, "part.handed_over", "未启用承运商发货跟踪 shipping is off")
        n = 0
        while True:
            n += 1
            result = await self._parcel(n)
            if result is None:
                return
            if result.status == SH.ShipmentStatus.DELIVERED:
                self.view.delivered_at, self.signed_within_48h = result.delivered_at, result.signed_within_48h
                return await self._move(P.DELIVERED, "order.signed", result.reason)
            if result.status != SH.ShipmentStatus.RETURNED:
                return await self._move(P.REJECTED, "part.not_shipped", result.reason)
            d = await self.desk.ask(ReviewKind.RETURNED, f"{result.waybill.carrier.value if result.waybill else ''} "
                                    f"{result.waybill.waybill_no if result.waybill else ''} 包裹退回发件人 returned to sender: "
                                    "核实地址后批准=重新发货(新运单); 拒绝=不再发货(退款请发起售后)", ["RETURNED_TO_SENDER"])
            if d is None or d.decision == Decision.REJECT:
                return await self._move(P.RETURNED, "order.not_reshipped", d.note if d and d.note else "包裹退回, 不再发货",
                                        d.reviewer if d else "system")
            self.ledger.event("order.reshipped", actor=d.reviewer, reason="重新发货 re-shipped (新运单)")

    async def _parcel(self, n: int) -> SH.ShipmentResult | None:
        sid = SH.shipment_id(self.inp.part_id, n)
        while True:
            try:
                req = waybill_request_for(self, order_id=sid)
                break
            except WaybillError as exc:
                d = await self._hold(ReviewKind.CARRIER, f"无法下单 cannot request a waybill: {exc}", ["WAYBILL_FAILED"])
                d = self._rejected_if(d, "面单失败驳回 rejected: no waybill")
                if d.decision == Decision.REROUTE and d.carrier:
                    self.carrier = d.carrier
        handle = await workflow.start_child_workflow(
            SH.SHIPMENT.name, SH.ShipmentInput(shipment_id=sid, order_id=self.inp.order_id, owner_id=self.inp.part_id,
                                               request=req, policy=self.inp.policy),
            id=sid, result_type=SH.SHIPMENT.result, parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"包裹 {self.order.order_id} · {req.carrier.value}", **self.inp.policy.queues.options(Stage.LOGISTICS),
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.ORDER_ID, self.inp.order_id),
                                                     SearchAttributePair(sa.CARRIER, req.carrier.value)]))
        self.view.shipment_ids.append(sid)
        result: SH.ShipmentResult = await handle
        return result

    async def _book_installation(self, shipped_at: Any) -> None:
        eta = delivery_eta(self.carrier or "", shipped_at, self.order.address.province if self.order.address else None)
        try:
            req = installation_request_for(self.order, eta)
        except ValueError as exc:
            return self.ledger.event("installation.not_booked", reason=str(exc))
        if req is None:
            return
        try:
            appt = await self.io.remote(BOOK_INSTALLATION, req, stuck=False)
        except Exception as exc:  # noqa: BLE001 - tracking goes on while someone arranges it
            self.ledger.event("installation.failed", reason=failure_text(exc)[:300])
            return self.desk.beside(self.desk.ask(ReviewKind.FOLLOW_UP, f"安装预约失败 installation not booked: {failure_text(exc)}",
                                                  ["INSTALLATION_FAILED"]))
        self.view.appointment = appt
        title, text = appointment_notice(appt, self.order.order_id)
        self.ledger.event("installation.booked", reason=text, data={"work_order_no": appt.work_order_no})
        try:
            await self.io.remote(NOTIFY_CUSTOMER, CustomerNotice(order_id=self.order.order_id, customer_id=self.order.customer_id,
                                                                 title=title, text=text), options=BEST_EFFORT, stuck=False)
        except Exception as exc:  # noqa: BLE001
            self.ledger.event("notify.failed", reason=failure_text(exc)[:300])

    # ================================================================ holds and bookkeeping

    async def _hold(self, kind: ReviewKind, reason: str, features: list[str]) -> ReviewDecision | None:
        await self._move(P.HELD, "part.held", reason, flush=False)
        d = await self.desk.ask(kind, reason, features, interrupt=lambda: self.cancelled is not None)
        if d is None and self.cancelled is not None:
            await self._cancelled()
        return d

    def _rejected_if(self, d: ReviewDecision | None, default: str) -> ReviewDecision:
        """The decision, unless it gives the part up (rejected, or none: raises Abandoned)."""
        if d is None or d.decision == Decision.REJECT:
            raise Abandoned(d.note if d and d.note else default, d.reviewer if d else "system")
        return d

    def _wave_signal(self) -> WaveDone | None:
        """What the wave signalled: its handler sets it while the run waits (read through a method, so a
        type checker does not carry the reset before the wait past it)."""
        return self.wave_done

    async def _cancelled(self) -> NoReturn:
        c = self.cancelled
        assert c is not None
        await self._move(P.CANCELLED, "part.cancelled", c.reason, c.by)
        raise _Stop()

    async def _move(self, status: F.PartStatus, event: str, reason: str, actor: str = "system", *, flush: bool = True) -> None:
        self.view.status = status
        self.ledger.event(event, actor=actor, reason=reason)
        if not status.final:  # the order hears the end from the part's result
            await self._report_now()
        if flush:
            await self.ledger.flush()

    async def _report_now(self) -> None:
        try:
            await workflow.get_external_workflow_handle(self.inp.order_id).signal(F.PART_REPORT.name, self._report())
        except Exception:  # noqa: BLE001 - the order has ended (terminated with it, or finished)
            pass

    def _report(self) -> F.PartReport:
        v = self.view
        return F.PartReport(part_id=v.part_id, part_no=v.part_no, status=v.status, warehouse=self.warehouse,
                            carrier=self.carrier, wave_no=v.wave_no, waybill_no=v.waybill_no, shipped_at=self.shipped_at,
                            delivered_at=v.delivered_at, signed_within_48h=self.signed_within_48h, lines=v.lines,
                            reason=self.ledger.timeline[-1].reason if self.ledger.timeline else "")

    def _row(self) -> dict[str, Any]:
        v = self.view
        return {"part_no": v.part_no, "status": v.status.value, "warehouse": self.warehouse, "carrier": self.carrier,
                "wave_no": v.wave_no, "waybill_no": v.waybill_no, "lines": [ln.model_dump() for ln in v.lines],
                "shipped_at": self.shipped_at.isoformat() if self.shipped_at else None,
                "delivered_at": v.delivered_at.isoformat() if v.delivered_at else None,
                "updated_at": (self.ledger.timeline[-1].at if self.ledger.timeline else workflow.now()).isoformat()}

    # ================================================================ messages

    @workflow.signal(name=W.WAVE_DONE.name)
    async def on_wave_done(self, done: WaveDone) -> None:
        if self.in_wave is not None and done.warehouse == self.in_wave:
            self.wave_done = done
        elif done.picked:  # the part left that wave before it finished: what was picked goes back
            await self._return_lines(done.warehouse, done.picked, "订单已离开波次")

    @workflow.signal(name=F.RELEASE.name)
    def release(self, r: F.Release) -> None:
        if self.released is None and self.cancelled is None:
            self.released = r

    @workflow.signal(name=F.REDIRECT.name)
    def redirect(self, r: F.Redirect) -> None:
        if self.released is None:
            self.order, self.carrier = r.order, r.carrier or self.carrier
            self.ledger.event("part.redirected", actor=r.by, reason=f"新地址 {r.order.address.text if r.order.address else ''}; "
                              f"仓库不变, 继续在 {self.warehouse} 拣货")

    @workflow.signal(name=F.CANCEL.name)
    def cancel(self, c: F.CancelPart) -> None:
        if self.released is None and self.cancelled is None:
            self.cancelled = c

    @workflow.signal(name=SH.SHIPMENT_REPORT.name)
    async def on_shipment_report(self, r: SH.ShipmentReport) -> None:
        if r.kind == "held":
            await self._move(P.HELD, "part.held", r.reason)
        elif r.kind == "resumed":
            await self._move(P.PACKED, "part.released_from_hold", r.reason)
        elif r.kind == "waybill" and r.waybill is not None:
            first = self.view.waybill_no is None
            self.view.waybill_no, self.shipped_at = r.waybill.waybill_no, r.shipped_at
            self.picked, self.picked_at = [], None  # the goods left with the parcel
            await self._move(P.SHIPPED, "order.shipped", f"{r.waybill.carrier.value} 运单 {r.waybill.waybill_no}")
            if first and r.shipped_at is not None:
                await self._book_installation(r.shipped_at)

    @workflow.update(name=F.DECIDE_REVIEW.name)
    async def decide_review(self, d: ReviewDecision) -> ReviewTask:
        return await self.desk.submit(d)

    @decide_review.validator
    def _validate_decision(self, d: ReviewDecision) -> None:
        self.desk.validate(d)

    @workflow.query(name=F.STATE.name)
    def state(self) -> F.PartView:
        return self.view.model_copy(update={"warehouse": self.warehouse, "carrier": self.carrier,
                                            "timeline": self.ledger.timeline})
