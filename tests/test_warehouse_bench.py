"""`zhongshu bench waves` on a small batch against the dev server: every injected wrong scan caught."""

from __future__ import annotations

from rich.console import Console
from zhongshu_devtools.bench_waves import run_async


async def test_bench_waves_small(dev_env):
    out = Console(record=True, width=120)
    rows = await run_async(40, wrong_rate=0.3, console=out, client=dev_env.client)
    assert rows["ok"] == "True" and rows["orders"] == "40" and int(rows["injected wrong scans"]) > 0
    assert rows["caught"] == rows["injected wrong scans"] and rows["correct scans refused"] == "0"
    text = out.export_text()
    assert "orders/s" in text and "every injected wrong scan was caught" in text
