"""A fake Douyin shop (抖店) that pushes order messages to a webhook, as the real one does.

The real platform POSTs a JSON list of messages to the app's push URL with headers ``app-id``,
``event-sign`` (see ``domain.channels.signing.douyin_sign``) and ``sign-method``; it expects
``{"code": 0, "msg": "success"}`` and re-sends a message whose push failed (non-200 / timeout) with
growing delays. This fake does the same on command:

* ``POST /_control/push`` with ``{"url": "http://…/v1/webhooks/douyin", "count": 3, "repeat": 1,
  "orders": [...] (optional, else generated), "tag": "101", "bad_signature": false,
  "retries": 3}`` → pushes each order ``repeat`` times (re-delivery), one message per request, and
  answers what the webhook said to each push.
* ``GET /_control/state``: pushes, retries, failures; ``POST /_control/reset``.

``sample_order(i)`` and ``push_body(orders)`` build realistic payloads for tests and the benchmark.
Run alone: ``uvicorn fakes.douyin:create_app --factory --port 8602`` (env ``ZHONGSHU_DOUYIN_APP_KEY`` /
``ZHONGSHU_DOUYIN_APP_SECRET`` must match the API's).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
from fastapi import Body, FastAPI

from domain.channels.signing import douyin_sign
from fakes.channel_samples import pick


def sample_order(i: int, *, order_id: str | None = None, seed: int | None = None) -> dict[str, Any]:
    """An order detail as Douyin sends it: amounts in fen, unix seconds, nested address names."""
    rng = random.Random(seed if seed is not None else 5000 + i)
    name, (prov, city, dist, detail), phone, parts = pick(rng, i)
    now = int(datetime.now(timezone.utc).timestamp())
    skus, total = [], 0
    for p in parts:
        num = rng.choice([1, 2]) if p.price_fen < 100000 else 1
        total += p.price_fen * num
        skus.append({"code": p.sku, "product_name": p.title, "item_num": num, "goods_price": p.price_fen,
                     "origin_amount": p.price_fen * num,
                     "spec": [{"name": "适配车型", "value": p.fitment}] if p.fitment else []})
    return {
        "shop_order_id": order_id or f"69{rng.randrange(10**16, 10**17)}",
        "order_status": 2,
        "create_time": now - 40,
        "pay_time": now - 30,
        "doudian_open_id": f"1@#{secrets.token_hex(8)}",
        "post_receiver": name,
        "post_tel": phone,
        "post_addr": {"province": {"name": prov}, "city": {"name": city}, "town": {"name": dist},
                      "street": {"name": ""}, "detail": detail},
        "order_amount": total,
        "post_amount": 0,
        "promotion_amount": 0,
        "buyer_words": "",
        "sku_order_list": skus,
    }


def push_body(orders: list[dict[str, Any]], tag: str = "101") -> bytes:
    msgs = [{"tag": tag, "msg_id": secrets.token_hex(10), "data": json.dumps(o, ensure_ascii=False)} for o in orders]
    return json.dumps(msgs, ensure_ascii=False).encode()


def signed_headers(body: bytes, app_key: str, app_secret: str, method: str = "hmac-sha256") -> dict[str, str]:
    return {"app-id": app_key, "event-sign": douyin_sign(app_key, app_secret, body, method), "sign-method": method,
            "content-type": "application/json"}


@dataclass
class FakeDouyinState:
    app_key: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_DOUYIN_APP_KEY", "zhongshu-douyin"))
    app_secret: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_DOUYIN_APP_SECRET", "zs-douyin-secret"))
    webhook_url: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_FAKE_DOUYIN_TARGET", ""))
    pushes: int = 0
    retries: int = 0
    delivered: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: int = 0


async def push(state: FakeDouyinState, url: str, orders: list[dict[str, Any]], *, repeat: int = 1, tag: str = "101",
               bad_signature: bool = False, retries: int = 3, backoff: float = 0.2) -> list[dict[str, Any]]:
    """Push each order ``repeat`` times; a push that fails is re-sent up to ``retries`` times."""
    results = []
    async with httpx.AsyncClient(timeout=10) as http:
        for order in orders:
            for _ in range(repeat):
                body = push_body([order], tag)
                secret = "wrong-secret" if bad_signature else state.app_secret
                headers = signed_headers(body, state.app_key, secret)
                status, answer = None, None
                for attempt in range(retries + 1):
                    with state.lock:
                        state.pushes += 1
                        state.retries += attempt > 0
                    try:
                        r = await http.post(url, content=body, headers=headers)
                        status, answer = r.status_code, r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
                    except httpx.HTTPError as exc:
                        status, answer = None, f"{type(exc).__name__}"
                    if status == 200 or status in (400, 401, 403):  # delivered, or not worth re-sending
                        break
                    await asyncio.sleep(backoff * 2**attempt)
                with state.lock:
                    if status == 200:
                        state.delivered += 1
                    else:
                        state.failed += 1
                results.append({"shop_order_id": order["shop_order_id"], "status": status, "answer": answer})
    return results


def create_app() -> FastAPI:
    app = FastAPI(title="fake Douyin shop push", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeDouyinState()
    app.state.douyin = state

    @app.post("/_control/push")
    async def control_push(body: dict = Body(...)):
        url = body.get("url") or state.webhook_url
        if not url:
            return {"error": "no webhook url: pass url or set ZHONGSHU_FAKE_DOUYIN_TARGET"}
        orders = body.get("orders")
        if not orders:
            with state.lock:
                start, state.seq = state.seq, state.seq + int(body.get("count", 1))
            orders = [sample_order(start + k, seed=random.randrange(10**9)) for k in range(int(body.get("count", 1)))]
        results = await push(state, url, orders, repeat=int(body.get("repeat", 1)), tag=str(body.get("tag", "101")),
                             bad_signature=bool(body.get("bad_signature")), retries=int(body.get("retries", 3)))
        return {"pushed": len(results), "results": results}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            return {"pushes": state.pushes, "retries": state.retries, "delivered": state.delivered,
                    "failed": state.failed, "app_key": state.app_key, "webhook_url": state.webhook_url}

    @app.post("/_control/reset")
    async def reset():
        with state.lock:
            state.pushes = state.retries = state.delivered = state.failed = 0
        return {"ok": True}

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app
