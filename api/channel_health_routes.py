"""Channel health: ``GET /v1/channels/health`` (also behind ``zhongshu channels list``, the console's
渠道健康 page and ``make up``'s health lines), and the beats that feed the webhook watchdogs.

What each account's own workflow decided (projected into ``channel_health``) is the basis; the view
adds what only an outside look can see: the workflow no longer runs (failed, terminated — red), or
its projection went quiet past the stall / silence threshold although the workflow says nothing (a
worker that is gone cannot report: red too). Alerts are not sent from here — the workflows send
them; this is the read side.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from api.auth import READERS, require
from domain.channels.health import CHANNEL_NAMES, CN_TZ, HealthState, beijing_day
from store.channel_health import health_rows, last_authentic_push, orders_created_since
from store.schema import channel_accounts, oauth_clients
from workflows.channel_sync import sync_workflow_id
from workflows.channel_watchdog import PushBeat, beat_watchdog, watchdog_id
from zhongshu.channel_settings import channel_watch

log = logging.getLogger("zhongshu.channels.health")
router = APIRouter()
SYNC_CHANNELS = ("tmall", "taobao")
WEBHOOK_CHANNELS = ("douyin", "miniprogram")


class ChannelHealth(BaseModel):
    account_id: str
    channel: str
    channel_name: str = Field(description="the channel in Chinese, e.g. 天猫")
    kind: Literal["sync", "webhook"] = Field(description="sync: polled by ChannelSyncWorkflow; webhook: pushes us")
    state: HealthState
    state_label: str
    red: bool = Field(description="failed, stalled, silent or stopped: someone has to look")
    reason: str = Field(default="", description="why it is in this state")
    state_since: datetime | None = None
    workflow_id: str | None = None
    workflow_status: str | None = Field(default=None, description="RUNNING, FAILED, … NOT_FOUND, UNKNOWN (Temporal unreachable)")
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = Field(default=None, description="sync: last successful poll; webhook: last push")
    last_error: str | None = None
    consecutive_errors: int = 0
    orders_today: int = Field(default=0, description="orders imported on the Beijing day `day`")
    backlog_trades: int | None = Field(default=None, description="sync: trades counted in the window, not yet read")
    backlog_seconds: float | None = Field(default=None, description="sync: how far the cursor is behind now")
    interval_seconds: float | None = None
    stall_after_seconds: float | None = Field(default=None, description="sync: no success this long → stalled; "
                                                                        "webhook: no push this long → silent")
    pushes: int | None = None
    typical_gap_seconds: float | None = None
    updated_at: datetime | None = None

    def line(self) -> str:
        """One line for a terminal (``make up``, logs): state, last poll / push, today, backlog, error."""
        icon = "🔴" if self.red else "🟢"
        parts = [f"{icon} {self.account_id} ({self.channel_name}, {'轮询' if self.kind == 'sync' else '推送'})",
                 f"{self.state_label} {self.state.value}"]
        if self.kind == "sync":
            parts.append(f"最近轮询 {cn_time(self.last_poll_at)}")
            parts.append(f"最近成功 {cn_time(self.last_success_at)}")
        else:
            parts.append(f"最近推送 {cn_time(self.last_success_at)}")
        parts.append(f"今日订单 {self.orders_today}")
        if self.kind == "sync":
            lag = "-" if self.backlog_seconds is None else f"{self.backlog_seconds:.0f} 秒"
            parts.append(f"积压 {self.backlog_trades or 0} 单 / 游标落后 {lag}")
        if self.reason:
            parts.append(self.reason)
        if self.last_error and self.red:
            parts.append(f"错误: {' '.join(self.last_error.split())[:160]}")
        return " · ".join(parts)


def cn_time(dt: datetime | None) -> str:
    """Beijing clock time (with the date when not today)."""
    if dt is None:
        return "-"
    local = dt.astimezone(CN_TZ)
    today = datetime.now(UTC).astimezone(CN_TZ).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%m-%d %H:%M:%S")


class ChannelHealthList(BaseModel):
    checked_at: datetime
    day: str = Field(description="the Beijing day orders_today counts")
    total: int
    red: int
    items: list[ChannelHealth]


@dataclass
class Account:
    account_id: str
    channel: str
    kind: Literal["sync", "webhook"]


def _accounts(engine: Engine, settings: Any, rows: list[dict[str, Any]]) -> list[Account]:
    """Every channel account whose intake can be healthy or not: polled accounts stored or configured,
    pushed channels configured, and whatever has a health row."""
    found: dict[str, Account] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(channel_accounts.c.account_id, channel_accounts.c.channel, channel_accounts.c.enabled)):
            if r.channel in SYNC_CHANNELS and r.enabled:
                found[r.account_id] = Account(r.account_id, r.channel, "sync")
        if conn.execute(select(oauth_clients.c.client_id).where(oauth_clients.c.channel == "miniprogram")).first():
            found["miniprogram"] = Account("miniprogram", "miniprogram", "webhook")
    if getattr(settings, "tmall_url", ""):
        found.setdefault("tmall-default", Account("tmall-default", "tmall", "sync"))
    if getattr(settings, "douyin_app_secret", ""):
        found.setdefault("douyin", Account("douyin", "douyin", "webhook"))
    for row in rows:
        found.setdefault(row["account_id"], Account(row["account_id"], row["channel"], row["kind"]))
    return sorted(found.values(), key=lambda a: (a.kind, a.account_id))


async def _workflow_status(client: Any, workflow_id: str) -> tuple[str, datetime | None]:
    from temporalio.service import RPCError, RPCStatusCode

    if client is None:
        return "UNKNOWN", None
    try:
        d = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=timedelta(seconds=3))
    except RPCError as exc:
        return ("NOT_FOUND", None) if exc.status == RPCStatusCode.NOT_FOUND else ("UNKNOWN", None)
    except Exception:  # noqa: BLE001 - Temporal unreachable: the read model still says something
        return "UNKNOWN", None
    return (d.status.name if d.status else "UNKNOWN"), d.start_time


def _item(a: Account, row: dict[str, Any] | None, wf: tuple[str, datetime | None], *, now: datetime, day: str,
          pushed_today: dict[str, int], settings: Any, seen_push: datetime | None = None) -> ChannelHealth:
    status, started = wf
    watch = channel_watch(settings)
    row = row or {}
    item = ChannelHealth(
        account_id=a.account_id, channel=a.channel, channel_name=CHANNEL_NAMES.get(a.channel, a.channel), kind=a.kind,
        state=HealthState(row.get("state") or (HealthState.RUNNING if a.kind == "sync" else HealthState.LEARNING)),
        state_label="", red=False, state_since=row.get("state_since"),
        workflow_id=sync_workflow_id(a.account_id) if a.kind == "sync" else watchdog_id(a.account_id),
        workflow_status=status, last_poll_at=row.get("last_poll_at"), last_success_at=row.get("last_success_at"),
        last_error=row.get("last_error"), consecutive_errors=row.get("consecutive_errors") or 0,
        interval_seconds=row.get("interval_seconds"), stall_after_seconds=row.get("stall_after_seconds"),
        updated_at=row.get("updated_at"),
    )
    if a.kind == "sync":
        item.orders_today = int(row.get("imported_today") or 0) if row.get("imported_day") == day else 0
        item.backlog_trades = int(row.get("backlog_trades") or 0) if row else None
        if row.get("cursor"):
            item.backlog_seconds = max(0.0, (now - row["cursor"]).total_seconds())
        stall = item.stall_after_seconds or getattr(settings, "channel_poll_seconds", 30) * watch.channel_stall_polls
        if status in ("FAILED", "TIMED_OUT"):
            item.state, item.reason = HealthState.FAILED, f"同步工作流已{'失败' if status == 'FAILED' else '超时'} ({status}): 需重新启动"
        elif status in ("TERMINATED", "CANCELED", "COMPLETED"):
            item.state, item.reason = HealthState.STOPPED, f"同步工作流已结束 ({status}): 订单不再导入"
        elif status == "NOT_FOUND":
            item.state, item.reason = HealthState.STOPPED, "没有同步工作流: `zhongshu channels add` 启动轮询"
        else:
            ref = row.get("last_success_at") or row.get("state_since") or started
            if item.state == HealthState.FAILED:
                item.reason = f"最近一次轮询失败 (连续 {item.consecutive_errors} 次)"
            elif item.state == HealthState.STALLED:
                item.reason = "已超过停滞阈值没有成功轮询"
            if ref is not None and not item.state.red and (now - ref).total_seconds() >= stall:
                item.state = HealthState.STALLED
                item.reason = f"{(now - ref).total_seconds():.0f} 秒没有成功轮询 (阈值 {stall:.0f} 秒; worker 是否在运行?)"
            elif not row:
                item.reason = "尚无轮询记录"
    else:
        item.orders_today = pushed_today.get(a.channel, 0)
        item.pushes = row.get("pushes") if row else 0
        item.typical_gap_seconds = row.get("typical_gap_seconds")
        if seen_push is not None and (item.last_success_at is None or seen_push > item.last_success_at):
            item.last_success_at = seen_push  # what the API itself saw (the watchdog's report may lag)
        last, threshold = item.last_success_at, row.get("stall_after_seconds")
        if not row:
            item.reason = "尚未收到推送" if item.last_success_at is None else "推送看门狗尚未上报 (its watchdog has not reported yet)"
        elif item.state == HealthState.SILENT:
            item.reason = "推送中断: 远超平常的推送间隔"
        elif last is not None and threshold and (now - last).total_seconds() >= threshold:
            item.state = HealthState.SILENT
            item.reason = f"{(now - last).total_seconds():.0f} 秒未收到推送 (阈值 {threshold:.0f} 秒)"
        elif item.state == HealthState.LEARNING:
            item.reason = "正在学习平常的推送间隔"
        if row and status in ("FAILED", "TIMED_OUT", "TERMINATED", "CANCELED"):
            item.state, item.reason = HealthState.STOPPED, f"推送看门狗已结束 ({status}): 下一次推送会重新启动它"
    item.state_label, item.red = item.state.label, item.state.red
    return item


async def health_report(engine: Engine, client: Any, settings: Any, now: datetime | None = None) -> ChannelHealthList:
    """The health of every channel account (API, CLI, console and ``make up`` share it)."""
    now = now or datetime.now(UTC)
    day = beijing_day(now)
    midnight = datetime.fromisoformat(day).replace(tzinfo=CN_TZ)
    rows = await asyncio.to_thread(health_rows, engine)
    by_id = {r["account_id"]: r for r in rows}
    accounts = await asyncio.to_thread(_accounts, engine, settings, rows)
    pushed_today = await asyncio.to_thread(orders_created_since, engine, midnight)
    seen = {a.channel: await asyncio.to_thread(last_authentic_push, engine, a.channel)
            for a in accounts if a.kind == "webhook" and a.channel == "douyin"}  # the pushes webhook_attempts records
    statuses = await asyncio.gather(*[
        _workflow_status(client, sync_workflow_id(a.account_id) if a.kind == "sync" else watchdog_id(a.account_id))
        for a in accounts])
    items = [_item(a, by_id.get(a.account_id), st, now=now, day=day, pushed_today=pushed_today, settings=settings,
                   seen_push=seen.get(a.channel) if a.kind == "webhook" else None)
             for a, st in zip(accounts, statuses, strict=True)]
    return ChannelHealthList(checked_at=now, day=day, total=len(items), red=sum(i.red for i in items), items=items)


@router.get("/v1/channels/health", tags=["channels"], response_model=ChannelHealthList,
            responses={200: {"description": "every channel account's intake: running / failed / stalled / silent / stopped"},
                       401: {"description": "no or wrong API key"},
                       403: {"description": "the key's role may not read channel health"}})
async def channels_health(request: Request, _role: str = Depends(require(*READERS))) -> ChannelHealthList:
    """Each channel account's sync (polled) or push (webhook) health: state, last poll / push, last
    error, orders imported today (Beijing day), backlog (trades counted but not read, cursor lag).
    Red: failed, stalled, silent or stopped. Temporal unreachable → still answered from the read
    model (``workflow_status`` UNKNOWN)."""
    app = request.app
    return await health_report(app.state.engine, getattr(app.state, "client", None), app.state.settings)


# ---------------------------------------------------------------------------------------- beats


class PushBeats:
    """Coalesce the pushes the API takes into at most one watchdog signal per account per
    ``delay`` seconds (a busy channel costs one signal a second, not one per push). A beat lost with
    the process is harmless: the next push beats again."""

    def __init__(self, delay: float = 1.0):
        self.delay = delay
        self.pending: dict[tuple[str, str], PushBeat] = {}
        self._flusher: asyncio.Task | None = None

    def note(self, app: Any, account_id: str, channel: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        key = (account_id, channel)
        b = self.pending.get(key)
        self.pending[key] = PushBeat(at=max(at, b.at) if b else at, pushes=(b.pushes if b else 0) + 1)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush(app))

    async def _flush(self, app: Any) -> None:
        while self.pending:
            await asyncio.sleep(self.delay)
            pending, self.pending = self.pending, {}
            settings = app.state.settings
            policy = channel_watch(settings, getattr(app.state, "channel_watch", None)).push_rate_policy()
            for (account_id, channel), beat in pending.items():
                try:
                    await beat_watchdog(app.state.client, account_id, channel, settings.task_queue, beat, policy=policy)
                except Exception as exc:  # noqa: BLE001 - the push itself was taken; only the watchdog misses a beat
                    log.warning("watchdog of %s missed a beat: %s", account_id, exc)


def note_push(app: Any, account_id: str, channel: str) -> None:
    """Tell the account's watchdog (soon, coalesced) that an authentic push arrived."""
    beats = getattr(app.state, "push_beats", None)
    if beats is None:
        watch = channel_watch(app.state.settings, getattr(app.state, "channel_watch", None))
        beats = app.state.push_beats = PushBeats(watch.webhook_beat_seconds)
    beats.note(app, account_id, channel)
