"""ChannelSyncWorkflow on the real dev server, in real time, against the fake Tmall over HTTP: it
lives through its idle timeouts and continue-as-new and still imports what comes later; a failed
poll and a stalled one turn it red and tell WeCom, recovery turns it green again; every history
replays. (A 1 s poll interval keeps each test to seconds.)"""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType

from fakes import tmall as fake_tmall
from fakes.serve import serve_in_thread
from store import read_model
from store.channel_health import health_rows
from store.db import engine_for, migrate
from tests.channel_support import (
    add_tmall_account,
    alerts,
    channel_worker,
    eventually,
    replay_all,
    run_histories,
    timers_fired,
    trades_now,
)
from workflows.channel_sync import ChannelSyncWorkflow, SyncInput, SyncStatus, sync_workflow_id
from zhongshu.settings import Settings


@pytest.fixture(scope="module")
def tmall_server():
    server = serve_in_thread(fake_tmall.create_app())
    yield server
    server.stop()


@pytest.fixture
def fake(tmall_server):
    state = tmall_server._server.config.app.state.tmall
    state.reset()
    return state


@pytest.fixture
def env(tmp_path, tmall_server, fake_wecom):
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    migrate(url)
    engine = engine_for(url)
    account_id = add_tmall_account(engine, tmall_server.url)
    # orders go to a queue nobody polls: the order workflows exist (durably started), that is the import
    settings = Settings(database_url=url, task_queue=f"orders-{uuid.uuid4().hex[:6]}",
                        wecom_webhook_url=fake_wecom.webhook_url, console_base_url="http://console.test")
    yield engine, settings, account_id
    engine.dispose()


def fast(account_id: str, **kw) -> SyncInput:
    return SyncInput(account_id=account_id, poll_interval_seconds=1, overlap_seconds=2, lag_seconds=0,
                     initial_lookback_seconds=600, page_size=10, **kw)


def health(engine, account_id: str) -> dict | None:
    return next((r for r in health_rows(engine) if r["account_id"] == account_id), None)


async def test_sync_lives_through_idle_timeouts_and_continue_as_new_then_imports_a_new_trade(dev_env, fake, env, fake_wecom):
    engine, settings, account_id = env
    first = trades_now(fake, 3)
    tq = f"sync-rt-{uuid.uuid4().hex[:6]}"
    wid = sync_workflow_id(account_id)
    async with channel_worker(dev_env.client, engine, settings, tq):
        handle = await dev_env.client.start_workflow(ChannelSyncWorkflow.run, fast(account_id, polls_per_run=3),
                                                     id=wid, task_queue=tq)
        # three polls → three idle timeouts → continue-as-new → more polls in the second run
        st: SyncStatus = await eventually(lambda: _status_if(handle, lambda s: s.runs >= 2 and s.totals.polls >= 5),
                                          timeout=30, what="two runs")
        assert st.totals.created == 3 and st.state == "running" and st.last_error is None
        placed = trades_now(fake, 2, start=50)  # after the third poll (and the continue-as-new)
        st = await eventually(lambda: _status_if(handle, lambda s: s.totals.created == 5), timeout=20,
                              what="the new trades imported")
        for t in first + placed:  # each trade became an order: its workflow and its read-model row
            oid = f"order-tmall-{t['tid']}"
            assert (await dev_env.client.get_workflow_handle(oid).describe()).id == oid
            assert read_model.get_order(engine, oid)["status"] == "received"
        row = await eventually(lambda: (r := health(engine, account_id)) and r["imported_today"] == 5 and r,
                               what="health row counts 5 imported today")
        assert row["state"] == "running" and row["last_error"] is None and row["backlog_trades"] == 0
        assert row["last_success_at"] is not None and row["cursor"] is not None and row["kind"] == "sync"
        await handle.terminate("test over")

    histories = await run_histories(dev_env.client, wid)
    assert len(histories) >= 2
    first_run = histories[0]
    assert first_run.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert timers_fired(first_run) >= 3  # the idle timeouts that used to fail it
    await replay_all([ChannelSyncWorkflow], histories)
    assert not alerts(fake_wecom, account_id)  # healthy all along: nobody bothered


async def test_failed_poll_alerts_then_recovers(dev_env, fake, env, fake_wecom):
    engine, settings, account_id = env
    trades_now(fake, 2, start=100)
    tq = f"sync-rt-{uuid.uuid4().hex[:6]}"
    wid = sync_workflow_id(account_id)
    async with channel_worker(dev_env.client, engine, settings, tq):
        handle = await dev_env.client.start_workflow(ChannelSyncWorkflow.run, fast(account_id, polls_per_run=4),
                                                     id=wid, task_queue=tq)
        await eventually(lambda: _status_if(handle, lambda s: s.totals.created == 2), what="first trades")
        fake.apps[fake_tmall.APP_KEY] = "rotated"  # the channel rotated the secret: no retry fixes that
        st = await eventually(lambda: _status_if(handle, lambda s: s.state == "failed"), what="failed")
        assert "Invalid signature" in st.last_error
        msg = await eventually(lambda: alerts(fake_wecom, account_id), what="WeCom alert")
        assert "渠道同步异常" in msg[0] and "失败" in msg[0] and "Invalid signature" in msg[0]
        assert "http://console.test/channels" in msg[0]
        row = await eventually(lambda: (r := health(engine, account_id)) and r["state"] == "failed" and r)
        assert "Invalid signature" in row["last_error"] and row["consecutive_errors"] >= 1

        fake.apps[fake_tmall.APP_KEY] = fake_tmall.APP_SECRET  # fixed: the next poll succeeds, nothing lost
        later = trades_now(fake, 1, start=110)
        st = await eventually(lambda: _status_if(handle, lambda s: s.state == "running" and s.totals.created == 3),
                              timeout=20, what="recovered")
        msgs = await eventually(lambda: (m := alerts(fake_wecom, account_id)) and len(m) >= 2 and m)
        assert "已恢复" in msgs[-1]
        assert (await dev_env.client.get_workflow_handle(f"order-tmall-{later[0]['tid']}").describe()).status.name
        await handle.terminate("test over")
    await replay_all([ChannelSyncWorkflow], await run_histories(dev_env.client, wid))


async def test_a_poll_stuck_in_retries_is_noticed_by_the_watchdog_timer(dev_env, fake, env, fake_wecom):
    """The channel answers 503 for ~7 s (retried with backoff inside one poll): no poll succeeds for
    longer than 2 intervals, so the workflow's own timer declares it stalled while the poll still
    hangs; the poll then succeeds and it is running again."""
    engine, settings, account_id = env
    tq = f"sync-rt-{uuid.uuid4().hex[:6]}"
    wid = sync_workflow_id(account_id)
    async with channel_worker(dev_env.client, engine, settings, tq):
        handle = await dev_env.client.start_workflow(
            ChannelSyncWorkflow.run, fast(account_id, polls_per_run=50, stall_after_polls=2), id=wid, task_queue=tq)
        await eventually(lambda: _status_if(handle, lambda s: s.last_success_at is not None), what="first poll")
        fake.faults.fail_count, fake.faults.fail_status = 3, 503  # retried after 1, 2, 4 s
        st = await eventually(lambda: _status_if(handle, lambda s: s.state == "stalled"), timeout=20, what="stalled")
        assert st.polling  # noticed while the poll was still stuck
        msg = await eventually(lambda: alerts(fake_wecom, account_id), what="WeCom alert")
        assert "停滞" in msg[0] and "没有成功轮询" in msg[0]
        trades_now(fake, 1, start=120)
        await eventually(lambda: _status_if(handle, lambda s: s.state == "running" and s.totals.created == 1),
                         timeout=25, what="running again")
        assert "已恢复" in (await eventually(lambda: (m := alerts(fake_wecom, account_id)) and len(m) >= 2 and m))[-1]
        await handle.terminate("test over")
    await replay_all([ChannelSyncWorkflow], await run_histories(dev_env.client, wid))


async def _status_if(handle, predicate) -> SyncStatus | None:
    st: SyncStatus = await handle.query(ChannelSyncWorkflow.status)
    return st if predicate(st) else None
