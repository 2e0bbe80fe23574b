"""The embedded stack behind `make up`: dev server, worker, API, console and fake servers."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.table import Table

from zhongshu.binaries import temporal_cli
from zhongshu.settings import Settings
from zhongshu.supervisor import Child, Supervisor, port_open


def _env(settings: Settings, api_key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "ZHONGSHU_API_KEY": api_key,
        "ZHONGSHU_TEMPORAL_ADDRESS": settings.temporal_address,
        "ZHONGSHU_API_PORT": str(settings.api_port),
        "ZHONGSHU_CONSOLE_PORT": str(settings.console_port),
        "ZHONGSHU_VAR_DIR": str(settings.var_dir),
        "ZHONGSHU_OTEL_EXPORTER": settings.otel_exporter if settings.otel_exporter != "none" else "file",
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    env.update(extra or {})
    return env


async def _prepare_temporal(settings: Settings) -> list[str]:
    from workers.temporal_client import connect
    from zhongshu.search_attributes import register_search_attributes

    client = await connect(settings)
    return await register_search_attributes(client)


def run_stack(settings: Settings, *, demo: bool = True, demo_orders: int = 40) -> int:
    console = Console()
    api_key = settings.effective_api_key()
    host, _, grpc_port = settings.temporal_address.rpartition(":")
    for name, port in (("Temporal gRPC", int(grpc_port)), ("API", settings.api_port), ("console", settings.console_port)):
        if port_open(port):
            console.print(f"[red]port {port} ({name}) is in use; set ZHONGSHU_* ports to run a second stack[/red]")
            return 2
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(settings.var_dir / "logs")
    env = _env(settings, api_key)
    py = sys.executable
    try:
        with console.status("starting Temporal dev server …"):
            sup.start(
                Child(
                    "temporal",
                    [temporal_cli(), "server", "start-dev", "--db-filename", str(settings.var_dir / "temporal.db"),
                     "--ip", host or "127.0.0.1", "--port", grpc_port, "--ui-port", str(settings.temporal_ui_port),
                     "--log-level", "warn"],
                    ready_port=int(grpc_port),
                ),
                timeout=90,
            )
            asyncio.run(_prepare_temporal(settings))
        with console.status("starting fake servers …"):
            from zhongshu.fakes_stack import start_fakes

            fake_env = start_fakes(sup, settings)
            env.update(fake_env)
        with console.status("starting worker, API and console …"):
            sup.start(Child("worker", [py, "-m", "zhongshu.cli", "worker"], env=env), timeout=5)
            sup.start(
                Child("api", [py, "-m", "zhongshu.cli", "api"], env=env,
                      ready_url=f"http://127.0.0.1:{settings.api_port}/healthz"),
                timeout=60,
            )
            sup.start(
                Child("console", [py, "-m", "zhongshu.cli", "console"], env=env,
                      ready_url=f"http://127.0.0.1:{settings.console_port}/_stcore/health"),
                timeout=90,
            )
    except Exception as exc:  # noqa: BLE001 - report and tear down whatever started
        console.print(f"[red]could not start the stack: {exc}[/red]")
        sup.stop()
        return 1

    table = Table(title="Zhongshu 订单中枢 is up", show_header=False)
    table.add_row("Console (审核台)", settings.console_url)
    table.add_row("API", settings.api_base_url)
    table.add_row("API docs (OpenAPI)", f"{settings.api_base_url}/docs")
    table.add_row("Temporal Web UI", f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows")
    table.add_row("Temporal gRPC", settings.temporal_address)
    for k, v in fake_env.items():
        if k.endswith("_URL"):
            table.add_row(f"fake: {k.removeprefix('ZHONGSHU_').removesuffix('_URL').lower()}", v)
    table.add_row("Read model", settings.db_url)
    table.add_row("Logs", str(settings.var_dir / "logs"))
    table.add_row("API key (X-API-Key)", api_key)
    console.print(table)

    if demo:
        from zhongshu.demo import run_demo

        try:
            run_demo(settings.api_base_url, api_key, demo_orders)
        except Exception as exc:  # noqa: BLE001 - the stack stays up even if the demo fails
            console.print(f"[yellow]demo failed: {exc}[/yellow]")
    console.print("[green]running — Ctrl-C stops everything[/green]")
    return sup.wait()
