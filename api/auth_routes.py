"""Sign-in, accounts and the audit log over HTTP (issue 13).

* ``POST /v1/auth/login`` {username, password} → a session token (expires; lock-out after repeated
  failures); ``POST /v1/auth/logout``; ``GET /v1/auth/me``.
* ``GET /v1/auth/wecom`` → where to send the browser for WeCom (企业微信) OAuth, when configured;
  ``POST /v1/auth/wecom/callback`` {code} → a session for the account linked to that WeCom user.
* ``GET/POST /v1/users``, ``POST /v1/users/{username}/disable|enable|password`` — admin only.
* ``GET /v1/audit`` — admin only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.audit import client_ip
from api.auth import PERSON_ROLES, Caller, authenticate, presented, require
from api.errors import query_refusal
from api.schemas import AUTH, MAX_OFFSET, Doc, errors
from api.wecom_oauth import WeComError, wecom_provider
from store import audit, users
from zhongshu.auth_settings import get_auth_settings

router = APIRouter(tags=["auth"])
Username = Path(min_length=1, max_length=64)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: dict[str, Any]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(description=" | ".join(sorted(PERSON_ROLES)))
    password: str | None = Field(default=None, max_length=200, description="at least 10 characters; "
                                 "omit only for a WeCom-only account (wecom_userid)")
    display_name: str = Field(default="", max_length=64)
    wecom_userid: str | None = Field(default=None, max_length=64)


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=200)


class WeComCallbackIn(BaseModel):
    code: str = Field(min_length=1, max_length=512)
    state: str = Field(default="", max_length=128)


def _engine(request: Request):
    return request.app.state.engine


def _aware(moment: datetime) -> datetime:
    """A time without a zone is UTC, as the audit log stores it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ip(request: Request) -> str | None:
    return client_ip(request.scope)


REFUSALS = {
    "wrong": "用户名或密码错误 wrong username or password",
    "locked": "账号已锁定, 请稍后再试或联系管理员 account locked after repeated failures; try later or ask an admin",
    "disabled": "账号已停用 account disabled",
    "unknown": "该企业微信账号未开通 no account is linked to this WeCom user",
}


def _session(request: Request, result: users.SignIn) -> JSONResponse:
    if result.user:  # signed in: the audit row says who, as which role
        request.state.audit_actor = result.user["username"]
        request.state.audit_role = result.user["role"]
    if not result.ok:
        request.state.audit_detail = result.reason
        return JSONResponse({"detail": REFUSALS.get(result.reason, result.reason), "reason": result.reason},
                            status_code=423 if result.reason == "locked" else 401)
    out = SessionOut(token=result.token or "", expires_at=result.expires_at, user=result.user or {})  # type: ignore[arg-type]
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.post("/v1/auth/login", response_model=SessionOut,
             responses={401: {"description": "wrong username or password, or disabled"},
                        423: {"description": "locked after repeated failures"}})
async def login(request: Request, body: LoginIn):
    """A person signs in; the answer's token goes in ``Authorization: Bearer …`` until ``expires_at``."""
    a = get_auth_settings()
    request.state.audit_actor = body.username[:64]
    result = await asyncio.to_thread(users.sign_in, _engine(request), body.username, body.password,
                                     ttl=a.session_ttl, max_failures=a.login_max_failures, lockout=a.lockout,
                                     client_ip=_ip(request))
    return _session(request, result)


@router.post("/v1/auth/logout", status_code=204, responses=errors(*AUTH))
async def logout(request: Request, _caller: Caller = Depends(authenticate)):
    await asyncio.to_thread(users.sign_out, _engine(request), presented(request))


@router.get("/v1/auth/me", response_model=Doc, responses=errors(*AUTH))
async def me(caller: Caller = Depends(authenticate)):
    """Who this credential is: a person's username, role and display name, or a key's role."""
    return {"name": caller.name, "role": caller.role, "kind": caller.kind, "display_name": caller.display_name,
            "role_label": users.ROLE_LABELS.get(caller.role, caller.role), "channel": caller.channel}


@router.get("/v1/auth/wecom", response_model=Doc, responses={404: {"description": "WeCom sign-in is not configured"}})
async def wecom_start(redirect_uri: str = Query(..., max_length=500), state: str = Query("", max_length=128)):
    """Where to send the browser to sign in with WeCom (it comes back to ``redirect_uri?code=…``)."""
    provider = wecom_provider(get_auth_settings())
    if provider is None:
        raise HTTPException(404, "企业微信登录未开启 WeCom sign-in is not configured (ZHONGSHU_WECOM_OAUTH)")
    return {"authorize_url": provider.authorize_url(redirect_uri, state)}


@router.post("/v1/auth/wecom/callback", response_model=SessionOut,
             responses={401: {"description": "unknown code or no linked account"}, 404: {"description": "not configured"},
                        503: {"description": "WeCom unavailable"}})
async def wecom_callback(request: Request, body: WeComCallbackIn):
    provider = wecom_provider(get_auth_settings())
    if provider is None:
        raise HTTPException(404, "企业微信登录未开启 WeCom sign-in is not configured (ZHONGSHU_WECOM_OAUTH)")
    try:
        userid = await provider.user_for_code(body.code)
    except WeComError as exc:
        if exc.retryable:
            raise HTTPException(503, f"企业微信暂时不可用 WeCom unavailable: {exc}", headers={"Retry-After": "5"}) from None
        request.state.audit_detail = str(exc)
        raise HTTPException(401, f"企业微信登录失败 WeCom sign-in failed: {exc}") from None
    request.state.audit_actor = f"wecom:{userid}"[:64]
    result = await asyncio.to_thread(users.sign_in_external, _engine(request), wecom_userid=userid,
                                     ttl=get_auth_settings().session_ttl, client_ip=_ip(request))
    return _session(request, result)


# ------------------------------------------------------------------ accounts (admin)


def _user_error(exc: users.UserError) -> HTTPException:
    text = str(exc)
    return HTTPException(404 if "not found" in text else 409 if "exists" in text else 422, text)


@router.get("/v1/users", response_model=Doc, responses=errors(*AUTH))
async def list_users(request: Request, _c: Caller = Depends(require("admin"))):
    items = await asyncio.to_thread(users.list_users, _engine(request))
    return {"total": len(items), "items": items, "roles": users.ROLE_LABELS}


@router.post("/v1/users", status_code=201, response_model=Doc, responses=errors(*AUTH, 409))
async def add_user(request: Request, body: UserIn, _c: Caller = Depends(require("admin"))):
    request.state.audit_detail = f"add {body.username} as {body.role}"
    try:
        return await asyncio.to_thread(users.add_user, _engine(request), body.username, body.role, body.password,
                                       display_name=body.display_name, wecom_userid=body.wecom_userid)
    except users.UserError as exc:
        raise _user_error(exc) from None


@router.post("/v1/users/{username}/disable", response_model=Doc, responses=errors(*AUTH, 404))
async def disable_user(request: Request, username: str = Username, caller: Caller = Depends(require("admin"))):
    if caller.is_person and caller.name == username:
        raise HTTPException(409, "不能停用自己 an admin cannot disable their own account")
    try:
        return await asyncio.to_thread(users.set_disabled, _engine(request), username, True)
    except users.UserError as exc:
        raise _user_error(exc) from None


@router.post("/v1/users/{username}/enable", response_model=Doc, responses=errors(*AUTH, 404))
async def enable_user(request: Request, username: str = Username, _c: Caller = Depends(require("admin"))):
    try:
        return await asyncio.to_thread(users.set_disabled, _engine(request), username, False)
    except users.UserError as exc:
        raise _user_error(exc) from None


@router.post("/v1/users/{username}/password", response_model=Doc, responses=errors(*AUTH, 404))
async def reset_password(request: Request, body: PasswordIn, username: str = Username,
                         _c: Caller = Depends(require("admin"))):
    """Set a new password (also unlocks the account and ends its sessions)."""
    try:
        return await asyncio.to_thread(users.reset_password, _engine(request), username, body.password)
    except users.UserError as exc:
        raise _user_error(exc) from None


# ------------------------------------------------------------------ audit (admin)


@router.get("/v1/audit", response_model=Doc, responses=errors(*AUTH))
async def audit_log(request: Request, actor: str | None = Query(None, max_length=80),
                    action: str | None = Query(None, max_length=120, description="part of e.g. 'POST /v1/reviews'"),
                    since: datetime | None = None, until: datetime | None = None,
                    limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                    _c: Caller = Depends(require("admin"))):
    """Every human and credentialed action, newest first (``since`` ≤ at < ``until``)."""
    if since and until and _aware(since) > _aware(until):
        raise query_refusal("until", "不能早于开始时间 (until is before since)")
    total, items = await asyncio.to_thread(audit.query, _engine(request), actor=actor, action=action, since=since,
                                           until=until, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
