"""Review tasks: how any workflow (order, part, parcel) waits for a person.

``ReviewDesk.ask`` opens a task, sends the WeCom to-do beside the workflow, and waits durably for the
decision (the workflow's ``decide_review`` update calls ``submit``), escalating and then marking the
task red on timers. The wait also ends when the caller's ``interrupt`` becomes true (a cancel, a newer
address) or the task becomes ``obsolete`` (the parcel got signed meanwhile); then ``ask`` answers None
and the caller looks at why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.contracts.notify import NOTIFY_WECOM, NotifyRequest
    from domain.review import (
        InvalidDecision,
        ReviewDecision,
        ReviewKind,
        ReviewState,
        ReviewTask,
        UnknownReview,
        already_decided,
        validate_decision,
    )

from workflows.io import NOTIFY, Io, failure_text, wait_until
from workflows.ledger import Ledger


def never() -> bool:
    return False


class ReviewTimers(Protocol):
    """What the desk reads of a policy (``OrderPolicy`` and ``PartPolicy`` both have it)."""

    review_escalation_seconds: int
    review_red_seconds: int
    console_url: str


class ReviewDesk:
    def __init__(self, owner_id: str, order_id: str, policy: ReviewTimers, ledger: Ledger, io: Io,
                 tasks: list[ReviewTask]) -> None:
        self.owner_id, self.order_id, self.policy = owner_id, order_id, policy
        self.ledger, self.io = ledger, io
        self.tasks = tasks  # the owner's list (its state and view show them)
        self.decisions: dict[str, ReviewDecision] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ asking

    def open_task(self, kind: ReviewKind, reason: str, features: list[str]) -> ReviewTask:
        n = sum(1 for t in self.tasks if t.kind == kind) + 1
        task = ReviewTask(review_id=f"{self.owner_id}~{kind.value}-{n}", order_id=self.order_id, kind=kind,
                          reason=reason, features=features, created_at=workflow.now())
        self.tasks.append(task)
        self.ledger.event("review.opened", reason=reason,
                          data={"review_id": task.review_id, "kind": kind.value, "features": features})
        self._notify(task, escalated=False)
        return task

    async def ask(self, kind: ReviewKind, reason: str, features: list[str], *,
                  interrupt: Callable[[], bool] = never, obsolete: Callable[[], bool] = never) -> ReviewDecision | None:
        """Open a task and wait for its decision; None when interrupted, obsolete or closed from outside."""
        task = self.open_task(kind, reason, features)
        await self.ledger.flush()
        return await self.wait(task, interrupt=interrupt, obsolete=obsolete)

    async def wait(self, task: ReviewTask, *, interrupt: Callable[[], bool] = never,
                   obsolete: Callable[[], bool] = never) -> ReviewDecision | None:
        def ended() -> bool:
            return task.review_id in self.decisions or task.state != ReviewState.OPEN or interrupt() or obsolete()

        escalation = timedelta(seconds=self.policy.review_escalation_seconds)
        red = timedelta(seconds=max(1, self.policy.review_red_seconds - self.policy.review_escalation_seconds))
        if not await wait_until(ended, escalation):
            task.escalated_at = workflow.now()
            self.ledger.event("review.escalated", reason=f"{escalation} 内无人处理 no decision within {escalation}",
                              data={"review_id": task.review_id})
            self._notify(task, escalated=True)
            await self.ledger.flush()
            if not await wait_until(ended, red):
                task.red_at = workflow.now()
                self.ledger.event("review.red", reason="24小时内无人处理 no decision within 24 h",
                                  data={"review_id": task.review_id})
                await self.ledger.flush()
                await workflow.wait_condition(ended)
        d = self.decisions.get(task.review_id)
        if d is None:
            if task.state == ReviewState.OPEN:
                task.state = ReviewState.CANCELLED
                task.note = task.note or ("不再需要处理 no longer needed" if obsolete() else "订单已变化 overtaken")
                self.ledger.event("review.closed", reason=task.note, data={"review_id": task.review_id})
            return None
        task.state, task.decision, task.reviewer, task.note = ReviewState.DECIDED, d.decision, d.reviewer, d.note
        task.decided_at = workflow.now()
        self.ledger.event("review.decided", actor=d.reviewer, reason=f"{d.decision}" + (f": {d.note}" if d.note else ""),
                          data={"review_id": task.review_id, "decision": d.decision.value})
        return d

    # ------------------------------------------------------------------ deciding (the update)

    def find(self, review_id: str) -> ReviewTask | None:
        return next((t for t in self.tasks if t.review_id == review_id), None)

    def validate(self, d: ReviewDecision) -> None:
        """The update's validator: a decision that cannot apply is refused before it is recorded."""
        try:
            if d.review_id in self.decisions:
                first = self.decisions[d.review_id]
                task = self.find(d.review_id)
                raise InvalidDecision(already_decided(d.review_id, first.decision, first.reviewer, task.kind if task else None))
            validate_decision(self.find(d.review_id), d)
        except InvalidDecision as exc:
            kind = "ReviewNotFound" if isinstance(exc, UnknownReview) else "InvalidDecision"
            raise ApplicationError(str(exc), type=kind, non_retryable=True) from None

    async def submit(self, d: ReviewDecision) -> ReviewTask:
        self.decisions[d.review_id] = d
        task = self.find(d.review_id)
        assert task is not None
        await workflow.wait_condition(lambda: task.state != ReviewState.OPEN)
        return task

    # ------------------------------------------------------------------ closing and telling

    @property
    def open(self) -> list[ReviewTask]:
        return [t for t in self.tasks if t.state == ReviewState.OPEN]

    def close_all(self, note: str) -> None:
        """Nobody needs to act any more (the order ended): no task stays open in the queue."""
        for t in self.open:
            t.state = ReviewState.CANCELLED
            t.note = t.note or note

    def beside(self, coro: Awaitable[Any]) -> None:
        """Run beside the workflow's own progress (kept referenced until it ends)."""
        t: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    def _notify(self, task: ReviewTask, *, escalated: bool) -> None:
        async def send() -> None:
            try:
                await self.io.remote(NOTIFY_WECOM, NotifyRequest(
                    order_id=task.order_id, kind=task.kind.value, reason=task.reason, features=task.features,
                    console_url=self.policy.console_url, escalated=escalated), options=NOTIFY)
            except Exception as exc:  # noqa: BLE001 - a lost notification must not fail the workflow
                self.ledger.event("notify.failed", reason=failure_text(exc)[:300], data={"review_id": task.review_id})

        self.beside(send())
