"""A fake Taobao/Tmall open platform (TOP) gateway: enough of the real one to test polling for real.

* ``POST /oauth/token`` (form: ``grant_type=client_credentials``, ``client_id``=app key,
  ``client_secret``) → ``{"access_token", "expires_in"}``; sessions expire after ``session_ttl``.
* ``POST|GET /router/rest`` — every call is checked like TOP does it: known ``app_key`` (error 29),
  valid ``sign`` over the sorted parameters with ``sign_method`` md5/hmac/hmac-sha256 (error 25),
  a live ``session`` (27 ``Invalid session``). Method ``taobao.trades.sold.increment.get``
  (``start_modified`` ≤ modified < ``end_modified``, China local times, ``page_no``/``page_size``)
  answers ``{"trades_sold_increment_get_response": {"total_results", "has_next", "trades": {"trade": […]}}}``,
  sorted by (modified, tid). Errors answer HTTP 200 with ``{"error_response": {"code", "msg"}}``.
* The occasional 5xx and timeout: see ``fakes.channel_faults`` (off unless asked for).
* Control: ``POST /_control/trades`` (a list of trades, or ``{"generate": n}``), ``POST
  /_control/touch/{tid}`` (modify a trade now), ``POST /_control/session_ttl?seconds=``,
  ``GET /_control/state``, ``POST /_control/reset``.

Run alone: ``uvicorn fakes.tmall:create_app --factory --port 8601`` (app key ``zs-tmall-app``,
secret ``zs-tmall-secret``).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from domain.channels.signing import top_verify
from fakes.channel_faults import Faults, control_router, health_router
from fakes.channel_samples import pick

CHINA_TZ = timezone(timedelta(hours=8))
TOP_TIME = "%Y-%m-%d %H:%M:%S"
APP_KEY, APP_SECRET = "zs-tmall-app", "zs-tmall-secret"


def top_time(dt: datetime) -> str:
    return dt.astimezone(CHINA_TZ).strftime(TOP_TIME)


def parse_top_time(text: str) -> datetime:
    return datetime.strptime(text, TOP_TIME).replace(tzinfo=CHINA_TZ)


def sample_trade(i: int, *, tid: int | None = None, modified: datetime | None = None, seed: int | None = None,
                 status: str = "WAIT_SELLER_SEND_GOODS") -> dict[str, Any]:
    """A realistic paid trade (China local times, yuan strings)."""
    rng = random.Random(seed if seed is not None else i)
    name, (prov, city, dist, detail), phone, parts = pick(rng, i)
    at = modified or datetime.now(UTC)
    items, total = [], 0
    for p in parts:
        num = rng.choice([1, 2, 4]) if p.price_fen < 100000 else 1
        total += p.price_fen * num
        items.append({"oid": rng.randrange(10**15, 10**16), "title": p.title, "outer_sku_id": p.sku, "num": num,
                      "price": f"{p.price_fen / 100:.2f}",
                      "sku_properties_name": f"适配车型:{p.fitment};颜色分类:标准" if p.fitment else "颜色分类:标准"})
    return {
        "tid": tid or 3821094400000000 + i,
        "status": status,
        "created": top_time(at - timedelta(seconds=30)),
        "pay_time": top_time(at - timedelta(seconds=20)),
        "modified": top_time(at),
        "buyer_open_uid": f"AAH{rng.randrange(10**8):08d}tmall",
        "buyer_nick": "t**" + str(i % 10),
        "receiver_name": name,
        "receiver_mobile": phone,
        "receiver_state": prov,
        "receiver_city": city,
        "receiver_district": dist,
        "receiver_address": detail,
        "payment": f"{total / 100:.2f}",
        "post_fee": "0.00",
        "coupon_fee": "0.00",
        "buyer_message": "请尽快发货 ",
        "orders": {"order": items},
    }


@dataclass
class FakeTmallState:
    apps: dict[str, str] = field(default_factory=lambda: {APP_KEY: APP_SECRET})
    trades: dict[int, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # token → monotonic expiry
    session_ttl: float = 86400.0
    calls: int = 0
    pages_served: int = 0
    tokens_issued: int = 0
    bad_signatures: int = 0
    expired_sessions: int = 0
    faults: Faults = field(default_factory=Faults)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # generated tids start here: fresh per fake (and per reset) so runs never collide on order ids
    tid_base: int = field(default_factory=lambda: 3800000000000000 + random.randrange(10**10) * 10**5)

    def add(self, trades: list[dict[str, Any]]) -> None:
        with self.lock:
            for t in trades:
                self.trades[int(t["tid"])] = t

    def touch(self, tid: int, at: datetime | None = None) -> None:
        with self.lock:
            self.trades[tid]["modified"] = top_time(at or datetime.now(UTC))

    def generate(self, n: int, start: int | None = None, at: datetime | None = None) -> list[dict[str, Any]]:
        base = start if start is not None else len(self.trades)
        now = at or datetime.now(UTC)
        trades = [sample_trade(base + k, tid=self.tid_base + base + k, modified=now - timedelta(milliseconds=(n - k) * 10))
                  for k in range(n)]
        self.add(trades)
        return trades

    def reset(self) -> None:
        with self.lock:
            self.trades.clear()
            self.sessions.clear()
            self.calls = self.pages_served = self.tokens_issued = self.bad_signatures = self.expired_sessions = 0
            self.session_ttl = 86400.0
            self.tid_base = 3800000000000000 + random.randrange(10**10) * 10**5
        self.faults.reset()


def _error(code: int, msg: str, sub_msg: str = "") -> JSONResponse:
    return JSONResponse({"error_response": {"code": code, "msg": msg, "sub_msg": sub_msg,
                                            "request_id": secrets.token_hex(6)}})


def create_app() -> FastAPI:
    app = FastAPI(title="fake Tmall/Taobao open platform", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeTmallState()
    app.state.tmall = state
    app.include_router(control_router(state.faults, reset=state.reset))
    app.include_router(health_router())

    @app.post("/oauth/token")
    async def token(request: Request):
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        form = dict(await request.form())
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if state.apps.get(str(form.get("client_id"))) != form.get("client_secret"):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = "tms-" + secrets.token_urlsafe(16)
        with state.lock:
            state.sessions[value] = time.monotonic() + state.session_ttl
            state.tokens_issued += 1
        return {"access_token": value, "token_type": "session", "expires_in": state.session_ttl}

    @app.api_route("/router/rest", methods=["GET", "POST"])
    async def rest(request: Request):
        with state.lock:
            state.calls += 1
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            params.update(dict(await request.form()))
        app_key = params.get("app_key")
        if app_key not in state.apps:
            return _error(29, "Invalid app Key", "isv.appkey-not-exists")
        if not top_verify(params, state.apps[app_key]):
            with state.lock:
                state.bad_signatures += 1
            return _error(25, "Invalid signature", "isv.invalid-signature")
        expires = state.sessions.get(str(params.get("session")))
        if expires is None or expires <= time.monotonic():
            with state.lock:
                state.expired_sessions += 1
            return _error(27, "Invalid session", "session-expired")
        if params.get("method") != "taobao.trades.sold.increment.get":
            return _error(22, "Invalid method")
        try:
            start, end = parse_top_time(params["start_modified"]), parse_top_time(params["end_modified"])
            page_no, page_size = int(params.get("page_no", 1)), min(int(params.get("page_size", 40)), 100)
        except (KeyError, ValueError):
            return _error(40, "Missing or invalid required arguments")
        if end - start > timedelta(days=1):
            return _error(41, "Invalid arguments", "start_modified and end_modified must be within one day")
        with state.lock:
            hits = sorted((t for t in state.trades.values() if start <= parse_top_time(t["modified"]) < end),
                          key=lambda t: (t["modified"], t["tid"]))
            state.pages_served += 1
        page = hits[(page_no - 1) * page_size: page_no * page_size]
        return {"trades_sold_increment_get_response": {
            "total_results": len(hits), "has_next": page_no * page_size < len(hits),
            "trades": {"trade": page}}}

    @app.post("/_control/trades")
    async def add_trades(body: Any = Body(...)):
        if isinstance(body, dict) and "generate" in body:
            trades = state.generate(int(body["generate"]))
        else:
            trades = body if isinstance(body, list) else [body]
            state.add(trades)
        return {"added": len(trades), "total": len(state.trades), "tids": [t["tid"] for t in trades]}

    @app.post("/_control/touch/{tid}")
    async def touch(tid: int):
        state.touch(tid)
        return {"tid": tid, "modified": state.trades[tid]["modified"]}

    @app.post("/_control/session_ttl")
    async def session_ttl(seconds: float = Query(..., gt=0)):
        state.session_ttl = seconds
        return {"session_ttl": seconds}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            counts = {"trades": len(state.trades), "calls": state.calls, "pages_served": state.pages_served,
                      "tokens_issued": state.tokens_issued, "bad_signatures": state.bad_signatures,
                      "expired_sessions": state.expired_sessions, "session_ttl": state.session_ttl}
        return counts | state.faults.snapshot()


    return app
