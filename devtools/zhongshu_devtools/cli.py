"""The development harness's commands, added to the product's `zhongshu` CLI.

Registered under the entry-point group ``zhongshu.commands`` (devtools/pyproject.toml); the product CLI
calls :func:`register` with its app when this distribution is installed (``make install``). The
commands import their module when run, so ``zhongshu api`` / ``worker`` pay nothing for them.
"""

from __future__ import annotations

import typer

from zhongshu.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add ``up``, ``demo`` and the ``bench`` group to ``app``."""
    bench_app = typer.Typer(help="Benchmarks; results print as tables.", no_args_is_help=True)
    app.add_typer(bench_app, name="bench")

    @app.command()
    def up(
        demo: bool = typer.Option(True, help="feed a demo batch of orders once everything is up"),
        orders: int = typer.Option(40, help="how many demo orders"),
    ) -> None:
        """Start the whole embedded stack (Temporal dev server, worker, API, console, fakes) and print the URLs."""
        import os

        from zhongshu_devtools.stack import run_stack

        os.environ.setdefault("ZHONGSHU_DEV_MODE", "1")  # the embedded stack is a development stack (issue 13)
        raise typer.Exit(run_stack(get_settings(), demo=demo, demo_orders=orders))

    @app.command()
    def demo(
        orders: int = typer.Option(40, help="how many orders to submit"),
        api_url: str = typer.Option("", help="defaults to the configured API"),
        api_key: str = typer.Option("", help="defaults to the configured key"),
    ) -> None:
        """Submit a realistic batch of orders through the API and show their progress."""
        from zhongshu_devtools.demo import run_demo

        s = get_settings()
        run_demo(api_url or s.api_base_url, api_key or s.effective_api_key(), orders)

    @bench_app.command("routing")
    def bench_routing(n: int = typer.Option(10000, help="how many orders to route")) -> None:
        """Route n generated orders with the default workbook; decisions per second."""
        from zhongshu_devtools.bench_routing import run

        run(n)

    @bench_app.command("intake")
    def bench_intake(
        n: int = typer.Option(5000, help="how many webhook pushes"),
        concurrency: int = typer.Option(32, help="pushes in flight"),
    ) -> None:
        """N signed Douyin pushes at the running API: accepted/s, accept p50/p99, accept→read-model p50/p99."""
        from zhongshu_devtools.bench_intake import run

        run(n, concurrency)

    @bench_app.command("waves")
    def bench_waves(
        n: int = typer.Option(2000, help="how many routed orders"),
        wrong_rate: float = typer.Option(0.05, help="share of scans replaced by an injected wrong scan"),
    ) -> None:
        """Routed orders into waves and through simulated scanners with injected wrong scans."""
        from zhongshu_devtools.bench_waves import run

        raise typer.Exit(0 if run(n, wrong_rate=wrong_rate) else 1)

    @bench_app.command("addresses")
    def bench_addresses(rounds: int = typer.Option(5, help="passes over the labelled set")) -> None:
        """Resolve tests/data/addresses.csv: right / wrong / unresolved, the misses, addresses per second."""
        from zhongshu_devtools.bench_addresses import run

        result = run(rounds=rounds)
        if result["wrong"] or result["rate"] < 0.98:
            raise typer.Exit(1)

    @bench_app.command("pipeline")
    def bench_pipeline(
        n: int = typer.Option(200, help="orders on each side (floor, pipeline)"),
        rounds: int = typer.Option(2, help="interleaved rounds (floor, pipeline, pipeline, floor, …) the orders are split into"),
        rate: int = typer.Option(100, help="POST /v1/orders per second in the sustained run"),
        seconds: int = typer.Option(60, help="length of the sustained run"),
    ) -> None:
        """The real pipeline beside a bare floor workflow, accept latency at a sustained rate, and a delivered
        order's history size: one table with the bars."""
        from zhongshu_devtools.bench_pipeline import run

        raise typer.Exit(0 if run(n, rate=rate, seconds=seconds, rounds=rounds) else 1)

    @bench_app.command("peak")
    def bench_peak(
        orders: int = typer.Option(12000, help="orders in the day"),
        minutes: float = typer.Option(20.0, help="the day compressed into this many minutes"),
        spike: float = typer.Option(10.0, help="the start's rate as a multiple of the rest's"),
        spike_share: float = typer.Option(0.05, help="share of the day the spike lasts"),
        workers: int = typer.Option(1, help="worker processes on the one task queue"),
        drain: float = typer.Option(300.0, help="seconds to wait after the last arrival for the backlog to drain"),
        out: str = typer.Option("", help="directory for peak.png, peak.html, summary.md/html (default var/bench-peak/…)"),
        port_base: int = typer.Option(29233, help="its own stack's ports start here (dev server, UI, API; fakes +20)"),
        split_stages: bool = typer.Option(False, help="warehouse and logistics on their own queue; the workers alternate "
                                                      "between orders,finance and warehouse,logistics"),
    ) -> None:
        """A double-12 day through the real stack: per-minute table, chart (PNG, HTML), one-page summary;
        exits 1 when an order or waybill was lost or duplicated."""
        from pathlib import Path

        from zhongshu_devtools.bench_peak import Curve, run

        result = run(Curve(orders=orders, minutes=minutes, spike=spike, spike_share=spike_share), workers=workers,
                     out=Path(out) if out else None, port_base=port_base, drain_seconds=drain, split_stages=split_stages)
        s = result.get("summary", {})
        bad = [s.get(k, 1) for k in ("lost_orders", "duplicated_orders", "lost_waybills", "duplicated_waybills")]
        raise typer.Exit(1 if any(bad) else 0)
