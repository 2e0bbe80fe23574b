"""`zhongshu bench intake`: N signed Douyin pushes at the running API's webhook.

Reports accepted pushes per second, p50/p99 latency of the accept (request → 200 ack; the order
workflow is started before the ack), and the delay from the ack until the order row is visible in
the read model (polled every 25 ms straight from the database) — the API records an accepted order as
``received`` before it acks — and until its workflow has taken it further (cleansed, checked, routed:
the worker's backlog under the burst). The field's bar was 'status synced < 30 s'; ours is < 1 s at
p99 on the embedded stack.

Needs the stack (`make up`): the API URL, ``ZHONGSHU_DOUYIN_APP_SECRET`` and the database come from
settings, as the API sees them.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from fakes.douyin import push_body, sample_order, signed_headers
from store.db import engine_for
from store.schema import orders
from zhongshu.settings import Settings, get_settings


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def _visible(engine, order_ids: list[str]) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(
            select(orders.c.order_id, orders.c.status).where(orders.c.order_id.in_(order_ids)))]


async def _run(n: int, concurrency: int, settings: Settings, api_url: str, progress: Progress) -> dict[str, Any]:
    engine = engine_for(settings.db_url)
    rng = random.Random()
    payloads = [sample_order(i, seed=rng.randrange(10**12)) for i in range(n)]
    accepted_at: dict[str, float] = {}
    visible_at: dict[str, float] = {}
    processed_at: dict[str, float] = {}  # the workflow has taken it past "received" (cleansed, checked, routed …)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    sent = progress.add_task("pushing", total=n)
    seen = progress.add_task("visible in read model", total=n)
    worked = progress.add_task("processed by its workflow", total=n)
    queue: asyncio.Queue = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    done_pushing = asyncio.Event()

    async def pusher(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            order = queue.get_nowait()
            body = push_body([order])
            headers = signed_headers(body, settings.douyin_app_key, settings.douyin_app_secret)
            t0 = time.perf_counter()
            try:
                r = await http.post("/v1/webhooks/douyin", content=body, headers=headers)
                ok = r.status_code == 200 and r.json().get("order_ids")
                key = "ok" if ok else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                ok, key = False, type(exc).__name__
            t1 = time.perf_counter()
            if ok:
                latencies.append(t1 - t0)
                accepted_at[f"order-douyin-{order['shop_order_id']}"] = t1
            else:
                failures[key] = failures.get(key, 0) + 1
            progress.advance(sent)

    async def watcher() -> None:
        while True:
            pending = [oid for oid in accepted_at if oid not in processed_at]
            for i in range(0, len(pending), 500):
                chunk = pending[i:i + 500]
                rows = await asyncio.to_thread(_visible, engine, chunk)
                now = time.perf_counter()
                for oid, status in rows:
                    visible_at.setdefault(oid, now)
                    if status != "received":
                        processed_at[oid] = now
            progress.update(seen, completed=len(visible_at))
            progress.update(worked, completed=len(processed_at))
            if done_pushing.is_set() and len(processed_at) >= len(accepted_at):
                return
            await asyncio.sleep(0.025)

    watch = asyncio.create_task(watcher())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t_start = time.perf_counter()
    async with httpx.AsyncClient(base_url=api_url, timeout=30, limits=limits) as http:
        await asyncio.gather(*[pusher(http) for _ in range(concurrency)])
    elapsed = time.perf_counter() - t_start
    done_pushing.set()
    try:
        await asyncio.wait_for(watch, timeout=max(120.0, elapsed * 4))
    except TimeoutError:
        pass
    delays = [visible_at[o] - accepted_at[o] for o in visible_at if o in accepted_at]
    worked = [processed_at[o] - accepted_at[o] for o in processed_at if o in accepted_at]
    return {"n": n, "accepted": len(latencies), "failures": failures, "elapsed": elapsed, "latencies": latencies,
            "delays": delays, "visible": len(visible_at), "worked": worked}


def run(n: int = 5000, concurrency: int = 32, console: Console | None = None, settings: Settings | None = None,
        api_url: str | None = None) -> list[tuple[str, str]]:
    console = console or Console()
    s = settings or get_settings()
    if not s.douyin_app_secret:
        console.print("[red]ZHONGSHU_DOUYIN_APP_SECRET is not set: the webhook would refuse every push "
                      "(`make up` sets it for the fake Douyin shop)[/red]")
        return []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        r = asyncio.run(_run(n, concurrency, s, api_url or s.api_base_url, progress))
    ms = lambda v: f"{v * 1000:,.1f} ms"  # noqa: E731
    rows = [
        ("pushes", f"{r['n']:,}"),
        ("accepted", f"{r['accepted']:,}"),
        ("failed", ", ".join(f"{k}: {v}" for k, v in r["failures"].items()) or "0"),
        ("concurrency", str(concurrency)),
        ("accepted/s", f"{r['accepted'] / r['elapsed']:,.0f}" if r["elapsed"] else "∞"),
        ("accept latency p50", ms(statistics.median(r["latencies"])) if r["latencies"] else "-"),
        ("accept latency p99", ms(pct(r["latencies"], 99))),
        ("visible in read model", f"{r['visible']:,} / {r['accepted']:,}"),
        ("accept → visible p50", ms(statistics.median(r["delays"])) if r["delays"] else "-"),
        ("accept → visible p99", ms(pct(r["delays"], 99))),
        ("bar: visible p99 < 1 s", "✅" if r["delays"] and pct(r["delays"], 99) < 1 else "❌"),
        ("processed by its workflow", f"{len(r['worked']):,} / {r['accepted']:,}"),
        ("accept → processed p50", ms(statistics.median(r["worked"])) if r["worked"] else "-"),
        ("accept → processed p99", ms(pct(r["worked"], 99))),
    ]
    table = Table(title=f"intake benchmark: Douyin webhook → order workflow → read model ({api_url or s.api_base_url})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in rows:
        table.add_row(metric, value)
    console.print(table)
    return rows


if __name__ == "__main__":
    run()
