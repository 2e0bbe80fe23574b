"""The customer's delivery address while the order is in the warehouse: re-confirmation and changes.

A part of ``OrderWorkflow`` kept in its own module: the card (or why none is needed), the customer's
confirmation of the delivery point (checked against the district centroid), the reminder and review
deadlines, and the cleansing of a changed address. The order decides what a changed address means
(risk and routing again); this only says whether it is usable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import geo
    from domain.cleansing import CleansingResult
    from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult, should_skip
    from domain.contracts.confirmation import IS_TRUSTED_ADDRESS, SEND_CONFIRMATION_CARD, CardRequest, TrustCheck
    from domain.contracts.intake import CLEANSE_ORDER
    from domain.contracts.order import OrderRecord
    from domain.order import AddressIn, CleanOrder, Customer, OrderSubmission
    from domain.policy import FulfilmentPolicy
    from domain.review import Decision, ReviewDecision, ReviewKind
    from domain.warehouse import CN_TZ

from workflows.io import Io
from workflows.ledger import Ledger

Hold = Callable[[ReviewKind, str, list[str], Callable[[], bool]], Awaitable[ReviewDecision | None]]
Stop = Callable[[ReviewDecision | None, str], Awaitable[None]]


class DeliveryAddress:
    def __init__(self, rec: OrderRecord, policy: FulfilmentPolicy, io: Io, ledger: Ledger) -> None:
        self.rec, self.policy, self.io, self.ledger = rec, policy, io, ledger
        self.confirmed = False
        self.card_sent_at: datetime | None = None
        self.reminded = False
        self.pending: tuple[OrderSubmission, CleanOrder, str] | None = None  # a new address, cleansed, not applied yet
        self.released: Callable[[], bool] = lambda: False  # the order says whether a part was released
        self.trust: tuple[str, bool] | None = None  # (address text, trusted repeat address) as the assessment found it

    # ------------------------------------------------------------------ the card and its deadlines

    async def ask_customer(self) -> None:
        """Send the card for the current address, or record why none is needed."""
        order = self.rec.order
        assert order is not None
        self.confirmed, self.card_sent_at, self.reminded = False, None, False
        skip = None
        if not self.policy.confirm_address:
            skip = "地址再确认未启用 re-confirmation is off"
        elif order.address is None:
            skip = "地址未解析到区县, 无法定位 address has no district to check against"
        elif should_skip(order.channel.value, self.policy.confirm_skip_channels, False):
            skip = f"渠道 {order.channel.value} 免确认 channel skips re-confirmation"
        elif await self._trusted(order.order_id, order.customer_id, order.address.text):
            skip = "老客户已签收过的地址, 免确认 trusted repeat address"
        if skip:
            self.confirmed = True
            self.ledger.event("address.confirmation_skipped", reason=skip)
            return
        self.rec.confirm_round += 1
        self.rec.address_confirmed_at, self.rec.delivery_point = None, None
        await self._card(reminder=False)
        self.card_sent_at = workflow.now()

    async def _trusted(self, order_id: str, customer_id: str, text: str) -> bool:
        """A repeat address: as the assessment found it (``trust``), else asked now."""
        if self.trust is not None and self.trust[0] == text:
            return self.trust[1]
        return await self.io.local(IS_TRUSTED_ADDRESS, TrustCheck(order_id=order_id, customer_id=customer_id, address_text=text))

    async def _card(self, *, reminder: bool) -> None:
        order = self.rec.order
        assert order is not None
        await self.io.remote(SEND_CONFIRMATION_CARD, CardRequest(
            order_id=order.order_id, customer_id=order.customer_id, customer_name=order.customer_name, phone=order.phone,
            address_text=order.address.text if order.address else order.address_raw, round=self.rec.confirm_round,
            reminder=reminder))
        self.ledger.event("address.reminder_sent" if reminder else "address.confirmation_sent",
                          reason=("提醒: " if reminder else "") + f"请客户确认送货位置 (第{self.rec.confirm_round}轮)",
                          data={"round": self.rec.confirm_round})

    def deadline(self) -> datetime | None:
        """When the next chase is due (reminder, then the review), None once confirmed."""
        if self.confirmed or self.card_sent_at is None:
            return None
        wait = self.policy.confirm_window_seconds + (self.policy.confirm_grace_seconds if self.reminded else 0)
        return self.card_sent_at + timedelta(seconds=wait)

    async def chase(self) -> bool:
        """The deadline came: send the reminder (False), or say a person must look now (True)."""
        if not self.reminded:
            self.reminded = True
            await self._card(reminder=True)
            return False
        return True

    @property
    def overdue_reason(self) -> str:
        hours = (self.policy.confirm_window_seconds + self.policy.confirm_grace_seconds) / 3600
        return f"客户{hours:g}小时未确认送货位置 no confirmation from the customer"

    # ------------------------------------------------------------------ the customer's answer (update)

    def validate(self, c: AddressConfirmation, too_late: bool, changing: bool) -> None:
        st = self.rec
        if st.status.terminal or too_late or st.order is None:
            raise ApplicationError(f"订单 {st.order_id} 当前状态 {st.status}, 无需确认地址 not waiting for a confirmation",
                                   type="NotAwaitingConfirmation")
        if st.confirm_round == 0 or changing:
            raise ApplicationError("确认卡片尚未发出 no confirmation card is out for this address yet",
                                   type="NotAwaitingConfirmation")
        if c.round is not None and c.round != st.confirm_round:
            raise ApplicationError("链接已过期: 地址已修改, 请打开最新的确认卡片 this link is for an earlier address; "
                                   "open the latest card", type="NotAwaitingConfirmation")
        if self.confirmed:
            raise ApplicationError("送货位置已确认 already confirmed", type="NotAwaitingConfirmation")

    def confirm(self, c: AddressConfirmation) -> ConfirmationResult:
        order = self.rec.order
        assert order is not None
        check = geo.check_point(order.address, c.point, self.policy.confirm_radius_km)
        rnd = self.rec.confirm_round
        data = {"lat": c.lat, "lng": c.lng, "distance_km": check.distance_km, "round": rnd}
        if not check.ok:
            self.ledger.event("address.point_rejected", actor=c.confirmed_by, reason=check.reason, data=data)
            return ConfirmationResult(accepted=False, message=check.reason, distance_km=check.distance_km, round=rnd)
        self.confirmed = True
        self.rec.address_confirmed_at, self.rec.delivery_point = workflow.now(), c.point
        self.ledger.event("address.confirmed", actor=c.confirmed_by, reason=check.reason, data=data)
        return ConfirmationResult(accepted=True, message="已确认送货位置, 我们会尽快发货 confirmed, thank you",
                                  distance_km=check.distance_km, round=rnd)

    def accept_as_is(self, reviewer: str, note: str) -> None:
        self.confirmed = True
        self.ledger.event("address.accepted_unconfirmed", actor=reviewer, reason=note or "按原地址发货")

    async def review(self, hold: Hold, stop: Stop) -> None:
        """No confirmation after the window and the grace: a person decides — ship as is, a corrected
        address (it must resolve, else asked again), or reject the order."""
        while not self.confirmed and self.pending is None and not self.rec.status.terminal:
            d = await hold(ReviewKind.ADDRESS, self.overdue_reason, ["ADDRESS_UNCONFIRMED"], lambda: self.confirmed)
            if d is None or d.decision == Decision.REJECT:
                return await stop(d, "客户未确认地址, 驳回 rejected: address never confirmed")
            if d.decision == Decision.APPROVE:
                return self.accept_as_is(d.reviewer, d.note)
            if (await self.change(AddressChange(address=d.address or "", requested_by=d.reviewer))).accepted:
                return

    def validate_change(self) -> None:
        if self.rec.status.terminal or self.rec.order is None:
            raise ApplicationError(f"订单 {self.rec.order_id} 状态 {self.rec.status}, 不能修改地址 the order is not open "
                                   "for an address change", type="NotAwaitingConfirmation")

    # ------------------------------------------------------------------ a changed address

    async def change(self, c: AddressChange) -> ConfirmationResult:
        """Cleanse a new address now (the answer says whether it resolved); it waits in ``pending``
        for the order to route it again. Refused once a part of the order was released for dispatch."""
        result = None if self.released() else await self._cleanse(c)
        if result is None or self.released():  # also when dispatch began while the new address was being cleansed
            self.pending = None
            msg = self._too_late()
            self.ledger.event("address.change_refused", actor=c.requested_by, reason=msg, data={"address": c.address})
            return ConfirmationResult(accepted=False, message=msg, round=self.rec.confirm_round)
        if not result.accepted:
            self.ledger.event("address.change_invalid", actor=c.requested_by, reason=result.message, data={"address": c.address})
        return result

    def _too_late(self) -> str:
        shipped = next((p for p in self.rec.parts if p.waybill_no and p.shipped_at), None)
        if shipped is not None and shipped.shipped_at is not None:
            return (f"订单已于 {shipped.shipped_at.astimezone(CN_TZ):%m-%d %H:%M} 发出 ({shipped.carrier} {shipped.waybill_no}), "
                    "无法修改地址; 请联系承运商或发起售后 the parcel has left; the address can no longer be changed")
        return ("订单正在出库(电子面单生成中), 无法修改地址; 请联系客服 the parcel is being dispatched; "
                "the address can no longer be changed")

    async def _cleanse(self, c: AddressChange) -> ConfirmationResult:
        sub = self.rec.submission
        customer = sub.customer.model_copy(update={k: v for k, v in (("name", c.name), ("phone", c.phone)) if v})
        new_sub = sub.model_copy(update={"address": AddressIn(raw=c.address),
                                         "customer": Customer.model_validate(customer.model_dump())})
        result: CleansingResult = await self.io.local(CLEANSE_ORDER, new_sub)
        rnd = self.rec.confirm_round
        if result.errors:
            why = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            return ConfirmationResult(accepted=False, message=f"新地址无效 the new address is invalid: {why}", round=rnd)
        assert result.order is not None
        if result.order.address is None:
            return ConfirmationResult(accepted=False, round=rnd, message="新地址无法解析到区县, 请写明省市区 the new address "
                                                                       "names no district; add province, city and district")
        self.pending = (new_sub, result.order, c.requested_by)
        return ConfirmationResult(accepted=True, round=rnd + 1,
                                  message=f"新地址已收到: {result.order.address.text}; 订单将重新分单, 请在新卡片中确认送货位置 "
                                          "new address accepted; the order is routed again and a new card follows")

    def take_pending(self) -> tuple[OrderSubmission, CleanOrder, str] | None:
        pending, self.pending = self.pending, None
        return pending
