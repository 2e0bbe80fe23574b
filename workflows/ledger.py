"""A workflow's timeline and its thin projection into the read model.

Each workflow (order, part, parcel) appends timeline events here and describes its read-model row as
a function. ``flush`` sends only what changed since the last projection — new events, the columns
whose values differ, review tasks that changed — as one ``project`` activity, and nothing at all when
nothing changed. Workflows flush before they wait, so a burst of steps costs one write.

The projection is a regular activity since 2026-12-03, like every other call (``workflows/io.py``
says why).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.contracts import Activity
    from domain.contracts.projection import ProjectionDelta, RowKind
    from domain.review import ReviewTask
    from domain.timeline import TimelineEvent

if TYPE_CHECKING:
    from workflows.io import Io

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
SYSTEM = "system"
COALESCED_FLUSH = "ledger-flush-after-the-loop"  # workflow.patched id (2026-12)
NO_LOCAL_ACTIVITIES = "no-local-activities"  # workflow.patched id (2026-12-03): see workflows/io.py


class Ledger:
    def __init__(self, kind: RowKind, key: str, order_id: str, *, status: Callable[[], str],
                 row: Callable[[], dict[str, Any]], reviews: Callable[[], list[ReviewTask]],
                 lines: Callable[[], list[dict[str, Any]] | None] | None = None, after: tuple[int, int] = (0, 0),
                 current: bool = False) -> None:
        self.kind, self.key, self.order_id = kind, key, order_id
        self._status, self._row, self._reviews, self._lines = status, row, reviews, lines
        self.timeline: list[TimelineEvent] = []
        # ``after``: (projections, events) an earlier run of the same workflow id wrote (an un-merged order)
        self.seq, self.event_base = after  # projections sent
        self._sent_events = 0
        self._sent_row: dict[str, Any] = {}
        self._sent_reviews: dict[str, dict[str, Any]] = {}
        self._sent_lines: list[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self.io: Io | None = None
        self.failing = False  # the projection itself is failing: flushes wait for the ops task
        self._soon: asyncio.Future[None] | None = None
        # decided once, at the workflow's start: a patch asked for later (after a local activity that
        # outlived a workflow task) would replay in another task than it was recorded in
        # ``current``: the workflow's own later patch said it began on today's code, which implies these
        # two (not asked, so not recorded: two markers and two search-attribute upserts fewer per order)
        self._after_the_loop = current or workflow.patched(COALESCED_FLUSH)
        self.regular_activities = current or workflow.patched(NO_LOCAL_ACTIVITIES)  # the Io reads it
        self.patient = current  # flush_soon lets a woken loop react first (the order's patch)
        self.loop_waking: Callable[[], bool] = lambda: False  # the owner says: its loop is waiting and was just woken

    def event(self, event: str, *, actor: str = SYSTEM, reason: str = "", data: dict[str, Any] | None = None) -> None:
        self.timeline.append(TimelineEvent(seq=self.event_base + len(self.timeline) + 1, at=workflow.now(), event=event,
                                           status=self._status(), actor=actor, reason=reason, data=data or {}))

    def has(self, event: str) -> bool:
        return any(e.event == event for e in self.timeline)

    def _delta(self) -> tuple[ProjectionDelta | None, dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]] | None]:
        row = self._row()
        columns = {k: v for k, v in row.items() if k not in self._sent_row or self._sent_row[k] != v}
        reviews = {r.review_id: r.model_dump(mode="json") for r in self._reviews()}
        changed = [r for r in self._reviews() if self._sent_reviews.get(r.review_id) != reviews[r.review_id]]
        lines = self._lines() if self._lines is not None else None
        new_lines = lines if lines is not None and lines != self._sent_lines else None
        events = self.timeline[self._sent_events:]
        if not (columns or changed or new_lines is not None or events):
            return None, row, reviews, lines
        delta = ProjectionDelta(kind=self.kind, key=self.key, order_id=self.order_id, seq=self.seq + 1,
                                columns=columns, lines=new_lines, events=events, reviews=changed)
        return delta, row, reviews, lines

    def flush_soon(self) -> None:
        """A signal handler changed something while the workflow waits: project it beside the wait
        (one flush for whatever else changes in the same workflow task)."""
        if self._soon is None or self._soon.done():
            self._soon = asyncio.ensure_future(self._flush_after_the_loop())

    async def _flush_after_the_loop(self) -> None:
        """Let the workflow's own loop react to the message first (a part shipped → the order shipped),
        in the same workflow task: its flush then carries both and this one finds nothing left."""
        if self._after_the_loop:  # histories from before it flushed at once
            await workflow.wait_condition(lambda: True)
        if self.patient:  # a loop woken by this message reacts first (until its next await): one flush carries both
            await workflow.wait_condition(lambda: not self.loop_waking())
        await self.flush()

    async def settle(self, *, handlers: bool = True) -> None:
        """Before the workflow returns: every handler done (``handlers``) and everything projected —
        also what a message changed while the last projection was in flight (its own flush_soon
        would never run: the workflow has returned by then)."""
        if handlers:
            await workflow.wait_condition(workflow.all_handlers_finished)
        await self.flush()
        for _ in range(3):  # a message or two landing during the flush; never a loop without end
            if self.failing or self._delta()[0] is None:
                return
            await self.flush()

    async def flush(self) -> None:
        """Project what changed (one activity), or nothing. While the projection is failing the ops
        task is open and this returns at once; the stuck handler retries it after the fix."""
        if self.failing:
            return
        assert self.io is not None, "Ledger.io is set by the workflow's Io"
        async with self._lock:
            delta, row, reviews, lines = self._delta()
            if delta is None:
                return
            await self.io.project(delta)
            self._sent(delta, row, reviews, lines)

    async def carried_by(self, ref: Activity[I, O], arg: Callable[[ProjectionDelta | None], I]) -> O:
        """A data call that carries what changed since the last projection (its activity writes it
        too): one activity and one workflow task instead of two. Should that call fail past its
        bound, the projection goes on its own (a flush, stuck handling and all) and the call follows
        plainly — the read model ignores nothing: a row takes a delta of its own sequence again."""
        if not self.failing:
            assert self.io is not None, "Ledger.io is set by the workflow's Io"
            async with self._lock:
                delta, row, reviews, lines = self._delta()
                if delta is not None:
                    try:
                        result = await self.io.once(ref, arg(delta))
                    except ActivityError:  # below: the projection on its own, then the call with its stuck handling,
                        self.seq += 1  # under the next sequence: a late attempt of the failed call writes nothing older
                    else:
                        self._sent(delta, row, reviews, lines)
                        return result
            await self.flush()
        assert self.io is not None
        return await self.io.local(ref, arg(None))

    def _sent(self, delta: ProjectionDelta, row: dict[str, Any], reviews: dict[str, dict[str, Any]],
              lines: list[dict[str, Any]] | None) -> None:
        self.seq += 1
        self._sent_events += len(delta.events)
        self._sent_row, self._sent_reviews = row, reviews
        if delta.lines is not None:
            self._sent_lines = lines
