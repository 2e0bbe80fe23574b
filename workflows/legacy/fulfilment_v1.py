"""OrderWorkflow v1's fulfilment (frozen, see ``workflows/legacy/order_v1.py``).

What an order does after release, as a mixin of ``OrderWorkflow``: supplier stock, the warehouse
wave (pick and pack), the customer's address re-confirmation, the e-waybill, installation, tracking
until signed, and the aftersales window.

Kept apart from ``workflows/order.py`` so each file reads as one part of the order's life; it uses
the order workflow's bookkeeping (``_transition``, ``_event``, ``_review``, ``_project``). Every
wait is durable: a signal or update ends it, or a timer does. Nothing here polls.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import geo
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
    from domain.cleansing import CleansingResult
    from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult, should_skip
    from domain.contracts.confirmation import CardRequest, TrustCheck
    from domain.contracts.notify import CustomerNotice
    from domain.contracts.order import CancelRequest
    from domain.contracts.warehouse import JoinWave, wave_workflow_id
    from domain.installation import (
        Appointment,
        appointment_notice,
        delivery_eta,
        installation_request_for,
        with_installation_kits,
    )
    from domain.logistics import (
        Shipment,
        TrackingCode,
        TrackingEvent,
        TransitAlert,
        Waybill,
        WaybillError,
        reship_key,
        waybill_request_for,
    )
    from domain.order import AddressIn, CleanOrder, Customer
    from domain.review import Decision, ReviewKind
    from domain.state import CaseRef
    from domain.status import OrderStatus
    from domain.supplier import ReservationOutcome, merge_outcomes, reservation_requests
    from domain.warehouse import CN_TZ, PickedLine, ReturnToStock, WaveDone, WaveOrder, wave_order_for
    from workflows.legacy.aftersales_v1 import invalid_request_error, start_aftersales

S = OrderStatus
IO = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
PARTNER = dict(  # carriers, suppliers, technicians: down for a while delays the order, never fails it
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5)),
)
BEST_EFFORT = dict(start_to_close_timeout=timedelta(seconds=15),
                   retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5))
AFTER_DISPATCH = frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED})


class FulfilmentStages:
    """Mixin: needs the attributes and helpers of ``OrderWorkflow``."""

    def _init_fulfilment(self) -> None:
        self.wave_done: WaveDone | None = None
        self.in_wave: str | None = None  # the warehouse whose wave holds this order's tasks now
        self.picked: list[PickedLine] = []  # picked for this order and not shipped yet (goes back if it never ships)
        self.picked_warehouse: str | None = None
        self.pick_round = 0
        self.packed_at: str | None = None  # the warehouse that packed the order
        self.new_order: CleanOrder | None = None  # a changed address, cleansed, waiting to be applied
        self.new_address_by = ""
        self.card_sent_at = None
        self.confirmed = False
        self.pending_tracking: list[TrackingEvent] = []
        self.tracking_seen = 0
        self.dispatching = False  # the e-waybill is being requested: too late to change or cancel

    # ---------------------------------------------------------------- the stage

    async def _fulfil(self) -> None:
        """Released → packed → confirmed → shipped → delivered → (aftersales window); the caller
        completes the order unless it stopped. An order that stopped gives its supplier stock back."""
        await self._fulfil_stages()
        if self.state.status.terminal and self.state.reservations:
            await self._release_supplier_stock()
        if self.state.status.terminal and self.picked:
            await self._return_picked(f"订单{self.state.status.value}")

    async def _return_picked(self, reason: str) -> None:
        """Goods picked (and packed) for this order go back on the shelf: put-away tasks in the wave
        workflow of the warehouse that picked them."""
        warehouse, lines = self.picked_warehouse, self.picked
        self.picked, self.picked_warehouse = [], None
        await self._return_lines(warehouse, lines, reason)

    async def _return_lines(self, warehouse: str | None, lines: list[PickedLine], reason: str) -> None:
        if not warehouse or not lines:
            return
        try:
            await workflow.get_external_workflow_handle(wave_workflow_id(warehouse)).signal(
                "return_to_stock", ReturnToStock(order_id=self.state.order_id, lines=lines, reason=reason))
        except Exception:  # noqa: BLE001 - no wave workflow there: the timeline tells the lead
            self._event("wave.not_found", reason=f"no wave workflow for {warehouse}: return the goods by hand")
            return
        self._event("stock.returned", reason=f"{warehouse} 放回库位: " + ", ".join(f"{ln.sku}×{ln.quantity}@{ln.bin}" for ln in lines),
                    data={"warehouse": warehouse, "lines": [ln.model_dump() for ln in lines]})
        await self._project()

    async def _fulfil_stages(self) -> None:
        """A changed address before dispatch goes round again."""
        fp = self.policy.fulfilment
        assert fp is not None
        while not self.state.status.terminal:
            if self.new_order is not None:
                if not await self._apply_address_change():
                    return
                continue
            if not await self._reserve_supplier_stock():
                return
            if self.state.confirm_round == 0 and not self.confirmed:
                await self._send_confirmation()
            if self.packed_at is not None and self.packed_at == self.state.warehouse:
                if self.state.status != S.PACKED:
                    await self._transition(S.PACKED, "order.packed", reason=f"已在 {self.packed_at} 打包, 仓库未变")
            elif fp.warehouse and self._wave_lines():
                outcome = await self._pick_and_pack()
                if outcome == "changed":
                    continue
                if outcome != "packed":
                    return
            else:
                why = "仓内作业未启用 warehouse execution is off" if fp.warehouse is False else "全部由供应商直发 every line ships from its supplier"
                await self._transition(S.PACKED, "order.packed", reason=why)
            outcome = await self._await_confirmation()
            if outcome == "changed":
                continue
            if outcome != "confirmed":
                return
            break
        if self.state.status.terminal or not fp.ship:
            return
        if not await self._ship():
            return
        await self._track()
        if not self.state.status.terminal:  # returned and not re-shipped: completed already
            await self._aftersales_window()

    # ---------------------------------------------------------------- supplier stock

    async def _reserve_supplier_stock(self) -> bool:
        order = self.state.order
        assert order is not None
        if self.state.reservations or not any(line.supplier for line in order.lines):
            return True
        fp = self.policy.fulfilment
        outcomes = []
        for req in reservation_requests(order, fp.suppliers):
            outcomes.append(await workflow.execute_activity(
                "reserve_supplier_stock", req, result_type=ReservationOutcome, **PARTNER))
        merged = merge_outcomes(order.order_id, outcomes)
        self.state.reservations = merged.reservations
        self.state.supplier_eta = merged.expected_arrival
        self._event("supplier.reserved", reason=merged.summary(),
                    data={"reservations": [r.reservation_no for r in merged.reservations],
                          "expected_arrival": merged.expected_arrival.isoformat() if merged.expected_arrival else None})
        await self._project()
        if not merged.needs_review:
            return True
        reason = "供应商备货失败 supplier stock not reserved: " + "; ".join(f"{f.sku}×{f.quantity}: {f.reason}" for f in merged.failed)
        d = await self._review(ReviewKind.STOCK, reason, ["SUPPLIER_UNAVAILABLE"])
        if d is None:
            return False
        if d.decision == Decision.REJECT:
            await self._rejected_by(d, "供应商无货驳回 rejected: supplier has no stock")
            return False
        if d.decision == Decision.REROUTE and d.warehouse:
            self.state.warehouse = d.warehouse
        await self._transition(S.ROUTED, "order.released_from_hold", actor=d.reviewer, reason=d.note or "缺货已确认, 继续履约")
        return True

    async def _release_supplier_stock(self) -> None:
        """The order was cancelled or rejected: the supplier's reserved stock goes back to it."""
        released = []
        for r in self.state.reservations:
            await workflow.execute_activity("release_supplier_stock", r, **PARTNER)
            released.append(r.reservation_no)
        self.state.reservations = []
        self.state.supplier_eta = None
        self._event("supplier.released", reason=f"订单已{self.state.status}, 释放供应商预留 {', '.join(released)}",
                    data={"reservations": released})
        await self._project()

    # ---------------------------------------------------------------- warehouse

    def _wave_lines(self) -> bool:
        return bool(self._wave_order(None).lines)

    def _wave_order(self, only: dict[str, int] | None) -> WaveOrder:
        """Lines our warehouse picks (supplier-sourced lines ship from the supplier), plus the
        installation kits; a re-pick takes only what was short."""
        assert self.state.order is not None
        wo = wave_order_for(self.state)
        supplied = {line.sku for line in self.state.order.lines if line.supplier}
        wo = with_installation_kits(wo.model_copy(update={"lines": [ln for ln in wo.lines if ln.sku not in supplied]}),
                                    self.state.order)
        if only is not None:
            picked = [line.model_copy(update={"quantity": only[line.sku]}) for line in wo.lines if only.get(line.sku)]
            wo = wo.model_copy(update={"lines": picked or wo.lines})
        return wo

    async def _pick_and_pack(self) -> str:
        """Join the warehouse's wave and wait for its pick and pack: "packed", "changed" (a new
        address arrived), or "stopped". A short pick holds the order for a person: re-pick after
        replenishment, another warehouse, or reject."""
        lines = None  # the first round picks every line; a re-pick only what was short
        while not self.state.status.terminal:
            if self.in_wave is not None and self.in_wave == self.state.warehouse:
                # still in this warehouse's wave (an address change kept the warehouse): keep waiting for it
                await self._transition(S.PICKING, "order.wave_kept",
                                       reason=f"仓库未变, 继续在 {self.in_wave} 原波次拣货")
            else:
                self.pick_round += 1
                wave_order = self._wave_order(lines)
                self.wave_done = None
                wid = await workflow.execute_activity("join_wave", JoinWave(order=wave_order), result_type=str, **IO)
                self.in_wave = self.state.warehouse
                await self._transition(
                    S.PICKING, "order.wave_joined",
                    reason=f"加入 {self.state.warehouse} 波次 (承运商 {self.state.carrier})"
                    + (f", 第{self.pick_round}次拣货" if self.pick_round > 1 else ""),
                    data={"wave_workflow": wid, "round": self.pick_round, "skus": [line.sku for line in wave_order.lines]},
                )
            await workflow.wait_condition(
                lambda: self.wave_done is not None or self.cancel_request is not None or self.new_order is not None
            )
            if self.wave_done is None and self.cancel_request is not None:
                await self._leave_wave()  # its open tasks go, what was picked goes back on the shelf
                await self._cancel()
                return "stopped"
            if self.wave_done is None:
                return "changed"  # _apply_address_change decides whether the wave is left
            done = self.wave_done
            self.wave_done, self.in_wave = None, None
            if self.picked_warehouse not in (None, self.state.warehouse):
                await self._return_picked("改由其他仓库发货")
            self.picked_warehouse = self.state.warehouse
            self.picked = self.picked + done.picked
            self.state.wave_no = done.wave_no
            if done.outcome == "packed":
                self.packed_at = self.state.warehouse
                await self._transition(S.PACKED, "order.packed", reason=f"波次 {done.wave_no} 拣货打包完成",
                                       data={"wave_id": done.wave_id, "wave_no": done.wave_no})
                return "packed"
            short = "; ".join(f"{s.sku} 库位{s.bin} 应拣{s.wanted} 实拣{s.picked}" for s in done.shortages)
            self._event("order.short_picked", reason=f"波次 {done.wave_no} 缺货: {short}",
                        data={"wave_id": done.wave_id, "exception_ids": done.exception_ids,
                              "shortages": [s.model_dump() for s in done.shortages]})
            d = await self._review(ReviewKind.STOCK, f"波次 {done.wave_no} 拣货短缺: {short}", ["SHORT_PICK"])
            if d is None:
                return "stopped"
            if d.decision == Decision.REJECT:
                await self._rejected_by(d, "缺货驳回 rejected after a short pick")
                return "stopped"
            if d.decision == Decision.REROUTE:
                self._event("order.rerouted", actor=d.reviewer, reason=f"{self.state.warehouse} → {d.warehouse}",
                            data={"from": self.state.warehouse, "to": d.warehouse})
                self.state.warehouse = d.warehouse
                if d.carrier:
                    self.state.carrier = d.carrier
            lines = {s.sku: s.wanted - s.picked for s in done.shortages}
        return "stopped"

    async def _leave_wave(self, warehouse: str | None = None) -> None:
        """Tell the wave this order is gone: pending tasks drop it, picked goods become put-away tasks."""
        warehouse = warehouse or self.state.warehouse
        if not warehouse:
            return
        late = self.wave_done if warehouse == self.in_wave else None
        if warehouse == self.in_wave:
            self.in_wave, self.wave_done = None, None
        if late is not None and late.picked:  # the wave had finished with it: cancel_order no longer helps
            await self._return_lines(warehouse, late.picked, "订单已离开波次")
            return
        try:
            await workflow.get_external_workflow_handle(wave_workflow_id(warehouse)).signal("cancel_order", self.state.order_id)
        except Exception:  # noqa: BLE001 - no wave workflow for that warehouse: nothing to leave
            self._event("wave.not_found", reason=f"no wave workflow for {warehouse}")

    @workflow.signal(name="wave_done")
    async def on_wave_done(self, done: WaveDone) -> None:
        if done.order_id != self.state.order_id:
            return
        if self.in_wave is not None and done.warehouse == self.in_wave:
            self.wave_done = done  # also while an address change is being assessed: the wave is still ours
        elif done.picked:  # the order left that wave before it finished: what was picked goes back
            await self._return_lines(done.warehouse, done.picked, "订单已离开波次")

    # ---------------------------------------------------------------- address re-confirmation

    async def _send_confirmation(self, *, reminder: bool = False) -> None:
        """The customer's card with a signed link to the confirmation page (or why none is needed)."""
        fp = self.policy.fulfilment
        order = self.state.order
        assert order is not None
        if not reminder:
            skip = None
            if not fp.confirm_address:
                skip = "地址再确认未启用 re-confirmation is off"
            elif order.address is None:
                skip = "地址未解析到区县, 无法定位 address has no district to check against"
            elif should_skip(order.channel.value, fp.confirm_skip_channels, False):
                skip = f"渠道 {order.channel.value} 免确认 channel skips re-confirmation"
            elif await workflow.execute_activity(
                "is_trusted_address",
                TrustCheck(order_id=order.order_id, customer_id=order.customer_id, address_text=order.address.text),
                result_type=bool, **IO,
            ):
                skip = "老客户已签收过的地址, 免确认 trusted repeat address"
            if skip:
                self.confirmed = True
                self._event("address.confirmation_skipped", reason=skip)
                await self._project()
                return
            self.state.confirm_round += 1
            self.state.address_confirmed_at = None
            self.state.delivery_point = None
            self.confirmed = False
        await workflow.execute_activity(
            "send_confirmation_card",
            CardRequest(order_id=order.order_id, customer_id=order.customer_id, customer_name=order.customer_name,
                        phone=order.phone, address_text=order.address.text if order.address else order.address_raw,
                        round=self.state.confirm_round, reminder=reminder),
            **PARTNER,
        )
        if not reminder:
            self.card_sent_at = workflow.now()
        self._event("address.reminder_sent" if reminder else "address.confirmation_sent",
                    reason=("提醒: " if reminder else "") + f"请客户确认送货位置 (第{self.state.confirm_round}轮)",
                    data={"round": self.state.confirm_round})
        await self._project()

    async def _await_confirmation(self) -> str:
        """Packed and waiting for the customer: "confirmed", "changed" or "stopped". Window → reminder;
        grace → an address review (approve ships as is, a corrected address goes round again)."""
        fp = self.policy.fulfilment
        if self.confirmed:
            return "confirmed"
        ended = lambda: self.confirmed or self.new_order is not None or self.cancel_request is not None  # noqa: E731
        self._event("address.awaiting_confirmation", reason="已打包, 等待客户确认送货位置后发货")
        await self._project()
        for step in ("reminder", "review"):
            base = self.card_sent_at or workflow.now()
            wait = fp.confirm_window_seconds if step == "reminder" else fp.confirm_window_seconds + fp.confirm_grace_seconds
            remaining = (base + timedelta(seconds=wait) - workflow.now()).total_seconds()
            try:
                await workflow.wait_condition(ended, timeout=timedelta(seconds=max(remaining, 0.001)))
            except TimeoutError:
                if step == "reminder":
                    await self._send_confirmation(reminder=True)
                continue
            break
        hours = (fp.confirm_window_seconds + fp.confirm_grace_seconds) / 3600
        reason = f"客户{hours:g}小时未确认送货位置 no confirmation from the customer"
        while not ended():
            d = await self._review(ReviewKind.ADDRESS, reason, ["ADDRESS_UNCONFIRMED"], obsolete=ended)
            if d is not None and d.decision == Decision.CORRECT_ADDRESS:
                result = await self._cleanse_new_address(AddressChange(address=d.address or "", requested_by=d.reviewer))
                if not result.accepted:  # an address that does not resolve: ask again, never ship to the old one
                    self._event("address.change_invalid", actor=d.reviewer, reason=result.message)
                    reason = f"更正的地址无法使用, 请重新更正 the corrected address is unusable: {result.message}"
                    continue
                return await self._after_hold("changed")
            if d is None:
                if self.cancel_request is not None:
                    return "stopped"  # _review cancelled the order
            elif d.decision == Decision.REJECT:
                await self._rejected_by(d, "客户未确认地址, 驳回 rejected: address never confirmed")
                return "stopped"
            else:
                self.confirmed = True
                self._event("address.accepted_unconfirmed", actor=d.reviewer, reason=d.note or "按原地址发货")
                return await self._after_hold("confirmed")
            return await self._after_hold("confirmed" if self.confirmed else "changed")
        if self.cancel_request is not None:
            await self._cancel()
            return "stopped"
        return "confirmed" if self.new_order is None else "changed"

    async def _after_hold(self, outcome: str) -> str:
        if self.state.status == S.HELD and outcome == "confirmed":
            await self._transition(S.PACKED, "order.released_from_hold", reason="地址确认已处理")
        return outcome

    @workflow.update(name="confirm_address")
    async def confirm_address(self, c: AddressConfirmation) -> ConfirmationResult:
        order = self.state.order
        assert order is not None
        check = geo.check_point(order.address, c.point, self.policy.fulfilment.confirm_radius_km)
        rnd = self.state.confirm_round
        if not check.ok:
            self._event("address.point_rejected", actor=c.confirmed_by, reason=check.reason,
                        data={"lat": c.lat, "lng": c.lng, "distance_km": check.distance_km})
            await self._project()
            return ConfirmationResult(accepted=False, message=check.reason, distance_km=check.distance_km, round=rnd)
        self.confirmed = True
        self.state.address_confirmed_at = workflow.now()
        self.state.delivery_point = c.point
        self._event("address.confirmed", actor=c.confirmed_by, reason=check.reason,
                    data={"lat": c.lat, "lng": c.lng, "distance_km": check.distance_km, "round": rnd})
        await self._project()
        return ConfirmationResult(accepted=True, message="已确认送货位置, 我们会尽快发货 confirmed, thank you",
                                  distance_km=check.distance_km, round=rnd)

    @confirm_address.validator
    def _validate_confirmation(self, c: AddressConfirmation) -> None:
        st = self.state
        if self.policy.fulfilment is None or st.status.terminal or st.status in AFTER_DISPATCH or st.order is None:
            raise ApplicationError(f"订单 {st.order_id} 当前状态 {st.status}, 无需确认地址 not waiting for a confirmation",
                                   type="NotAwaitingConfirmation")
        if st.confirm_round == 0 or self.new_order is not None:
            raise ApplicationError("确认卡片尚未发出 no confirmation card is out for this address yet",
                                   type="NotAwaitingConfirmation")
        if c.round is not None and c.round != st.confirm_round:
            raise ApplicationError("链接已过期: 地址已修改, 请打开最新的确认卡片 this link is for an earlier address; "
                                   "open the latest card", type="NotAwaitingConfirmation")
        if self.confirmed:
            raise ApplicationError("送货位置已确认 already confirmed", type="NotAwaitingConfirmation")

    # ---------------------------------------------------------------- address change

    @workflow.update(name="change_address")
    async def change_address(self, c: AddressChange) -> ConfirmationResult:
        """Before dispatch: cleanse the new address now (the answer says whether it resolved); the
        order re-runs risk and routing. After dispatch: refused, and the refusal is in the timeline."""
        if self._too_late_to_change():
            raise ApplicationError(await self._refuse_change(c), type="AddressChangeRefused", non_retryable=True)
        result = await self._cleanse_new_address(c)
        if not result.accepted and self._too_late_to_change():  # dispatch began while it was being cleansed
            raise ApplicationError(result.message, type="AddressChangeRefused", non_retryable=True)
        if not result.accepted:
            self._event("address.change_invalid", actor=c.requested_by, reason=result.message, data={"address": c.address})
            await self._project()
        return result

    def _too_late_to_change(self) -> bool:
        return self.state.status in AFTER_DISPATCH or self.dispatching

    async def _refuse_change(self, c: AddressChange) -> str:
        """Record the refusal; the caller answers with the message (an update raises it, the
        channel re-delivery signal only records it: a signal handler must never raise)."""
        sh = self.state.shipment
        if sh is not None:
            msg = (f"订单已于 {sh.shipped_at.astimezone(CN_TZ):%m-%d %H:%M} 发出 ({sh.waybill.carrier} {sh.waybill.waybill_no})"
                   ", 无法修改地址; 请联系承运商或发起售后 the parcel has left; the address can no longer be changed")
        else:
            msg = ("订单正在出库(电子面单生成中), 无法修改地址; 请联系客服 the parcel is being dispatched; "
                   "the address can no longer be changed")
        self._event("address.change_refused", actor=c.requested_by, reason=msg, data={"address": c.address})
        await self._project()
        return msg

    @change_address.validator
    def _validate_change(self, c: AddressChange) -> None:
        st = self.state
        if st.status.terminal or st.order is None or self.policy.fulfilment is None:
            raise ApplicationError(f"订单 {st.order_id} 状态 {st.status}, 不能修改地址 the order is not open for an address change",
                                   type="NotAwaitingConfirmation")

    async def _cleanse_new_address(self, c: AddressChange) -> ConfirmationResult:
        sub = self.state.submission
        customer = sub.customer.model_copy(update={k: v for k, v in (("name", c.name), ("phone", c.phone)) if v})
        new_sub = sub.model_copy(update={"address": AddressIn(raw=c.address), "customer": Customer.model_validate(customer.model_dump())})
        result: CleansingResult = await workflow.execute_activity("cleanse_order", new_sub, result_type=CleansingResult, **IO)
        rnd = self.state.confirm_round
        if result.errors:
            why = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            return ConfirmationResult(accepted=False, message=f"新地址无效 the new address is invalid: {why}", round=rnd)
        assert result.order is not None
        if self._too_late_to_change():  # dispatch began while the new address was being cleansed
            return ConfirmationResult(accepted=False, message=await self._refuse_change(c), round=rnd)
        if result.order.address is None:
            return ConfirmationResult(accepted=False, round=rnd,
                                      message="新地址无法解析到区县, 请写明省市区 the new address names no district; add province, city and district")
        self.state.submission = new_sub
        self.new_order = result.order
        self.new_address_by = c.requested_by
        return ConfirmationResult(accepted=True, round=rnd + 1,
                                  message=f"新地址已收到: {result.order.address.text}; 订单将重新分单, 请在新卡片中确认送货位置 "
                                          "new address accepted; the order is routed again and a new card follows")

    async def _apply_address_change(self) -> bool:
        """The order goes back to VALIDATED with the new address and through risk and routing again;
        a new warehouse takes it out of the old one's wave. False: the order stopped."""
        new, by = self.new_order, self.new_address_by
        assert new is not None and self.state.order is not None
        self.new_order = None
        old = self.state.order
        old_warehouse, was_picking = self.state.warehouse, self.in_wave is not None
        if self.state.status == S.HELD:  # a hold (e.g. confirmation review) is overtaken by the change
            for r in self.state.reviews:
                if r.state == "open":
                    r.state = "cancelled"
        self.state.order = new
        self.confirmed = False
        self.card_sent_at = None
        await self._transition(
            S.VALIDATED, "address.changed", actor=by,
            reason=f"{old.address.text if old.address else old.address_raw} → {new.address.text if new.address else new.address_raw}",
        )
        await self._assess()
        if self.state.status.terminal:
            if was_picking:
                await self._leave_wave(old_warehouse)
            return False
        if was_picking and self.state.warehouse != old_warehouse:
            await self._leave_wave(old_warehouse)
            self._event("wave.left", reason=f"改址后改由 {self.state.warehouse} 发货, 取消 {old_warehouse} 的拣货任务",
                        data={"from": old_warehouse, "to": self.state.warehouse})
        if self.state.warehouse != self.packed_at:
            self.packed_at = None
        if self.picked and self.picked_warehouse != self.state.warehouse:  # packed in the old warehouse: back on its shelf
            await self._return_picked(f"改址后改由 {self.state.warehouse} 发货")
        if self.state.status == S.ROUTED:
            await self._send_confirmation()
        return True

    # ---------------------------------------------------------------- dispatch

    async def _ship(self) -> bool:
        """The e-waybill (idempotent on the order id at the carrier), then installation if a line needs it.
        From here on an address change or a cancel is refused: the parcel is on its way out."""
        if self.cancel_request is not None:
            await self._cancel()
            return False
        self.dispatching = True
        while True:
            try:
                req = waybill_request_for(self.state)
                wb: Waybill = await workflow.execute_activity("create_waybill", req, result_type=Waybill, **PARTNER)
                break
            except (WaybillError, ActivityError) as exc:
                cause = exc.cause if isinstance(exc, ActivityError) else exc
                reason = f"电子面单失败 e-waybill failed: {getattr(cause, 'message', None) or cause}"
                d = await self._review(ReviewKind.CARRIER, reason, ["WAYBILL_FAILED"])
                if d is None:
                    return False
                if d.decision == Decision.REJECT:
                    await self._rejected_by(d, "面单失败驳回 rejected: no waybill")
                    return False
                changed = d.decision == Decision.REROUTE and d.carrier and d.carrier != self.state.carrier
                if changed:
                    self.state.carrier = d.carrier
                await self._transition(S.PACKED, "order.released_from_hold", actor=d.reviewer,
                                       reason=(f"改用承运商 {self.state.carrier} 重新下单" if changed
                                               else f"{self.state.carrier} 重试下单 retry"))
        self.state.shipment = Shipment(waybill=wb, shipped_at=workflow.now())
        self.picked, self.picked_warehouse = [], None  # the goods left with the parcel
        if self.cancel_request is not None:  # came in while the waybill was being made: too late
            req, self.cancel_request = self.cancel_request, None
            self._event("order.cancel_refused", actor=req.actor,
                        reason=f"面单已生成, 不能取消; 请发起售后 the waybill is made: cancel refused ({req.reason})")
        for ev in self.pending_tracking:
            self.state.shipment.apply(ev)
        self.pending_tracking = []
        await self._transition(S.SHIPPED, "order.shipped", reason=f"{wb.carrier} 运单 {wb.waybill_no}",
                               data={"carrier": wb.carrier, "waybill_no": wb.waybill_no, "label_url": wb.label_url})
        await self._book_installation()
        return True

    async def _book_installation(self) -> None:
        order = self.state.order
        assert order is not None and self.state.shipment is not None
        eta = delivery_eta(self.state.carrier or "", self.state.shipment.shipped_at,
                           order.address.province if order.address else None)
        try:
            req = installation_request_for(order, eta)
        except ValueError as exc:
            self._event("installation.not_booked", reason=str(exc))
            return
        if req is None:
            return
        try:
            appt: Appointment = await workflow.execute_activity("book_installation", req, result_type=Appointment, **PARTNER)
        except ActivityError as exc:
            self._event("installation.failed", reason=str(getattr(exc.cause, "message", exc)))
            self._review_in_background(ReviewKind.FOLLOW_UP,  # tracking goes on while someone arranges it
                                       f"安装预约失败 installation not booked: {getattr(exc.cause, 'message', exc)}",
                                       ["INSTALLATION_FAILED"])
            return
        self.state.appointment = appt
        title, text = appointment_notice(appt, order.order_id)
        self._event("installation.booked", reason=text, data={"work_order_no": appt.work_order_no})
        await self._project()
        await self._tell_customer(title, text)

    async def _tell_customer(self, title: str, text: str) -> None:
        order = self.state.order
        assert order is not None
        try:
            await workflow.execute_activity("notify_customer", CustomerNotice(
                order_id=order.order_id, customer_id=order.customer_id, title=title, text=text), **BEST_EFFORT)
        except ActivityError as exc:
            self._event("notify.failed", reason=str(getattr(exc.cause, "message", exc))[:300])

    # ---------------------------------------------------------------- tracking

    async def _track(self) -> None:
        """Follow the carrier's pushes until signed; a silent parcel or a problem event raises an
        in-transit review (the order stays shipped) and a WeCom alert."""
        fp = self.policy.fulfilment
        sh = self.state.shipment
        assert sh is not None
        hours = fp.transit_alert_hours
        last_alert = None
        while not sh.is_delivered:
            await self._take_tracking()
            if sh.is_delivered:
                break
            if sh.is_final:  # returned to sender: a person decides whether it goes out again
                again = await self._reship(sh)
                if again is None:
                    await self._transition(S.COMPLETED, "order.completed", reason="包裹退回且不再发货 returned, not re-shipped")
                    return
                sh, last_alert = again, None
                continue
            deadline = sh.stalled_deadline(hours)
            if last_alert is not None and deadline is not None:
                deadline = max(deadline, last_alert + timedelta(hours=hours))
            seen = len(sh.events)
            try:
                await workflow.wait_condition(lambda: len(sh.events) != seen,  # noqa: B023 - awaited here
                                              timeout=(deadline - workflow.now()) if deadline else None)
            except TimeoutError:
                last_alert = workflow.now()
                self._transit_alert(sh.stall_alert(workflow.now(), hours))
        await self._take_tracking()
        within = sh.signed_within_48h
        await self._transition(S.DELIVERED, "order.delivered",
                               reason=f"已签收 signed {sh.delivered_at.astimezone(CN_TZ):%m-%d %H:%M}" + (" (48小时内)" if within else " (超过48小时)"),
                               data={"signed_within_48h": within, "delivered_at": sh.delivered_at.isoformat()})

    async def _reship(self, returned: Shipment) -> Shipment | None:
        """The carrier brought the parcel back. A person checks with the customer: approve ships it
        again under a new waybill (its own idempotency key); reject does not (the order closes; a refund
        is an aftersales case). None: not re-shipped."""
        wb = returned.waybill
        d = await self._review(ReviewKind.RETURNED, f"{wb.carrier} {wb.waybill_no} 包裹退回发件人 returned to sender: "
                               "核实地址后批准=重新发货(新运单); 拒绝=不再发货(退款请发起售后)", ["RETURNED_TO_SENDER"],
                               hold=False)
        if d is not None and d.decision == Decision.REJECT:
            self._event("order.not_reshipped", actor=d.reviewer, reason=d.note or "包裹退回, 不再发货")
            return None
        self.state.earlier_shipments.append(returned)
        key = reship_key(self.state.order_id, len(self.state.earlier_shipments) + 1)
        new: Waybill = await workflow.execute_activity(
            "create_waybill", waybill_request_for(self.state, order_id=key), result_type=Waybill, **PARTNER)
        self.state.shipment = Shipment(waybill=new, shipped_at=workflow.now())
        for ev in self.pending_tracking:  # pushes for the new waybill that came while it was being made
            self.state.shipment.apply(ev)
        self.pending_tracking = []
        self.tracking_seen = 0
        self._event("order.reshipped", reason=f"重新发货 re-shipped: {wb.waybill_no} → {new.carrier} {new.waybill_no}",
                    data={"waybill_no": new.waybill_no, "previous": wb.waybill_no})
        await self._project()
        return self.state.shipment

    async def _take_tracking(self) -> None:
        sh = self.state.shipment
        assert sh is not None
        fresh = sh.events[self.tracking_seen:]
        if not fresh:
            return
        self.tracking_seen = len(sh.events)
        for ev in fresh:
            self._event("tracking.event", actor=str(ev.carrier), reason=f"{ev.label} {ev.location}".strip()
                        + (f": {ev.description}" if ev.description else ""),
                        data={"code": ev.code, "event_id": ev.event_id, "at": ev.at.isoformat()})
            alert = sh.alert_for(ev)
            if alert is not None and ev.code != TrackingCode.RETURNED_TO_SENDER:  # that one: _reship decides
                self._transit_alert(alert)
        await self._project()

    def _transit_alert(self, alert: TransitAlert) -> None:
        """Review task (kind transit) beside the tracking; it closes itself once the parcel is signed."""
        sh = self.state.shipment
        assert sh is not None
        sh.alerts.append(alert)
        self._event("tracking.stalled" if alert.kind == "stalled" else "tracking.problem", reason=alert.reason,
                    data={"kind": alert.kind})

        self._review_in_background(ReviewKind.TRANSIT, alert.reason, [f"TRANSIT_{alert.kind.upper()}"],
                                   obsolete=lambda: sh.is_delivered or self.state.shipment is not sh)

    @workflow.signal(name="tracking_event")
    def on_tracking_event(self, ev: TrackingEvent) -> None:
        sh = self.state.shipment
        if sh is None or (ev.waybill_no != sh.waybill.waybill_no
                          and all(ev.waybill_no != old.waybill.waybill_no for old in self.state.earlier_shipments)):
            self.pending_tracking.append(ev)  # a push can overtake our own record of the (new) waybill
        else:
            sh.apply(ev)

    # ---------------------------------------------------------------- aftersales

    async def _aftersales_window(self) -> None:
        """Delivered orders stay open for aftersales requests (child workflows) for the window."""
        sh = self.state.shipment
        assert sh is not None and sh.delivered_at is not None
        end = sh.delivered_at + timedelta(days=self.policy.fulfilment.aftersales_window_days)
        remaining = (end - workflow.now()).total_seconds()
        if remaining > 0:
            await workflow.sleep(remaining)
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.update(name="request_aftersales")
    async def request_aftersales(self, req: AftersalesRequest) -> AftersalesTicket:
        st = self.state
        assert st.order is not None
        if self.dispatching and st.status not in (S.SHIPPED, S.DELIVERED, S.HELD):  # leaving now: wait for the waybill
            await workflow.wait_condition(lambda: st.status in (S.SHIPPED, S.DELIVERED) or st.status.terminal)
            if st.status.terminal:
                raise ApplicationError(f"订单 {st.order_id} 已结束 ({st.status}), 不能发起售后 the order is closed",
                                       type="OrderClosed")
        if st.status not in (S.SHIPPED, S.DELIVERED):  # not shipped: the request is a cancellation
            if self.cancel_request is None:
                self.cancel_request = CancelRequest(reason=f"售后转取消 (未发货): {req.reason}", actor=req.requested_by)
            self._event("aftersales.cancellation", actor=req.requested_by,
                        reason=f"{req.type} 申请于发货前 → 取消订单 before dispatch: the order is cancelled")
            return AftersalesTicket(case_id=st.order_id, order_id=st.order_id, kind="cancellation",
                                    workflow_id=st.order_id, status="cancelling",
                                    message="订单尚未发货, 已转为取消 the order had not shipped: it is being cancelled")
        n = len(st.aftersales) + 1
        case_id = case_id_for(st.order_id, n)
        refunded: dict[str, int] = {}
        for c in st.aftersales:
            if c.type in ("return", "refund_only") and c.status not in ("cancelled", "rejected"):
                for line in c.lines:
                    refunded[line.sku] = refunded.get(line.sku, 0) + line.quantity
        inp = AftersalesInput(case_id=case_id, order=st.order, request=req, warehouse=st.warehouse, carrier=st.carrier,
                              policy=self.policy, already_refunded=refunded)
        st.aftersales.append(CaseRef(case_id=case_id, type=req.type.value, lines=req.lines, opened_at=workflow.now()))
        self._event("aftersales.opened", actor=req.requested_by, reason=f"{req.type.label}: {req.reason}",
                    data={"case_id": case_id, "type": req.type.value})
        await start_aftersales(inp)
        await self._project()
        return AftersalesTicket(case_id=case_id, order_id=st.order_id, kind="aftersales", workflow_id=case_id,
                                status=initial_status(req.type).value, message=f"售后单 {case_id} 已创建")

    @workflow.signal(name="aftersales_closed")
    async def on_aftersales_closed(self, closed: CaseClosed) -> None:
        case = next((c for c in self.state.aftersales if c.case_id == closed.case_id), None)
        if case is None or case.status == closed.status:
            return
        case.status = closed.status
        self._event("aftersales.closed", reason=f"售后单 {closed.case_id}: {closed.status}",
                    data={"case_id": closed.case_id, "status": closed.status})
        await self._project()

    @request_aftersales.validator
    def _validate_aftersales(self, req: AftersalesRequest) -> None:
        st = self.state
        if st.order is None or st.status.terminal:
            raise ApplicationError(f"订单 {st.order_id} 已结束 ({st.status}), 不能发起售后 the order is closed",
                                   type="OrderClosed")
        already = requested_quantities([(c.type, c.status, c.lines) for c in st.aftersales])
        errors = validate_request(st.order, req, already)
        if errors:
            raise invalid_request_error(errors)
