"""A fake mini-program shop backend: it takes orders in the shop's own format and calls the hub with
an OAuth2 client-credentials token, refreshing it ahead of expiry (``activities.channels.TokenCache``:
the other direction of our own token handling).

* ``POST /_control/place`` with ``{"count": 3, "repeat": 1, "orders": [...] (optional)}`` → posts each
  order ``repeat`` times to ``{hub}/v1/channels/miniprogram/orders`` and answers what the hub said.
* ``GET /_control/state``: orders sent, tokens fetched, 401s seen.

Configured by env: ``ZHONGSHU_FAKE_MINIPROGRAM_HUB`` (the API base URL), ``…_CLIENT_ID``,
``…_CLIENT_SECRET``. ``sample_order(i)`` builds a realistic order for tests.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
from fastapi import Body, FastAPI

from activities.channels import TokenCache
from fakes.channel_samples import pick


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
        "paid_at": datetime.now(timezone.utc).isoformat(),
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

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app
