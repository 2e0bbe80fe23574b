"""A fake Kingdee K3 Cloud-style ERP WebAPI.

* Every request carries ``X-Api-ClientID`` and ``X-Api-Signature`` (see
  ``domain.channels.signing.kingdee_sign``; timestamps older than 5 minutes are refused) → 401
  ``{"error": "invalid signature"}`` when wrong.
* ``POST /k3cloud/login`` → ``{"KDSVCSessionId", "expires_in"}``; other calls need the live session in
  the ``kdservice-sessionid`` header (401 ``session expired`` otherwise; sessions last ``session_ttl``).
* ``POST /k3cloud/save`` with ``{"FormId": "SAL_SaleOrder", "Model": {…, "F_ZS_OrderId": …}}`` →
  ``{"Result": {"ResponseStatus": {"IsSuccess": true, "SuccessEntitys": [{"Number": "XSDD…"}]}, "Number": …}}``.
  Idempotent: the same ``F_ZS_OrderId`` returns the bill already made.
* ``POST /k3cloud/query`` with ``FilterString`` ``FDate>='YYYY-MM-DD HH:MM:SS'``, ``StartRow``, ``Limit``
  → ``{"Result": [bill, …]}`` ordered by FDate, FBillNo: the historical orders for import.
* The occasional 5xx and timeout via ``fakes.channel_faults``; ``POST /_control/bills``
  (``{"generate": n, "days_ago": 30}`` or a list of bills), ``GET /_control/state``, ``GET /_control/saved``.

Run alone: ``uvicorn fakes.erp:create_app --factory --port 8603`` (client id ``zs-erp``, secret
``zs-erp-secret``).
"""

from __future__ import annotations

import html
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from domain.channels.signing import kingdee_verify
from fakes.channel_faults import Faults, control_router
from fakes.channel_samples import pick

CHINA_TZ = timezone(timedelta(hours=8))
CLIENT_ID, CLIENT_SECRET = "zs-erp", "zs-erp-secret"


def sample_bill(i: int, *, date: datetime | None = None, seed: int | None = None, prefix: str = "") -> dict[str, Any]:
    """A historical sales order as the ERP stores it (yuan numbers, China local date)."""
    rng = random.Random(seed if seed is not None else 1000 + i)
    name, (prov, city, dist, detail), phone, parts = pick(rng, i)
    at = (date or datetime.now(UTC) - timedelta(days=10)).astimezone(CHINA_TZ)
    entries, total = [], 0
    for p in parts:
        qty = rng.choice([1, 2, 5, 10]) if p.price_fen < 100000 else 1
        total += p.price_fen * qty
        entries.append({"FMaterialId": {"FNumber": p.sku, "FName": p.title}, "FQty": qty,
                        "FTaxPrice": p.price_fen / 100, "F_Fitment": p.fitment or ""})
    return {
        "FBillNo": f"XSDD{prefix}{i:06d}",
        "FDate": at.strftime("%Y-%m-%d %H:%M:%S"),
        "FCustId": {"FNumber": f"CUST-{i % 37:04d}", "FName": f"{city or prov}汽配{i % 37}号店"},
        "FLinkMan": name,
        "FLinkPhone": phone,
        "FReceiveAddress": f"{prov}{city} {dist}{detail}",
        "FBillAllAmount": total / 100,
        "FFreight": 0,
        "FNote": "",
        "FSaleOrderEntry": entries,
    }


@dataclass
class FakeErpState:
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    sessions: dict[str, float] = field(default_factory=dict)
    session_ttl: float = 1800.0
    bills: list[dict[str, Any]] = field(default_factory=list)  # history, for the query API
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)  # F_ZS_OrderId → {"Number", "Model"}
    logins: int = 0
    save_calls: int = 0
    bad_signatures: int = 0
    down: bool = False  # answer 503 to everything (the ERP is down)
    faults: Faults = field(default_factory=Faults)
    lock: threading.Lock = field(default_factory=threading.Lock)
    prefix: str = field(default_factory=lambda: secrets.token_hex(2).upper())  # bill numbers unique per fake

    def generate(self, n: int, days_ago: float = 30) -> list[dict[str, Any]]:
        start = datetime.now(UTC) - timedelta(days=days_ago)
        with self.lock:
            base = len(self.bills)
            new = [sample_bill(base + k, date=start + timedelta(minutes=37 * k), prefix=self.prefix) for k in range(n)]
            self.bills.extend(new)
        return new


def create_app() -> FastAPI:
    app = FastAPI(title="fake Kingdee K3 Cloud WebAPI", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeErpState()
    app.state.erp = state
    app.include_router(control_router(state.faults))

    async def guard(request: Request, need_session: bool = True) -> JSONResponse | None:
        if state.down:
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        h = request.headers
        secret = state.clients.get(h.get("x-api-clientid", ""))
        ts = h.get("x-api-timestamp", "0")
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        if not secret or not fresh or not kingdee_verify(secret, "POST", request.url.path, ts, h.get("x-api-nonce", ""),
                                                         h.get("x-api-signature")):
            with state.lock:
                state.bad_signatures += 1
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        if need_session:
            exp = state.sessions.get(h.get("kdservice-sessionid", ""))
            if exp is None or exp <= time.monotonic():
                return JSONResponse({"error": "session expired"}, status_code=401)
        return None

    @app.post("/k3cloud/login")
    async def login(request: Request):
        if (bad := await guard(request, need_session=False)) is not None:
            return bad
        sid = "kd-" + secrets.token_urlsafe(16)
        with state.lock:
            state.sessions[sid] = time.monotonic() + state.session_ttl
            state.logins += 1
        return {"KDSVCSessionId": sid, "expires_in": state.session_ttl, "LoginResultType": 1}

    @app.post("/k3cloud/save")
    async def save(request: Request, body: dict = Body(...)):
        if (bad := await guard(request)) is not None:
            return bad
        model = body.get("Model") or {}
        ext = model.get("F_ZS_OrderId")
        if body.get("FormId") != "SAL_SaleOrder" or not ext or not model.get("FSaleOrderEntry"):
            return {"Result": {"ResponseStatus": {"IsSuccess": False, "Errors": [
                {"FieldName": "FSaleOrderEntry", "Message": "销售订单缺少明细或外部单号 missing entries/external number"}]}}}
        with state.lock:
            state.save_calls += 1
            if ext not in state.saved:
                state.saved[ext] = {"Number": f"XSDD{900000 + len(state.saved):06d}", "Model": model}
            number = state.saved[ext]["Number"]
        return {"Result": {"ResponseStatus": {"IsSuccess": True, "SuccessEntitys": [{"Number": number}]},
                           "Number": number}}

    @app.post("/k3cloud/query")
    async def query(request: Request, body: dict = Body(...)):
        if (bad := await guard(request)) is not None:
            return bad
        m = re.search(r"FDate\s*>=\s*'([^']+)'", str(body.get("FilterString", "")))
        since = m.group(1) if m else "1970-01-01 00:00:00"
        start, limit = int(body.get("StartRow", 0)), min(int(body.get("Limit", 100)), 500)
        with state.lock:
            hits = sorted((b for b in state.bills if b["FDate"] >= since), key=lambda b: (b["FDate"], b["FBillNo"]))
        return {"Result": hits[start:start + limit]}

    @app.post("/_control/bills")
    async def add_bills(body: Any = Body(...)):
        if isinstance(body, dict) and "generate" in body:
            new = state.generate(int(body["generate"]), float(body.get("days_ago", 30)))
        else:
            new = body if isinstance(body, list) else [body]
            with state.lock:
                state.bills.extend(new)
        return {"added": len(new), "total": len(state.bills)}

    @app.post("/_control/down")
    async def set_down(down: bool = Query(True)):
        state.down = down
        return {"down": down}

    @app.post("/_control/session_ttl")
    async def session_ttl(seconds: float = Query(..., gt=0)):
        state.session_ttl = seconds
        return {"session_ttl": seconds}

    @app.get("/_control/saved")
    async def saved():
        with state.lock:
            return {"count": len(state.saved), "items": [{"order_id": k, **v} for k, v in state.saved.items()]}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            counts = {"bills": len(state.bills), "saved": len(state.saved), "logins": state.logins,
                      "save_calls": state.save_calls, "bad_signatures": state.bad_signatures, "down": state.down}
        return counts | state.faults.snapshot()

    # the ERP's item image library (物料图片): what pick instructions show next to the SKU
    @app.get("/v1/items/{sku}/image")
    async def item_image(request: Request, sku: str):
        if not re.fullmatch(r"[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}", sku):
            return JSONResponse({"error": f"no item {sku!r}"}, status_code=404)
        return {"sku": sku, "url": f"{str(request.base_url).rstrip('/')}/images/{quote(sku)}.svg"}

    @app.get("/images/{name}.svg")
    async def image_svg(name: str):
        hue = sum(map(ord, name)) % 360
        label = html.escape(unquote(name))[:32]
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
               f'<rect width="240" height="160" rx="12" fill="hsl({hue},55%,88%)"/>'
               f'<rect x="70" y="30" width="100" height="70" rx="8" fill="hsl({hue},45%,55%)"/>'
               f'<text x="120" y="130" font-size="14" text-anchor="middle" font-family="sans-serif">{label}</text></svg>')
        return Response(svg, media_type="image/svg+xml")

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app
