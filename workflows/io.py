"""Calling activities from workflows: typed, bounded, and never silently stuck.

Every activity call names its contract reference (``domain.contracts``: name, argument and result
types). Data activities (cleansing, the read model, rules) run as local activities with a bounded
retry; partner calls as activities with a longer bound. When a call keeps failing past its bound,
the workflow is *stuck*: it records a ``stuck`` alert (its own table, so it shows even when the
projection is what fails), flags itself, opens an ops review task with the real error and a WeCom
to-do, and waits. Approving the task retries the call after the fix; rejecting it gives the work up
(``Abandoned``), which the workflow turns into its terminal state.

Since 2026-12-03 every call is a regular activity (``workflow.patched("no-local-activities")``, decided
at the workflow's start; runs that began before keep their local activities). When a query reaches a
workflow while a local activity is in flight, Temporal's core completes the workflow task with the
activity's marker before the code is given its result, which then reaches the live run one task
later, together with the next message (a part's report, a channel's redelivery), while a replay
delivers it one task earlier, on its own. Code that reads what a message changed, or a second
coroutine's commands, then interleave differently live and on replay, and the history no longer
replays (CI, 2026-12-02 and -03). A regular activity's result is an event in the history: live and
replay see it in the same place. The price is a workflow task per call (README, limits).

In runs with local activities they run one at a time per workflow (``_one_local``): a handler and
the main loop would otherwise have two pending at once, and temporalio ≥ 1.32 can hand a replayed
local activity's recorded result to the other one (sdk-python issue #1881).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.contracts import Activity
    from domain.contracts.order import Stuck
    from domain.contracts.projection import PROJECT, RECORD_STUCK, ProjectionDelta, StuckAlert
    from domain.contracts.task_queues import TaskQueues
    from domain.policy import RetryBounds
    from domain.review import Decision, ReviewKind

if TYPE_CHECKING:
    from workflows.ledger import Ledger
    from workflows.reviews import ReviewDesk

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741

DATA: dict[str, Any] = dict(  # the read model and rules: a failure past ~2 minutes is a stuck order
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(seconds=30), maximum_attempts=8),
)
PARTNER: dict[str, Any] = dict(  # carriers, suppliers, the ERP: down for a while delays the work, for hours is stuck
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(hours=2),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5)),
)
NOTIFY: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=2), maximum_attempts=10),
)
BEST_EFFORT: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15), schedule_to_close_timeout=timedelta(minutes=5),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                             maximum_attempts=5),
)


async def wait_until(done: Callable[[], bool], timeout: timedelta | None) -> bool:
    """A durable wait: True when ``done`` became true, False when the timer ran out first (the normal
    way an idle wait ends — never an error)."""
    try:
        await workflow.wait_condition(done, timeout=timeout)
        return True
    except TimeoutError:
        return False


class Abandoned(Exception):
    """Ops gave up on a stuck workflow (rejected its ops task)."""

    def __init__(self, reason: str, actor: str) -> None:
        super().__init__(reason)
        self.reason, self.actor = reason, actor


def failure_text(exc: BaseException) -> str:
    """The innermost failure message (what actually went wrong), short enough for a person."""
    msg = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        msg = getattr(cause, "message", None) or str(cause) or msg
        cause = cause.__cause__
    return msg[:500]


def bounded(bounds: RetryBounds) -> tuple[dict[str, Any], dict[str, Any]]:
    """The data and partner call options under these bounds."""
    data = DATA | {"retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                               maximum_interval=timedelta(seconds=30), maximum_attempts=bounds.data_attempts)}
    return data, PARTNER | {"schedule_to_close_timeout": timedelta(hours=bounds.partner_hours)}


class Io:
    def __init__(self, workflow_id: str, order_id: str, ledger: Ledger, bounds: RetryBounds | None = None,
                 queues: TaskQueues | None = None) -> None:
        self.workflow_id, self.order_id, self.ledger = workflow_id, order_id, ledger
        self.queues = queues or TaskQueues()  # a remote activity of another stage goes to that stage's queue
        self.data, self.partner = bounded(bounds or RetryBounds())
        ledger.io = self
        self.desk: ReviewDesk | None = None  # set once the desk exists (it needs this Io to notify)
        self.on_stuck: Callable[[Stuck | None], None] = lambda _s: None  # the owner records it in its state
        self._one_local = asyncio.Lock()  # one pending local activity at a time (see the module docstring)

    async def local(self, ref: Activity[I, O], arg: I, *, options: dict[str, Any] | None = None) -> O:
        """A quick data activity (read model, rules, cleansing), bounded: a regular activity, or a
        local one in runs that began before 2026-12-03 (the module docstring says why)."""
        args = [] if ref.arg is None else [arg]
        while True:
            try:
                if self.ledger.regular_activities:
                    result: O = await workflow.execute_activity(  # decoded as ref.result: the contract's O
                        ref.name, args=args, result_type=ref.result, **(options or self.data))
                    return result
                async with self._one_local:
                    result = await workflow.execute_local_activity(
                        ref.name, args=args, result_type=ref.result, **(options or self.data))
                    return result
            except (ActivityError, FailureError) as exc:  # a local activity's failure is raised as it is
                await self.stuck(ref.name, failure_text(exc))

    async def once(self, ref: Activity[I, O], arg: I) -> O:
        """A data call within its bound and nothing more: a failure is the caller's to handle
        (``Ledger.carried_by`` falls back to the plain path)."""
        result: O = await workflow.execute_activity(ref.name, args=[arg], result_type=ref.result, **self.data)
        return result

    async def remote(self, ref: Activity[I, O], arg: I, *, options: dict[str, Any] | None = None,
                     stuck: bool = True) -> O:
        """A partner call (or anything slow) as an activity. ``stuck=False``: the caller handles the
        failure itself (e.g. a refused waybill is a carrier review, a lost WeCom message an event)."""
        args = [] if ref.arg is None else [arg]
        while True:
            try:
                result: O = await workflow.execute_activity(  # decoded as ref.result: the contract's O
                    ref.name, args=args, result_type=ref.result, **(options or self.partner), **self.queues.options(ref.stage))
                return result
            except ActivityError as exc:
                if not stuck:
                    raise
                await self.stuck(ref.name, failure_text(exc))

    async def project(self, delta: ProjectionDelta) -> None:
        """One projection: a regular activity, or a local one in runs that began before 2026-12-03."""
        while True:
            try:
                if self.ledger.regular_activities:
                    await workflow.execute_activity(PROJECT.name, delta, **self.data)
                else:
                    async with self._one_local:
                        await workflow.execute_local_activity(PROJECT.name, delta, **self.data)
                return
            except (ActivityError, FailureError) as exc:
                self.ledger.failing = True  # no flush while the projection itself is what fails
                try:
                    await self.stuck(PROJECT.name, failure_text(exc))
                finally:
                    self.ledger.failing = False

    async def stuck(self, activity: str, error: str) -> None:
        """Returns when ops approved a retry; raises Abandoned when they gave the work up."""
        assert self.desk is not None
        task = self.desk.open_task(ReviewKind.OPS, f"{activity} 多次失败, 已停下等待处理 kept failing: {error}",
                                   ["ACTIVITY_FAILED"])
        self.on_stuck(Stuck(activity=activity, error=error, since=workflow.now(), review_id=task.review_id))
        self.ledger.event("order.stuck", reason=f"{activity}: {error}", data={"activity": activity, "review_id": task.review_id})
        alert = StuckAlert(workflow_id=self.workflow_id, order_id=self.order_id, review_id=task.review_id,
                           activity=activity, error=error, at=workflow.now())
        await self._alert(alert)
        await self.ledger.flush()
        d = await self.desk.wait(task)
        self.on_stuck(None)
        await self._alert(alert.model_copy(update={"resolved": True}))
        if d is None or d.decision == Decision.REJECT:
            raise Abandoned(d.note if d and d.note else f"{activity} 失败, 运维放弃 given up after: {error}",
                            d.reviewer if d else "system")
        self.ledger.event("order.retried", actor=d.reviewer, reason=f"重试 {activity}" + (f": {d.note}" if d.note else ""))

    async def _alert(self, alert: StuckAlert) -> None:
        try:  # its own small table: visible even when the projection is what fails
            await workflow.execute_activity(RECORD_STUCK.name, alert, **BEST_EFFORT)
        except ActivityError:
            self.ledger.event("notify.failed", reason="卡单提醒未能记录 stuck alert not recorded")
