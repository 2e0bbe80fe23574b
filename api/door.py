"""The door in front of every route that takes orders in: body size, content type, JSON syntax.

A pure ASGI middleware, so every route behind it gets the same answers without a line of its own
(``POST /v1/orders``, rejection replays, the mini-program's order endpoint, the channel and carrier
webhooks):

* any POST/PUT/PATCH body over ``max_body_bytes`` (1 MB default; the rules upload has its own larger
  bound) → **413**; the body is never held whole (read up to the limit, the rest drained and
  dropped). At an intake door a *summary* rejection is recorded (size, content type, the first 2 KB).
* intake doors that take a JSON order (not the webhooks, whose routes check a signature first):
  a non-JSON content type → **415**, malformed or empty JSON → **422** with a Chinese message; both
  recorded as rejections, like any other bad input, so a person sees them and can replay a fix.

Rejections are recorded only for a caller that presented a valid credential (or at a webhook, whose
size is the only thing checked here): an anonymous caller gets the same status but writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.order_intake import record_rejection
from domain.errors import FieldError
from domain.order import storable, unstorable_chars
from store.oauth import token_role

HEAD_BYTES = 2000  # what a summary rejection keeps of a refused body
DRAIN_FACTOR = 8  # read (and drop) up to this × the limit so the client sees the 413, then stop

# path → the rejection source of the route behind it
JSON_DOORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v1/orders/?$"), "api"),
    (re.compile(r"^/v1/rejections/([^/]+)/replay/?$"), "replay:{0}"),
    (re.compile(r"^/v1/channels/miniprogram/orders/?$"), "api:miniprogram"),
    (re.compile(r"^/v1/channels/rejections/([^/]+)/replay/?$"), "replay:{0}"),
    (re.compile(r"^/v1/team/orders/?$"), "team"),  # the small teams' form (api/team_routes.py)
]
REPLAYS_MAY_BE_EMPTY = ("replay:",)  # "replay the stored payload as is"
WEBHOOKS = re.compile(r"^/v1/webhooks/([^/]+)(?:/([^/]+))?/?$")
LARGER_LIMITS = {"/v1/rules": 6 * 1024 * 1024}  # the xlsx upload (5 MB workbook + multipart framing)


def door_of(path: str) -> tuple[str, str] | None:
    """("json", source) for an order intake door, ("webhook", source) for a webhook, else None."""
    for pattern, source in JSON_DOORS:
        if m := pattern.match(path):
            return "json", source.format(*m.groups())[:32]
    if m := WEBHOOKS.match(path):
        return "webhook", ("webhook:" + ":".join(g for g in m.groups() if g))[:32]
    return None


def is_json_media(content_type: str | None) -> bool:
    if not content_type:
        return False  # FastAPI would not parse it as JSON either (it would answer "not an object"): say why
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestDoor:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if bad := _unstorable_params(scope):
            where, codes = bad
            message = f"参数 {where} 含有不可保存的控制字符 {', '.join(codes)} (control characters in {where})"
            await JSONResponse({"message": message, "errors": [{"field": where, "message": message}]},
                               status_code=422)(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = LARGER_LIMITS.get(path.rstrip("/"), self.max_body_bytes)
        headers = Headers(scope=scope)
        door = door_of(path)
        declared = headers.get("content-length", "")
        declared_n = int(declared) if declared.isdigit() else None

        body = bytearray()
        over = declared_n is not None and declared_n > limit
        more = True
        if not over:
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > limit:
                    over = True
                    break
        if over:
            seen = len(body) + await _drain(receive, more, limit * DRAIN_FACTOR)
            size = max(declared_n or 0, seen)
            await self._refuse(scope, receive, send, headers, door, 413, bytes(body[:HEAD_BYTES]),
                               f"请求体 {size} 字节, 超过上限 {limit} 字节; 请拆分后重发 "
                               f"(body of {size} bytes is over the {limit}-byte limit)", size=size)
            return

        if door and door[0] == "json":
            problem = self._json_problem(headers, bytes(body), door[1])
            if problem:
                status, message = problem
                await self._refuse(scope, receive, send, headers, door, status, bytes(body[:HEAD_BYTES]), message,
                                   size=len(body))
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _json_problem(headers: Headers, body: bytes, source: str) -> tuple[int, str] | None:
        if not body.strip():
            if source.startswith(REPLAYS_MAY_BE_EMPTY):
                return None
            return 422, "请求体为空, 需要一个 JSON 订单 (empty body: send the order as JSON)"
        ctype = headers.get("content-type")
        if not ctype:
            return 415, ("缺少 Content-Type, 请以 Content-Type: application/json 发送 JSON "
                         "(no content type: send JSON with Content-Type: application/json)")
        if not is_json_media(ctype):
            return 415, (f"不支持的内容类型 {ctype!r}, 请以 Content-Type: application/json 发送 JSON "
                         f"(unsupported media type {ctype!r}: send JSON)")
        try:
            json.loads(body)
        except json.JSONDecodeError as exc:
            return 422, f"请求体不是有效的 JSON: 第 {exc.lineno} 行第 {exc.colno} 列, {exc.msg} (malformed JSON)"
        except UnicodeDecodeError as exc:
            return 422, f"请求体不是有效的 UTF-8 编码 JSON: 第 {exc.start} 字节 (not UTF-8)"
        except RecursionError:
            return 422, "请求体 JSON 嵌套过深 (JSON nested too deeply)"
        return None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, headers: Headers, door: tuple[str, str] | None,
                      status: int, head: bytes, message: str, *, size: int) -> None:
        body: dict[str, Any] = {"message": message, "errors": [{"field": "(body)", "message": message}]}
        app = scope.get("app")
        if door is not None and app is not None and (door[0] == "webhook" or await _known_caller(app, headers)):
            summary = {"refused_at_door": status, "path": scope["path"], "content_type": headers.get("content-type"),
                       "bytes": size, "head": head.decode("utf-8", "replace")}
            try:
                rid = await asyncio.to_thread(_record, app.state.engine, summary, message, door[1])
            except Exception:
                import logging

                logging.getLogger(__name__).exception("could not record a door rejection")
            else:
                body["rejection_id"] = rid
                body["message"] = f"{message}; 已记录为拒收单 {rid} (recorded as rejection {rid})"
        response = JSONResponse(body, status_code=status, headers={"Connection": "close"} if status == 413 else None)
        await response(scope, receive, send)


def _unstorable_params(scope: Scope) -> tuple[str, list[str]] | None:
    """A path or query parameter with NUL / a lone surrogate: no database can compare against it."""
    if codes := unstorable_chars(scope.get("path", "")):
        return "(path)", codes
    raw = scope.get("query_string", b"")
    if raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
            if codes := unstorable_chars(key + value):
                return storable(key)[:64] or "(query)", codes
    return None


async def _drain(receive: Receive, more: bool, cap: int) -> int:
    n = 0
    while more and n < cap:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        n += len(msg.get("body", b""))
        more = msg.get("more_body", False)
    return n


async def _known_caller(app: Any, headers: Headers) -> bool:
    key = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        return False
    if key in app.state.api_keys:
        return True
    try:
        return await asyncio.to_thread(token_role, app.state.engine, key) is not None
    except Exception:  # noqa: BLE001 - unknown is not known
        return False


def _record(engine: Any, summary: dict[str, Any], message: str, source: str) -> int:
    return record_rejection(engine, {"door": summary}, [FieldError(field="(body)", message=message)], source)
