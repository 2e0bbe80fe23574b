"""The embedded stack behind `make up`: dev server, worker, API, console and fake servers (development only).

Every port comes from settings (``ZHONGSHU_*``), so a second stack runs beside the first with e.g.
``ZHONGSHU_TEMPORAL_ADDRESS=127.0.0.1:17233 ZHONGSHU_TEMPORAL_UI_PORT=18233 ZHONGSHU_API_PORT=18000
ZHONGSHU_CONSOLE_PORT=18501 ZHONGSHU_FAKES_BASE_PORT=18600 ZHONGSHU_VAR_DIR=/tmp/x/var``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from urllib.parse import quote

from rich.console import Console
from rich.table import Table

from zhongshu.settings import ROOT, Settings
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli
from zhongshu_devtools.supervisor import Child, StartupError, Supervisor, port_open

UP_BANNER = "Zhongshu 订单中枢 is up"


def _env(settings: Settings, api_key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "ZHONGSHU_API_KEY": api_key,
        "ZHONGSHU_TEMPORAL_ADDRESS": settings.temporal_address,
        "ZHONGSHU_API_PORT": str(settings.api_port),
        "ZHONGSHU_CONSOLE_PORT": str(settings.console_port),
        "ZHONGSHU_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),  # the codec server's CORS origin (issue 13)
        "ZHONGSHU_VAR_DIR": str(settings.var_dir),
        "ZHONGSHU_OTEL_EXPORTER": settings.otel_exporter if settings.otel_exporter != "none" else "file",
        # issue 13: the embedded stack runs in development mode (its default secrets are allowed)
        "ZHONGSHU_DEV_MODE": os.environ.get("ZHONGSHU_DEV_MODE", "1"),
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    env.update(extra or {})
    return env


def temporal_ui_url(settings: Settings, query: str | None = None) -> str:
    url = f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    return f"{url}?query={quote(query)}" if query else url


def codec_endpoint(settings: Settings) -> str:
    """The codec server the Temporal UI decodes payloads through (api/codec_routes.py)."""
    return f"{settings.api_base_url}/v1/codec"


def _grpc(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.temporal_address.rpartition(":")
    return host or "127.0.0.1", int(port)


def _ports(settings: Settings) -> list[tuple[str, int, str]]:
    from zhongshu_devtools.fakes_stack import FAKES, fake_ports

    _, grpc_port = _grpc(settings)
    ports = [
        ("Temporal gRPC", grpc_port, "ZHONGSHU_TEMPORAL_ADDRESS"),
        ("Temporal Web UI", settings.temporal_ui_port, "ZHONGSHU_TEMPORAL_UI_PORT"),
        ("API", settings.api_port, "ZHONGSHU_API_PORT"),
        ("console", settings.console_port, "ZHONGSHU_CONSOLE_PORT"),
    ]
    ports += [(f.label, p, "ZHONGSHU_FAKES_BASE_PORT") for f, p in zip(FAKES, fake_ports(settings), strict=True)]
    return ports


async def _prepare_temporal(settings: Settings, timeout: float = 30) -> list[str]:
    """Connect and register the search attributes; retried while the fresh server settles."""
    from workers.temporal_client import connect
    from zhongshu.search_attributes import register_search_attributes

    deadline = time.monotonic() + timeout
    while True:
        try:
            client = await connect(settings, service="stack")
            return await register_search_attributes(client)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def run_stack(settings: Settings, *, demo: bool = True, demo_orders: int = 40) -> int:
    console = Console() if sys.stdout.isatty() else Console(width=200)  # URLs never wrap in logs/pipes
    busy = [f"{name} :{port} (set {var})" for name, port, var in _ports(settings) if port_open(port)]
    if busy:
        console.print("[red]cannot start: these ports are in use[/red]\n  " + "\n  ".join(busy))
        console.print("Another stack running? Stop it, or give this one other ports via the ZHONGSHU_* variables.")
        return 2

    api_key = settings.effective_api_key()
    key_source = "from ZHONGSHU_API_KEY" if settings.api_key else f"generated, kept in {settings.var_dir / 'dev-api-key'}"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    log_dir = settings.var_dir / "logs"
    # the project root and devtools/ first on every child's path: their packages import from any working
    # directory, even when an editable install predates a package (setuptools maps top-level packages at install)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), str(ROOT / "devtools"), os.environ.get("PYTHONPATH", "")) if p)
    sup = Supervisor(log_dir, env={"PYTHONPATH": pythonpath})
    env = _env(settings, api_key)
    if demo:  # small waves, packed as soon as picked, so the demo moves along (settings still win)
        for key, value in (("ZHONGSHU_WAVE_SIZE", "6"), ("ZHONGSHU_WAVE_AUTO_PACK", "true")):
            env[key] = os.environ.get(key, value)
    py = sys.executable
    host, grpc_port = _grpc(settings)
    t0 = time.monotonic()

    def ready(what: str, took: float) -> None:
        console.print(f"  [green]✓[/green] {what} [dim]({took:.1f} s)[/dim]")

    with sup.stop_signals_interrupt():
        try:
            console.print(f"starting the Zhongshu stack [dim](logs: {log_dir})[/dim]")
            with console.status("starting the Temporal dev server …"):
                from domain.contracts.search_attributes import ALL

                sa_flags = [a for k in ALL for a in ("--search-attribute", f"{k.name}=Keyword")]
                took = sup.start(
                    Child(
                        "temporal",
                        [temporal_cli(), "server", "start-dev", "--db-filename", str(settings.var_dir / "temporal.db"),
                         "--ip", host, "--port", str(grpc_port), "--ui-port", str(settings.temporal_ui_port),
                         "--namespace", settings.temporal_namespace, "--log-level", "warn", *sa_flags,
                         # payloads are encrypted (issue 13): the UI decodes them through the API's codec server
                         "--ui-codec-endpoint", codec_endpoint(settings), *DEV_SERVER_SQLITE_ARGS],
                        ready_port=grpc_port,
                        ready_url=f"http://127.0.0.1:{settings.temporal_ui_port}/",
                        stop_last=True,
                    ),
                    timeout=90,
                )
                asyncio.run(_prepare_temporal(settings))
            ready("Temporal dev server, search attributes registered", took)

            with console.status("starting the fake servers …"):
                from zhongshu_devtools.fakes_stack import start_fakes

                os.environ.setdefault("ZHONGSHU_FAKE_MINIPROGRAM_HUB", settings.api_base_url)
                fake_env, fakes = start_fakes(sup, settings, on_ready=ready)
                env.update(fake_env)

            with console.status("starting the worker (migrates and seeds the read model) …"):
                took = sup.start(Child("worker", [py, "-m", "zhongshu.cli", "worker"], env=env, ready_log="worker polling"),
                                 timeout=90)
            ready(f"worker polling task queue {settings.task_queue}", took)
            admin = _dev_admin(settings)

            with console.status("starting the API and the console …"):
                # uvicorn directly (not `zhongshu api`) to bound its shutdown when requests are in flight
                api = sup.launch(Child("api", [py, "-m", "uvicorn", "api.app:app_from_env", "--factory",
                                               "--host", settings.api_host, "--port", str(settings.api_port),
                                               "--timeout-graceful-shutdown", "3"], env=env,
                                       ready_url=f"http://127.0.0.1:{settings.api_port}/healthz"))
                ui = sup.launch(Child(
                    "console",
                    [py, "-m", "streamlit", "run", str(ROOT / "console" / "server.py"),  # the pages + sign-in cookie routes
                     "--server.port", str(settings.console_port), "--server.address", console_host(),
                     "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"],
                    env=env, ready_url=f"http://127.0.0.1:{settings.console_port}/_stcore/health",
                ))
                ready("API", sup.wait_ready(api, 90))
                ready("console", sup.wait_ready(ui, 120))
            if demo:  # the demo's pickers and customers (issue 5/6): orders go on to shipped and signed
                took = sup.start(Child("floor-sim", [py, "-m", "zhongshu_devtools.floor_sim"], env=env,
                                       ready_log="floor simulation running"), timeout=60)
                ready("simulated pickers and customers (floor-sim)", took)
        except KeyboardInterrupt:
            console.print("\n[yellow]interrupted while starting; stopping what started …[/yellow]")
            return _stop(sup, settings, console)
        except (StartupError, Exception) as exc:  # noqa: BLE001 - report and tear down whatever started
            console.print(f"[red]could not start the stack: {exc}[/red]")
            if isinstance(exc, StartupError) and exc.log_tail:
                console.print(f"[dim]{exc.log_tail}[/dim]", markup=False, highlight=False)
            _stop(sup, settings, console)
            return 1

        sup.supervise()  # from here on a child that dies is started again (with backoff), also during the demo
        try:
            table = Table(title=f"{UP_BANNER} ({time.monotonic() - t0:.0f} s)", show_header=False, title_justify="left")
            table.add_column(no_wrap=True)
            table.add_column(no_wrap=True, overflow="ignore")
            table.add_row("Console (审核台)", settings.console_url)
            table.add_row("  review queue", f"{settings.console_url}/reviews")
            table.add_row("  find any order", f"{settings.console_url}/search")
            table.add_row("  printing (PDF)", f"{settings.console_url}/print")
            table.add_row("API", settings.api_base_url)
            table.add_row("API docs (OpenAPI)", f"{settings.api_base_url}/docs")
            table.add_row("Small-team order form (小微团队, phone)", f"{settings.api_base_url}/team")
            table.add_row("Temporal Web UI", temporal_ui_url(settings))
            table.add_row("", f"[dim]payloads decoded by {codec_endpoint(settings)} for people signed in to the console "
                          "(UI: Codec Server → include cross-origin credentials)[/dim]")
            table.add_row("Temporal gRPC", settings.temporal_address)
            for f in fakes:
                for label, path in f.fake.links.items():
                    table.add_row(f"{f.fake.label}: {label}", f.url + path)
                if not f.wired:
                    table.add_row("", "[dim](not wired in: a real endpoint is configured)[/dim]")
            table.add_row("Read model", _masked(settings.db_url))
            table.add_row("Logs", str(log_dir))
            table.add_row("API key (X-API-Key)", api_key)
            table.add_row("", f"[dim]{key_source}[/dim]")
            dev = env["ZHONGSHU_DEV_MODE"] not in ("0", "false", "")
            table.add_row("Mode", "[yellow]development[/yellow]" if dev else "production")
            if dev:
                table.add_row("", "[dim]ZHONGSHU_DEV_MODE=1: development default secrets allowed; never in production[/dim]")
            if admin:
                table.add_row("Console sign-in", admin[0])
                table.add_row("  password", admin[1])
                table.add_row("", f"[dim]kept in {settings.var_dir / 'dev-admin-password'}; "
                              "add people with `zhongshu users add` or the console's 账号管理 page[/dim]")
            console.print(table)

            if demo and demo_orders > 0:
                from zhongshu_devtools.demo import run_demo

                wecom = next((f for f in fakes if f.fake.name == "fake-wecom" and f.wired), None)
                try:
                    run_demo(
                        settings.api_base_url, api_key, demo_orders, console=console,
                        console_url=settings.console_url, temporal_ui=temporal_ui_url(settings),
                        wecom_messages_url=f"{wecom.url}/messages" if wecom else None,
                    )
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - the stack stays up even if the demo fails
                    console.print(f"[yellow]demo failed: {exc!r} — the stack is still up[/yellow]")
                try:
                    from zhongshu_devtools.channel_demo import feed_channels

                    feed_channels(settings, {f.fake.name: f.url for f in fakes if f.wired},
                                  console=console)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - same: the stack stays up
                    console.print(f"[yellow]channel feed failed: {exc!r} — the stack is still up[/yellow]")
            print_channel_health(settings, api_key, console)
            console.print("[green]running — a process that dies is started again; Ctrl-C stops everything[/green]")
            code = sup.wait()
        except KeyboardInterrupt:
            code = 0
        console.print("\nstopping …")
        stop_code = _stop(sup, settings, console)
        return code or stop_code


def console_host() -> str:
    from zhongshu.auth_settings import AuthSettings

    return AuthSettings().console_host


def _dev_admin(settings: Settings) -> tuple[str, str] | None:
    """Development mode: the first admin account (created when nobody exists yet) for the banner."""
    from store.db import engine_for, migrate
    from zhongshu.users_cli import ensure_dev_admin

    if os.environ.get("ZHONGSHU_DEV_MODE", "1") in ("0", "false", ""):
        return None
    migrate(settings.db_url)
    return ensure_dev_admin(engine_for(settings.db_url), settings.var_dir)


def print_channel_health(settings: Settings, api_key: str, console: Console, wait: float = 20.0) -> None:
    """The health line of each channel sync (and pushed channel), from GET /v1/channels/health — once
    each sync has polled, or after ``wait`` seconds. Never fails the stack."""
    import httpx

    from api.channel_health_routes import ChannelHealth

    deadline = time.monotonic() + wait
    while True:
        try:
            r = httpx.get(f"{settings.api_base_url}/v1/channels/health", headers={"X-API-Key": api_key}, timeout=10)
            r.raise_for_status()
            items = [ChannelHealth.model_validate(i) for i in r.json()["items"]]
        except Exception as exc:  # noqa: BLE001 - the stack stays up without the health lines
            console.print(f"[yellow]channel health unavailable: {exc!r}[/yellow]")
            return
        if all(i.last_poll_at for i in items if i.kind == "sync") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not items:
        console.print("channel health: no channel accounts yet (`zhongshu channels add …`)")
        return
    console.print("channel health ([dim]zhongshu channels list · GET /v1/channels/health · console 渠道健康[/dim]):")
    for i in items:
        console.print(f"  {i.line()}", markup=False, highlight=False)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never fail the banner over a URL
        return url.split("@")[-1]


def _stop(sup: Supervisor, settings: Settings, console: Console) -> int:
    n = len(sup.children)
    t = time.monotonic()
    killed = sup.stop()
    deadline = time.monotonic() + 5
    busy = [(name, port) for name, port, _ in _ports(settings)]
    while busy and time.monotonic() < deadline:
        busy = [(name, port) for name, port in busy if port_open(port)]
        if busy:
            time.sleep(0.2)
    note = f"; killed after the grace period: {', '.join(killed)}" if killed else ""
    if busy:
        console.print(f"[red]stopped {n} processes{note}, but ports still answer: {busy}[/red]")
        return 1
    console.print(f"stopped {n} processes in {time.monotonic() - t:.1f} s{note}; ports are free")
    return 0
