"""The `zhongshu` command: run the stack or one of its processes, the demo, rules and benchmarks."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from zhongshu.settings import ROOT, get_settings

app = typer.Typer(help="Zhongshu (订单中枢) — every order one durable, visible, auditable process.", no_args_is_help=True)
db_app = typer.Typer(help="The SQL read model.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@app.command()
def up(
    demo: bool = typer.Option(True, help="feed a demo batch of orders once everything is up"),
    orders: int = typer.Option(40, help="how many demo orders"),
) -> None:
    """Start the whole embedded stack (Temporal dev server, worker, API, console, fakes) and print the URLs."""
    from zhongshu.stack import run_stack

    raise typer.Exit(run_stack(get_settings(), demo=demo, demo_orders=orders))


@app.command()
def worker() -> None:
    """Run the order worker."""
    _logging()
    from workers.run import run_worker

    asyncio.run(run_worker())


@app.command()
def api() -> None:
    """Run the FastAPI service (OpenAPI at /docs)."""
    import uvicorn

    s = get_settings()
    uvicorn.run("api.app:app_from_env", factory=True, host=s.api_host, port=s.api_port, log_level="info")


@app.command("console")
def console_cmd() -> None:
    """Run the Streamlit console."""
    import subprocess

    s = get_settings()
    script = ROOT / "console" / "app.py"
    raise typer.Exit(
        subprocess.call(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(s.console_port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.address", "0.0.0.0"]
        )
    )


@app.command()
def demo(
    orders: int = typer.Option(40, help="how many orders to submit"),
    api_url: str = typer.Option("", help="defaults to the configured API"),
    api_key: str = typer.Option("", help="defaults to the configured key"),
) -> None:
    """Submit a realistic batch of orders through the API and show their progress."""
    from zhongshu.demo import run_demo

    s = get_settings()
    run_demo(api_url or s.api_base_url, api_key or s.effective_api_key(), orders)


@db_app.command("migrate")
def db_migrate() -> None:
    """Bring the read model schema to the latest migration."""
    from store.db import migrate

    s = get_settings()
    migrate(s.db_url)
    console.print(f"migrated {s.db_url.split('@')[-1]}")


if __name__ == "__main__":  # pragma: no cover
    app()
