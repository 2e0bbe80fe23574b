"""ChannelWatchdogWorkflow on the real dev server, in real time: it learns a pushed channel's rate
from the beats, its durable timer notices a silence far beyond that rate (red, WeCom alert, read
model), the next push ends it (recovery notice) — three times over, across a continue-as-new — and
every history replays."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType

from domain.channels.health import PushRatePolicy
from store.channel_health import health_rows
from store.db import engine_for, migrate
from tests.channel_support import alerts, channel_worker, eventually, replay_all, run_histories, timers_fired
from workflows.channel_watchdog import (
    ChannelWatchdogWorkflow,
    PushBeat,
    WatchdogInput,
    WatchStatus,
    beat_watchdog,
    watchdog_id,
)
from zhongshu.settings import Settings

POLICY = PushRatePolicy(factor=3, min_silence_seconds=1.0, learn_gaps=3)


async def test_silence_is_noticed_by_a_durable_timer_three_times_and_across_continue_as_new(dev_env, tmp_path, fake_wecom):
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    migrate(url)
    engine = engine_for(url)
    settings = Settings(database_url=url, wecom_webhook_url=fake_wecom.webhook_url)
    account = f"douyin-{uuid.uuid4().hex[:6]}"
    tq = f"watch-{uuid.uuid4().hex[:6]}"
    handle = dev_env.client.get_workflow_handle(watchdog_id(account))

    async def beat() -> None:
        await beat_watchdog(dev_env.client, account, "douyin", tq, PushBeat(at=datetime.now(UTC)), policy=POLICY)

    async def status(pred) -> WatchStatus | None:
        st: WatchStatus = await handle.query(ChannelWatchdogWorkflow.status)
        return st if pred(st) else None

    async with channel_worker(dev_env.client, engine, settings, tq):
        # the first beat starts it (signal-with-start); small runs so a continue-as-new comes soon
        await dev_env.client.start_workflow(
            ChannelWatchdogWorkflow.run, WatchdogInput(account_id=account, channel="douyin", policy=POLICY,
                                                       beats_per_run=5, report_every_seconds=0),
            id=watchdog_id(account), task_queue=tq, start_signal="push_received",
            start_signal_args=[PushBeat(at=datetime.now(UTC))])
        for _ in range(3):  # the usual rate: a push every 0.3 s
            await asyncio.sleep(0.3)
            await beat()
        await eventually(lambda: status(lambda s: s.state == "running" and s.pushes == 4), what="rate learnt")

        for cycle in range(3):  # silence → red + alert; a push → green + notice
            st = await eventually(lambda: status(lambda s: s.state == "silent"), timeout=20, what=f"silent #{cycle + 1}")
            assert st.silence_after_seconds is not None and st.silence_after_seconds >= 1.0
            await eventually(lambda c=cycle: len(alerts(fake_wecom, account)) >= 2 * c + 1, what="silence alert")
            await beat()
            await eventually(lambda: status(lambda s: s.state == "running"), what=f"running again #{cycle + 1}")

        st = await eventually(lambda: status(lambda s: s.runs >= 2), what="continued as new")
        assert st.pushes == 7
        msgs = await eventually(lambda: (m := alerts(fake_wecom, account)) and len(m) >= 6 and m, what="six messages")
        assert sum("渠道推送异常" in m for m in msgs) == 3 and sum("渠道推送已恢复" in m for m in msgs) == 3
        assert "渠道推送异常" in msgs[0] and "远超平常间隔" in msgs[0]
        row = await eventually(lambda: next((r for r in health_rows(engine) if r["account_id"] == account
                                             and r["pushes"] == 7 and r["state"] == "running"), None), what="projected")
        assert row["kind"] == "webhook" and row["last_success_at"] is not None and row["stall_after_seconds"] >= 1.0
        await handle.terminate("test over")

    histories = await run_histories(dev_env.client, watchdog_id(account))
    assert len(histories) >= 2
    assert histories[0].events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert sum(timers_fired(h) for h in histories) >= 3  # the silences, each noticed by its own timer
    await replay_all([ChannelWatchdogWorkflow], histories)
