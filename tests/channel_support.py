"""Shared plumbing for the channel health tests: the fake Tmall over HTTP, a read model with a
Tmall account, workers that run the channel workflows with the real activities, a channel stack
(dev server + worker + API in threads), waiting, WeCom alerts and history replay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Replayer, Worker

from activities.channels import ChannelAccount, ChannelActivities, save_account
from fakes import tmall as fake_tmall
from tests.support import ThreadedWorker
from workers.sandbox import workflow_runner
from workflows.channel_sync import ChannelSyncWorkflow
from workflows.channel_watchdog import ChannelWatchdogWorkflow
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.settings import Settings

CHANNEL_WORKFLOWS = [ChannelSyncWorkflow, ChannelWatchdogWorkflow]


def channel_worker(client: Client, engine, settings: Settings, task_queue: str, workflows=None, activities=None) -> Worker:
    """The channel workflows with the real channel activities (HTTP to the fakes, SQL to the read model)."""
    return Worker(client, task_queue=task_queue, workflows=workflows or CHANNEL_WORKFLOWS,
                  activities=activities or ChannelActivities(engine, settings).all(),
                  activity_executor=ThreadPoolExecutor(8))


def add_tmall_account(engine, tmall_url: str, prefix: str = "tmall") -> str:
    account_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    save_account(engine, ChannelAccount(account_id=account_id, channel="tmall", base_url=f"{tmall_url}/router/rest",
                                        app_key=fake_tmall.APP_KEY, app_secret=fake_tmall.APP_SECRET,
                                        options={"timeout_seconds": 2}))
    return account_id


def trades_now(fake, n: int, start: int | None = None) -> list[dict]:
    """Trades modified a moment ago (the sync reads up to now - lag)."""
    return fake.generate(n, start=start, at=datetime.now(UTC) - timedelta(milliseconds=200))


async def eventually(fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """``fn`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
            if asyncio.iscoroutine(last):
                last = await last
        except Exception as exc:  # noqa: BLE001 - not there yet (a workflow not started, a row not written)
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s; last: {last!r}")
        await asyncio.sleep(interval)


def alerts(fake_wecom, account_id: str) -> list[str]:
    """The WeCom markdown the fake robot received about one account."""
    return [m["content"] for m in fake_wecom.messages(account_id) if account_id in m["content"]]


async def run_histories(client: Client, workflow_id: str) -> list:
    """Every run's history of a workflow that continued as new, oldest first (followed back through
    each run's ``continued_execution_run_id``)."""
    histories = []
    run_id: str | None = None
    while True:
        h = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(h)
        first = h.events[0]
        assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        prev = first.workflow_execution_started_event_attributes.continued_execution_run_id
        if not prev:
            return list(reversed(histories))
        run_id = prev


def count_events(history, event_type) -> int:
    return sum(1 for e in history.events if e.event_type == event_type)


def timers_fired(history) -> int:
    return count_events(history, EventType.EVENT_TYPE_TIMER_FIRED)


async def replay_all(workflows: list, histories: list) -> None:
    replayer = Replayer(workflows=workflows, data_converter=encrypted_data_converter(""),
                        workflow_runner=workflow_runner())
    for h in histories:
        await replayer.replay_workflow(h)


async def handle_status(handle: WorkflowHandle) -> str:
    return (await handle.describe()).status.name


# ---------------------------------------------------------------------------------------- a channel stack


class ChannelStackWorker(ThreadedWorker):
    """The order worker's workflows and activities plus the channel watchdog (as
    ``tests.support.ThreadedWorker``), with the channel activities built from the given settings
    (WeCom robot, console URL)."""

    def worker(self, client, engine):
        from workers.order_worker import WORKFLOWS, activities_for

        acts = [*activities_for(engine, self.settings.wecom_webhook_url, settings=self.settings),
                *ChannelActivities(engine, self.settings).all()]
        return Worker(client, task_queue=self.settings.task_queue,
                      workflows=[*WORKFLOWS, *[w for w in CHANNEL_WORKFLOWS if w not in WORKFLOWS]],
                      activities=acts, activity_executor=ThreadPoolExecutor(16), max_concurrent_activities=16)


@dataclass
class ChannelStack:
    """Dev server, the channel stack worker, the API over HTTP, a PostgreSQL read model, the fakes."""

    client: Client
    settings: Settings
    api_url: str
    api_key: str
    db_url: str
    app: Any  # the FastAPI app (its state: channel_watch overrides)

    def http(self):
        import httpx

        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": self.api_key}, timeout=30)


def open_channel_stack(dev_env, fake_wecom, var_dir, **overrides):
    """A context manager: a fresh PostgreSQL read model, the channel stack worker and the API in
    threads against the session dev server. The pushed channels' watchdogs are singletons per
    namespace (``channel-watchdog-douyin``): any left by another test's stack is terminated first."""
    import contextlib

    from api.app import create_app
    from store.db import migrate
    from tests.support import ThreadedServer, fresh_pg_database, pg_available

    @contextlib.contextmanager
    def cm():
        if not pg_available():
            raise RuntimeError("PostgreSQL is not reachable on 127.0.0.1:5432")
        with fresh_pg_database("zs_chan_health") as url:
            migrate(url)
            settings = Settings(**{
                "database_url": url, "temporal_address": dev_env.client.service_client.config.target_host,
                "task_queue": f"orders-{uuid.uuid4().hex[:6]}", "api_key": "test-service-key",
                "extra_api_keys": "test-readonly-key:readonly,test-device-key:device", "var_dir": var_dir,
                "wecom_webhook_url": fake_wecom.webhook_url, "douyin_app_secret": "zs-douyin-test-secret",
                "console_base_url": "http://console.test",
                # orders stay open (30 min release window) and take channel address changes
                "fulfilment": True, "fulfilment_warehouse": False, "confirm_address": False, "ship": False,
                **overrides})
            asyncio.run(terminate_watchdogs(settings))
            with ChannelStackWorker(settings, url):
                app = create_app(settings)
                with ThreadedServer(app) as api:
                    yield ChannelStack(dev_env.client, settings, api.url, "test-service-key", url, app)
            asyncio.run(terminate_watchdogs(settings))
            from store.db import engine_for

            engine_for(url).dispose()

    return cm()


async def terminate_watchdogs(settings: Settings, accounts=("douyin", "miniprogram")) -> None:
    from temporalio.service import RPCError

    from workers.temporal_client import connect
    from workflows.channel_watchdog import watchdog_id

    client = await connect(settings)
    for a in accounts:
        try:
            await client.get_workflow_handle(watchdog_id(a)).terminate("a test stack starts afresh")
        except RPCError:
            pass
