"""`zhongshu users add/list/disable/enable/reset-password` (issue 13): accounts managed from the shell,
the same store the console's admin page uses. Every change is written to the audit log as the
operating-system user who ran it."""

from __future__ import annotations

import getpass
import secrets

import typer
from rich.console import Console
from rich.table import Table

from store import audit, users
from store.db import engine_for, migrate
from zhongshu.settings import get_settings

users_app = typer.Typer(help="People who sign in to the console and the API: reviewer (审核员), customer_service (客服), "
                             "warehouse_lead (仓库组长), finance (财务), admin.", no_args_is_help=True)
console = Console()


def _engine():
    s = get_settings()
    migrate(s.db_url)
    return engine_for(s.db_url)


def _audit(engine, action: str, target: str, status: int = 200, detail: str = "") -> None:
    audit.record(engine, actor=f"cli:{getpass.getuser()}", role="cli", kind="cli", action=f"cli users {action}",
                 target=target, status=status, detail=detail)


def _password(given: str | None, generate: bool) -> tuple[str, bool]:
    if given:
        return given, False
    if generate:
        return secrets.token_urlsafe(12), True
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise typer.BadParameter("the two passwords differ")
    return first, False


@users_app.command("add")
def add(username: str, role: str = typer.Option(..., help=" | ".join(users.PERSON_ROLES)),
        name: str = typer.Option("", help="display name, e.g. 小王"),
        password: str = typer.Option(None, help="else prompted (or --generate)"),
        generate: bool = typer.Option(False, help="generate a password and print it once"),
        wecom_userid: str = typer.Option(None, help="link a WeCom user for WeCom sign-in")) -> None:
    """Add a person."""
    engine = _engine()
    pw, generated = _password(password, generate)
    try:
        users.add_user(engine, username, role, pw, display_name=name, wecom_userid=wecom_userid)
    except users.UserError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    _audit(engine, "add", username, detail=f"role {role}")
    console.print(f"added {username} ({users.ROLE_LABELS[role]})" + (f"; password: {pw}" if generated else ""))


@users_app.command("list")
def list_() -> None:
    """List everyone, with role and state."""
    table = Table("username", "name", "role", "state", "WeCom")
    for u in users.list_users(_engine()):
        state = "disabled" if u["disabled"] else ("locked" if u["locked_until"] else "active")
        table.add_row(u["username"], u["display_name"], f"{u['role']} ({u['role_label']})", state, u["wecom_userid"] or "")
    console.print(table)


def _set(username: str, disabled: bool) -> None:
    engine = _engine()
    try:
        users.set_disabled(engine, username, disabled)
    except users.UserError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    _audit(engine, "disable" if disabled else "enable", username)
    console.print(f"{username} {'disabled (signed out everywhere)' if disabled else 'enabled'}")


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable a person: they cannot sign in, their sessions end now."""
    _set(username, True)


@users_app.command("enable")
def enable(username: str) -> None:
    _set(username, False)


@users_app.command("reset-password")
def reset_password(username: str, password: str = typer.Option(None, help="else prompted (or --generate)"),
                   generate: bool = typer.Option(False, help="generate one and print it once")) -> None:
    """Set a new password; also unlocks the account and ends its sessions."""
    engine = _engine()
    pw, generated = _password(password, generate)
    try:
        users.reset_password(engine, username, pw)
    except users.UserError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    _audit(engine, "reset-password", username)
    console.print(f"password of {username} reset" + (f": {pw}" if generated else ""))


def ensure_dev_admin(engine, var_dir) -> tuple[str, str] | None:
    """Development mode: the first admin account, when there is nobody yet. Its password is kept in
    var/dev-admin-password so every `make up` can print it again. None when accounts exist."""
    path = var_dir / "dev-admin-password"
    if users.count_users(engine):
        if path.exists() and users.get_user(engine, "admin"):
            return "admin", path.read_text().strip()
        return None
    pw = secrets.token_urlsafe(12)
    users.add_user(engine, "admin", "admin", pw, display_name="管理员")
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(pw)
    path.chmod(0o600)
    audit.record(engine, actor="system", role="system", kind="cli", action="dev first admin", target="admin", status=201)
    return "admin", pw
