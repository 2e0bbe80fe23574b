"""A fake WeCom (企业微信) group-robot webhook.

Behaves like ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` on the wire:

* ``POST /cgi-bin/webhook/send?key=…`` with ``{"msgtype": "markdown", "markdown": {"content": …}}``
  (or ``text``) answers HTTP 200 and ``{"errcode": 0, "errmsg": "ok"}``; a bad request *also*
  answers HTTP 200, with a non-zero errcode, as the real robot does:

  ========  ==============================================  ================================
  errcode   errmsg                                          when
  ========  ==============================================  ================================
  93000     invalid webhook url                             no/empty ``key``
  40035     invalid parameter, body is not a JSON object    body is not a JSON object
  40008     invalid message type                            msgtype not markdown/text
  44004     empty content                                   content missing or blank
  40058     markdown.content exceed max length 4096         content > 4096 bytes (text: 2048)
  ========  ==============================================  ================================

* ``GET /messages`` lists every accepted message (optionally ``?key=``), ``DELETE /messages``
  clears them.
* Failure injection for retry tests: ``POST /_control/fail_next?count=2&status=500`` makes the next
  two sends answer HTTP 500; ``…&status=200&errcode=45009`` makes them answer the robot's
  rate-limit error instead. ``GET /_control/state`` shows counters, ``POST /_control/reset``
  clears everything.

Run it alone: ``uvicorn fakes.wecom:create_app --factory --port 8600``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

# Limits of the real robot API (bytes of UTF-8).
MAX_BYTES = {"markdown": 4096, "text": 2048}

OK = (0, "ok")
INVALID_WEBHOOK_URL = (93000, "invalid webhook url")
INVALID_PARAMETER = (40035, "invalid parameter, body is not a JSON object")
INVALID_MESSAGE_TYPE = (40008, "invalid message type")
EMPTY_CONTENT = (44004, "empty content")
CONTENT_TOO_LONG = 40058
RATE_LIMITED = (45009, "api freq out of limit")

ERRMSG = {
    93000: INVALID_WEBHOOK_URL[1],
    40035: INVALID_PARAMETER[1],
    40008: INVALID_MESSAGE_TYPE[1],
    44004: EMPTY_CONTENT[1],
    45009: RATE_LIMITED[1],
    40058: "content exceed max length",
}


@dataclass
class FailurePlan:
    count: int = 0
    status: int = 500
    errcode: int | None = None


@dataclass
class FakeWeComState:
    """Everything the fake remembers; reachable as ``app.state.wecom`` for in-process tests."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0  # every POST to /send, accepted or not
    rejected: int = 0  # answered with errcode != 0 (validation)
    injected_failures: int = 0  # answered by the failure plan
    failure: FailurePlan = field(default_factory=FailurePlan)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.attempts = self.rejected = self.injected_failures = 0
            self.failure = FailurePlan()

    def take_failure(self) -> FailurePlan | None:
        with self.lock:
            if self.failure.count <= 0:
                return None
            self.failure.count -= 1
            self.injected_failures += 1
            return FailurePlan(1, self.failure.status, self.failure.errcode)


def _err(code: int, msg: str | None = None) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": msg or ERRMSG.get(code, "error")})


def validate(body: Any) -> tuple[int, str, str | None, str | None]:
    """(errcode, errmsg, msgtype, content) for a request body, as the robot would judge it."""
    if not isinstance(body, dict):
        return (*INVALID_PARAMETER, None, None)
    msgtype = body.get("msgtype")
    if msgtype not in MAX_BYTES:
        return (*INVALID_MESSAGE_TYPE, None, None)
    part = body.get(msgtype)
    content = part.get("content") if isinstance(part, dict) else None
    if not isinstance(content, str) or not content.strip():
        return (*EMPTY_CONTENT, msgtype, None)
    limit = MAX_BYTES[msgtype]
    if len(content.encode("utf-8")) > limit:
        return CONTENT_TOO_LONG, f"{msgtype}.content exceed max length {limit}", msgtype, content
    return (*OK, msgtype, content)


def create_app() -> FastAPI:
    app = FastAPI(title="fake WeCom robot", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeWeComState()
    app.state.wecom = state

    @app.post("/cgi-bin/webhook/send")
    async def send(request: Request, key: str = Query(default="")):
        with state.lock:
            state.attempts += 1
        plan = state.take_failure()
        if plan is not None:
            if plan.errcode is not None:
                return JSONResponse(
                    {"errcode": plan.errcode, "errmsg": ERRMSG.get(plan.errcode, "injected failure")},
                    status_code=plan.status,
                )
            return JSONResponse({"error": "injected failure"}, status_code=plan.status)

        if not key.strip():
            with state.lock:
                state.rejected += 1
            return _err(*INVALID_WEBHOOK_URL)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        errcode, errmsg, msgtype, content = validate(body)
        if errcode:
            with state.lock:
                state.rejected += 1
            return _err(errcode, errmsg)

        part = body[msgtype]
        record = {
            "key": key,
            "msgtype": msgtype,
            "content": content,
            "mentioned_list": part.get("mentioned_list", []),
            "mentioned_mobile_list": part.get("mentioned_mobile_list", []),
            "received_at": datetime.now(UTC).isoformat(),
        }
        with state.lock:
            record["seq"] = len(state.messages) + 1
            state.messages.append(record)
        return _err(*OK)

    @app.get("/messages")
    async def list_messages(key: str | None = None):
        with state.lock:
            items = [m for m in state.messages if key is None or m["key"] == key]
        return {"count": len(items), "items": items}

    @app.delete("/messages")
    async def clear_messages():
        with state.lock:
            n = len(state.messages)
            state.messages.clear()
        return {"cleared": n}

    @app.post("/_control/fail_next")
    async def fail_next(
        count: int = Query(default=1, ge=0),
        status: int = Query(default=500, ge=200, le=599),
        errcode: int | None = Query(default=None),
    ):
        with state.lock:
            state.failure = FailurePlan(count, status, errcode)
        return {"count": count, "status": status, "errcode": errcode}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            return {
                "messages": len(state.messages),
                "attempts": state.attempts,
                "rejected": state.rejected,
                "injected_failures": state.injected_failures,
                "pending_failures": state.failure.count,
            }

    @app.post("/_control/reset")
    async def reset():
        state.reset()
        return {"ok": True}

    # ---- OAuth sign-in (issue 13): gettoken, authorize (issues a code for ?userid=), getuserinfo
    codes: dict[str, str] = {}

    @app.get("/cgi-bin/gettoken")
    async def gettoken(corpid: str = "", corpsecret: str = ""):
        if not corpid or not corpsecret:
            return _err(40013, "invalid corpid")
        return {"errcode": 0, "errmsg": "ok", "access_token": f"fake-at-{corpid}", "expires_in": 7200}

    @app.get("/connect/oauth2/authorize")
    async def authorize(redirect_uri: str, state: str = "", userid: str = "zhangsan"):
        from fastapi.responses import RedirectResponse

        code = f"code-{len(codes) + 1}-{userid}"
        codes[code] = userid
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}code={code}&state={state}", status_code=302)

    @app.post("/_control/oauth_code")
    async def oauth_code(userid: str = Query(...)):
        code = f"code-{len(codes) + 1}-{userid}"
        codes[code] = userid
        return {"code": code}

    @app.get("/cgi-bin/auth/getuserinfo")
    async def getuserinfo(access_token: str = "", code: str = ""):
        if not access_token.startswith("fake-at-"):
            return _err(40014, "invalid access_token")
        userid = codes.pop(code, None)  # a code is good once
        if userid is None:
            return _err(40029, "invalid code")
        return {"errcode": 0, "errmsg": "ok", "userid": userid}

    return app
