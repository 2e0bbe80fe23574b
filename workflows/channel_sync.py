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
  tries the same window again — the cursor never skips past trades it has not read.

Signals: ``poll_now`` (poll without waiting for the timer), ``stop`` (finish after the current poll).
Query: ``status``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.channels import PageRequest, PageResult, WindowRequest

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


class SyncStatus(BaseModel):
    account_id: str
    cursor: datetime | None
    totals: SyncTotals
    runs: int
    last_error: str | None
    last_poll_at: datetime | None
    stopping: bool
    polling: bool = False  # a poll is in progress


def sync_workflow_id(account_id: str) -> str:
    return f"channel-sync-{account_id}"


PAGE = dict(
    start_to_close_timeout=timedelta(seconds=60),
    heartbeat_timeout=timedelta(seconds=15),  # a worker that dies mid-page: the page is retried in 15 s, not 60
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(seconds=60), maximum_attempts=8,
                             non_retryable_error_types=[]),
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
        self.last_error: str | None = None
        self.last_poll_at: datetime | None = None
        self.polling = False

    @workflow.run
    async def run(self, inp: SyncInput) -> SyncStatus:
        if self.cursor is None:
            self.cursor = workflow.now() - timedelta(seconds=inp.initial_lookback_seconds)
        for _ in range(inp.polls_per_run):
            await self._poll()
            if self.stopping or workflow.info().is_continue_as_new_suggested():
                break
            await workflow.wait_condition(lambda: self.poll_requested or self.stopping,
                                          timeout=timedelta(seconds=inp.poll_interval_seconds))
            self.poll_requested = False
            if self.stopping:
                break
        if self.stopping:
            return self.status()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(inp.model_copy(update={"cursor": self.cursor, "totals": self.totals, "runs": inp.runs + 1}))

    async def _poll(self) -> None:
        self.polling = True
        try:
            await self._poll_windows()
        finally:
            self.polling = False

    async def _poll_windows(self) -> None:
        self.totals.polls += 1
        self.last_poll_at = workflow.now()
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
            self.last_error = None
        except ActivityError as exc:
            self.totals.errors += 1
            cause = exc.cause
            self.last_error = getattr(cause, "message", None) or str(cause or exc)
            workflow.logger.warning("sync of %s failed, the next poll retries the window: %s",
                                    self.inp.account_id, self.last_error)

    async def _window(self, start: datetime, end: datetime) -> None:
        req = WindowRequest(account_id=self.inp.account_id, start=start, end=end, page_size=self.inp.page_size)
        total: int = await workflow.execute_activity("count_channel_window", req, result_type=int, **PAGE)
        pages = max(1, -(-total // self.inp.page_size))
        for page_no in range(pages, 0, -1):  # last page first: see the module docstring
            r: PageResult = await workflow.execute_activity(
                "sync_channel_page", PageRequest(**req.model_dump(), page_no=page_no), result_type=PageResult, **PAGE)
            t = self.totals
            t.pages += 1
            t.fetched += r.fetched
            t.created += r.created
            t.duplicates += r.duplicates
            t.rejected += r.rejected
            t.skipped += r.skipped

    @workflow.signal
    def poll_now(self) -> None:
        self.poll_requested = True

    @workflow.signal
    def stop(self) -> None:
        self.stopping = True

    @workflow.query
    def status(self) -> SyncStatus:
        return SyncStatus(account_id=self.inp.account_id, cursor=self.cursor, totals=self.totals, runs=self.inp.runs,
                          last_error=self.last_error, last_poll_at=self.last_poll_at, stopping=self.stopping,
                          polling=self.polling)


async def ensure_sync_workflow(client, account_id: str, task_queue: str, **options) -> str:
    """Start the account's sync workflow unless it is already running (idempotent); its id."""
    from temporalio.common import WorkflowIDConflictPolicy

    wid = sync_workflow_id(account_id)
    await client.start_workflow(
        ChannelSyncWorkflow.run, SyncInput(account_id=account_id, **options), id=wid, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"channel sync {account_id}",
    )
    return wid
