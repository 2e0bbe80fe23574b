"""An order's fulfilment parts, as the order workflow sees them: one ``FulfilmentWorkflow`` child per
warehouse part (a split order has several), what each last reported, and which the order has released
for dispatch. The order decides *when* to release; this knows *how*.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.contracts import assessment as A
    from domain.contracts import fulfilment as F
    from domain.contracts.order import OrderRecord
    from domain.contracts.task_queues import Stage
    from domain.order import CleanOrder
    from domain.order_view import part_order
    from domain.policy import OrderPolicy, PartPolicy
    from domain.split import PartPlan
    from domain.status import OrderStatus, status_of_parts
    from workflows import search_attributes as sa

from workflows.io import Io
from workflows.ledger import Ledger

P = F.PartStatus


class OrderParts:
    def __init__(self, rec: OrderRecord, policy: OrderPolicy, io: Io, ledger: Ledger) -> None:
        self.rec, self.policy, self.io, self.ledger = rec, policy, io, ledger
        self.released: set[str] = set()
        self.on_change: Callable[[], None] = lambda: None  # the order wakes up on a part's result
        self._tasks: list[asyncio.Future[None]] = []
        self.planned: list[PartPlan] | None = None  # planned with the release (one call), for the first start

    @property
    def live(self) -> list[F.PartReport]:
        return [p for p in self.rec.parts if not p.status.final]

    @property
    def done(self) -> bool:
        return bool(self.rec.parts) and not self.live

    def status(self, holding: bool) -> OrderStatus | None:
        return status_of_parts([p.status.value for p in self.rec.parts], holding)

    def split_request(self) -> A.SplitRequest:
        order, fp = self.rec.order, self.policy.fulfilment
        assert order is not None and fp is not None and self.rec.routing is not None and self.rec.rule_version
        return A.SplitRequest(order=order, decision=self.rec.routing, rule_version=self.rec.rule_version, max_parts=fp.max_parts)

    async def start(self) -> None:
        """Plan the parts (fewest warehouses that hold every line) and start one child each."""
        order = self.rec.order
        assert order is not None
        plan = self.planned
        if plan is None:
            plan = await self.io.local(A.PLAN_PARTS, self.split_request())
        self.planned = None
        if len(plan) > 1 or plan[0].warehouse != self.rec.warehouse:
            self.ledger.event("order.split", reason=plan[0].reason, data={"parts": [p.model_dump() for p in plan]})
        first = len(self.rec.parts) + 1
        for i, part in enumerate(plan):
            n, pid = first + i, F.part_id(order.order_id, first + i)
            carrier = part.carrier or self.rec.carrier
            # recorded before the start: a fast part may report (packed) before the start call returns
            self.rec.parts.append(F.PartReport(part_id=pid, part_no=n, status=P.PICKING, warehouse=part.warehouse,
                                               carrier=carrier, lines=part.lines))
            handle = await workflow.start_child_workflow(
                F.FULFILMENT.name, F.FulfilmentInput(
                    part_id=pid, order_id=order.order_id, part_no=n, parts=len(plan), order=part_order(order, part.lines),
                    lines=part.lines, warehouse=part.warehouse, carrier=carrier, policy=PartPolicy.of(self.policy)),
                id=pid, result_type=F.FULFILMENT.result, parent_close_policy=ParentClosePolicy.TERMINATE,
                **self.policy.queues.options(Stage.WAREHOUSE),
                static_summary=f"{part.warehouse} 包裹 {n} · {order.order_id}",
                search_attributes=TypedSearchAttributes([SearchAttributePair(sa.ORDER_ID, order.order_id),
                                                         SearchAttributePair(sa.WAREHOUSE, part.warehouse)]))
            self._watch(handle)

    def _watch(self, handle: workflow.ChildWorkflowHandle[Any, F.PartReport]) -> None:
        """The part's result is its last report (a part that fails is a bug: the order is stuck on it)."""

        async def result() -> None:
            r = await handle
            self.report(r)
            self.on_change()

        self._tasks.append(asyncio.ensure_future(result()))

    def outcome(self) -> tuple[OrderStatus, str, str, dict[str, Any]]:
        """Every part has ended: delivered (open for aftersales) when one was signed for, else completed."""
        delivered = [p for p in self.rec.parts if p.status == P.DELIVERED and p.delivered_at]
        if not delivered:
            why = ("包裹退回且不再发货 returned, not re-shipped" if any(p.status == P.RETURNED for p in self.rec.parts)
                   else "已出库交接, 未启用承运商跟踪 handed over (shipping off)" if any(p.status == P.HANDED_OVER for p in self.rec.parts)
                   else "没有发出的包裹 nothing shipped")
            return OrderStatus.COMPLETED, "order.completed", why, {}
        last = max(p.delivered_at for p in delivered if p.delivered_at)
        within = all(p.signed_within_48h for p in delivered)
        return OrderStatus.DELIVERED, "order.delivered", (f"已签收 signed {last:%m-%d %H:%M}" + (
            " (48小时内)" if within else " (超过48小时)")), {"signed_within_48h": within, "delivered_at": last.isoformat()}

    async def settle(self) -> None:
        """Wait for every part to end (a cancelled one gives its goods back first)."""
        if self._tasks:
            await asyncio.gather(*self._tasks)

    def report(self, r: F.PartReport) -> bool:
        for i, p in enumerate(self.rec.parts):
            if p.part_id == r.part_id and not p.status.final:
                self.rec.parts[i] = r
                return True
        return False

    async def release_packed(self) -> None:
        """Every packed part not yet released leaves now, to the order's current address."""
        order = self.rec.order
        assert order is not None
        for p in self.rec.parts:
            if p.status == P.PACKED and p.part_id not in self.released:
                self.released.add(p.part_id)
                self.ledger.event("part.released", reason=f"包裹 {p.part_no} ({p.warehouse}) 放行发货 released for dispatch",
                                  data={"part_id": p.part_id})
                await self._send(p.part_id, F.RELEASE.name, F.Release(order=part_order(order, p.lines), carrier=p.carrier))

    async def cancel_all(self, reason: str, by: str) -> None:
        for i, p in enumerate(self.rec.parts):
            if not p.status.final:
                await self._send(p.part_id, F.CANCEL.name, F.CancelPart(reason=reason, by=by))
                self.rec.parts[i] = p.model_copy(update={"status": P.CANCELLED, "reason": reason})

    async def follow(self, order: CleanOrder, by: str) -> None:
        """A new address before release: one part that keeps its warehouse follows it; otherwise
        every part leaves its wave and the order starts new parts."""
        live = self.live
        if len(live) == 1 and len(self.rec.parts) == 1 and live[0].warehouse == self.rec.warehouse:
            p = live[0]
            await self._send(p.part_id, F.REDIRECT.name, F.Redirect(order=part_order(order, p.lines), carrier=self.rec.carrier, by=by))
            self.rec.parts[0] = p.model_copy(update={"carrier": self.rec.carrier})
            return
        await self.cancel_all(f"改址后改由 {self.rec.warehouse} 发货 re-routed after the address changed", by)
        await self.start()

    async def _send(self, part_id: str, signal: str, arg: object) -> None:
        try:
            await workflow.get_external_workflow_handle(part_id).signal(signal, arg)
        except Exception:  # noqa: BLE001 - the part ended meanwhile: its result says how
            self.ledger.event("part.not_reached", reason=f"{part_id} 已结束 already ended", data={"part_id": part_id})
