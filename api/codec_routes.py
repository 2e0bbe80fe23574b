"""The codec server (issue 13): the Temporal UI decodes the encrypted payloads through the API, for
signed-in operators only.

Temporal's remote-codec protocol: ``POST …/decode`` and ``POST …/encode`` with the protobuf JSON of
``Payloads`` (``{"payloads": [{"metadata": {…}, "data": "<base64>"}]}``) and the namespace in
``X-Namespace``; the UI is pointed at ``<API>/v1/codec`` (``--ui-codec-endpoint`` of the dev server,
``TEMPORAL_CODEC_ENDPOINT`` of the UI image). The caller proves who they are with the person's
session token — ``Authorization: Bearer zsus-…`` (the UI's "pass access token") or the console's
``zhongshu_session`` cookie (the UI's "include cross-origin credentials") — validated like every
session (api/auth.py). Roles that see personal data at the API decode it here; readonly, device and
channel credentials are refused (403), no credential or an expired one 401. Every call, allowed or
refused, is in the audit log (api/audit.py: POST under /v1/) with the namespace and payload count.

CORS is answered for these paths only, for the Temporal UI's origins (``ZHONGSHU_CODEC_CORS_ORIGINS``),
with credentials (the cookie) allowed."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from api.auth import SESSION_COOKIE, Caller, presented, resolve
from api.schemas import AUTH, errors
from zhongshu.payload_codec import EncryptionCodec, PayloadDecryptError, UnknownCodecKey

PREFIX = "/v1/codec"
# who may read personal data in clear (every role that reads orders unmasked; service and admin too)
DECODERS = {"reviewer", "customer_service", "warehouse_lead", "finance", "service", "admin"}
MAX_PAYLOADS = 1000

router = APIRouter(prefix=PREFIX, tags=["codec"])


class CodecCors:
    """CORS for the codec paths only (the rest of the API stays same-origin): the Temporal UI calls
    them from the browser, with the session cookie when "include cross-origin credentials" is on."""

    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["POST"], allow_credentials=True,
                                   allow_headers=["Authorization", "Content-Type", "X-Namespace"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def operator(request: Request) -> Caller:
    """The caller, if they may see personal data: 401 without a valid credential, 403 for other roles."""
    credential = presented(request)
    if not credential:
        cookie = (request.cookies.get(SESSION_COOKIE) or "").strip()
        credential = cookie if cookie.startswith("zsus-") else ""  # the cookie carries a session, never a key
    if not credential:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "未登录 sign in first: the codec server decodes for signed-in "
                            f"operators (Authorization: Bearer <session token>, or the {SESSION_COOKIE} cookie)",
                            headers={"WWW-Authenticate": "Bearer"})
    caller = await asyncio.to_thread(resolve, request, credential)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "登录已失效 expired or unknown session: sign in again",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.caller = caller  # the audit log records who
    if caller.role not in DECODERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权查看个人信息 role {caller.role!r} may not see personal data; "
                            f"decoding needs one of {sorted(DECODERS)}")
    return caller


def _payloads(body: Any) -> Payloads:
    if not isinstance(body, dict) or not isinstance(body.get("payloads"), list):
        raise HTTPException(422, "请求格式错误: payloads: expected {\"payloads\": [{\"metadata\": {…}, \"data\": \"<base64>\"}, …]}")
    if len(body["payloads"]) > MAX_PAYLOADS:
        raise HTTPException(422, f"一次提交的载荷过多: payloads: at most {MAX_PAYLOADS} per request")
    try:
        return json_format.ParseDict({"payloads": body["payloads"]}, Payloads())
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise HTTPException(422, f"载荷格式错误: payloads: not the protobuf JSON of Temporal Payloads ({exc})") from None


def _namespace(request: Request) -> str:
    expected = request.app.state.settings.temporal_namespace
    namespace = request.headers.get("x-namespace") or expected
    if namespace != expected:
        raise HTTPException(400, f"命名空间不匹配: X-Namespace: this codec server serves namespace {expected!r}, not {namespace!r}")
    return namespace


def _codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


def _answer(payloads: list[Any]) -> dict[str, Any]:
    answer = json_format.MessageToDict(Payloads(payloads=payloads))
    answer.setdefault("payloads", [])  # protobuf JSON leaves an empty list out; the UI reads the key
    return answer


BODY = Body(..., examples=[{"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "…"}]}])


@router.post("/decode", responses=errors(*AUTH, 400, 422))
async def decode(request: Request, body: Any = BODY, caller: Caller = Depends(operator)) -> dict[str, Any]:
    """Decrypt payloads for the Temporal UI (plain payloads come back as they are)."""
    payloads = _payloads(body)
    request.state.audit_detail = f"decode {len(payloads.payloads)} payloads, namespace {_namespace(request)}"
    try:
        decoded = await _codec(request).decode(payloads.payloads)
    except (UnknownCodecKey, PayloadDecryptError) as exc:
        raise HTTPException(422, f"载荷无法解码: payloads: {exc}") from None
    return _answer(decoded)


@router.post("/encode", responses=errors(*AUTH, 400, 422))
async def encode(request: Request, body: Any = BODY, caller: Caller = Depends(operator)) -> dict[str, Any]:
    """Encrypt payloads the Temporal UI sends (a signal's or a reset's input) under the current key."""
    payloads = _payloads(body)
    request.state.audit_detail = f"encode {len(payloads.payloads)} payloads, namespace {_namespace(request)}"
    return _answer(await _codec(request).encode(payloads.payloads))
