"""A fake mini-program shop backend: it takes orders in the shop's own format and calls the hub with
an OAuth2 client-credentials token, refreshing it ahead of expiry (``activities.channels.TokenCache``:
the other direction of our own token handling).

* ``POST /_control/place`` with ``{"count": 3, "repeat": 1, "orders": [...] (optional)}`` → posts each
  order ``repeat`` times to ``{hub}/v1/channels/miniprogram/orders`` and answers what the hub said.
* ``GET /_control/state``: orders sent, tokens fetched, 401s seen.

The other direction, the shop's mini-program as the hub's customer channel (address
re-confirmation, issue 6):

* ``POST /v1/cards`` — a confirmation card for a customer (``order_id``, ``round``, ``url`` …);
  ``POST /v1/notices`` — a plain notice (``order_id``, ``customer_id``, ``title``, ``text``). Both are
  idempotent on the ``Idempotency-Key`` header (a repeat answers ``duplicate: true`` and stores
  nothing) and answer 400 with the missing fields. Failure injection as every fake channel:
  ``POST /_control/fail_next?count=2&status=503``, ``/_control/timeout_next``, ``/_control/rates``.
* ``GET /_control/cards?order_id=…`` and ``GET /_control/notices?order_id=…`` (also under
  ``/control/…``): what customers received, newest last, so tests and the demo can "open" the link;
  ``DELETE /_control/cards`` clears cards and notices.

Configured by env: ``ZHONGSHU_FAKE_MINIPROGRAM_HUB`` (the API base URL), ``…_CLIENT_ID``,
``…_CLIENT_SECRET``. ``sample_order(i)`` builds a realistic order for tests.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from activities.channels import TokenCache
from fakes.channel_faults import Faults, control_router
from fakes.channel_samples import pick

CARD_FIELDS = ("order_id", "customer_id", "round", "url", "address_text")
NOTICE_FIELDS = ("order_id", "customer_id", "title", "text")


def sample_order(i: int, *, out_trade_no: str | None = None, seed: int | None = None) -> dict[str, Any]:
    rng = random.Random(seed if seed is not None else 9000 + i)
    name, (prov, city, dist, detail), phone, parts = pick(rng, i)
    items, total = [], 0
    for p in parts:
        qty = rng.choice([1, 2, 4]) if p.price_fen < 100000 else 1
        total += p.price_fen * qty
        items.append({"sku": p.sku, "name": p.title, "qty": qty, "price_fen": p.price_fen, "fitment": p.fitment})
    return {
        "out_trade_no": out_trade_no or f"MP{datetime.now():%Y%m%d}{rng.randrange(10**9):09d}",
        "openid": f"oUpF8u{rng.randrange(10**10):010d}",
        "paid_at": datetime.now(UTC).isoformat(),
        "address": {"userName": name, "telNumber": phone, "provinceName": prov, "cityName": city,
                    "countyName": dist, "detailInfo": detail},
        "items": items,
        "total_fee": total,
        "freight_fee": 0,
        "remark": "",
    }


@dataclass
class MiniProgramShop:
    """The shop backend's client side: token cache + order posting (usable without the FastAPI app)."""

    hub_url: str
    client_id: str
    client_secret: str
    refresh_ahead: float = 60.0
    sent: int = 0
    unauthorized: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self._fetch_token, refresh_ahead=self.refresh_ahead)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.hub_url, timeout=30)
        return self._http

    async def _fetch_token(self) -> tuple[str, float]:
        r = await self.http.post("/v1/oauth/token", data={"grant_type": "client_credentials",
                                                          "client_id": self.client_id, "client_secret": self.client_secret})
        r.raise_for_status()
        body = r.json()
        return body["access_token"], float(body["expires_in"])

    async def place(self, order: dict[str, Any]) -> httpx.Response:
        for attempt in range(2):
            token = await self.tokens.get()
            r = await self.http.post("/v1/channels/miniprogram/orders", json=order,
                                     headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 401 and attempt == 0:
                with self.lock:
                    self.unauthorized += 1
                self.tokens.invalidate(token)
                continue
            with self.lock:
                self.sent += 1
            return r
        return r

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def create_app() -> FastAPI:
    app = FastAPI(title="fake mini-program shop backend", docs_url=None, redoc_url=None, openapi_url=None)
    shop = MiniProgramShop(
        hub_url=os.environ.get("ZHONGSHU_FAKE_MINIPROGRAM_HUB", "http://127.0.0.1:8000"),
        client_id=os.environ.get("ZHONGSHU_FAKE_MINIPROGRAM_CLIENT_ID", "miniprogram-shop"),
        client_secret=os.environ.get("ZHONGSHU_FAKE_MINIPROGRAM_CLIENT_SECRET", "zs-miniprogram-secret"),
    )
    app.state.shop = shop
    seq = {"n": 0}

    @app.post("/_control/place")
    async def place(body: dict = Body(default={})):
        orders = body.get("orders")
        if not orders:
            count = int(body.get("count", 1))
            orders = [sample_order(seq["n"] + k, seed=random.randrange(10**9)) for k in range(count)]
            seq["n"] += count
        results = []
        for o in orders:
            for _ in range(int(body.get("repeat", 1))):
                r = await shop.place(o)
                results.append({"out_trade_no": o.get("out_trade_no"), "status": r.status_code, "answer": r.json()})
        return {"placed": len(results), "results": results}

    @app.get("/_control/state")
    async def state():
        return {"sent": shop.sent, "unauthorized": shop.unauthorized, "token_refreshes": shop.tokens.refreshes,
                "hub_url": shop.hub_url}

    _customer_channel(app)

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app


@dataclass
class Inbox:
    """Cards and notices the shop's customers received; reachable as ``app.state.inbox``."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _customer_channel(app: FastAPI) -> None:
    inbox, faults = Inbox(), Faults()
    app.state.inbox, app.state.faults = inbox, faults
    app.include_router(control_router(faults))

    async def receive(request: Request, kind: str, required: tuple[str, ...]):
        failed = await faults.maybe_fail()
        if failed is not None:
            return failed
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"errcode": 40035, "errmsg": "body is not a JSON object"}, status_code=400)
        missing = [f for f in required if body.get(f) in (None, "")]
        if missing:
            return JSONResponse({"errcode": 41001, "errmsg": f"missing fields: {', '.join(missing)}"}, status_code=400)
        key = request.headers.get("idempotency-key") or ""
        with inbox.lock:
            if key and key in inbox.keys:
                inbox.duplicates += 1
                return {"errcode": 0, "errmsg": "ok", "duplicate": True}
            if key:
                inbox.keys.add(key)
            items = inbox.cards if kind == "card" else inbox.notices
            items.append({**body, "idempotency_key": key, "received_at": datetime.now(UTC).isoformat()})
            n = len(items)
        return {"errcode": 0, "errmsg": "ok", "duplicate": False, "msg_id": f"{kind}-{n}"}

    @app.post("/v1/cards")
    async def cards(request: Request):
        return await receive(request, "card", CARD_FIELDS)

    @app.post("/v1/notices")
    async def notices(request: Request):
        return await receive(request, "notice", NOTICE_FIELDS)

    def listing(items: list[dict[str, Any]], order_id: str | None) -> dict[str, Any]:
        with inbox.lock:
            found = [i for i in items if order_id is None or i.get("order_id") == order_id]
        return {"total": len(found), "items": found, "duplicates": inbox.duplicates}

    for prefix in ("/_control", "/control"):
        app.add_api_route(f"{prefix}/cards", lambda order_id=None: listing(inbox.cards, order_id), methods=["GET"])
        app.add_api_route(f"{prefix}/notices", lambda order_id=None: listing(inbox.notices, order_id), methods=["GET"])

    @app.delete("/_control/cards")
    async def clear():
        with inbox.lock:
            inbox.cards.clear()
            inbox.notices.clear()
            inbox.keys.clear()
            inbox.duplicates = 0
        faults.reset()
        return {"cleared": True}
