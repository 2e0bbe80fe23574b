"""A fake Douyin shop (抖店) that pushes order messages to a webhook, as the real one does.

The real platform POSTs a JSON list of messages ``[{"tag", "msg_id", "data"}]`` to the app's push URL
with headers ``app-id``, ``event-sign`` — over ``app_key + body + app_secret``, MD5 hex, or HMAC-SHA256
keyed with the secret when ``sign-method: hmac-sha256`` (see ``domain.channels.signing.douyin_sign``;
this is how the platform's SDKs verify a push) — and ``sign-method``; it expects
``{"code": 0, "msg": "success"}`` and re-sends a message whose push failed (non-200 / timeout) with
growing delays, *the same body, the same msg_id*. The times a message carries (``update_time``,
``pay_time``) are what the receiver checks the push's age on. This fake does the same on command:

* ``POST /_control/push`` with ``{"url": "http://…/v1/webhooks/douyin", "count": 3, "repeat": 1,
  "orders": [...] (optional, else generated), "tag": "101", "bad_signature": false,
  "retries": 3, "ids_only": false, "sign_method": "hmac-sha256"}`` → pushes each order ``repeat`` times (re-delivery), one message per
  request, and answers what the webhook said to each push. ``ids_only: true`` pushes what the real
  platform pushes — ``{"p_id", "s_ids", "shop_id", "order_status", "pay_time", "pay_amount"}`` — and the
  receiver fetches the order from the open API below. Every pushed order is kept for that API.
* The open API (抖店开放平台 style, see ``domain.channels.signing.douyin_api_sign``): ``POST /token/create``
  (``grant_type=authorization_self``, ``shop_id``) → ``{"code": 10000, "data": {"access_token",
  "expires_in"}}``; ``POST /order/orderDetail`` (``param_json`` ``{"shop_order_id": …}`` as the body;
  ``app_key``, ``method``, ``v``, ``timestamp``, ``sign_method``, ``sign``, ``access_token`` in the query)
  → ``{"code": 10000, "data": {"shop_order_detail": {…}}}``. Errors: bad app key / signature → 30001
  (HTTP 200, as the platform does), a missing or expired token → 30002, an unknown order → HTTP 404 with
  ``{"code": 50002, "sub_code": "isv.order-not-found"}``. The occasional 5xx and timeout via
  ``fakes.channel_faults`` (``POST /_control/fail_next``, ``/_control/timeout_next``, ``/_control/rates``).
* ``POST /_control/orders`` (an order or a list: add or replace what the API answers, e.g. a changed
  address before a re-push), ``POST /_control/token_ttl?seconds=``, ``GET /_control/state``
  (pushes, retries, failures, detail calls, tokens …), ``POST /_control/reset``.

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
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from domain.channels.signing import douyin_api_verify, douyin_sign
from fakes.channel_faults import Faults, control_router, health_router
from fakes.channel_samples import pick

SHOP_ID = "4463798"


def sample_order(i: int, *, order_id: str | None = None, seed: int | None = None) -> dict[str, Any]:
    """An order detail as Douyin sends it: amounts in fen, unix seconds, nested address names."""
    rng = random.Random(seed if seed is not None else 5000 + i)
    name, (prov, city, dist, detail), phone, parts = pick(rng, i)
    now = int(datetime.now(UTC).timestamp())
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
        "update_time": now - 30,  # the order's version: a change (a new address) moves it on
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


def ids_message(order: dict[str, Any], shop_id: str = SHOP_ID) -> dict[str, Any]:
    """What a real paid-order push carries: ids and a few numbers, not the order."""
    oid = str(order["shop_order_id"])
    return {"p_id": int(oid) if oid.isdigit() else oid, "s_ids": [f"{oid[:-1]}{k}" for k in range(1, len(order.get("sku_order_list") or [1]) + 1)],
            "shop_id": int(shop_id) if shop_id.isdigit() else shop_id, "order_status": 2, "order_type": 0, "biz": 2,
            "pay_type": 1, "pay_time": order.get("pay_time"), "pay_amount": order.get("order_amount")}


def push_body(orders: list[dict[str, Any]], tag: str = "101", *, ids_only: bool = False, shop_id: str = SHOP_ID) -> bytes:
    msgs = [{"tag": tag, "msg_id": secrets.token_hex(10),
             "data": json.dumps(ids_message(o, shop_id) if ids_only else o, ensure_ascii=False)} for o in orders]
    return json.dumps(msgs, ensure_ascii=False).encode()


def signed_headers(body: bytes, app_key: str, app_secret: str, method: str | None = "hmac-sha256") -> dict[str, str]:
    """``method`` None: no ``sign-method`` header (the platform's original MD5 scheme)."""
    h = {"app-id": app_key, "event-sign": douyin_sign(app_key, app_secret, body, method or "md5"),
         "content-type": "application/json"}
    if method:
        h["sign-method"] = method
    return h


@dataclass
class FakeDouyinState:
    app_key: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_DOUYIN_APP_KEY", "zhongshu-douyin"))
    app_secret: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_DOUYIN_APP_SECRET", "zs-douyin-secret"))
    webhook_url: str = field(default_factory=lambda: os.environ.get("ZHONGSHU_FAKE_DOUYIN_TARGET", ""))
    shop_id: str = SHOP_ID
    pushes: int = 0
    retries: int = 0
    delivered: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: int = 0
    # the open API
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # shop_order_id → detail
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token → (shop_id, monotonic expiry)
    token_ttl: float = 7 * 86400.0
    detail_calls: int = 0
    details_served: int = 0
    not_found: int = 0
    tokens_issued: int = 0
    bad_signatures: int = 0
    expired_tokens: int = 0
    faults: Faults = field(default_factory=Faults)

    def keep(self, orders: list[dict[str, Any]]) -> None:
        with self.lock:
            for o in orders:
                self.orders[str(o["shop_order_id"])] = o

    def reset(self) -> None:
        with self.lock:
            self.pushes = self.retries = self.delivered = self.failed = 0
            self.detail_calls = self.details_served = self.not_found = self.tokens_issued = 0
            self.bad_signatures = self.expired_tokens = 0
            self.orders.clear()
            self.tokens.clear()
            self.token_ttl = 7 * 86400.0
        self.faults.reset()


async def push(state: FakeDouyinState, url: str, orders: list[dict[str, Any]], *, repeat: int = 1, tag: str = "101",
               bad_signature: bool = False, retries: int = 3, backoff: float = 0.2,
               ids_only: bool = False, sign_method: str = "hmac-sha256") -> list[dict[str, Any]]:
    """Push each order ``repeat`` times; a push that fails is re-sent up to ``retries`` times. The
    orders are kept for the open API (an ids-only push is useless without them)."""
    state.keep(orders)
    results = []
    async with httpx.AsyncClient(timeout=10) as http:
        for order in orders:
            for _ in range(repeat):
                body = push_body([order], tag, ids_only=ids_only, shop_id=state.shop_id)
                secret = "wrong-secret" if bad_signature else state.app_secret
                headers = signed_headers(body, state.app_key, secret, sign_method)
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
                    if status == 200 or status in (400, 401, 403) or attempt == retries:  # delivered, not worth it, or given up
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
    app.include_router(control_router(state.faults, reset=state.reset))
    app.include_router(health_router())

    def api_error(code: int, msg: str, sub_code: str = "", status_code: int = 200) -> JSONResponse:
        return JSONResponse({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": msg,
                             "log_id": secrets.token_hex(8), "data": {}}, status_code=status_code)

    async def checked(request: Request, method: str) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        """The business params of a correctly signed call to ``method``, or the error to answer."""
        q = request.query_params
        raw = (await request.body()).decode("utf-8") or "{}"
        if q.get("app_key") != state.app_key:
            with state.lock:
                state.bad_signatures += 1
            return None, api_error(30001, "app_key不存在", "isv.app-key-invalid")
        if q.get("method") != method or not douyin_api_verify(
                state.app_key, state.app_secret, method, raw, q.get("timestamp") or "", q.get("v") or "",
                q.get("sign_method"), q.get("sign")):
            with state.lock:
                state.bad_signatures += 1
            return None, api_error(30001, "签名校验失败", "isv.sign-invalid")
        try:
            params = json.loads(raw)
        except json.JSONDecodeError:
            return None, api_error(40004, "param_json不是JSON", "isv.parameter-invalid")
        return params, None

    @app.post("/token/create")
    async def token_create(request: Request):
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        params, err = await checked(request, "token.create")
        if err is not None:
            return err
        if params.get("grant_type") != "authorization_self":
            return api_error(40004, "grant_type不支持", "isv.parameter-invalid")
        shop = str(params.get("shop_id") or state.shop_id)
        value = "dyat-" + secrets.token_urlsafe(16)
        with state.lock:
            state.tokens[value] = (shop, time.monotonic() + state.token_ttl)
            state.tokens_issued += 1
        return {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "",
                "data": {"access_token": value, "expires_in": state.token_ttl, "refresh_token": secrets.token_urlsafe(12),
                         "shop_id": shop, "shop_name": "中枢汽配旗舰店"}}

    @app.post("/order/orderDetail")
    async def order_detail(request: Request):
        with state.lock:
            state.detail_calls += 1
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        params, err = await checked(request, "order.orderDetail")
        if err is not None:
            return err
        tok = state.tokens.get(request.query_params.get("access_token") or "")
        if tok is None or tok[1] <= time.monotonic():
            with state.lock:
                state.expired_tokens += 1
            return api_error(30002, "access_token已过期", "isv.access-token-expired")
        oid = str(params.get("shop_order_id") or "")
        order = state.orders.get(oid)
        if order is None:
            with state.lock:
                state.not_found += 1
            return api_error(50002, f"订单不存在: {oid}", "isv.order-not-found", status_code=404)
        with state.lock:
            state.details_served += 1
        return {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "",
                "data": {"shop_order_detail": {**order, "order_id": oid}}}

    @app.post("/_control/orders")
    async def control_orders(body: Any = Body(...)):
        orders = body if isinstance(body, list) else [body]
        state.keep(orders)
        return {"kept": len(orders), "total": len(state.orders)}

    @app.post("/_control/token_ttl")
    async def control_token_ttl(seconds: float = Query(..., gt=0)):
        state.token_ttl = seconds
        return {"token_ttl": seconds}

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
                             bad_signature=bool(body.get("bad_signature")), retries=int(body.get("retries", 3)),
                             ids_only=bool(body.get("ids_only")), sign_method=str(body.get("sign_method") or "hmac-sha256"))
        return {"pushed": len(results), "results": results}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            counts = {"pushes": state.pushes, "retries": state.retries, "delivered": state.delivered,
                      "failed": state.failed, "app_key": state.app_key, "webhook_url": state.webhook_url,
                      "shop_id": state.shop_id, "orders": len(state.orders), "detail_calls": state.detail_calls,
                      "details_served": state.details_served, "not_found": state.not_found,
                      "tokens_issued": state.tokens_issued, "bad_signatures": state.bad_signatures,
                      "expired_tokens": state.expired_tokens}
        return counts | state.faults.snapshot()


    return app
