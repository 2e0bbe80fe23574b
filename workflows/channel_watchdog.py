"""ChannelWatchdogWorkflow: one per pushed channel account (Douyin, mini-program), id
``channel-watchdog-{account}``, running for ever with continue-as-new.

A pushed channel cannot be polled for health: the only sign of life is its pushes. The API
signals-with-start this workflow (``push_received``) with the pushes it took — coalesced to one
signal per second at most (``api.channel_health_routes.PushBeats``) — and the workflow learns the
channel's usual gap between pushes (median of the recent gaps, ``domain.channels.health``). A
durable timer set to the last push + the silence threshold (``factor`` × the usual gap, at least
``min_silence_seconds``) notices a channel gone quiet far beyond its rate: ``silent`` (red), a WeCom
alert, the read model updated. The next push ends it (``running``, a recovery notice). Nothing
scans: each account's own timer fires, or a push cancels it.
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
    from domain.channels.health import (
        HealthAlert,
        HealthState,
        PushRatePolicy,
        WatchHealthReport,
        add_gap,
        push_state,
        silence_threshold,
        typical_gap,
    )
    from domain.contracts import channels as CH

PUSH_SIGNAL = "push_received"
REPORT: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
                             maximum_attempts=5),
)
ALERT: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=2), maximum_attempts=10),
)


class PushBeat(BaseModel):
    """Pushes the API took from the channel since its last beat (authentic ones: signature checked)."""

    at: datetime  # the last of them
    pushes: int = 1


class WatchCarry(BaseModel):
    state: HealthState = HealthState.LEARNING
    state_since: datetime
    last_push_at: datetime | None = None
    gaps: list[float] = []
    pushes: int = 0
    report_seq: int = 0
    runs: int = 1


class WatchdogInput(BaseModel):
    account_id: str
    channel: str
    policy: PushRatePolicy = PushRatePolicy()
    report_every_seconds: float = 60  # the read model's push count / last push: at most this stale
    beats_per_run: int = 500  # continue-as-new after this many signals
    alerts: bool = True
    carry: WatchCarry | None = None


class WatchStatus(BaseModel):
    account_id: str
    channel: str
    state: HealthState
    last_push_at: datetime | None
    pushes: int
    typical_gap_seconds: float | None
    silence_after_seconds: float | None
    runs: int


def watchdog_id(account_id: str) -> str:
    return f"channel-watchdog-{account_id}"


@workflow.defn(name="ChannelWatchdogWorkflow")
class ChannelWatchdogWorkflow:
    @workflow.init
    def __init__(self, inp: WatchdogInput) -> None:
        self.inp = inp
        self.c = inp.carry.model_copy(deep=True) if inp.carry else WatchCarry(state_since=workflow.now())
        self.inbox: list[PushBeat] = []
        self.beats = 0  # signals taken by this run
        self.reported_at: datetime | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._reporting = 0

    @workflow.run
    async def run(self, inp: WatchdogInput) -> None:
        while True:
            if self.inbox:
                await self._take_pushes()
            if (self.beats >= inp.beats_per_run or workflow.info().is_continue_as_new_suggested()) and not self.inbox:
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._background and not self._reporting)
                if not self.inbox:
                    workflow.continue_as_new(inp.model_copy(update={
                        "carry": self.c.model_copy(update={"runs": self.c.runs + 1})}))
                continue
            threshold = silence_threshold(self.c.gaps, inp.policy)
            if threshold is None or self.c.last_push_at is None or self.c.state == HealthState.SILENT:
                await workflow.wait_condition(lambda: bool(self.inbox))  # learning, or silent: the next push
                continue
            due = self.c.last_push_at + threshold
            if workflow.now() >= due:
                await self._set_state(HealthState.SILENT, detail=(
                    f"已 {threshold.total_seconds() / 60:.1f} 分钟未收到推送, 远超平常间隔"
                    f" (中位 {typical_gap(self.c.gaps) or 0:.0f} 秒)"))
                continue
            try:  # the durable timer: a push cancels it, silence lets it fire
                await workflow.wait_condition(lambda: bool(self.inbox), timeout=due - workflow.now())
            except TimeoutError:
                pass

    async def _take_pushes(self) -> None:
        beats, self.inbox = self.inbox, []
        for b in sorted(beats, key=lambda b: b.at):
            self.c.gaps = add_gap(self.c.gaps, self.c.last_push_at, b.at, self.inp.policy)
            if self.c.last_push_at is None or b.at > self.c.last_push_at:
                self.c.last_push_at = b.at
            self.c.pushes += b.pushes
        state = push_state(now=self.c.last_push_at or workflow.now(), last_push_at=self.c.last_push_at,
                           gaps=self.c.gaps, policy=self.inp.policy)
        if state != self.c.state:
            await self._set_state(state)
        elif self.reported_at is None or workflow.now() - self.reported_at >= timedelta(seconds=self.inp.report_every_seconds):
            await self._report()

    async def _set_state(self, state: HealthState, *, detail: str = "") -> None:
        previous, self.c.state, self.c.state_since = self.c.state, state, workflow.now()
        workflow.logger.info("watchdog %s: %s → %s", self.inp.account_id, previous.value, state.value)
        if self.inp.alerts and (state.red or previous.red):
            self._alert(HealthAlert(account_id=self.inp.account_id, channel=self.inp.channel, kind="webhook",
                                    state=state, previous=previous, at=workflow.now(),
                                    last_success_at=self.c.last_push_at, detail=detail))
        await self._report()

    def _alert(self, alert: HealthAlert) -> None:
        async def send() -> None:
            try:
                await workflow.execute_activity(CH.NOTIFY_CHANNEL_HEALTH.name, alert, **ALERT)
            except ActivityError as err:
                workflow.logger.warning("channel alert for %s not sent: %s", alert.account_id, err)

        t = asyncio.create_task(send())
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    async def _report(self) -> None:
        self.c.report_seq += 1
        self.reported_at = workflow.now()
        threshold = silence_threshold(self.c.gaps, self.inp.policy)
        report = WatchHealthReport(
            account_id=self.inp.account_id, channel=self.inp.channel, workflow_id=workflow.info().workflow_id,
            seq=self.c.report_seq, state=self.c.state, state_since=self.c.state_since, at=workflow.now(),
            last_push_at=self.c.last_push_at, pushes=self.c.pushes, typical_gap_seconds=typical_gap(self.c.gaps),
            silence_after_seconds=threshold.total_seconds() if threshold else None)
        self._reporting += 1
        try:
            await workflow.execute_activity(CH.RECORD_WATCH_HEALTH.name, report, result_type=bool, **REPORT)
        except ActivityError as err:
            workflow.logger.warning("health of %s not recorded: %s", self.inp.account_id, err)
        finally:
            self._reporting -= 1

    @workflow.signal(name=PUSH_SIGNAL)
    def push_received(self, beat: PushBeat) -> None:
        self.beats += 1
        self.inbox.append(beat)

    @workflow.query(name="status")
    def status(self) -> WatchStatus:
        threshold = silence_threshold(self.c.gaps, self.inp.policy)
        return WatchStatus(account_id=self.inp.account_id, channel=self.inp.channel, state=self.c.state,
                           last_push_at=self.c.last_push_at, pushes=self.c.pushes,
                           typical_gap_seconds=typical_gap(self.c.gaps),
                           silence_after_seconds=threshold.total_seconds() if threshold else None, runs=self.c.runs)


async def beat_watchdog(client: Client, account_id: str, channel: str, task_queue: str, beat: PushBeat, *,
                        policy: PushRatePolicy | None = None) -> None:
    """Signal-with-start: the account's watchdog gets the beat, and starts on the first one. ``policy``
    applies when it starts (a running watchdog keeps its own)."""
    await client.start_workflow(
        ChannelWatchdogWorkflow.run,
        WatchdogInput(account_id=account_id, channel=channel, policy=policy or PushRatePolicy()),
        id=watchdog_id(account_id), task_queue=task_queue, start_signal=PUSH_SIGNAL, start_signal_args=[beat],
        static_summary=f"channel watchdog {account_id}",
    )
