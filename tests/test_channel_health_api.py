"""Channel health through every interface of the channel stack (dev server, worker, API over HTTP,
PostgreSQL, the fake Tmall and the fake WeCom robot): GET /v1/channels/health, the console's 渠道健康
page (Streamlit AppTest), `zhongshu channels list`, the health lines `make up` prints, and the WeCom
alerts — for a running, a failed and a stopped sync, and a pushed channel that falls silent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from streamlit.testing.v1 import AppTest
from zhongshu_devtools.stack import print_channel_health

from activities.channels import ChannelAccount, save_account
from fakes import douyin as fake_douyin
from fakes import tmall as fake_tmall
from fakes.serve import serve_in_thread
from store.db import engine_for
from tests.channel_support import alerts, eventually, open_channel_stack, terminate_watchdogs, trades_now
from workers.temporal_client import connect
from workflows.channel_sync import ensure_sync_workflow, sync_workflow_id
from zhongshu.channel_settings import ChannelWatchSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "console" / "app.py")
SECRET = "zs-douyin-test-secret"


@pytest.fixture(scope="module")
def tmall_server():
    server = serve_in_thread(fake_tmall.create_app())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(dev_env, fake_wecom, tmp_path_factory):
    with open_channel_stack(dev_env, fake_wecom, tmp_path_factory.mktemp("var")) as s:
        yield s


def health(hub, key: str = "test-readonly-key") -> httpx.Response:
    return httpx.get(f"{hub.api_url}/v1/channels/health", headers={"X-API-Key": key}, timeout=30)


_IMPORT_DAY: dict[str, str] = {}


def today(n: int) -> int:
    """``n`` orders imported today — unless Beijing's midnight passed since the import (the count is
    per Beijing day), so the checks hold at any time of day."""
    from datetime import datetime

    from domain.channels.health import beijing_day

    return n if _IMPORT_DAY.get("day") == beijing_day(datetime.now(UTC)) else 0


def item(hub, account_id: str) -> dict | None:
    return next((i for i in health(hub).json()["items"] if i["account_id"] == account_id), None)


@pytest.fixture(scope="module")
def syncs(hub, tmall_server):
    """Three Tmall accounts polled every second: one healthy (with trades), one whose secret the
    channel refuses, one whose sync was stopped by a person."""
    fake = tmall_server._server.config.app.state.tmall
    engine = engine_for(hub.db_url)
    tag = uuid.uuid4().hex[:4]
    ok, bad, gone = f"tmall-ok-{tag}", f"tmall-bad-{tag}", f"tmall-gone-{tag}"
    for acc, secret in ((ok, fake_tmall.APP_SECRET), (bad, "not-the-secret"), (gone, fake_tmall.APP_SECRET)):
        save_account(engine, ChannelAccount(account_id=acc, channel="tmall", base_url=f"{tmall_server.url}/router/rest",
                                            app_key=fake_tmall.APP_KEY, app_secret=secret, options={"timeout_seconds": 2}))
    async def start():
        client = await connect(hub.settings)  # this fixture's own loop, its own connection
        for acc in (ok, bad, gone):
            await ensure_sync_workflow(client, acc, hub.settings.task_queue, channel="tmall", poll_interval_seconds=1,
                                       overlap_seconds=2, lag_seconds=0, initial_lookback_seconds=600,
                                       stall_after_polls=30)  # a loaded 2-core machine is not a stalled sync
        await eventually(lambda: (i := item(hub, gone)) and i["last_poll_at"], what="the third account polled")
        await client.get_workflow_handle(sync_workflow_id(gone)).terminate("stopped by a person")

    asyncio.run(start())
    trades = trades_now(fake, 3)  # now: only the healthy account can import them
    from datetime import datetime

    from domain.channels.health import beijing_day

    _IMPORT_DAY["day"] = beijing_day(datetime.now(UTC))
    yield ok, bad, gone, trades

    async def stop():
        client = await connect(hub.settings)
        for acc in (ok, bad):
            await client.get_workflow_handle(sync_workflow_id(acc)).terminate("test over")

    asyncio.run(stop())


async def test_health_api_shows_each_sync_and_its_alerts(hub, syncs, fake_wecom):
    ok, bad, gone, trades = syncs
    good = await eventually(lambda: (i := item(hub, ok)) and i["orders_today"] == today(3) and i, what="3 orders imported")
    assert good["state"] == "running" and not good["red"] and good["kind"] == "sync" and good["channel_name"] == "天猫"
    assert good["last_poll_at"] and good["last_success_at"] and good["workflow_status"] == "RUNNING"
    assert good["backlog_trades"] == 0 and 0 <= good["backlog_seconds"] < 30
    failed = await eventually(lambda: (i := item(hub, bad)) and i["state"] == "failed" and i, what="failed")
    assert failed["red"] and "invalid_client" in failed["last_error"] and failed["last_success_at"] is None
    stopped = item(hub, gone)
    assert stopped["state"] == "stopped" and stopped["red"] and stopped["workflow_status"] == "TERMINATED"
    assert "已结束" in stopped["reason"]
    report = health(hub).json()
    assert report["red"] >= 2 and report["total"] == len(report["items"]) and report["day"]
    douyin = next(i for i in report["items"] if i["account_id"] == "douyin")
    assert douyin["kind"] == "webhook"
    if douyin["last_success_at"] is None:  # configured, no push yet (the silence test below may have run first)
        assert not douyin["red"], douyin

    msgs = await eventually(lambda: alerts(fake_wecom, bad), what="WeCom alert for the failed sync")
    assert "渠道同步异常" in msgs[0] and "invalid_client" in msgs[0] and "http://console.test/channels" in msgs[0]
    assert not alerts(fake_wecom, ok)

    assert health(hub, "").status_code == 401
    assert health(hub, "test-device-key").status_code == 403
    assert health(hub, "test-service-key").status_code == 200
    spec = httpx.get(f"{hub.api_url}/openapi.json").json()["paths"]["/v1/channels/health"]["get"]
    assert spec["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ChannelHealthList")
    assert {"401", "403"} <= set(spec["responses"])


async def test_cli_and_make_up_print_the_health_lines(hub, syncs):
    ok, bad, gone, _ = syncs
    await eventually(lambda: (i := item(hub, bad)) and i["state"] == "failed", what="failed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    env.update(ZHONGSHU_DATABASE_URL=hub.db_url, ZHONGSHU_TEMPORAL_ADDRESS=hub.settings.temporal_address,
               ZHONGSHU_TASK_QUEUE=hub.settings.task_queue, ZHONGSHU_DOUYIN_APP_SECRET=SECRET,
               ZHONGSHU_VAR_DIR=str(hub.settings.var_dir), COLUMNS="250", PYTHONIOENCODING="utf-8")
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "zhongshu.cli", "channels", "list"], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "渠道健康" in text and ok in text and bad in text and gone in text
    line_of = {a: next(ln for ln in text.splitlines() if a in ln) for a in (ok, bad, gone)}
    assert "正常" in line_of[ok] and "失败" in line_of[bad] and "已停止" in line_of[gone]
    js = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "zhongshu.cli", "channels", "list", "--json"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert '"state": "failed"' in js.stdout and f'"account_id": "{bad}"' in js.stdout

    settings = hub.settings.model_copy(update={"public_base_url": hub.api_url})
    console = Console(record=True, width=400)
    await asyncio.to_thread(print_channel_health, settings, hub.api_key, console, 5)
    printed = console.export_text()
    assert "channel health" in printed
    ok_line = next(ln for ln in printed.splitlines() if ok in ln)
    assert ok_line.strip().startswith("🟢") and "最近轮询" in ok_line and f"今日订单 {today(3)}" in ok_line and "积压 0 单" in ok_line
    bad_line = next(ln for ln in printed.splitlines() if bad in ln)
    assert bad_line.strip().startswith("🔴") and "failed" in bad_line and "invalid_client" in bad_line


def test_console_page_shows_red_syncs_first(hub, syncs):
    ok, bad, gone, _ = syncs
    from tests.console_support import SESSION_KEY, console_session

    saved = {k: os.environ.get(k) for k in ("ZHONGSHU_CONSOLE_API_URL",)}
    os.environ.update(ZHONGSHU_CONSOLE_API_URL=hub.api_url)
    try:
        deadline = time.monotonic() + 30
        while (i := item(hub, bad)) is None or i["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        while (i := item(hub, ok)) is None or i["orders_today"] != today(3):  # this test may run first
            assert time.monotonic() < deadline, i
            time.sleep(0.3)
        at = AppTest.from_file(APP, default_timeout=30)
        at.session_state[SESSION_KEY] = console_session(hub.api_url, "test-service-key", "customer_service")
        at.run()
        at.switch_page("pages_/channels.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("渠道健康" in t.value for t in at.title)
        errors = [e.value for e in at.error]
        assert any(bad in e and "失败" in e and "invalid\\_client" in e for e in errors)  # markdown-escaped
        assert any(gone in e and "已停止" in e for e in errors)
        assert not any(ok in e for e in errors)
        rows = next(d.value for d in at.dataframe if "账号" in d.value.columns).set_index("账号")
        assert rows.loc[ok, "状态"] == "🟢 正常" and rows.loc[bad, "状态"] == "🔴 失败"
        assert rows.loc[ok, "今日订单"] == today(3) and rows.loc[ok, "类型"] == "轮询同步"
        assert "invalid_client" in rows.loc[bad, "最近错误"]
        metrics = {m.label: m.value for m in at.metric}
        assert int(metrics["🔴 异常"]) >= 2
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def test_a_pushed_channel_gone_silent_turns_red_and_alerts(hub, fake_wecom):
    """Douyin pushes at its usual rate, then stops: the watchdog (started by the first push) notices
    the silence with its own timer, WeCom hears of it, the health view shows it red; the next push
    ends it."""
    await terminate_watchdogs(hub.settings, ("douyin",))
    hub.app.state.channel_watch = ChannelWatchSettings(webhook_silence_factor=3, webhook_silence_min_seconds=2,
                                                       webhook_silence_learn=2, webhook_beat_seconds=0.2)
    hub.app.state.push_beats = None
    before = len(alerts(fake_wecom, "douyin"))

    def push() -> None:
        o = fake_douyin.sample_order(1, seed=uuid.uuid4().int % 10**9)
        body = fake_douyin.push_body([o])
        r = httpx.post(f"{hub.api_url}/v1/webhooks/douyin", content=body,
                       headers=fake_douyin.signed_headers(body, "zhongshu-douyin", SECRET), timeout=30)
        assert r.status_code == 200, r.text

    try:
        for _ in range(3):
            await asyncio.to_thread(push)
            await asyncio.sleep(0.5)
        silent = await eventually(lambda: (i := item(hub, "douyin")) and i["state"] == "silent" and i, timeout=30,
                                  what="silent")
        assert silent["red"] and silent["pushes"] == 3 and silent["orders_today"] >= 3
        assert silent["workflow_status"] == "RUNNING" and silent["stall_after_seconds"] >= 2
        msgs = await eventually(lambda: (m := alerts(fake_wecom, "douyin")) and len(m) > before and m, what="alert")
        assert "渠道推送异常 · 抖音 douyin" in msgs[-1] and "推送中断" in msgs[-1]
        await asyncio.to_thread(push)
        back = await eventually(lambda: (i := item(hub, "douyin")) and i["state"] == "running" and i, what="running")
        assert not back["red"] and back["pushes"] == 4
        assert "渠道推送已恢复" in (await eventually(lambda: (m := alerts(fake_wecom, "douyin")) and len(m) > before + 1 and m))[-1]
    finally:
        hub.app.state.channel_watch = None
        await terminate_watchdogs(hub.settings, ("douyin",))
