"""People who sign in (issue 13): accounts with roles, argon2id password hashes (argon2-cffi),
sign-in sessions that expire, lock-out after repeated failures.

Why here: the read model is the one durable store the API, CLI and console share; a token is only
ever stored as its SHA-256 so a leaked database cannot be replayed as sign-ins."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select, update

from store.schema import user_sessions, users

# the people roles; service keys (service, reviewer, device, readonly, channel) are not people
PERSON_ROLES = ("reviewer", "customer_service", "warehouse_lead", "finance", "admin")
ROLE_LABELS = {"reviewer": "审核员", "customer_service": "客服", "warehouse_lead": "仓库组长", "finance": "财务",
               "admin": "管理员"}
RESERVED_NAMES = {"system", "service", "api", "customer", "hub"}  # actors the hub itself records
TOKEN_PREFIX = "zsus-"
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class UserError(ValueError):
    """A refused account operation; the message says which field and why (Chinese first)."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    token: str | None = None
    expires_at: datetime | None = None
    user: dict[str, Any] | None = None
    reason: str = ""  # wrong | locked | disabled


def _now() -> datetime:
    return datetime.now(UTC)


@overload
def _aware(t: datetime) -> datetime: ...
@overload
def _aware(t: None) -> None: ...
def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _public(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d.pop("password_hash", None)
    d["locked_until"] = _aware(d.get("locked_until"))
    d["role_label"] = ROLE_LABELS.get(d["role"], d["role"])
    return d


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码太短 password: at least {MIN_PASSWORD} characters")
    if len(password) > 200:
        raise UserError("密码太长 password: at most 200 characters")


def _check_new(username: str, role: str, display_name: str) -> None:
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise UserError("用户名无效 username: 1–64 letters, digits, '.', '_' or '-'")
    if username.lower() in RESERVED_NAMES or username.lower().startswith(("key:", "client:")):
        raise UserError(f"用户名保留 username: {username!r} is reserved for the hub itself")
    if role not in PERSON_ROLES:
        raise UserError(f"角色无效 role: {role!r} is not one of {', '.join(PERSON_ROLES)}")
    if len(display_name) > 64:
        raise UserError("姓名太长 display_name: at most 64 characters")


def add_user(engine: Engine, username: str, role: str, password: str | None, *, display_name: str = "",
             wecom_userid: str | None = None) -> dict[str, Any]:
    _check_new(username, role, display_name)
    if password is None and not wecom_userid:
        raise UserError("需要密码 password: required (or a WeCom user id for WeCom sign-in)")
    if password is not None:
        check_password(password)
    now = _now()
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise UserError(f"用户已存在 username: {username!r} exists")
        conn.execute(users.insert().values(
            username=username, display_name=display_name or username, role=role,
            password_hash=_hasher.hash(password) if password is not None else None, wecom_userid=wecom_userid or None,
            disabled=False, failed_logins=0, locked_until=None, created_at=now, updated_at=now))
    return get_user(engine, username)  # type: ignore[return-value]


def get_user(engine: Engine, username: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    return _public(row) if row else None


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_public(r) for r in conn.execute(select(users).order_by(users.c.username))]


def count_users(engine: Engine) -> int:
    return len(list_users(engine))


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> dict[str, Any]:
    with engine.begin() as conn:
        n = conn.execute(update(users).where(users.c.username == username)
                         .values(disabled=disabled, updated_at=_now())).rowcount
        if not n:
            raise UserError(f"用户不存在 username: {username!r} not found")
        if disabled:  # a disabled person's sessions end now
            conn.execute(delete(user_sessions).where(user_sessions.c.username == username))
    return get_user(engine, username)  # type: ignore[return-value]


def reset_password(engine: Engine, username: str, password: str) -> dict[str, Any]:
    check_password(password)
    with engine.begin() as conn:
        n = conn.execute(update(users).where(users.c.username == username).values(
            password_hash=_hasher.hash(password), failed_logins=0, locked_until=None, updated_at=_now())).rowcount
        if not n:
            raise UserError(f"用户不存在 username: {username!r} not found")
        conn.execute(delete(user_sessions).where(user_sessions.c.username == username))
    return get_user(engine, username)  # type: ignore[return-value]


def _session(conn, username: str, ttl: timedelta, client_ip: str | None) -> tuple[str, datetime]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    conn.execute(user_sessions.insert().values(token_sha256=_sha(token), username=username, issued_at=now,
                                               expires_at=now + ttl, client_ip=(client_ip or "")[:64] or None))
    conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < now - timedelta(days=1)))
    return token, now + ttl


def sign_in(engine: Engine, username: str, password: str, *, ttl: timedelta, max_failures: int,
            lockout: timedelta, client_ip: str | None = None) -> SignIn:
    """Password sign-in. ``max_failures`` wrong passwords in a row lock the account for ``lockout``;
    while locked even the right password is refused (and does not extend the lock)."""
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            _hasher.hash(password)  # the same work as a real check: no timing oracle for usernames
            return SignIn(False, reason="wrong")
        if row.disabled:
            return SignIn(False, reason="disabled")
        locked = _aware(row.locked_until)
        if locked and locked > now:
            return SignIn(False, reason="locked")
        try:
            ok = bool(row.password_hash) and _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            failures = (0 if locked else row.failed_logins) + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= max_failures:
                values |= {"locked_until": now + lockout, "failed_logins": 0}
            conn.execute(update(users).where(users.c.username == username).values(**values))
            return SignIn(False, reason="locked" if failures >= max_failures else "wrong")
        values = {"failed_logins": 0, "locked_until": None}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(users).where(users.c.username == username).values(**values))
        token, exp = _session(conn, username, ttl, client_ip)
    return SignIn(True, token, exp, get_user(engine, username))


def sign_in_external(engine: Engine, *, wecom_userid: str, ttl: timedelta, client_ip: str | None = None) -> SignIn:
    """Sign-in vouched for by an identity provider (WeCom OAuth): the account linked to that id."""
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.wecom_userid == wecom_userid)).first()
        if row is None:
            return SignIn(False, reason="unknown")
        if row.disabled:
            return SignIn(False, reason="disabled")
        token, exp = _session(conn, row.username, ttl, client_ip)
    return SignIn(True, token, exp, get_user(engine, row.username))


def session_user(engine: Engine, token: str) -> dict[str, Any] | None:
    """The live, enabled person behind a sign-in token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(users, user_sessions.c.expires_at.label("session_expires_at"))
                           .join(user_sessions, user_sessions.c.username == users.c.username)
                           .where(user_sessions.c.token_sha256 == _sha(token))).first()
    if row is None or row.disabled or _aware(row.session_expires_at) <= _now():
        return None
    return _public(row)


def sign_out(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.token_sha256 == _sha(token)))
