"""ChannelSyncWorkflow against the dev server and the fake Tmall gateway: paging, continue-as-new,
cursor resume after a worker restart, re-delivery, 5xx with backoff, and the whole stack."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, timedelta

import pytest
from temporalio.worker import Worker

from activities.channels import ChannelAccount, ChannelActivities, save_account
from fakes import tmall as fake_tmall
from fakes.serve import serve_in_thread
from store.db import engine_for, migrate
from workflows.channel_sync import ChannelSyncWorkflow, SyncInput, SyncStatus, ensure_sync_workflow, sync_workflow_id
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
def env(tmp_path, tmall_server):
    """A SQLite read model with a Tmall account pointing at the fake; orders go to an unpolled queue."""
    url = f"sqlite:///{tmp_path / 'channels.db'}"
    migrate(url)
    engine = engine_for(url)
    account_id = f"tmall-{uuid.uuid4().hex[:6]}"
    save_account(engine, ChannelAccount(account_id=account_id, channel="tmall", base_url=f"{tmall_server.url}/router/rest",
                                        app_key=fake_tmall.APP_KEY, app_secret=fake_tmall.APP_SECRET,
                                        options={"timeout_seconds": 2}))
    settings = Settings(database_url=url, task_queue=f"orders-{uuid.uuid4().hex[:6]}")
    yield engine, settings, account_id
    engine.dispose()


def gen(fake, n, start=None):
    """Trades modified a few seconds ago (the sync never reads the last `lag` seconds)."""
    from datetime import datetime

    return fake.generate(n, start=start, at=datetime.now(UTC) - timedelta(seconds=3))


def worker(dev_env, engine, settings, tq):
    return Worker(dev_env.client, task_queue=tq, workflows=[ChannelSyncWorkflow],
                  activities=ChannelActivities(engine, settings).all())


async def status_until(handle, predicate, timeout=20.0) -> SyncStatus:
    deadline = time.monotonic() + timeout
    while True:
        st: SyncStatus = await handle.query(ChannelSyncWorkflow.status)
        if predicate(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"sync status never matched: {st}")
        await asyncio.sleep(0.1)


def sync_input(account_id, **kw) -> SyncInput:
    return SyncInput(account_id=account_id, poll_interval_seconds=60, overlap_seconds=5, lag_seconds=1,
                     initial_lookback_seconds=3600, page_size=10, **kw)


async def started_orders(dev_env, tids, channel="tmall") -> list[str]:
    ids = []
    for tid in tids:
        desc = await dev_env.client.get_workflow_handle(f"order-{channel}-{tid}").describe()
        ids.append(desc.id)
    return ids


async def test_sync_pages_everything_and_continues_as_new(dev_env, fake, env):
    engine, settings, account_id = env
    trades = gen(fake, 35)
    tq = f"sync-{uuid.uuid4().hex[:6]}"
    async with worker(dev_env, engine, settings, tq):
        handle = await dev_env.client.start_workflow(
            ChannelSyncWorkflow.run, sync_input(account_id, polls_per_run=2), id=sync_workflow_id(account_id), task_queue=tq)
        st = await status_until(handle, lambda s: s.totals.created == 35)
        assert st.totals.pages == 4 and st.totals.duplicates == 0 and st.last_error is None
        gen(fake, 12, start=100)
        await asyncio.sleep(1.2)  # past the lag
        await handle.signal(ChannelSyncWorkflow.poll_now)  # 2nd poll → continue-as-new after it
        st = await status_until(handle, lambda s: s.totals.created == 47)
        await handle.signal(ChannelSyncWorkflow.poll_now)
        st = await status_until(handle, lambda s: s.runs >= 2 and s.totals.polls >= 3)
        assert st.totals.created == 47  # carried over continue-as-new, nothing started twice
        assert st.cursor is not None
        await handle.terminate()
    assert len(await started_orders(dev_env, [t["tid"] for t in trades])) == 35


async def test_cursor_resumes_after_worker_restart_without_gaps_or_duplicates(dev_env, fake, env):
    engine, settings, account_id = env
    first = gen(fake, 15)
    tq = f"sync-{uuid.uuid4().hex[:6]}"
    handle = await ensure_sync_workflow(dev_env.client, account_id, tq, poll_interval_seconds=60, overlap_seconds=5,
                                        lag_seconds=1, page_size=10)
    handle = dev_env.client.get_workflow_handle(handle)
    async with worker(dev_env, engine, settings, tq):
        st1 = await status_until(handle, lambda s: s.totals.created == 15 and not s.polling)
    # the worker is gone: trades keep arriving and old ones are modified (re-delivered)
    later = gen(fake, 20, start=200)
    for t in first[:5]:
        fake.touch(t["tid"])
    await asyncio.sleep(2.5)  # the cursor has whole-second resolution and a 1 s lag
    async with worker(dev_env, engine, settings, tq):  # a new worker process, same workflow
        await handle.signal(ChannelSyncWorkflow.poll_now)
        st = await status_until(handle, lambda s: s.totals.created == 35 and s.totals.duplicates >= 5 and not s.polling)
        await handle.terminate()
    assert st.cursor > st1.cursor
    assert st.totals.created == 35  # each of the 35 orders started exactly once
    assert len(await started_orders(dev_env, [t["tid"] for t in first + later])) == 35


async def test_same_trade_delivered_five_times_starts_one_order(dev_env, fake, env):
    engine, settings, account_id = env
    [trade] = gen(fake, 1, start=300)
    tq = f"sync-{uuid.uuid4().hex[:6]}"
    async with worker(dev_env, engine, settings, tq):
        inp = sync_input(account_id).model_copy(update={"lag_seconds": 0})
        handle = await dev_env.client.start_workflow(
            ChannelSyncWorkflow.run, inp, id=sync_workflow_id(account_id), task_queue=tq)
        await status_until(handle, lambda s: s.totals.created == 1)
        for n in range(4):  # modified four more times: delivered again each time
            fake.touch(trade["tid"])
            await asyncio.sleep(1.05)
            await handle.signal(ChannelSyncWorkflow.poll_now)
            await status_until(handle, lambda s, n=n: s.totals.fetched >= n + 2)
        st = await status_until(handle, lambda s: s.totals.fetched >= 5)
        await handle.terminate()
    assert st.totals.created == 1 and st.totals.duplicates >= 4


async def test_5xx_is_retried_with_backoff_and_bad_signature_never_moves_the_cursor(dev_env, fake, env):
    engine, settings, account_id = env
    gen(fake, 5, start=400)
    fake.faults.fail_count, fake.faults.fail_status = 2, 503
    tq = f"sync-{uuid.uuid4().hex[:6]}"
    async with worker(dev_env, engine, settings, tq):
        t0 = time.monotonic()
        handle = await dev_env.client.start_workflow(
            ChannelSyncWorkflow.run, sync_input(account_id), id=sync_workflow_id(account_id), task_queue=tq)
        st = await status_until(handle, lambda s: s.totals.created == 5)
        assert time.monotonic() - t0 >= 2.5  # retried after 1 s, then 2 s
        assert fake.faults.injected_failures == 2 and st.last_error is None

        # the secret is rotated on the channel side: the poll fails, the cursor stays
        fake.apps[fake_tmall.APP_KEY] = "rotated"
        gen(fake, 3, start=410)
        await asyncio.sleep(1.2)
        await handle.signal(ChannelSyncWorkflow.poll_now)
        bad = await status_until(handle, lambda s: s.last_error is not None)
        assert "Invalid signature" in bad.last_error and bad.cursor == st.cursor
        # the operator updates the account: the next poll reads the same window, nothing lost
        fake.apps[fake_tmall.APP_KEY] = fake_tmall.APP_SECRET
        await handle.signal(ChannelSyncWorkflow.poll_now)
        st = await status_until(handle, lambda s: s.totals.created == 8 and s.last_error is None)
        await handle.terminate()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.integration
async def test_stack_syncs_tmall_orders_into_the_read_model(stack, tmall_server, fake):
    """Fake Tmall → ChannelSyncWorkflow on the real worker → order workflows → PostgreSQL read model."""
    from store import read_model

    engine = engine_for(stack.db_url)
    account_id = f"tmall-stack-{uuid.uuid4().hex[:4]}"
    save_account(engine, ChannelAccount(account_id=account_id, channel="tmall", base_url=f"{tmall_server.url}/router/rest",
                                        app_key=fake_tmall.APP_KEY, app_secret=fake_tmall.APP_SECRET))
    trades = gen(fake, 6, start=500)
    wid = await ensure_sync_workflow(stack.env.client, account_id, stack.settings.task_queue, poll_interval_seconds=60,
                                     overlap_seconds=5, lag_seconds=1, page_size=4)
    handle = stack.env.client.get_workflow_handle(wid)
    await status_until(handle, lambda s: s.totals.created == 6, timeout=30)
    ids = [f"order-tmall-{t['tid']}" for t in trades]
    deadline = time.monotonic() + 30
    while True:
        rows = [await asyncio.to_thread(read_model.get_order, engine, i) for i in ids]
        if all(r and r["status"] not in ("received",) for r in rows):
            break
        assert time.monotonic() < deadline, [r and r["status"] for r in rows]
        await asyncio.sleep(0.3)
    assert {r["channel"] for r in rows} == {"tmall"}
    assert all(r["province"] for r in rows)  # channel addresses resolved to official regions
    await handle.terminate()
