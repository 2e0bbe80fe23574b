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
rules_app = typer.Typer(help="Routing rules (decision tables in Excel): import, list, activate, diff, export.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
bench_app = typer.Typer(help="Benchmarks; results print as tables.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
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


def _rules_engine():
    from store.db import engine_for, migrate

    s = get_settings()
    migrate(s.db_url)
    return engine_for(s.db_url)


@rules_app.command("import")
def rules_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the .xlsx workbook"),
    activate: bool = typer.Option(False, help="activate the new version right away"),
    by: str = typer.Option("cli", help="who imports it (recorded with the version)"),
) -> None:
    """Validate a workbook row by row and store it as a new (inactive) version."""
    from domain.routing_rules import RulesWorkbookError
    from store import rules

    engine = _rules_engine()
    try:
        version = rules.import_rules(engine, file.read_bytes(), file.name, by)
    except RulesWorkbookError as exc:
        console.print(f"[red]{file.name} rejected, nothing imported: {len(exc.errors)} bad cell(s)[/red]")
        for e in exc.errors:
            console.print(f"  {e}")
        raise typer.Exit(1) from None
    if activate:
        rules.activate(engine, version)
    console.print(f"imported {file.name} as version {version}" + (" (active)" if activate else "; activate with `zhongshu rules activate %d`" % version))


@rules_app.command("list")
def rules_list() -> None:
    """All versions; the active one is marked."""
    from rich.table import Table

    from store import rules

    table = Table("version", "active", "created", "by", "file", "sha256")
    for v in rules.list_versions(_rules_engine()):
        table.add_row(str(v.version), "✅" if v.active else "", f"{v.created_at:%Y-%m-%d %H:%M}", v.created_by, v.source_filename, v.sha256[:12])
    console.print(table)


@rules_app.command("activate")
def rules_activate(version: int) -> None:
    """Make a version the one new orders are routed with."""
    from store import rules

    try:
        rules.activate(_rules_engine(), version)
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"version {version} is active")


@rules_app.command("export")
def rules_export(
    file: Path = typer.Argument(..., dir_okay=False, help="where to write the .xlsx"),
    version: int = typer.Option(0, help="default: the active version"),
) -> None:
    """Write a stored version back to Excel."""
    from store import rules

    engine = _rules_engine()
    v = version or rules.active_version(engine) or rules.ensure_default(engine)
    file.write_bytes(rules.export(engine, v))
    console.print(f"version {v} written to {file}")


@rules_app.command("diff")
def rules_diff(old: int, new: int) -> None:
    """What changed between two versions, sheet by sheet."""
    from store import rules

    d = rules.diff(_rules_engine(), old, new)
    if d.empty:
        console.print("no differences")
    for sheet, sd in d.sheets.items():
        for row in sd.added:
            console.print(f"[green]+ {sheet}[/green] {row}")
        for row in sd.removed:
            console.print(f"[red]- {sheet}[/red] {row}")
        for ch in sd.changed:
            console.print(f"[yellow]~ {sheet} {ch.key}[/yellow] {ch.changes}")


@bench_app.command("routing")
def bench_routing(n: int = typer.Option(10000, help="how many orders to route")) -> None:
    """Route n generated orders with the default workbook; decisions per second."""
    from zhongshu.bench_routing import run

    run(n)


if __name__ == "__main__":  # pragma: no cover
    app()
