"""`zhongshu bench pipeline` on a handful of orders: both floors (one activity per call, and its data
calls as local activities), the real pipeline over HTTP, one order to delivered and a short accept run
(aiohttp callers) all complete and print the table with every bar. Its numbers are not checked here:
speed targets live in the benchmark, not in timed tests."""

from __future__ import annotations

from zhongshu_devtools.bench_pipeline import run

from tests.test_bench_peak import free_block


def test_the_pipeline_bench_runs_end_to_end_and_prints_every_bar(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    run(n=4, concurrency=2, rate=5, seconds=2, port_base=free_block(), rounds=2)
    out = capsys.readouterr().out
    for measure in ("floor: bare workflows to", "local activities", "pipeline / floor", "callers",
                    "accept p50 / p99", "history events", "projection activities"):
        assert measure in out, (measure, out[-3000:])
    assert "delivered order" in out and "6000" not in out  # 10 accepts, not the default run
