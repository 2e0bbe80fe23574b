"""ChannelSyncWorkflow: one per polled channel account (Tmall/Taobao), id ``channel-sync-{account}``.

Each poll reads the window ``[cursor - overlap, now - lag)`` of trades by *modified* time (at most
one day per window, as TOP allows), counts it, then reads its pages from the last to the first — a
trade modified while we page leaves the window without shifting a page we have yet to read — and
accepts every trade (``sync_channel_page`` starts order workflows idempotently by their
deterministic ids). Only when a whole window is done does the cursor move to its end, so:

* a worker restart mid-window replays the workflow, the interrupted page activity is retried and
  pages already done are not re-run (their results are in history): no gap, no duplicate order;
* the cursor lives in workflow state and in the continue-as-new input after ``polls_per_run``
  polls (or when the server suggests it), so the history stays small;
* a channel outage (5xx, timeouts) is retried with backoff by the activity's RetryPolicy; an error
  no retry can fix (bad signature, disabled account) is reported in ``status`` and the next poll
  tries the same window again — the cursor never skips past trades it has not read;
* the idle wait between polls is a durable timer whose expiry is the *normal* way to the next
  poll (``asyncio.TimeoutError`` from ``wait_condition`` is caught: it once failed the workflow
  ~20 s after ``make up`` and nothing was imported after the first poll).

Health (``domain.channels.health``): after each poll the workflow decides running / failed and
writes it to the read model (``record_sync_health``: last poll, last success, last error, cursor,
backlog, orders imported today); a watchdog coroutine inside the workflow — a durable timer set
to the last successful poll + ``stall_after_polls`` × the interval — notices a sync that stopped
succeeding even while a poll hangs in retries (``stalled``). Entering a red state, and recovering
from it, sends a WeCom alert (``notify_channel_health``, in the background with retries: a lost
message never stops the polling). An unexpected failure of the workflow itself is alerted before
it fails. Everything is carried over continue-as-new.

Signals: ``poll_now`` (poll without waiting for the timer), ``stop`` (finish after the current poll).
Query: ``status``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

if TYPE_CHECKING:
    from temporalio.client import Client

with workflow.unsafe.imports_passed_through():
    from domain.channels.health import HealthAlert, HealthState, SyncHealthPolicy, SyncHealthReport, sync_state
    from domain.contracts import channels as CH
    from domain.contracts.channels import PageRequest, PageResult, WindowRequest

MAX_WINDOW = timedelta(days=1)


class SyncTotals(BaseModel):
    polls: int = 0
    windows: int = 0
    pages: int = 0
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: int = 0


class SyncInput(BaseModel):
    account_id: str
    cursor: datetime | None = None  # every trade modified before this has been accepted
    poll_interval_seconds: int = 30
    overlap_seconds: int = 60  # re-read this much before the cursor (channel indexing lag)
    lag_seconds: int = 2  # never read newer than now - lag
    initial_lookback_seconds: int = 24 * 3600  # first run without a cursor
    page_size: int = 50
    polls_per_run: int = 200  # continue-as-new after this many polls
    totals: SyncTotals = SyncTotals()
    runs: int = 1
    channel: str = "tmall"
    stall_after_polls: int = 3  # no successful poll for this many intervals → stalled (red, alert)
    alerts: bool = True  # WeCom alerts on entering / leaving a red state
    health: SyncHealth | None = None  # carried over continue-as-new


class SyncHealth(BaseModel):
    """The health bookkeeping a run hands to the next."""

    state: HealthState = HealthState.RUNNING
    state_since: datetime
    since: datetime  # watching since (the first run's start): the reference before any success
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    report_seq: int = 0


class SyncStatus(BaseModel):
    account_id: str
    cursor: datetime | None
    totals: SyncTotals
    runs: int
    last_error: str | None
    last_poll_at: datetime | None
    stopping: bool
    polling: bool = False  # a poll is in progress
    state: HealthState = HealthState.RUNNING
    last_success_at: datetime | None = None
    consecutive_errors: int = 0
    backlog_trades: int = 0


def sync_workflow_id(account_id: str) -> str:
    return f"channel-sync-{account_id}"


PAGE: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=60),
    heartbeat_timeout=timedelta(seconds=15),  # a worker that dies mid-page: the page is retried in 15 s, not 60
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(seconds=60), maximum_attempts=8,
                             non_retryable_error_types=[]),
)
REPORT: dict[str, Any] = dict(  # the health projection: bounded, so a read model outage never stops the polling
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
                             maximum_attempts=5),
)
ALERT: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=2), maximum_attempts=10),
)


@workflow.defn(name="ChannelSyncWorkflow")
class ChannelSyncWorkflow:
    @workflow.init
    def __init__(self, inp: SyncInput) -> None:
        self.inp = inp
        self.cursor = inp.cursor
        self.totals = inp.totals.model_copy()
        self.poll_requested = False
        self.stopping = False
        self.polling = False
        self.policy = SyncHealthPolicy(stall_after_polls=inp.stall_after_polls)
        now = workflow.now()
        self.health = inp.health.model_copy() if inp.health else SyncHealth(state_since=now, since=now)
        self.backlog_trades = 0
        self.successes = 0  # successful polls of this run: what the watchdog waits for
        self._background: set[asyncio.Task[None]] = set()  # alerts being sent
        self._reporting = 0  # health writes in flight

    # the health fields, short
    @property
    def last_error(self) -> str | None:
        return self.health.last_error

    @property
    def last_poll_at(self) -> datetime | None:
        return self.health.last_poll_at

    @workflow.run
    async def run(self, inp: SyncInput) -> SyncStatus:
        try:
            return await self._run(inp)
        except Exception as exc:
            # nothing else would tell anyone: say it before the workflow fails
            self.health.last_error = f"sync workflow failed: {type(exc).__name__}: {exc}"
            await self._set_state(HealthState.FAILED, detail="同步工作流异常终止, 需人工处理")
            await self._settle()
            raise

    async def _run(self, inp: SyncInput) -> SyncStatus:
        if self.cursor is None:
            self.cursor = workflow.now() - timedelta(seconds=inp.initial_lookback_seconds)
        watchdog = asyncio.create_task(self._watchdog())
        for _ in range(inp.polls_per_run):
            await self._poll()
            if self.stopping or workflow.info().is_continue_as_new_suggested():
                break
            if await self._idle(timedelta(seconds=inp.poll_interval_seconds)):
                break
        watchdog.cancel()
        if self.stopping:
            await self._set_state(HealthState.STOPPED, detail="同步已按要求停止 stopped on request", alert=False)
            await self._settle()
            return self.status()
        await self._settle()
        workflow.continue_as_new(inp.model_copy(update={
            "cursor": self.cursor, "totals": self.totals, "runs": inp.runs + 1, "health": self.health}))

    async def _idle(self, interval: timedelta) -> bool:
        """Wait for the next poll: the interval, or ``poll_now`` / ``stop``. The timer running out
        is the normal case, not an error. True when a stop was asked for meanwhile."""
        try:
            await workflow.wait_condition(lambda: self.poll_requested or self.stopping, timeout=interval)
        except TimeoutError:
            pass
        self.poll_requested = False
        return self.stopping

    async def _settle(self) -> None:
        """Before continue-as-new or the end: signal handlers done, alerts sent, health written."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._background and not self._reporting)

    async def _poll(self) -> None:
        self.polling = True
        created = self.totals.created
        try:
            ok = await self._poll_windows()
        finally:
            self.polling = False
        h = self.health
        if ok:
            h.last_success_at, h.last_error, h.consecutive_errors = workflow.now(), None, 0
            self.backlog_trades = 0
            self.successes += 1
        else:
            h.consecutive_errors += 1
        state = sync_state(now=workflow.now(), since=h.since, last_success_at=h.last_success_at,
                           last_error=h.last_error, poll_interval_seconds=self.inp.poll_interval_seconds,
                           policy=self.policy)
        await self._set_state(state, report=False)
        await self._report(created=self.totals.created - created)

    # ---------------------------------------------------------------- health

    async def _watchdog(self) -> None:
        """A durable timer at the last success + stall_after: no poll succeeded since → stalled."""
        stall_after = self.policy.stall_after(self.inp.poll_interval_seconds)
        while True:
            due = (self.health.last_success_at or self.health.since) + stall_after
            if workflow.now() < due:
                await workflow.sleep(due - workflow.now())
                continue
            if not self.health.state.red:
                minutes = stall_after.total_seconds() / 60
                await self._set_state(HealthState.STALLED, detail=f"已超过 {minutes:.1f} 分钟没有成功轮询 "
                                      f"(间隔 {self.inp.poll_interval_seconds} 秒)")
            seen = self.successes
            await workflow.wait_condition(lambda: self.successes != seen)  # noqa: B023 - awaited before `seen` changes

    async def _set_state(self, state: HealthState, *, detail: str = "", alert: bool = True, report: bool = True) -> None:
        h = self.health
        if state == h.state:
            return
        previous, h.state, h.state_since = h.state, state, workflow.now()
        workflow.logger.info("sync %s: %s → %s", self.inp.account_id, previous.value, state.value)
        if alert and self.inp.alerts and (state.red or previous.red):
            self._alert(HealthAlert(account_id=self.inp.account_id, channel=self.inp.channel, kind="sync", state=state,
                                    previous=previous, at=workflow.now(), last_success_at=h.last_success_at,
                                    last_error=h.last_error, detail=detail))
        if report:
            await self._report(created=0)

    def _alert(self, alert: HealthAlert) -> None:
        async def send() -> None:
            try:
                await workflow.execute_activity(CH.NOTIFY_CHANNEL_HEALTH.name, alert, **ALERT)
            except ActivityError as err:  # a lost message must not stop the polling
                workflow.logger.warning("channel alert for %s not sent: %s", alert.account_id, err)

        t = asyncio.create_task(send())
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    async def _report(self, *, created: int) -> None:
        h = self.health
        h.report_seq += 1
        report = SyncHealthReport(
            account_id=self.inp.account_id, channel=self.inp.channel, workflow_id=workflow.info().workflow_id,
            seq=h.report_seq, state=h.state, state_since=h.state_since, at=workflow.now(),
            interval_seconds=self.inp.poll_interval_seconds,
            stall_after_seconds=self.policy.stall_after(self.inp.poll_interval_seconds).total_seconds(),
            last_poll_at=h.last_poll_at, last_success_at=h.last_success_at, last_error=h.last_error,
            consecutive_errors=h.consecutive_errors, cursor=self.cursor, backlog_trades=self.backlog_trades,
            created=created)
        self._reporting += 1
        try:
            await workflow.execute_activity(CH.RECORD_SYNC_HEALTH.name, report, result_type=bool, **REPORT)
        except ActivityError as err:  # the view lags; the sync goes on
            workflow.logger.warning("health of %s not recorded: %s", self.inp.account_id, err)
        finally:
            self._reporting -= 1

    async def _poll_windows(self) -> bool:
        """Read every window up to now - lag; False when a channel error stopped it (retried next poll)."""
        self.totals.polls += 1
        self.health.last_poll_at = workflow.now()
        end_of_poll = workflow.now() - timedelta(seconds=self.inp.lag_seconds)
        try:
            while self.cursor is not None and self.cursor < end_of_poll:
                start = self.cursor - timedelta(seconds=self.inp.overlap_seconds)
                # channels compare whole seconds: a window ends on one, so the cursor claims no more than was read
                end = min(end_of_poll, start + MAX_WINDOW).replace(microsecond=0)
                if end <= self.cursor:
                    break
                await self._window(start, end)
                self.cursor = end  # the whole window is accepted: only now does the cursor move
                self.totals.windows += 1
            return True
        except ActivityError as exc:
            self.totals.errors += 1
            cause = exc.cause
            self.health.last_error = getattr(cause, "message", None) or str(cause or exc)
            workflow.logger.warning("sync of %s failed, the next poll retries the window: %s",
                                    self.inp.account_id, self.health.last_error)
            return False

    async def _window(self, start: datetime, end: datetime) -> None:
        req = WindowRequest(account_id=self.inp.account_id, start=start, end=end, page_size=self.inp.page_size)
        total: int = await workflow.execute_activity(CH.COUNT_CHANNEL_WINDOW.name, req, result_type=int, **PAGE)
        self.backlog_trades = total  # counted in the window, not yet read
        pages = max(1, -(-total // self.inp.page_size))
        for page_no in range(pages, 0, -1):  # last page first: see the module docstring
            r: PageResult = await workflow.execute_activity(
                CH.SYNC_CHANNEL_PAGE.name, PageRequest(**req.model_dump(), page_no=page_no), result_type=PageResult, **PAGE)
            t = self.totals
            t.pages += 1
            t.fetched += r.fetched
            t.created += r.created
            t.duplicates += r.duplicates
            t.rejected += r.rejected
            t.skipped += r.skipped
            self.backlog_trades = max(0, self.backlog_trades - r.fetched)

    @workflow.signal
    def poll_now(self) -> None:
        self.poll_requested = True

    @workflow.signal
    def stop(self) -> None:
        self.stopping = True

    @workflow.query
    def status(self) -> SyncStatus:
        h = self.health
        return SyncStatus(account_id=self.inp.account_id, cursor=self.cursor, totals=self.totals, runs=self.inp.runs,
                          last_error=h.last_error, last_poll_at=h.last_poll_at, stopping=self.stopping,
                          polling=self.polling, state=h.state, last_success_at=h.last_success_at,
                          consecutive_errors=h.consecutive_errors, backlog_trades=self.backlog_trades)


SyncInput.model_rebuild()


async def ensure_sync_workflow(client: Client, account_id: str, task_queue: str, **options: Any) -> str:
    """Start the account's sync workflow unless it is already running (idempotent); its id."""
    from temporalio.common import WorkflowIDConflictPolicy

    wid = sync_workflow_id(account_id)
    await client.start_workflow(
        ChannelSyncWorkflow.run, SyncInput(account_id=account_id, **options), id=wid, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"channel sync {account_id}",
    )
    return wid
