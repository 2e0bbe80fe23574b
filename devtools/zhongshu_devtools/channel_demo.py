"""Feed the embedded stack through its fake channels, the way real orders would arrive: the Tmall
sync workflow polls the fake open platform, the fake Douyin shop pushes webhooks, the fake
mini-program backend calls the API with an OAuth2 token."""

from __future__ import annotations

import asyncio

import httpx
from rich.console import Console
from rich.table import Table

from zhongshu.settings import Settings

MINIPROGRAM_CLIENT = ("miniprogram-shop", "zs-miniprogram-secret")


def feed_channels(settings: Settings, fakes: dict[str, str], n: int = 5, console: Console | None = None) -> dict:
    """``fakes`` maps fake name → base URL. Returns what each channel answered."""
    console = console or Console()
    from store.db import engine_for, migrate
    from store.oauth import create_oauth_client

    migrate(settings.db_url)
    create_oauth_client(engine_for(settings.db_url), *MINIPROGRAM_CLIENT)
    out: dict[str, object] = {}
    with httpx.Client(timeout=60) as http:
        if "fake-tmall" in fakes:
            http.post(f"{fakes['fake-tmall']}/_control/trades", json={"generate": n}).raise_for_status()
            out["tmall trades placed (the sync workflow polls them)"] = n
        if "fake-douyin" in fakes:
            r = http.post(f"{fakes['fake-douyin']}/_control/push",
                          json={"url": f"{settings.api_base_url}/v1/webhooks/douyin", "count": n, "repeat": 2})
            out["douyin pushes (each twice)"] = r.json() if r.status_code == 200 else r.text
            r = http.post(f"{fakes['fake-douyin']}/_control/push",  # what real Douyin sends: ids only
                          json={"url": f"{settings.api_base_url}/v1/webhooks/douyin", "count": 2, "ids_only": True})
            out["douyin ids-only pushes (detail fetched)"] = r.json() if r.status_code == 200 else r.text
        if "fake-miniprogram" in fakes:
            r = http.post(f"{fakes['fake-miniprogram']}/_control/place", json={"count": n})
            out["mini-program orders (OAuth2 token)"] = r.json() if r.status_code == 200 else r.text
    asyncio.run(_start_tmall_sync(settings))
    table = Table(title="channel feeds", show_header=False)
    for k, v in out.items():
        table.add_row(k, _short(v))
    table.add_row("Tmall sync workflow", "channel-sync-tmall-default (Temporal UI)")
    console.print(table)
    return out


async def _start_tmall_sync(settings: Settings) -> None:
    from workers.temporal_client import connect
    from workflows.channel_sync import ensure_sync_workflow
    from zhongshu.channel_settings import channel_watch

    client = await connect(settings)
    await ensure_sync_workflow(client, "tmall-default", settings.task_queue, channel="tmall", poll_interval_seconds=20,
                               stall_after_polls=channel_watch(settings).channel_stall_polls)


def _short(v: object) -> str:
    if isinstance(v, dict):
        keys = [k for k in ("pushed", "sent", "accepted", "created", "duplicates", "statuses") if k in v]
        return ", ".join(f"{k}={v[k]}" for k in keys) or str(v)[:120]
    return str(v)[:120]
