"""The order's fulfilment stage: its warehouse parts, the customer's address, and the release gate.

Parts pick and pack in their warehouses (``FulfilmentWorkflow`` children, ``OrderParts``); a packed
part is released for dispatch once the customer confirmed the address (``DeliveryAddress``) and
nothing holds the order. A new address before any release sends the order through risk and routing
again and the parts follow it. The stage changes the order only through ``Order`` — the steps of
``OrderWorkflow`` it may use — so the order's status machine stays in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.confirmation import AddressChange, ConfirmationResult
    from domain.contracts import fulfilment as F
    from domain.contracts import order as C
    from domain.review import ReviewDecision, ReviewKind
    from domain.status import OrderStatus

from workflows.delivery_address import DeliveryAddress
from workflows.io import wait_until
from workflows.order_parts import OrderParts
from workflows.reviews import ReviewDesk

S = OrderStatus
EARLY_WAKES = "fulfilment-loop-keeps-early-wakes"  # workflow.patched id (2026-12)
HOLDING = frozenset({ReviewKind.ADDRESS, ReviewKind.ROUTING, ReviewKind.RISK})  # these keep the order HELD


class Order(Protocol):
    """What the fulfilment stage may do to its order."""

    rec: C.OrderRecord
    cancel_request: C.CancelRequest | None
    burst: list[C.BurstNotice]
    completion_reason: str

    async def hold(self, kind: ReviewKind, reason: str, features: list[str],
                   settled: Callable[[], bool] = ...) -> ReviewDecision | None: ...

    async def stopped_by(self, d: ReviewDecision | None, default: str) -> None: ...

    async def end(self, target: OrderStatus, event: str, reason: str, actor: str = ...) -> None: ...

    async def move(self, target: OrderStatus, event: str, **kw: Any) -> None: ...

    def set_status(self, target: OrderStatus, event: str | None, *, actor: str = ..., reason: str = ...,
                   data: dict[str, Any] | None = ...) -> None: ...

    async def assess(self) -> None: ...

    async def burst_review(self) -> None: ...

    async def cancelled(self) -> None: ...


class OrderFulfilment:
    def __init__(self, order: Order, parts: OrderParts, address: DeliveryAddress, desk: ReviewDesk, *,
                 current: bool = False) -> None:
        self.order, self.parts, self.address, self.desk = order, parts, address, desk
        self.changed = False  # something the loop must look at (set by the order's signal handlers)
        address.released = lambda: bool(parts.released)
        # decided once, at the workflow's start (workflows/ledger.py says why): a part that reported
        # "packed" before the loop's first wait (while its start or the flush ran) woke nobody, and the
        # order waited for a release that never came; now the flag is cleared only after the wait
        self._keep_early_wakes = current or workflow.patched(EARLY_WAKES)  # current: the order's later patch implies it
        self.waiting = False  # in the loop's wait
        address.ledger.loop_waking = lambda: self.waiting and self.changed  # a message's flush lets the loop go first

    @property
    def holding(self) -> bool:
        return any(t.kind in HOLDING for t in self.desk.open)

    async def run(self) -> None:
        o, rec = self.order, self.order.rec
        await self.parts.start()
        await self.address.ask_customer()
        while not rec.status.terminal:
            target = self.parts.status(holding=self.holding)
            if target not in (None, rec.status, S.DELIVERED):
                o.set_status(target, f"order.{target.value}", reason="; ".join(p.reason for p in rec.parts if p.reason))
            if self.parts.done:
                target, event, reason, data = self.parts.outcome()
                if target == S.COMPLETED:  # nothing signed for: the order completes once the ERP has it too
                    o.completion_reason = reason
                    return
                return await o.move(target, event, reason=reason, data=data)
            if not self._keep_early_wakes:
                self.changed = False  # histories from before: cleared before the flush
            await self.address.ledger.flush()
            due = self.address.deadline()
            self.waiting = True
            woken = await wait_until(lambda: self.changed, (due - workflow.now()) if due else None)
            self.waiting = False
            if not woken:
                if await self.address.chase():
                    await self.address.review(o.hold, o.stopped_by)
            if self._keep_early_wakes:
                self.changed = False  # what arrives from here on wakes the next wait
            if o.cancel_request is not None and not self.parts.released:
                return await o.cancelled()
            if self.address.pending is not None:
                await self.readdress()
            elif o.burst:
                await o.burst_review()
            elif not self.parts.released and any(p.status == F.PartStatus.REJECTED for p in rec.parts):
                await o.end(S.REJECTED, "order.rejected", "包裹被驳回, 订单驳回 a part was rejected")
            elif self.address.confirmed and not self.holding:
                await self.parts.release_packed()

    async def readdress(self) -> None:
        """A new address before any release: risk and routing again, then the parts (if any yet)
        follow it and the customer gets a card for it."""
        o, rec = self.order, self.order.rec
        pending = self.address.take_pending()
        assert pending is not None and rec.order is not None
        (sub, new, by), old = pending, rec.order
        rec.submission, rec.order = sub, new
        await o.move(S.VALIDATED, "address.changed", actor=by, reason=f"{old.address.text if old.address else old.address_raw}"
                     f" → {new.address.text if new.address else new.address_raw}")
        await o.assess()
        if rec.status.terminal:
            return await self.parts.cancel_all(f"改址后订单{rec.status.value}", by)
        if rec.parts:  # in fulfilment already (before it, the stage starts its parts on the new address)
            await self.parts.follow(new, by)
            await self.address.ask_customer()

    async def change(self, c: AddressChange) -> ConfirmationResult:
        """Cleanse a new address (the answer says whether it resolved); refused once a part is released."""
        result = await self.address.change(c)
        self.changed = True  # after the cleansing: the loop must see the pending address
        return result
