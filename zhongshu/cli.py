"""The `zhongshu` command: run one of the product's processes, migrations, rules, channels, stock.

The development harness (``zhongshu up``, ``demo``, ``bench …``) is not part of the product: it lives in
devtools/ (the ``zhongshu-devtools`` distribution) and adds its commands through the entry-point group
``zhongshu.commands``, so the product never imports it and an image without it simply lacks them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer
from rich.console import Console

from zhongshu.settings import ROOT, get_settings

app = typer.Typer(help="Zhongshu (订单中枢) — every order one durable, visible, auditable process.", no_args_is_help=True)
db_app = typer.Typer(help="The SQL read model.", no_args_is_help=True)
app.add_typer(db_app, name="db")
rules_app = typer.Typer(help="Routing rules (decision tables in Excel): import, list, activate, diff, export.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
from zhongshu.users_cli import users_app  # noqa: E402

app.add_typer(users_app, name="users")
console = Console()


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@app.command()
def worker(stages: str = typer.Option("", help="serve only these stages, e.g. orders,warehouse (of orders, warehouse, "
                                             "logistics, finance); default: ZHONGSHU_WORKER_STAGES, else all")) -> None:
    """Run the order worker (every stage, or the ones given; README: Scale-out)."""
    _logging()
    from domain.contracts.task_queues import parse_stages
    from workers.run import run_worker

    try:
        chosen = parse_stages(stages or get_settings().worker_stages)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stages") from exc
    asyncio.run(run_worker(stages=chosen))


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

    from zhongshu.auth_settings import get_auth_settings

    s = get_settings()
    script = ROOT / "console" / "server.py"  # st.App: the pages and the sign-in routes (cookie)
    raise typer.Exit(
        subprocess.call(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(s.console_port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.address", get_auth_settings().console_host, "--client.toolbarMode", "viewer"]
        )
    )


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
    console.print(f"imported {file.name} as version {version}"
                  + (" (active)" if activate else f"; activate with `zhongshu rules activate {version}`"))


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
    v = version or rules.version_to_pin(engine)
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


@app.command()
def reconcile(
    day: str = typer.Option("", help="YYYY-MM-DD (Beijing); default: yesterday"),
    wait: bool = typer.Option(True, help="wait for the report and print its summary"),
    schedule: bool = typer.Option(False, help="only make sure the daily schedule exists"),
) -> None:
    """Finance reconciliation for a day (ReconciliationWorkflow), or create the daily schedule."""
    from datetime import datetime, timedelta, timezone

    from workers.temporal_client import connect
    from workflows.reconciliation import ensure_reconciliation_schedule, start_reconciliation

    s = get_settings()
    day = day or (datetime.now(timezone(timedelta(hours=8))).date() - timedelta(days=1)).isoformat()

    async def main() -> None:
        client = await connect(s)
        if schedule:
            created = await ensure_reconciliation_schedule(client, s.queue_of("finance"), cron=s.reconciliation_cron)
            console.print(f"daily reconciliation schedule {'created' if created else 'already there (updated)'}")
            return
        handle = await start_reconciliation(client, s.queue_of("finance"), day)
        console.print(f"reconciliation {day} started: workflow {handle.id}")
        if wait:
            summary = await handle.result()
            console.print(summary.model_dump())
            console.print(f"report: {s.api_base_url}/v1/reconciliation/runs/{day}/report.xlsx")

    asyncio.run(main())


# ---- channels (issue 4): accounts, ERP history import, intake benchmark ----
channels_app = typer.Typer(help="Sales channels: accounts that are polled, OAuth2 clients that push.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")
import_app = typer.Typer(help="Import history from other systems without re-keying.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@channels_app.command("add")
def channels_add(
    channel: str = typer.Argument(..., help="tmall | taobao | erp | douyin | miniprogram"),
    account_id: str = typer.Option("", help="account id (tmall/taobao/erp); default: the channel name"),
    url: str = typer.Option("", help="the channel's API base (TOP: …/router/rest; ERP: the WebAPI base; "
                                    "Douyin: the shop open API, for ids-only pushes)"),
    app_key: str = typer.Option("", help="app key / ERP client id / OAuth2 client id (miniprogram)"),
    secret: str = typer.Option(..., prompt=True, hide_input=True, help="app secret / client secret"),
    start_sync: bool = typer.Option(True, help="tmall/taobao: start the account's ChannelSyncWorkflow"),
    poll_seconds: int = typer.Option(0, help="poll interval; default from settings"),
    token_ttl: int = typer.Option(0, help="miniprogram: lifetime of issued tokens (s)"),
) -> None:
    """Add (or update) a channel account; for Tmall/Taobao also start polling it."""
    from activities.channels import ChannelAccount, save_account

    s = get_settings()
    engine = _rules_engine()
    if channel == "miniprogram":
        from store.oauth import create_oauth_client

        create_oauth_client(engine, app_key or "miniprogram", secret, ttl_seconds=token_ttl or s.oauth_token_ttl_seconds)
        console.print(f"OAuth2 client {app_key or 'miniprogram'!r} can now get tokens at {s.api_base_url}/v1/oauth/token")
        return
    if channel not in ("tmall", "taobao", "erp", "douyin") or not url:
        console.print("[red]tmall/taobao/erp/douyin need --url[/red]" if url == "" else f"[red]unknown channel {channel!r}[/red]")
        raise typer.Exit(1)
    acc = ChannelAccount(account_id=account_id or channel, channel=channel, base_url=url, app_key=app_key, app_secret=secret)
    save_account(engine, acc)
    console.print(f"account {acc.account_id!r} ({channel}) saved")
    if channel in ("tmall", "taobao") and start_sync:
        from workers.temporal_client import connect
        from workflows.channel_sync import ensure_sync_workflow

        async def main() -> str:
            from zhongshu.channel_settings import channel_watch

            return await ensure_sync_workflow(await connect(s), acc.account_id, s.task_queue, channel=channel,
                                              poll_interval_seconds=poll_seconds or s.channel_poll_seconds,
                                              stall_after_polls=channel_watch(s).channel_stall_polls)

        console.print(f"polling: workflow {asyncio.run(main())}")


@channels_app.command("list")
def channels_list(as_json: bool = typer.Option(False, "--json", help="print the health report as JSON")) -> None:
    """Each channel account's intake health: running / failed / stalled / silent / stopped, last poll or
    push, last error, orders imported today (Beijing day), backlog — the same as GET /v1/channels/health."""
    from rich.table import Table

    from activities.channels import list_accounts
    from api.channel_health_routes import cn_time, health_report

    s = get_settings()
    engine = _rules_engine()

    async def report():
        from workers.temporal_client import connect

        try:
            client = await asyncio.wait_for(connect(s), timeout=5)
        except Exception:  # noqa: BLE001 - Temporal not running: the read model still says something
            client = None
        return await health_report(engine, client, s)

    r = asyncio.run(report())
    if as_json:
        console.print_json(r.model_dump_json())
        return
    urls = {a["account_id"]: a["base_url"] for a in list_accounts(engine)}
    table = Table("account", "渠道", "类型", "状态", "最近轮询/推送", "最近成功", "今日订单", "积压", "原因 / 最近错误",
                  title=f"渠道健康 channel health · {r.day} (北京时间) · {r.red} 红", title_justify="left")
    for i in r.items:
        colour = "red" if i.red else "green"
        backlog = "" if i.kind != "sync" else (f"{i.backlog_trades or 0} 单 / "
                                               + ("-" if i.backlog_seconds is None else f"{i.backlog_seconds:.0f} 秒"))
        why = "; ".join(x for x in (i.reason, (i.last_error or "")[:200] if i.red else "") if x)
        table.add_row(i.account_id + (f"\n[dim]{urls[i.account_id]}[/dim]" if i.account_id in urls else ""),
                      i.channel_name, "轮询 sync" if i.kind == "sync" else "推送 webhook",
                      f"[{colour}]{'🔴' if i.red else '🟢'} {i.state_label} {i.state.value}[/{colour}]",
                      cn_time(i.last_poll_at if i.kind == "sync" else i.last_success_at), cn_time(i.last_success_at),
                      str(i.orders_today), backlog, why)
    if not r.items:
        console.print("no channel accounts: `zhongshu channels add …`")
        return
    console.print(table)


@import_app.command("erp")
def import_erp(
    since: str = typer.Option(..., help="YYYY-MM-DD: import ERP sales orders dated on or after this day (Beijing)"),
    account_id: str = typer.Option("erp", help="the ERP account (`channels add erp …` or ZHONGSHU_ERP_*)"),
) -> None:
    """Pull historical ERP sales orders into Zhongshu (order id = bill number: safe to run twice)."""
    from datetime import datetime, timedelta, timezone

    from activities.channels import import_erp_history
    from workers.temporal_client import connect

    s = get_settings()
    engine = _rules_engine()
    start = datetime.fromisoformat(since).replace(tzinfo=timezone(timedelta(hours=8)))

    async def main():
        return await import_erp_history(await connect(s), engine, s, start, account_id=account_id,
                                        on_page=lambda r: console.print(f"  … {r.fetched} fetched", highlight=False))

    r = asyncio.run(main())
    console.print(f"ERP import since {since}: {r.fetched} fetched, {r.created} new orders, "
                  f"{r.duplicates} already imported, {r.rejected} rejected (see /v1/rejections)")


# ---- warehouse execution (issue 5): stock import, the device worker, the waves benchmark ----
stock_app = typer.Typer(help="Stock per bin (imported from Excel; picking decrements it).", no_args_is_help=True)
app.add_typer(stock_app, name="stock")


@stock_app.command("import")
def stock_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="xlsx: 仓库, 库位, SKU, 品名, 数量, 条码, 备注"),
    warehouse: str = typer.Option("", help="for a workbook without a 仓库 column"),
    merge: bool = typer.Option(False, help="upsert rows instead of replacing each warehouse's stock"),
) -> None:
    """Validate every row (nothing half-imported) and store the stock per bin."""
    from activities.warehouse import StockImportError, import_stock, parse_stock_workbook

    try:
        rows = parse_stock_workbook(file.read_bytes(), warehouse or None)
    except StockImportError as exc:
        console.print(f"[red]{file.name} rejected, nothing imported: {len(exc.errors)} error(s)[/red]")
        for e in exc.errors:
            console.print(f"  {e}")
        raise typer.Exit(1) from None
    for wh, n in import_stock(_rules_engine(), rows, replace=not merge).items():
        console.print(f"{wh}: {n} bin row(s) imported")


@app.command()
def device(
    port: str = typer.Option(..., help="pyserial URL: /dev/rfcomm0, /dev/ttyUSB0, socket://host:port, loop://"),
    warehouse: str = typer.Option(..., help="the warehouse this device picks in, e.g. HZ-DIRECT"),
    device_id: str = typer.Option("", help="default: derived from the port"),
    picker: str = typer.Option(..., help="who carries the scanner (mis-scans are counted per picker)"),
    api_url: str = typer.Option("", help="defaults to the configured API"),
    api_key: str = typer.Option("", envvar="ZHONGSHU_DEVICE_API_KEY", help="a key with the device role"),
    voice: str = typer.Option("", help="auto | espeak | pyttsx3 | log (default: ZHONGSHU_DEVICE_VOICE)"),
) -> None:
    """Run the device worker for one barcode scanner in serial pass-through mode."""
    _logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # an idle device asks for work every 2 s: not news
    from devices.worker import run_device

    s = get_settings()
    run_device(port, api_url=api_url or s.api_base_url, api_key=api_key or s.effective_api_key(), warehouse=warehouse,
               device_id=device_id or port.rstrip("/").split("/")[-1], picker=picker, voice=voice or s.device_voice,
               state_dir=s.var_dir / "devices", baudrate=s.serial_baudrate)


codec_app = typer.Typer(help="The payload codec's keys (personal data encrypted in Temporal).", no_args_is_help=True)
app.add_typer(codec_app, name="codec")


@codec_app.command("new-key")
def codec_new_key(key_id: str = typer.Argument(..., help="the new key's id, e.g. k2")) -> None:
    """Print a fresh 256-bit key as ``<id>:<base64>``: put it first in ZHONGSHU_CODEC_KEYS, keep the old ones."""
    from zhongshu.payload_codec import CodecKeyError, CodecKeys, new_key

    entry = f"{key_id}:{new_key()}"
    try:
        CodecKeys.parse(entry)
    except CodecKeyError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print(entry)


@codec_app.command("keys")
def codec_keys() -> None:
    """The configured key ids (never the keys): which one encrypts, which ones still decrypt."""
    from zhongshu.payload_codec import CodecKeyError, CodecKeys

    try:
        keys = CodecKeys.parse(get_settings().codec_keys)
    except CodecKeyError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for n, key_id in enumerate(keys.ids):
        console.print(f"{key_id}: {'encrypts and decrypts' if n == 0 else 'decrypts (rotated out)'}")
    if keys.development:
        console.print("[yellow]the published development key: development mode only (ZHONGSHU_DEV_MODE=1)[/yellow]")


COMMANDS_GROUP = "zhongshu.commands"


def add_installed_commands(target: typer.Typer) -> list[str]:
    """Call every ``zhongshu.commands`` entry point with ``target`` (each adds its commands); the names loaded.

    A distribution that fails to load is reported on stderr and skipped: a broken harness must not
    take the product's own commands (``zhongshu api``, ``worker`` …) down with it.
    """
    loaded = []
    for ep in entry_points(group=COMMANDS_GROUP):
        try:
            ep.load()(target)
        except Exception as exc:  # noqa: BLE001 - see above
            print(f"zhongshu: commands from {ep.value} not loaded: {exc!r}", file=sys.stderr)
            continue
        loaded.append(ep.name)
    return loaded


add_installed_commands(app)


if __name__ == "__main__":  # pragma: no cover
    app()
