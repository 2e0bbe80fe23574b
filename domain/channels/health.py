"""The health of a channel account's intake, decided from what the account's own workflow knows.

Two kinds of account:

* **polled** (Tmall/Taobao, ``ChannelSyncWorkflow``): ``failed`` when its last poll ended in an
  error no retry fixed (bad signature, disabled account, channel down past the retries), ``stalled``
  when no poll has *succeeded* for ``stall_after_polls`` × its poll interval (a poll stuck in
  retries, a worker that is gone), else ``running``;
* **pushed** (Douyin, mini-program, ``ChannelWatchdogWorkflow``): ``silent`` when no push has
  arrived for far longer than its usual gap (``silence_threshold``), else ``running`` (``learning``
  until it has seen enough pushes to know its rate).

``stopped`` is a workflow that no longer runs (stopped by a person, failed, terminated). Everything
but ``running`` and ``learning`` shows red and is worth a WeCom alert. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from statistics import median

from pydantic import BaseModel, Field

from domain import labels


class HealthState(StrEnum):
    RUNNING = "running"
    LEARNING = "learning"  # a pushed channel whose usual rate is not known yet
    FAILED = "failed"
    STALLED = "stalled"
    SILENT = "silent"
    STOPPED = "stopped"

    @property
    def red(self) -> bool:
        return self not in (HealthState.RUNNING, HealthState.LEARNING)

    @property
    def label(self) -> str:
        return labels.label("channel_health", self)




class SyncHealthPolicy(BaseModel):
    stall_after_polls: int = Field(default=3, ge=1, description="no successful poll for this many intervals → stalled")

    def stall_after(self, poll_interval_seconds: float) -> timedelta:
        return timedelta(seconds=poll_interval_seconds * self.stall_after_polls)


def sync_state(*, now: datetime, since: datetime, last_success_at: datetime | None, last_error: str | None,
               poll_interval_seconds: float, policy: SyncHealthPolicy) -> HealthState:
    """``since``: when watching began (the workflow's start), the reference while nothing succeeded yet.
    A poll that failed says more than the silence that follows it, so ``failed`` wins."""
    if last_error:
        return HealthState.FAILED
    if now - (last_success_at or since) >= policy.stall_after(poll_interval_seconds):
        return HealthState.STALLED
    return HealthState.RUNNING


class PushRatePolicy(BaseModel):
    """When a pushed channel counts as silent: ``factor`` × its typical (median) gap between pushes,
    never less than ``min_silence_seconds``, and only once ``learn_gaps`` gaps were seen."""

    factor: float = Field(default=10.0, gt=1)
    min_silence_seconds: float = Field(default=1800.0, gt=0)
    learn_gaps: int = Field(default=5, ge=1)
    keep_gaps: int = Field(default=50, ge=3, description="the recent gaps the typical gap is taken from")


def typical_gap(gaps: list[float]) -> float | None:
    """The median of the recent gaps between pushes (robust to a burst or one long night)."""
    return median(gaps) if gaps else None


def silence_threshold(gaps: list[float], policy: PushRatePolicy) -> timedelta | None:
    """How long without a push is 'far beyond its usual rate'; None while still learning the rate."""
    if len(gaps) < policy.learn_gaps:
        return None
    gap = typical_gap(gaps) or 0.0
    return timedelta(seconds=max(policy.min_silence_seconds, policy.factor * gap))


def push_state(*, now: datetime, last_push_at: datetime | None, gaps: list[float], policy: PushRatePolicy) -> HealthState:
    threshold = silence_threshold(gaps, policy)
    if threshold is None or last_push_at is None:
        return HealthState.LEARNING
    return HealthState.SILENT if now - last_push_at >= threshold else HealthState.RUNNING


def add_gap(gaps: list[float], previous: datetime | None, at: datetime, policy: PushRatePolicy) -> list[float]:
    """The recent gaps with the one ending at ``at`` (pushes within the same second are one burst)."""
    if previous is None or at <= previous:
        return gaps
    gap = (at - previous).total_seconds()
    return [*gaps, gap][-policy.keep_gaps:]


# ---------------------------------------------------------------------------------------- alert text


class HealthAlert(BaseModel):
    """One WeCom alert: an account entered a red state, or recovered from one."""

    account_id: str
    channel: str
    kind: str  # sync | webhook
    state: HealthState
    previous: HealthState | None = None
    at: datetime
    last_success_at: datetime | None = None  # last successful poll / last push
    last_error: str | None = None
    detail: str = ""  # e.g. "已 3 分钟无成功轮询 (间隔 30 秒)"
    console_url: str = ""


CHANNEL_NAMES = {"tmall": "天猫", "taobao": "淘宝", "douyin": "抖音", "miniprogram": "小程序", "erp": "ERP"}
CN_TZ = timezone(timedelta(hours=8))


def _cn(dt: datetime | None) -> str:
    if dt is None:
        return "无"
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(CN_TZ).strftime("%m-%d %H:%M:%S")


def render_alert(a: HealthAlert, max_bytes: int = 4000) -> str:
    """The WeCom markdown for an alert (Chinese, within the robot's 4096-byte limit)."""
    name = f"{CHANNEL_NAMES.get(a.channel, a.channel)} {a.account_id}"
    what = "渠道同步" if a.kind == "sync" else "渠道推送"
    if a.state.red:
        head = f"## <font color=\"warning\">🔴 {what}异常 · {name}</font>"
        state = f"> 状态:<font color=\"warning\">{a.state.label} ({a.state.value})</font>"
    else:
        head = f"## 🟢 {what}已恢复 · {name}"
        state = f"> 状态:{a.state.label} ({a.state.value})" + (f",此前 {a.previous.label}" if a.previous else "")
    last = "最近一次成功轮询" if a.kind == "sync" else "最近一次推送"
    lines = [head, state, f"> {last}:{_cn(a.last_success_at)}", f"> 时间:{_cn(a.at)}"]
    if a.detail:
        lines.append(f"> 说明:{a.detail}")
    if a.last_error and a.state.red:
        lines.append(f"> 错误:<font color=\"warning\">{' '.join(a.last_error.split())[:600]}</font>")
    if a.console_url:
        lines += ["", f"[查看渠道健康]({a.console_url.rstrip('/')}/channels)"]
    text = "\n".join(lines)
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[:max_bytes - 3].decode("utf-8", "ignore") + "…"


# ---------------------------------------------------------------------------------------- reports


class SyncHealthReport(BaseModel):
    """What a sync workflow writes to the read model after each poll (and on each state change).
    ``seq`` grows with every report of the account (carried over continue-as-new), so a retried
    write never counts the poll's orders twice."""

    account_id: str
    channel: str
    workflow_id: str
    seq: int
    state: HealthState
    state_since: datetime
    at: datetime
    interval_seconds: float
    stall_after_seconds: float
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    cursor: datetime | None = None
    backlog_trades: int = 0
    created: int = 0  # orders this poll created (added to imported_today of the Beijing day of ``at``)


class WatchHealthReport(BaseModel):
    """What a webhook watchdog writes: the push rate it learnt and its verdict."""

    account_id: str
    channel: str
    workflow_id: str
    seq: int
    state: HealthState
    state_since: datetime
    at: datetime
    last_push_at: datetime | None = None
    pushes: int = 0
    typical_gap_seconds: float | None = None
    silence_after_seconds: float | None = None


def beijing_day(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CN_TZ).date().isoformat()
