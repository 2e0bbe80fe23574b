"""Channel endpoints: the Douyin push webhook, OAuth2 client credentials for the mini-program, the
mini-program's order endpoint, and replay of rejected raw channel payloads.

* ``POST /v1/webhooks/douyin`` — signature checked before anything else (wrong → 401 and the attempt
  recorded); then each message's ``msg_id``: one already processed is a replay, answered success and
  not processed again (``replayed``, recorded); then the age of each new message (the time it
  carries, covered by the signature): outside ``ZHONGSHU_DOUYIN_PUSH_WINDOW_SECONDS`` (300) → 401
  with the reason, the attempt recorded (``stale``) and the order message kept as a replayable
  rejection (a genuinely delayed push is never lost). A re-delivered order whose ``update_time`` is
  not newer than the copy the order has is not signalled (``domain.redelivery.freshness``). Each
  paid-order message is mapped and its order workflow *started before we ack*
  (so an accepted push is durable in Temporal even when no worker runs), or recorded as a
  rejection with the raw payload. Temporal unreachable → 503, so Douyin re-sends. No admission wait:
  the ack is fast. A message with only ids (as the real platform pushes) first gets the order from
  the open API (``order.orderDetail``, short timeout); that API down or slow → 503
  (``detail_unavailable`` attempt) and Douyin re-sends; an id it does not know → a recorded,
  replayable rejection (see ``activities.channels.accept_douyin_message`` for why). A re-delivered
  order signals its running workflow (``channel_redelivered``).
* ``POST /v1/oauth/token`` — RFC 6749 client credentials (form or HTTP Basic) → an expiring bearer
  token (stored hashed). ``token_role`` resolves such a token to its role; ``channel_caller``
  accepts an API key *or* a token.
* ``POST /v1/channels/miniprogram/orders`` — the mini-program backend's order, mapped, then
  ``api.intake.submit`` (the same answers as ``POST /v1/orders``).
* ``POST /v1/channels/rejections/{id}/replay`` — re-map a stored raw channel payload (after a mapper
  fix) and submit it; canonical payloads replay as ``POST /v1/rejections/{id}/replay`` does; an
  ids-only Douyin message has its detail fetched again first.
* ``GET /v1/channels/webhook-attempts`` — what was pushed at us, accepted or not.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator
from sqlalchemy import Engine, select
from temporalio.service import RPCError

from activities.channels import (
    ChannelAccount,
    ChannelError,
    DouyinClient,
    accept_douyin_message,
    fetch_douyin_detail,
    load_account,
    raw_order_id,
    record_rejection_once,
)
from api.auth import READERS, Caller, own_channel, require
from api.channel_health_routes import note_push
from api.intake import submit
from api.schemas import MAX_ID, blank_is_none
from domain.channels import MappingError, douyin, map_payload
from domain.channels.signing import douyin_verify, push_age_problem
from store import read_model
from store.channel_health import processed_message, remember_message
from store.oauth import issue_token, token_identity
from store.schema import webhook_attempts
from zhongshu.channel_settings import channel_watch

router = APIRouter()


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


# ------------------------------------------------------------------------------------------ oauth
# clients and tokens are stored by store/oauth.py (create_oauth_client, issue_token, token_role)


def token_caller(engine: Engine, token: str) -> Caller | None:
    """The caller behind a live bearer token we issued (bound to its client's channel), or None."""
    found = token_identity(engine, token)
    if found is None:
        return None
    role, client_id, channel = found
    return Caller(role=role, name=f"client:{client_id}", kind="token", channel=channel)


def channel_caller(*roles: str):
    """Dependency: an API key, a person's sign-in or a bearer token from /v1/oauth/token with one of roles."""
    return require(*roles)


@router.post("/v1/oauth/token", tags=["channels"])
async def oauth_token(request: Request):
    """OAuth2 client credentials: form ``grant_type=client_credentials&client_id=…&client_secret=…``
    (or HTTP Basic). Answers ``{"access_token", "token_type": "bearer", "expires_in"}``."""
    form = dict(await request.form())
    cid, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            cid = secret = None
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if not cid or not secret:
        return JSONResponse({"error": "invalid_client"}, status_code=401, headers={"WWW-Authenticate": "Basic"})
    issued = await asyncio.to_thread(issue_token, request.app.state.engine, str(cid), str(secret))
    if issued is None:
        return JSONResponse({"error": "invalid_client"}, status_code=401, headers={"WWW-Authenticate": "Basic"})
    token, ttl, role = issued
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl, "scope": role},
                        headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------------------------------ webhook


# what a push was answered, as recorded in webhook_attempts.outcome (the Douyin push here, the carriers'
# tracking pushes in api/carrier_routes.py): every outcome the code records is one of these
WebhookOutcome = Literal["accepted", "replayed", "ignored", "unmappable", "bad_signature", "stale", "error",
                         "detail_unavailable"]
WebhookOutcomeFilter = Annotated[WebhookOutcome | None, BeforeValidator(blank_is_none)]


def record_attempt(engine: Engine, *, channel: str, outcome: WebhookOutcome, http_status: int, reason: str, body: bytes,
                   order_ids: list[str], remote: str | None) -> int:
    with engine.begin() as conn:
        r = conn.execute(webhook_attempts.insert().values(
            received_at=datetime.now(UTC), channel=channel, outcome=outcome, http_status=http_status,
            reason=reason[:2000], body_sha256=_sha(body), body_bytes=len(body), order_ids=order_ids,
            remote=(remote or "")[:64] or None))
        assert r.inserted_primary_key is not None  # a one-row insert always has its key
        return int(r.inserted_primary_key[0])


OK = {"code": 0, "msg": "success"}


def _douyin_account(engine: Engine, settings: Any) -> ChannelAccount | None:
    try:
        return load_account(engine, "douyin", settings)  # a stored account 'douyin', else ZHONGSHU_DOUYIN_API_URL
    except ChannelError:
        return None


async def douyin_api(app: Any) -> DouyinClient | None:
    """The open API client for ids-only pushes (None: not configured). One per configuration per app,
    so the per-shop tokens are reused across pushes; ``close_douyin_api`` on shutdown."""
    acc = await asyncio.to_thread(_douyin_account, app.state.engine, app.state.settings)
    if acc is None:
        return None
    clients: dict[tuple, DouyinClient] = getattr(app.state, "douyin_api_clients", None) or {}
    app.state.douyin_api_clients = clients
    key = (acc.base_url, acc.app_key, acc.app_secret, json.dumps(acc.options, sort_keys=True, default=str))
    if key not in clients:
        clients[key] = DouyinClient(acc, httpx.AsyncClient(limits=httpx.Limits(max_connections=20)))
    return clients[key]


async def close_douyin_api(app: Any) -> None:
    for c in (getattr(app.state, "douyin_api_clients", None) or {}).values():
        await c.http.aclose()
    app.state.douyin_api_clients = {}


@router.post("/v1/webhooks/douyin", tags=["channels"])
async def douyin_webhook(request: Request):
    """Douyin shop message push. Signature: header ``event-sign`` over app key + body + secret
    (``sign-method`` hmac-sha256 or md5), ``app-id`` must be ours."""
    app = request.app
    settings, engine, client = app.state.settings, app.state.engine, app.state.client
    body = await request.body()
    remote = request.client.host if request.client else None

    async def attempt(outcome: WebhookOutcome, code: int, reason: str = "", order_ids: list[str] | None = None) -> None:
        await asyncio.to_thread(record_attempt, engine, channel="douyin", outcome=outcome, http_status=code,
                                reason=reason, body=body, order_ids=order_ids or [], remote=remote)

    h = request.headers
    if h.get("app-id") != settings.douyin_app_key or not douyin_verify(
            settings.douyin_app_key, settings.douyin_app_secret, body, h.get("event-sign"), h.get("sign-method")):
        why = "webhook secret not configured" if not settings.douyin_app_secret else "bad app-id or event-sign"
        await attempt("bad_signature", 401, why)
        return JSONResponse({"code": 40001, "msg": f"invalid signature: {why}"}, status_code=401)

    try:
        msgs = douyin.messages(json.loads(body))
        fresh, replayed = await _split_replays(engine, msgs)
        stale = _stale_messages(fresh, channel_watch(settings, getattr(app.state, "channel_watch", None)))
    except (json.JSONDecodeError, UnicodeDecodeError, MappingError) as exc:
        raw = {"body": body.decode("utf-8", "replace")[:20000]}
        rid = await asyncio.to_thread(record_rejection_once, engine, source="webhook:douyin", payload=raw,
                                      errors=[{"field": "douyin:body", "message": _unmappable(exc)}], channel="douyin",
                                      channel_order_id=None)
        await attempt("unmappable", 200, f"rejection {rid}: {exc}")
        return JSONResponse(OK | {"rejection_id": rid})

    replay_ids = [douyin.message_id(m) for m, _ in replayed]
    if stale:
        why = "; ".join(f"msg {douyin.message_id(m) or '-'}: {reason}" for m, reason in stale)
        kept = []
        for m, reason in stale:  # a delayed genuine order is not lost: a person can replay it
            if m["tag"] in douyin.ORDER_TAGS and isinstance(m["data"], dict):
                kept.append(await asyncio.to_thread(
                    record_rejection_once, engine, source="webhook:douyin", payload=m["data"],
                    errors=[{"field": "douyin:timestamp", "message": f"推送时间不在接收窗口内 (stale push): {reason}"}],
                    channel="douyin", channel_order_id=raw_order_id("douyin", m["data"])))
        await attempt("stale", 401, why + (f"; kept as rejection {kept}" if kept else ""))
        return JSONResponse({"code": 40002, "msg": f"stale or future timestamp: {why}", "rejection_ids": kept},
                            status_code=401)
    if fresh:
        note_push(app, "douyin", "douyin")  # the watchdog hears of every authentic, new push

    order_ids: list[str] = [i for _, first in replayed for i in first.get("order_ids") or []]
    rejections: list[int] = [i for _, first in replayed for i in first.get("rejection_ids") or []]
    reasons: list[str] = []
    if replay_ids:
        reasons.append(f"replayed msg_id {', '.join(str(i) for i in replay_ids)}: already processed, not again")
    api = None
    if any(m["tag"] in douyin.ORDER_TAGS and douyin.needs_detail(m["data"]) for m in fresh):
        api = await douyin_api(app)
    try:
        for m in fresh:
            mid = douyin.message_id(m)
            if m["tag"] not in douyin.ORDER_TAGS:
                reasons.append(f"tag {m['tag']} ignored")
                if mid:
                    await asyncio.to_thread(remember_message, engine, "douyin", mid, "ignored", {})
                continue
            r = await accept_douyin_message(client, engine, settings, m["data"], source="webhook:douyin", api=api)
            if r.order_id:
                order_ids.append(r.order_id)
            if r.outcome == "duplicate" and r.signalled:
                reasons.append(f"{r.order_id} re-delivered: workflow signalled")
            if r.stale:
                reasons.append(f"{r.order_id} re-delivered, {r.reason}")
            if r.rejection_id:
                rejections.append(r.rejection_id)
                reasons.append(f"rejection {r.rejection_id}: {r.reason}")
            if mid:  # processed: the same message again is a replay, answered as this one was
                await asyncio.to_thread(remember_message, engine, "douyin", mid, r.outcome, {
                    "order_ids": [r.order_id] if r.order_id else [],
                    "rejection_ids": [r.rejection_id] if r.rejection_id else []})
    except RPCError as exc:  # Temporal unreachable: not accepted; Douyin re-sends
        await attempt("error", 503, f"temporal unavailable: {exc}", order_ids)
        return JSONResponse({"code": 50000, "msg": "temporarily unavailable, retry"}, status_code=503)
    except ChannelError as exc:  # only retryable ones get here: the detail API is down or slow; Douyin re-sends
        pushed = douyin.pushed_order_id(m["data"])
        await attempt("detail_unavailable", 503, f"order detail of {pushed} unavailable: {exc}", order_ids)
        return JSONResponse({"code": 50001, "msg": f"order detail of {pushed} unavailable, retry"}, status_code=503)
    outcome: WebhookOutcome = ("replayed" if replay_ids and not fresh else "accepted" if order_ids
                               else "unmappable" if rejections else "ignored")
    await attempt(outcome, 200, "; ".join(reasons), order_ids)
    answer = OK | {"order_ids": order_ids, "rejection_ids": rejections}
    if replay_ids:
        answer["replayed"] = replay_ids
    return JSONResponse(answer)


async def _split_replays(engine: Engine, msgs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[dict, dict]]]:
    """(new messages, [(replay, what its first delivery was answered)] — by the platform's ``msg_id``)."""
    fresh, replayed = [], []
    for m in msgs:
        mid = douyin.message_id(m)
        first = await asyncio.to_thread(processed_message, engine, "douyin", mid) if mid else None
        if first is not None:
            replayed.append((m, first.get("result") or {}))
        else:
            fresh.append(m)
    return fresh, replayed


def _unmappable(exc: Exception) -> str:
    """A push body that is not a push, said in Chinese first (a mapping error already is)."""
    if isinstance(exc, MappingError):
        return str(exc)
    return f"推送报文不是有效的 JSON (not JSON: {exc})"


def _stale_messages(msgs: list[dict[str, Any]], watch: Any) -> list[tuple[dict[str, Any], str]]:
    """The messages outside the push window, with the reason (``domain.channels.signing.push_age_problem``)."""
    now = datetime.now(UTC)
    out = []
    for m in msgs:
        problem = push_age_problem(douyin.message_time(m["data"]), now, window_seconds=watch.douyin_push_window_seconds,
                                   future_seconds=watch.douyin_push_future_seconds)
        if problem:
            out.append((m, problem))
    return out


@router.get("/v1/channels/webhook-attempts", tags=["channels"])
async def list_webhook_attempts(request: Request, channel: str | None = None,
                                outcome: Annotated[WebhookOutcomeFilter, Query(
                                    description="what the push was answered (empty: any); another value is a 422")] = None,
                                limit: int = Query(100, ge=1, le=1000),
                                _role: str = Depends(channel_caller(*READERS))):
    def read() -> list[dict[str, Any]]:
        q = select(webhook_attempts).order_by(webhook_attempts.c.id.desc()).limit(limit)
        if channel:
            q = q.where(webhook_attempts.c.channel == channel)
        if outcome:
            q = q.where(webhook_attempts.c.outcome == outcome)
        with request.app.state.engine.connect() as conn:
            return [read_model._row(r) for r in conn.execute(q)]

    items = await asyncio.to_thread(read)
    return {"total": len(items), "items": items}


# ------------------------------------------------------------------------------------------ mini-program


@router.post("/v1/channels/miniprogram/orders", tags=["channels"], status_code=202)
async def miniprogram_order(request: Request, payload: Any = Body(...), caller: Caller = Depends(channel_caller("channel"))):
    """The mini-program backend's order (its own field names, fen amounts); bearer token or API key."""
    own_channel(caller, "miniprogram")
    app = request.app
    note_push(app, "miniprogram", "miniprogram")  # an authenticated call: the channel is alive
    try:
        mapped = map_payload("miniprogram", payload)
    except MappingError as exc:
        rid = await asyncio.to_thread(
            record_rejection_once, app.state.engine, source="api:miniprogram", payload=payload,
            errors=[{"field": f"miniprogram:{exc.field}", "message": exc.reason}], channel="miniprogram",
            channel_order_id=str(payload.get("out_trade_no"))[:64] if isinstance(payload, dict) and payload.get("out_trade_no") else None)
        return JSONResponse({"message": f"订单被拒收: {exc}; 已记录为拒收单 {rid} (order rejected; recorded as rejection {rid})",
                             "rejection_id": rid,
                             "errors": [{"field": exc.field, "message": exc.reason}]}, status_code=422)
    result = await submit(app.state.client, app.state.engine, app.state.settings, mapped, source="api:miniprogram")
    return JSONResponse(result.body, status_code=result.http_status)


# ------------------------------------------------------------------------------------------ replay


def _is_canonical(payload: Any) -> bool:
    return isinstance(payload, dict) and {"channel", "channel_order_id", "customer", "lines"} <= payload.keys()


@router.post("/v1/channels/rejections/{rejection_id}/replay", tags=["channels"])
async def replay_channel_rejection(request: Request, rejection_id: int = Path(ge=1, le=MAX_ID),
                                   corrected: Any = Body(None, description="a fixed raw channel payload; omit to re-map the stored one"),
                                   _role: str = Depends(channel_caller("reviewer", "customer_service"))):
    app = request.app
    row = await asyncio.to_thread(read_model.get_rejection, app.state.engine, rejection_id)
    if row is None:
        raise HTTPException(404, f"拒收记录不存在: rejection {rejection_id} not found")
    payload = corrected if corrected is not None else row["payload"]
    if not _is_canonical(payload):
        if not row.get("channel"):
            raise HTTPException(409, "该拒收记录没有渠道, 无法重推: this rejection has no channel; replay it with POST /v1/rejections/{id}/replay")
        if row["channel"] == "douyin" and douyin.needs_detail(payload):
            try:
                payload = await fetch_douyin_detail(await douyin_api(app), payload)
            except (ChannelError, MappingError) as exc:
                code = 503 if isinstance(exc, ChannelError) and exc.retryable else 422
                retry = {"Retry-After": str(app.state.settings.retry_after_seconds)} if code == 503 else None
                return JSONResponse({"message": f"抖店订单详情暂时取不到, 请稍后重试 (the order detail cannot be fetched: {exc})",
                                     "rejection_id": rejection_id, "errors": [{"field": "douyin:detail", "message": str(exc)}]},
                                    status_code=code, headers=retry)
        try:
            payload = map_payload(row["channel"], payload)
        except MappingError as exc:
            return JSONResponse({"message": f"渠道报文仍无法映射: {exc} (still cannot be mapped)", "rejection_id": rejection_id,
                                 "errors": [{"field": exc.field, "message": exc.reason}]}, status_code=422)
    result = await submit(app.state.client, app.state.engine, app.state.settings, payload, source=f"replay:{rejection_id}")
    if result.http_status < 300 and "order_id" in result.body:
        await asyncio.to_thread(read_model.mark_rejection_replayed, app.state.engine, rejection_id, result.body["order_id"])
    return JSONResponse(result.body, status_code=result.http_status)
