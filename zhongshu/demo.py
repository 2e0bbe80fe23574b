"""`zhongshu demo`: push a realistic batch through the public API and watch it settle."""

from __future__ import annotations

import time

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zhongshu.sample_orders import demo_batch

SETTLED = {"completed", "held", "rejected", "merged", "cancelled", "routed"}


def run_demo(api_url: str, api_key: str, n: int = 40, prefix: str | None = None, timeout: float = 120) -> dict[str, int]:
    console = Console()
    prefix = prefix or f"DEMO{int(time.time()) % 100000:05d}-"
    batch = demo_batch(n, prefix=prefix)
    headers = {"X-API-Key": api_key}
    results: dict[str, str] = {}
    codes: dict[int, int] = {}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as http, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        sent = progress.add_task("submitting orders", total=len(batch))
        for payload in batch:
            r = http.post("/v1/orders", json=payload)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code in (200, 202):
                results[r.json()["order_id"]] = r.json()["status"]
            progress.advance(sent)
        settle = progress.add_task("orders settling", total=len(results))
        deadline = time.monotonic() + timeout
        done: set[str] = set()
        while len(done) < len(results) and time.monotonic() < deadline:
            for oid in list(results):
                if oid in done:
                    continue
                r = http.get(f"/v1/orders/{oid}")
                if r.status_code == 200:
                    results[oid] = r.json()["status"]
                    if results[oid] in SETTLED:
                        done.add(oid)
                        progress.advance(settle)
            time.sleep(0.5)
    counts: dict[str, int] = {}
    for st in results.values():
        counts[st] = counts.get(st, 0) + 1
    table = Table(title=f"demo: {len(batch)} payloads")
    table.add_column("outcome")
    table.add_column("orders", justify="right")
    for st, c in sorted(counts.items()):
        table.add_row(st, str(c))
    table.add_row("rejected at the door (422)", str(codes.get(422, 0)))
    console.print(table)
    return counts
