"""WaveWorkflow: one per warehouse (id ``wave-{warehouse}``), running for ever with continue-as-new.

Orders join by signal-with-start (``add_order``, sent by the ``join_wave`` activity). The batcher in
``domain.warehouse`` keeps one open wave per carrier; a wave closes at ``policy.size`` orders or at
the carrier's cut-off (a durable timer), whichever first. A closed wave is planned against the stock
table into pick tasks in walking order; devices claim tasks (update ``claim_task``), confirm picks
(update ``confirm_pick``), QC passes or fails (update ``qc_result``), the packer confirms the wave
(update ``confirm_pack``; automatic with ``policy.auto_pack``). A short pick or a reprint-label
request opens an exception task for the warehouse lead (read model + WeCom).

When a wave is packed, each of its orders gets the signal ``wave_done`` (``domain.warehouse.WaveDone``,
outcome ``packed`` or ``short``). An order cancelled meanwhile (signal ``cancel_order``) leaves its
wave; what was already picked for it becomes a put-away task (待上架).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.contracts import warehouse as W
    from domain.contracts.warehouse import PlanRequest, StockMove, WaveSnapshot, WaveStart
    from domain.warehouse import (
        URGENT_NOTE,
        Allocation,
        CloseReason,
        DeviceException,
        ExceptionKind,
        OpenWave,
        OrderShortage,
        PackConfirmation,
        PickConfirmation,
        PickedLine,
        PickTask,
        QcResult,
        ReturnToStock,
        TaskClaim,
        TaskKind,
        TaskState,
        WarehouseException,
        WaveBatcher,
        WaveDone,
        WaveOrder,
        apply_pick,
    )

IO: dict[str, Any] = dict(start_to_close_timeout=timedelta(seconds=30),
                          retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
NOTIFY: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=2), maximum_attempts=10),
)
T = TaskState
PROJECT_EVERY = timedelta(seconds=1)  # at most one read-model write per wave per second of progress


class ActiveWave(BaseModel):
    """A closed wave being picked, checked and packed."""

    wave_id: str
    wave_no: str
    warehouse: str
    carrier: str
    opened_at: datetime
    cutoff_at: datetime | None = None
    closed_at: datetime
    close_reason: CloseReason
    orders: list[WaveOrder]
    tasks: list[PickTask] = []
    state: str = "picking"  # picking | packing | done
    packed_by: str | None = None
    packed_at: datetime | None = None
    exceptions: dict[str, str] = {}  # task id → exception id
    cancelled: list[str] = []  # order ids cancelled after the wave closed
    notified: list[str] = []
    urgent: list[str] = []  # order ids marked 加急: their picks are offered first
    version: int = 0

    def order_ids(self) -> list[str]:
        return [o.order_id for o in self.orders]

    def picks_finished(self) -> bool:
        return all(t.state.finished for t in self.tasks if t.kind == TaskKind.PICK)

    def finished(self) -> bool:
        """Packed, every order told (or cancelled), every task (put-away too) over."""
        told = set(self.notified) | set(self.cancelled)
        return (self.state == "done" and all(o.order_id in told for o in self.orders)
                and all(t.state.finished for t in self.tasks))


class WaveCarry(BaseModel):
    batcher: WaveBatcher
    active: list[ActiveWave] = []
    inbox: list[WaveOrder] = []
    cancels: list[str] = []
    expedites: list[str] = []
    waves_done: int = 0
    orders_seen: int = 0
    runs: int = 1


class WaveInput(WaveStart):
    carry: WaveCarry | None = None


class WaveProgress(BaseModel):
    """Counts only: cheap to ask often (the summary carries every task of every active wave)."""

    orders_seen: int
    open_waves: int
    active_waves: int
    waves_done: int
    runs: int


class WaveSummary(BaseModel):
    warehouse: str
    orders_seen: int = 0  # orders batched by this workflow, over all its runs
    open: list[OpenWave]
    active: list[ActiveWave]
    waves_done: int
    runs: int


@workflow.defn(name="WaveWorkflow")
class WaveWorkflow:
    @workflow.init
    def __init__(self, inp: WaveInput) -> None:
        self.warehouse = inp.warehouse
        self.policy = inp.policy
        carry = inp.carry or WaveCarry(batcher=WaveBatcher(warehouse=inp.warehouse, policy=inp.policy))
        self.batcher = carry.batcher
        self.active: dict[str, ActiveWave] = {w.wave_id: w for w in carry.active}
        self.inbox: list[WaveOrder] = list(carry.inbox)
        self.cancels: list[str] = list(carry.cancels)
        self.expedites: list[str] = list(carry.expedites)  # orders marked 加急 after they joined
        self.waves_done = carry.waves_done
        self.orders_seen = carry.orders_seen
        self.runs = carry.runs
        self.dirty: set[str] = set(self.active)  # waves whose read model or progress need a look
        self._background: set[asyncio.Task[None]] = set()
        self.close_now = False
        self.updates = 0  # device updates handled by this run
        self.flushing = False  # project now, no deferral (before continue-as-new)
        self.deferred: set[str] = set()  # waves with progress not yet written to the read model
        self.projected_at: dict[str, datetime] = {}
        self.projected_state: dict[str, str] = {}

    # ---------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, inp: WaveInput) -> None:
        while True:
            await self._drain()
            self.flushing = False
            if self._should_continue_as_new():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._background)
                if self.deferred:  # write the progress now rather than carry it over
                    self.dirty |= self.deferred
                    self.deferred = set()
                    self.flushing = True
                    continue
                if not (self.inbox or self.cancels or self.expedites or self.dirty or self.close_now or self.deferred):
                    workflow.continue_as_new(WaveInput(warehouse=self.warehouse, policy=self.policy, carry=self._carry()))
            deadlines = [d for d in (self.batcher.next_deadline(), self._next_projection()) if d is not None]
            timeout = max(min(deadlines) - workflow.now(), timedelta(milliseconds=1)) if deadlines else None
            try:
                await workflow.wait_condition(
                    lambda: bool(self.inbox or self.cancels or self.expedites or self.dirty or self.close_now)
                    or self.updates >= self.policy.updates_per_run,
                    timeout=timeout,
                )
            except TimeoutError:
                pass

    async def _drain(self) -> None:
        """Batch the new orders, close full and due waves, apply cancellations, advance waves."""
        while self.inbox or self.cancels or self.expedites or self.dirty or self.close_now or self._due_now():
            while self.inbox:
                order = self.inbox.pop(0)
                if self._known(order.order_id):
                    continue
                self.orders_seen += 1
                _, closed = self.batcher.add(order, workflow.now())
                if closed:
                    full = len(closed.orders) >= self.policy.size
                    await self._close(closed, CloseReason.URGENT if order.urgent and not full else CloseReason.SIZE)
            while self.expedites:
                await self._expedite(self.expedites.pop(0))
            for w in self.batcher.due(workflow.now()):
                await self._close(w, CloseReason.CUTOFF)
            if self.close_now:
                self.close_now = False
                for w in self.batcher.close_all():
                    await self._close(w, CloseReason.MANUAL)
            while self.cancels:
                self._cancel(self.cancels.pop(0))
            for wave_id in sorted(self.dirty):
                self.dirty.discard(wave_id)
                await self._advance(wave_id)

    def _due_now(self) -> bool:
        d = self.batcher.next_deadline()
        if d is not None and d <= workflow.now():
            return True
        p = self._next_projection()
        if p is not None and p <= workflow.now():
            self.dirty |= self.deferred
            self.deferred = set()
        return bool(self.dirty)

    def _next_projection(self) -> datetime | None:
        if not self.deferred:
            return None
        return min(self.projected_at.get(w, workflow.now()) for w in self.deferred) + PROJECT_EVERY

    def _known(self, order_id: str) -> bool:
        """Already batched; an order told (wave_done) or cancelled in a wave may join again (a re-pick
        after a short pick, a new wave after an address change)."""
        return self.batcher.contains(order_id) or any(
            order_id in w.order_ids() and order_id not in w.notified and order_id not in w.cancelled
            for w in self.active.values()
        )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested() or info.get_current_history_length() > self.policy.history_limit
                or self.updates >= self.policy.updates_per_run)

    def _carry(self) -> WaveCarry:
        return WaveCarry(batcher=self.batcher, active=list(self.active.values()), inbox=self.inbox,
                         cancels=self.cancels, waves_done=self.waves_done, orders_seen=self.orders_seen,
                         runs=self.runs + 1)

    # ---------------------------------------------------------------- waves

    async def _close(self, w: OpenWave, reason: CloseReason) -> None:
        tasks: list[PickTask] = await workflow.execute_activity(
            W.PLAN_WAVE.name, PlanRequest(wave=w, qc_categories=self.policy.qc_categories), result_type=W.PLAN_WAVE.result, **IO
        )
        aw = ActiveWave(
            wave_id=w.wave_id, wave_no=w.wave_no, warehouse=w.warehouse, carrier=w.carrier, opened_at=w.opened_at,
            cutoff_at=w.cutoff_at, closed_at=workflow.now(), close_reason=reason, orders=w.orders, tasks=tasks,
            urgent=[o.order_id for o in w.orders if o.urgent],
        )
        self.active[aw.wave_id] = aw
        for t in tasks:
            if t.state == T.SHORT:  # no bin in this warehouse holds the SKU
                await self._exception(aw, ExceptionKind.SHORT_PICK, t, reason=f"{t.sku} 在 {aw.warehouse} 无库位/无库存,需 {t.quantity} 件")
        self.dirty.add(aw.wave_id)

    async def _expedite(self, order_id: str) -> None:
        """An order marked 加急 after it joined: its open wave closes now (the pick list goes out with
        the order's lines marked); in a wave already being picked, its picks are offered first."""
        w = self.batcher.take(order_id)
        if w is not None:
            w.orders = [o.model_copy(update={"urgent": True}) if o.order_id == order_id else o for o in w.orders]
            await self._close(w, CloseReason.URGENT)
            return
        for aw in self.active.values():
            if order_id in aw.order_ids() and order_id not in aw.urgent and aw.state == "picking":
                aw.urgent.append(order_id)
                for t in aw.tasks:
                    if URGENT_NOTE not in t.notes and any(a.order_id == order_id for a in t.allocations):
                        t.notes.insert(0, URGENT_NOTE)
                self.dirty.add(aw.wave_id)

    async def _advance(self, wave_id: str) -> None:
        aw = self.active.get(wave_id)
        if aw is None:
            return
        if aw.state == "picking" and aw.picks_finished():
            aw.state = "packing"
        if aw.state == "packing" and self.policy.auto_pack:
            aw.state, aw.packed_by, aw.packed_at = "done", "auto", workflow.now()
        if aw.state == "done":
            await self._notify_orders(aw)
        last = self.projected_at.get(wave_id)
        if (not self.flushing and aw.state == self.projected_state.get(wave_id) and not aw.finished()
                and last is not None and workflow.now() - last < PROJECT_EVERY):
            self.deferred.add(wave_id)  # progress within a second is written once, a second later
            return
        self.deferred.discard(wave_id)
        self.projected_at[wave_id], self.projected_state[wave_id] = workflow.now(), aw.state
        aw.version += 1
        await workflow.execute_activity(W.PROJECT_WAVE.name, self._snapshot(aw), **IO)
        if aw.finished():
            del self.active[wave_id]
            self.projected_at.pop(wave_id, None)
            self.projected_state.pop(wave_id, None)
            self.waves_done += 1

    def _snapshot(self, aw: ActiveWave) -> WaveSnapshot:
        return WaveSnapshot(
            wave_id=aw.wave_id, warehouse=aw.warehouse, wave_no=aw.wave_no, carrier=aw.carrier, state=aw.state,
            opened_at=aw.opened_at, cutoff_at=aw.cutoff_at, closed_at=aw.closed_at, close_reason=aw.close_reason.value,
            order_ids=aw.order_ids(), tasks=aw.tasks, packed_by=aw.packed_by, packed_at=aw.packed_at,
            version=aw.version, at=workflow.now(),
        )

    async def _notify_orders(self, aw: ActiveWave) -> None:
        for o in aw.orders:
            if o.order_id in aw.notified or o.order_id in aw.cancelled:
                continue
            shortages = []
            for t in aw.tasks:
                for a in t.allocations:
                    if t.kind == TaskKind.PICK and a.order_id == o.order_id and a.picked < a.quantity:
                        shortages.append(OrderShortage(sku=t.sku, bin=t.bin, wanted=a.quantity, picked=a.picked))
            exc_ids = sorted({aw.exceptions[t.task_id] for t in aw.tasks if t.task_id in aw.exceptions
                              and any(a.order_id == o.order_id for a in t.allocations)})
            picked = [PickedLine(sku=t.sku, bin=t.bin, quantity=a.picked, name=t.name, barcode=t.barcode)
                      for t in aw.tasks if t.kind == TaskKind.PICK for a in t.allocations
                      if a.order_id == o.order_id and a.picked > 0]
            done = WaveDone(order_id=o.order_id, warehouse=aw.warehouse, wave_id=aw.wave_id, wave_no=aw.wave_no,
                            outcome="short" if shortages else "packed", shortages=shortages, exception_ids=exc_ids,
                            picked=picked, at=workflow.now())
            try:
                await workflow.get_external_workflow_handle(o.reply_to or o.order_id).signal(W.WAVE_DONE.name, done)
            except Exception:  # noqa: BLE001 - the order closed meanwhile; the read model still says
                workflow.logger.warning("order %s closed before wave %s finished", o.order_id, aw.wave_id)
            aw.notified.append(o.order_id)

    # ---------------------------------------------------------------- exceptions

    async def _exception(self, aw: ActiveWave | None, kind: ExceptionKind, task: PickTask | None, *, reason: str,
                         picker: str = "", device_id: str = "", bin: str | None = None) -> str:
        exc = WarehouseException(
            exception_id=f"WX-{str(workflow.uuid4())[:13]}", kind=kind, warehouse=self.warehouse,
            wave_id=aw.wave_id if aw else (task.wave_id if task else None), task_id=task.task_id if task else None,
            bin=bin or (task.bin if task else None), sku=task.sku if task else None, picker=picker or None,
            device_id=device_id or None, reason=reason,
            order_ids=[a.order_id for a in task.allocations] if task else [], created_at=workflow.now(),
        )
        await workflow.execute_activity(W.RECORD_WAREHOUSE_EXCEPTION.name, exc, result_type=W.RECORD_WAREHOUSE_EXCEPTION.result, **IO)
        if aw is not None and task is not None and kind != ExceptionKind.REPRINT_LABEL:
            aw.exceptions[task.task_id] = exc.exception_id
        self._notify(exc)
        return exc.exception_id

    def _notify(self, exc: WarehouseException) -> None:
        async def send() -> None:
            try:
                await workflow.execute_activity(W.NOTIFY_WAREHOUSE_LEAD.name, args=[exc, self.policy.console_url], **NOTIFY)
            except Exception as err:  # noqa: BLE001 - a lost message must not stop the floor
                workflow.logger.warning("warehouse lead not notified of %s: %s", exc.exception_id, err)

        t = asyncio.create_task(send())
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # ---------------------------------------------------------------- cancellation and put-away

    def _cancel(self, order_id: str) -> None:
        if self.batcher.remove(order_id):
            return
        for aw in self.active.values():
            if order_id not in aw.order_ids() or order_id in aw.cancelled or order_id in aw.notified:
                continue
            aw.cancelled.append(order_id)
            for t in list(aw.tasks):
                if t.kind != TaskKind.PICK:
                    continue
                mine = [a for a in t.allocations if a.order_id == order_id]
                if not mine:
                    continue
                if t.state == T.PENDING:
                    t.allocations = [a for a in t.allocations if a.order_id != order_id]
                    t.quantity = sum(a.quantity for a in t.allocations)
                    if t.quantity == 0:
                        t.state = T.CANCELLED
                elif t.state in (T.DONE, T.QC_PENDING, T.SHORT):
                    self._putaway(aw, t, mine)
                # picking: handled when the device confirms (see _after_pick)
            self.dirty.add(aw.wave_id)

    def _putaway(self, aw: ActiveWave, t: PickTask, allocs: list[Allocation]) -> None:
        qty = sum(a.picked for a in allocs)
        if qty <= 0:
            return
        n = sum(1 for x in aw.tasks if x.kind == TaskKind.PUTAWAY) + 1
        aw.tasks.append(PickTask(
            task_id=f"{t.task_id}-P{n}", kind=TaskKind.PUTAWAY, wave_id=aw.wave_id, wave_no=aw.wave_no,
            warehouse=aw.warehouse, seq=1000 + n, bin=t.bin, sku=t.sku, name=t.name, barcode=t.barcode, quantity=qty,
            image_url=t.image_url, notes=["订单已取消,放回原库位"], state=T.PUTAWAY_PENDING,
            allocations=[Allocation(order_id=a.order_id, quantity=a.picked, picked=a.picked) for a in allocs],
        ))

    # ---------------------------------------------------------------- signals

    @workflow.signal(name="add_order")
    def add_order(self, order: WaveOrder) -> None:
        self.inbox.append(order)

    @workflow.signal(name="return_to_stock")
    def return_to_stock(self, req: ReturnToStock) -> None:
        """Put-away tasks for goods picked for an order that will not ship (its wave may be long gone):
        they sit in a returns batch that devices are offered before new picks."""
        if not req.lines:
            return
        n = sum(1 for w in self.active if "-RET-" in w) + self.waves_done + 1
        now = workflow.now()
        rid = f"{self.warehouse}-RET-{str(workflow.uuid4())[:8]}"
        aw = ActiveWave(wave_id=rid, wave_no=f"退{n:02d}", warehouse=self.warehouse, carrier="-", opened_at=now,
                        closed_at=now, close_reason=CloseReason.MANUAL, orders=[], state="done", packed_by="returns",
                        packed_at=now)
        for i, ln in enumerate(req.lines, 1):
            aw.tasks.append(PickTask(
                task_id=f"{rid}-P{i}", kind=TaskKind.PUTAWAY, wave_id=rid, wave_no=aw.wave_no, warehouse=self.warehouse,
                seq=1000 + i, bin=ln.bin, sku=ln.sku, name=ln.name, barcode=ln.barcode, quantity=ln.quantity,
                notes=[f"订单 {req.order_id} 不发货, 放回原库位" + (f": {req.reason}" if req.reason else "")],
                state=T.PUTAWAY_PENDING, allocations=[Allocation(order_id=req.order_id, quantity=ln.quantity, picked=ln.quantity)],
            ))
        self.active[rid] = aw
        self.dirty.add(rid)

    @workflow.signal(name="close_open_waves")
    def close_open_waves(self) -> None:
        """Close every open wave now (end of shift, a truck arriving early)."""
        self.close_now = True

    @workflow.signal(name="cancel_order")
    def cancel_order(self, order_id: str) -> None:
        self.cancels.append(order_id)

    @workflow.signal(name=W.EXPEDITE_ORDER.name)
    def expedite_order(self, order_id: str) -> None:
        """Sent by the API when a person marks the order 加急 (urgent)."""
        self.expedites.append(order_id)

    # ---------------------------------------------------------------- device updates

    def _find(self, task_id: str) -> tuple[ActiveWave, PickTask] | None:
        for aw in self.active.values():
            for t in aw.tasks:
                if t.task_id == task_id:
                    return aw, t
        return None

    def _require(self, task_id: str) -> tuple[ActiveWave, PickTask]:
        found = self._find(task_id)
        if found is None:
            raise ApplicationError(f"任务 {task_id} 不在 {self.warehouse} 的待办中 (task {task_id} is not open in {self.warehouse})", type="UnknownTask", non_retryable=True)
        return found

    @workflow.update(name="claim_task")
    def claim_task(self, claim: TaskClaim) -> PickTask | None:
        """The device's current task: the one it holds, else the next pending one (put-away first,
        then picks of urgent (加急) orders, then picks of the oldest wave in walking order)."""
        self.updates += 1
        candidates: list[tuple[ActiveWave, PickTask]] = []
        for aw in sorted(self.active.values(), key=lambda w: (w.closed_at, w.wave_id)):
            for t in aw.tasks:
                if t.device_id == claim.device_id and t.state in (T.PICKING, T.PUTAWAY_PENDING):
                    return t
                if aw.state == "picking" or t.kind == TaskKind.PUTAWAY:
                    candidates.append((aw, t))
        candidates.sort(key=lambda c: not any(a.order_id in c[0].urgent for a in c[1].allocations))  # stable
        for want in (TaskKind.PUTAWAY, TaskKind.PICK):
            for _, t in candidates:
                free = t.state == T.PENDING or (t.kind == TaskKind.PUTAWAY and t.state == T.PUTAWAY_PENDING and not t.device_id)
                if t.kind == want and free:
                    if t.kind == TaskKind.PICK:
                        t.state = T.PICKING
                    t.device_id, t.picker = claim.device_id, claim.picker or None
                    return t  # projected with the confirmation: a claim alone is not worth a write
        return None

    @workflow.update(name="confirm_pick")
    async def confirm_pick(self, c: PickConfirmation) -> PickTask:
        self.updates += 1
        aw, t = self._require(c.task_id)
        if t.state not in (T.PENDING, T.PICKING, T.PUTAWAY_PENDING):
            return t  # a device retrying a confirmation already applied
        t.picker = c.picker or t.picker
        t.device_id = c.device_id or t.device_id
        if t.kind == TaskKind.PUTAWAY:
            t.picked_qty = c.picked_qty
            await workflow.execute_activity(
                W.RECORD_STOCK_MOVE.name,
                StockMove(move_id=t.task_id, warehouse=t.warehouse, bin=t.bin, sku=t.sku, delta=c.picked_qty, reason="putaway"),
                result_type=int, **IO,
            )
            t.state = T.DONE
            self.dirty.add(aw.wave_id)
            return t
        short = apply_pick(t, c.picked_qty)
        if c.picked_qty:
            await workflow.execute_activity(
                W.RECORD_STOCK_MOVE.name,
                StockMove(move_id=t.task_id, warehouse=t.warehouse, bin=t.bin, sku=t.sku, delta=-c.picked_qty,
                          reason="pick", bin_emptied=bool(short)),
                result_type=int, **IO,
            )
        if short:
            t.state = T.SHORT
            await self._exception(aw, ExceptionKind.SHORT_PICK, t, picker=c.picker, device_id=c.device_id,
                                  reason=f"库位{t.bin}实拣{c.picked_qty}件,应拣{t.quantity}件 ({t.sku})")
        else:
            t.state = T.QC_PENDING if t.qc_required else T.DONE
        cancelled = [a for a in t.allocations if a.order_id in aw.cancelled and a.picked]
        if cancelled:
            self._putaway(aw, t, cancelled)
        self.dirty.add(aw.wave_id)
        return t

    @confirm_pick.validator
    def _validate_confirm(self, c: PickConfirmation) -> None:
        _, t = self._require(c.task_id)
        if c.picked_qty > t.quantity:
            raise ApplicationError(f"拣货数量 {c.picked_qty} 超过任务要求的 {t.quantity} 件 (picked {c.picked_qty} > {t.quantity} asked for task {t.task_id})", type="InvalidPick")

    @workflow.update(name="qc_result")
    async def qc_result(self, r: QcResult) -> PickTask:
        self.updates += 1
        aw, t = self._require(r.task_id)
        if t.state != T.QC_PENDING:
            raise ApplicationError(f"任务 {t.task_id} 当前不在待质检 (task {t.task_id} is {t.state}, not waiting for QC)", type="InvalidQc")
        if r.passed:
            t.state = T.DONE
        else:
            for a in t.allocations:
                a.picked = 0
            t.state = T.SHORT
            await self._exception(aw, ExceptionKind.QC_FAILED, t, picker=r.inspector,
                                  reason=f"质检不合格: {t.sku} ×{t.picked_qty}" + (f" ({r.note})" if r.note else ""))
        self.dirty.add(aw.wave_id)
        return t

    @workflow.update(name="confirm_pack")
    async def confirm_pack(self, p: PackConfirmation) -> str:
        self.updates += 1
        aw = self.active.get(p.wave_id)
        if aw is None:
            raise ApplicationError(f"波次 {p.wave_id} 不在 {self.warehouse} 的作业中 (wave {p.wave_id} is not open in {self.warehouse})", type="UnknownWave")
        if aw.state == "picking" and aw.picks_finished():
            aw.state = "packing"  # the main loop may not have looked yet
        if aw.state == "picking":
            left = sum(1 for t in aw.tasks if t.kind == TaskKind.PICK and not t.state.finished)
            raise ApplicationError(f"波次 {aw.wave_no} 还有 {left} 个任务未拣完或未质检 (wave {aw.wave_no} still has {left} task(s) to pick or check)", type="NotPicked")
        if aw.state == "packing":
            aw.state, aw.packed_by, aw.packed_at = "done", p.packer or "packer", workflow.now()
            self.dirty.add(aw.wave_id)
        return aw.state

    @workflow.update(name="report_exception")
    async def report_exception(self, d: DeviceException) -> str:
        self.updates += 1
        found = self._find(d.task_id) if d.task_id else None
        aw, t = found if found else (None, None)
        reason = d.reason or (f"库位{d.bin or (t.bin if t else '?')}标签连续3次无法识别或不符,请补打" if d.kind == ExceptionKind.REPRINT_LABEL else d.kind.value)
        return await self._exception(aw, d.kind, t, reason=reason, picker=d.picker, device_id=d.device_id, bin=d.bin)

    # ---------------------------------------------------------------- query

    @workflow.query(name="summary")
    def summary(self) -> WaveSummary:
        return WaveSummary(warehouse=self.warehouse, open=list(self.batcher.open.values()),
                           active=list(self.active.values()), waves_done=self.waves_done, runs=self.runs,
                           orders_seen=self.orders_seen)

    @workflow.query(name="progress")
    def progress(self) -> WaveProgress:
        return WaveProgress(orders_seen=self.orders_seen, open_waves=len(self.batcher.open), active_waves=len(self.active),
                            waves_done=self.waves_done, runs=self.runs)
