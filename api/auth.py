"""Who is calling, and may they do this (issue 13).

Three kinds of credential, one ``Caller``:
* **people** sign in (``POST /v1/auth/login`` or WeCom OAuth) and send their session token as
  ``Authorization: Bearer zsus-…``; their role is reviewer, customer_service, warehouse_lead,
  finance or admin, and the actor recorded on what they do is their username — a body field cannot
  claim another name;
* **service keys** from settings (``X-API-Key``; roles service, reviewer, device, readonly,
  channel — ``key:channel:<channel>`` binds a channel key to its channel);
* **OAuth2 client tokens** from ``/v1/oauth/token`` (channel backends), bound to the client's channel.

``require(*roles)`` names who may call a route; ``service`` and ``admin`` may call every route that
uses it. Every route but the open ones in ``OPEN_ROUTES`` makes such a decision — the OpenAPI sweep
in tests/test_authz_matrix.py fails for a new route without one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from store.oauth import token_identity
from store.users import session_user

SERVICE_ROLES = {"service", "reviewer", "device", "readonly", "channel"}
PERSON_ROLES = {"reviewer", "customer_service", "warehouse_lead", "finance", "admin"}
ALL_ROLES = SERVICE_ROLES | PERSON_ROLES
# reading orders, reviews, metrics: every person may; the readonly key may (phones masked)
READERS = ("reviewer", "readonly", "customer_service", "warehouse_lead", "finance")
RESERVED_ACTORS = {"system", "hub", "customer"}  # recorded by the hub itself (and the customer's own page)


@dataclass(frozen=True)
class Caller:
    role: str
    name: str  # the actor recorded: username, "key:<role>" or "client:<client_id>"
    kind: str  # user | key | token
    channel: str | None = None  # channel credentials act on this channel's orders only
    display_name: str = ""

    @property
    def is_person(self) -> bool:
        return self.kind == "user"

    @property
    def masked(self) -> bool:
        """Readonly callers see phones masked."""
        return self.role == "readonly"

    def __str__(self) -> str:  # routes that logged the role string keep doing so
        return self.role


def presented(request: Request) -> str:
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key or ""


def _from_key(role_spec: str) -> Caller:
    role, _, channel = role_spec.partition(":")
    return Caller(role=role, name=f"key:{role}" + (f":{channel}" if channel else ""), kind="key",
                  channel=channel or None)


def resolve(request: Request, credential: str) -> Caller | None:
    """The caller behind a credential (blocking: reads the read model for tokens)."""
    spec = request.app.state.api_keys.get(credential)
    if spec is not None:
        return _from_key(spec)
    engine = getattr(request.app.state, "engine", None)
    if engine is None:  # an app without a read model knows its keys only
        return None
    if credential.startswith("zsus-"):
        user = session_user(engine, credential)
        if user is None:
            return None
        return Caller(role=user["role"], name=user["username"], kind="user", display_name=user["display_name"])
    found = token_identity(engine, credential)
    if found is None:
        return None
    role, client_id, channel = found
    return Caller(role=role, name=f"client:{client_id}", kind="token", channel=channel)


async def authenticate(request: Request) -> Caller:
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    credential = presented(request)
    if not credential:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "未登录 missing credentials: sign in (Authorization: Bearer) "
                            "or send an API key in X-API-Key", headers={"WWW-Authenticate": "Bearer"})
    caller = await asyncio.to_thread(resolve, request, credential)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "登录已失效或密钥错误 wrong API key, or an expired/unknown token",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.caller = caller  # the audit log records who (api/audit.py)
    return caller


def require(*roles: str):
    """Dependency: the caller, if its role is one of ``roles`` (service and admin always are)."""
    allowed = set(roles) | {"service", "admin"}

    async def check(request: Request) -> Caller:
        caller = await authenticate(request)
        if caller.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"无权限 role {caller.role!r} may not do this; needs one of {sorted(allowed)}")
        return caller

    return check


SESSION_COOKIE = "zhongshu_session"  # the console's sign-in cookie (console/server.py): a person's session token


async def session_caller(request: Request) -> Caller | None:
    """The signed-in person behind the session cookie (None: no cookie, or not a valid session).
    A cookie carries a person's session, never a service key."""
    token = (request.cookies.get(SESSION_COOKIE) or "").strip()
    if not token.startswith("zsus-"):
        return None
    caller = await asyncio.to_thread(resolve, request, token)
    return caller if caller is not None and caller.is_person else None


def require_or_session(*roles: str):
    """``require`` for what a browser fetches by a bare link (a PDF): without header credentials the
    console's session cookie counts. Only for reads (GET): the cookie is SameSite=Lax, and a
    state-changing route keeps to headers."""
    check = require(*roles)

    async def check_with_cookie(request: Request) -> Caller:
        if not presented(request) and (caller := await session_caller(request)) is not None:
            request.state.caller = caller  # authenticate takes it from here
        return await check(request)

    return check_with_cookie


def caller_role(request: Request) -> str:
    """The caller's role, resolved synchronously (for code outside FastAPI's dependencies, e.g. /metrics)."""
    credential = presented(request)
    if not credential:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing credentials: X-API-Key or Authorization: Bearer",
                            headers={"WWW-Authenticate": "Bearer"})
    caller = resolve(request, credential)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong API key, or an expired/unknown token",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.caller = caller
    return caller.role


def actor(caller: Caller, claimed: str | None, field: str) -> str:
    """The name recorded for a human action. A signed-in person is who they signed in as: a body
    field naming someone else is refused. A service credential may name the person it acts for
    (a scanner's picker, an integration's operator) — never a name the hub reserves."""
    claimed = (claimed or "").strip() or None
    if caller.is_person:
        if claimed and claimed not in (caller.name, caller.display_name):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{field}: 操作人由登录身份决定 the actor is the signed-in person ({caller.name!r}); "
                                f"{claimed!r} cannot be claimed — omit {field}")
        return caller.name
    if claimed is None:
        return caller.name
    if claimed.lower() in RESERVED_ACTORS or claimed.lower().startswith(("key:", "client:")):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"{field}: {claimed!r} 为系统保留, 不能以它的名义操作 (reserved for the hub itself and cannot be claimed)")
    return claimed


def own_channel(caller: Caller, channel: str | None) -> None:
    """A channel credential acts only on its own channel's orders: anything else → 403, nothing changed."""
    if caller.role != "channel":
        return
    if caller.channel is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this channel credential is bound to no channel "
                            "(configure the key as key:channel:<channel>)")
    if channel != caller.channel:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"渠道不符 channel: this credential acts for {caller.channel!r} "
                            f"only, not {channel!r}")

