"""Fake carrier open platforms (顺丰 SF, 中通 ZTO, 京东 JD, 德邦 DEBANG) behind one gateway.

On the wire like a carrier's e-waybill API (the signature is ``domain.logistics.sign``):

* ``POST /{carrier}/waybills`` with a ``domain.logistics.WaybillRequest`` JSON body and the headers
  ``X-Carrier-AppKey``/``X-Carrier-Timestamp``/``X-Carrier-Sign`` → ``{"code": 0, "waybill_no",
  "label_url", "label_zpl", "created_at", "reused"}``. Wrong signature or stale timestamp → 401;
  a bad body → 400 naming the field; unknown carrier → 404; ZTO refuses parcels over 30 kg and
  DEBANG under 1 kg (400, the carrier's own message). **Idempotent on ``order_id``**: the same
  order id at the same carrier always answers the same waybill, never a second one.
  Numbers: SF + 12 digits, ZTO 7 + 11 digits, JD ``JDVA`` + 11 digits, DEBANG ``DPK`` + 12 digits.
* ``GET /{carrier}/labels/{waybill_no}`` → an HTML label (``?format=zpl`` for ZPL).
* Faults as the fake channels (``fakes.channel_faults``): ``POST /_control/fail_next``,
  ``/_control/timeout_next``, ``/_control/rates``; plus ``POST /control/fail_after_create?count=1``:
  the waybill *is* made, then the answer is a 503 (the retry must get the same number).
* Control: ``GET /control/waybills`` (``?order_id=``), ``POST /control/push`` ``{waybill_no, code,
  at?, location?, description?, event_id?}`` pushes a signed tracking event to
  ``{webhook_base}/v1/webhooks/carriers/{carrier}``; ``POST /control/autopilot`` ``{"on": true,
  "interval_seconds": 3}`` pushes collected → in_transit → out_for_delivery → signed for every new
  waybill (the demo); ``POST /control/webhook`` ``{"base": url}``; ``GET /control/state``;
  ``POST /control/reset``.

Run alone: ``uvicorn fakes.carriers:create_app --factory --port 8607`` (app key ``zhongshu``,
secret ``zhongshu-carrier-secret``: the settings' defaults).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import ValidationError

from domain.logistics import (
    HEADER_APP_KEY,
    HEADER_SIGN,
    HEADER_TIMESTAMP,
    CarrierCode,
    TrackingCode,
    TrackingEvent,
    WaybillRequest,
    check_signature,
    parse_carrier,
    signed_headers,
)
from fakes.channel_faults import Faults, control_router

log = logging.getLogger("fakes.carriers")

APP_KEY, SECRET = "zhongshu", "zhongshu-carrier-secret"
AUTOPILOT_CODES = (TrackingCode.COLLECTED, TrackingCode.IN_TRANSIT, TrackingCode.OUT_FOR_DELIVERY, TrackingCode.SIGNED)
LIMITS = {  # the carriers' own refusals (weight in kg)
    CarrierCode.ZTO: (None, Decimal("30"), "中通单件限重30kg parcel over 30 kg, use a freight carrier"),
    CarrierCode.DEBANG: (Decimal("1"), None, "德邦大件快递起重1kg parcel under 1 kg, use an express carrier"),
}


@dataclass
class WaybillRecord:
    waybill_no: str
    carrier: CarrierCode
    order_id: str
    request: dict[str, Any]
    created_at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def public(self, base_url: str, reused: bool = False) -> dict[str, Any]:
        return {"code": 0, "waybill_no": self.waybill_no, "carrier": self.carrier.value, "order_id": self.order_id,
                "label_url": f"{base_url}/{self.carrier.value}/labels/{self.waybill_no}",
                "label_zpl": label_zpl(self), "created_at": self.created_at.isoformat(), "reused": reused}


@dataclass
class FakeCarrierState:
    """Everything the fake remembers; ``app.state.carriers`` for in-process tests."""

    app_key: str = APP_KEY
    secret: str = SECRET
    webhook_base: str = ""
    autopilot: bool = False
    autopilot_interval: float = 3.0
    waybills: dict[str, WaybillRecord] = field(default_factory=dict)  # waybill_no → record
    by_order: dict[tuple[str, str], str] = field(default_factory=dict)  # (carrier, order_id) → waybill_no
    create_calls: int = 0
    bad_signatures: int = 0
    fail_after_create: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)  # every push and its answer
    faults: Faults = field(default_factory=Faults)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: int = field(default_factory=lambda: secrets.randbelow(10**9) * 100)  # numbers unique per fake
    tasks: set = field(default_factory=set)

    def next_number(self, carrier: CarrierCode) -> str:
        n = self.base + len(self.waybills) + 1
        return {
            CarrierCode.SF: f"SF{(10**11 + n) % 10**12:012d}",
            CarrierCode.ZTO: f"7{(10**10 + n) % 10**11:011d}",
            CarrierCode.JD: f"JDVA{(10**10 + n) % 10**11:011d}",
            CarrierCode.DEBANG: f"DPK{(10**11 + n) % 10**12:012d}",
        }[carrier]

    def reset(self) -> None:
        with self.lock:
            self.waybills.clear()
            self.by_order.clear()
            self.pushes.clear()
            self.create_calls = self.bad_signatures = self.fail_after_create = 0
        self.faults.reset()


def label_zpl(rec: WaybillRecord) -> str:
    r, s = rec.request["receiver"], rec.request["sender"]
    return "\n".join([
        "^XA^CI28",
        f"^FO30,20^A0N,40,40^FD{rec.carrier.name_zh} {rec.carrier.value}^FS",
        f"^FO30,80^BY3^BCN,120,Y,N,N^FD{rec.waybill_no}^FS",
        f"^FO30,240^A0N,28,28^FD收 {r['name']} {r['phone']}^FS",
        f"^FO30,280^A0N,24,24^FD{r['address']}^FS",
        f"^FO30,330^A0N,22,22^FD寄 {s['name']} {s['address']}^FS",
        f"^FO30,370^A0N,22,22^FD{rec.request.get('items', '')[:40]}^FS",
        f"^FO30,410^A0N,22,22^FD订单 {rec.order_id}^FS",
        "^XZ",
    ])


def label_html(rec: WaybillRecord) -> str:
    r, s, e = rec.request["receiver"], rec.request["sender"], html.escape
    return (f"<!doctype html><meta charset='utf-8'><title>{e(rec.waybill_no)}</title>"
            f"<div style='border:2px solid #000;width:380px;padding:12px;font-family:sans-serif'>"
            f"<h2>{e(rec.carrier.name_zh)} {e(rec.carrier.value)}</h2>"
            f"<p style='font:bold 24px monospace;letter-spacing:3px'>{e(rec.waybill_no)}</p>"
            f"<p><b>收</b> {e(r['name'])} {e(r['phone'])}<br>{e(r['address'])}</p>"
            f"<p><b>寄</b> {e(s['name'])} {e(s['phone'])}<br>{e(s['address'])}</p>"
            f"<p>{e(rec.request.get('items', ''))}<br>重量 {e(str(rec.request.get('weight_kg')))} kg · "
            f"订单 {e(rec.order_id)}</p></div>")


def _err(status: int, code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status)


async def push_event(state: FakeCarrierState, waybill_no: str, code: TrackingCode, *, at: datetime | None = None,
                     location: str = "", description: str = "", event_id: str | None = None) -> dict[str, Any]:
    """Push one signed tracking event to our webhook; the answer (status, body) is returned and kept."""
    with state.lock:
        rec = state.waybills.get(waybill_no)
        if rec is None:
            raise KeyError(waybill_no)
        ev = TrackingEvent(event_id=event_id or f"{waybill_no}-{len(rec.events) + 1:03d}", carrier=rec.carrier,
                           waybill_no=waybill_no, order_id=rec.order_id, code=code,
                           at=at or datetime.now(UTC), location=location,
                           description=description or code.label)
        rec.events.append(ev.model_dump(mode="json"))
        base = state.webhook_base
    if not base:
        raise RuntimeError("no webhook base configured: POST /control/webhook {\"base\": \"http://api\"}")
    body = json.dumps(ev.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    url = f"{base.rstrip('/')}/v1/webhooks/carriers/{rec.carrier.value}"
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            resp = await http.post(url, content=body, headers=signed_headers(state.secret, state.app_key, body))
        try:
            answer = resp.json()
        except ValueError:
            answer = resp.text[:500]
        result = {"event": ev.model_dump(mode="json"), "status": resp.status_code, "answer": answer}
    except httpx.HTTPError as exc:
        result = {"event": ev.model_dump(mode="json"), "status": None, "answer": f"{type(exc).__name__}: {exc}"}
    with state.lock:
        state.pushes.append(result)
    return result


def _short(address: str) -> str:
    return address[:9]


async def autopilot(state: FakeCarrierState, waybill_no: str) -> None:
    """The demo's parcel: collected → in transit → out for delivery → signed, a few seconds apart."""
    rec = state.waybills[waybill_no]
    places = [_short(rec.request["sender"]["address"]), "转运中心 hub", _short(rec.request["receiver"]["address"]),
              _short(rec.request["receiver"]["address"])]
    for code, place in zip(AUTOPILOT_CODES, places, strict=False):
        await asyncio.sleep(state.autopilot_interval)
        for attempt in range(3):
            try:
                result = await push_event(state, waybill_no, code, location=place,
                                          event_id=f"{waybill_no}-auto-{code.value}")
            except (KeyError, RuntimeError) as exc:
                log.warning("autopilot %s stopped: %s", waybill_no, exc)
                return
            if result["status"] and result["status"] < 500:
                break
            await asyncio.sleep(1 + attempt)


def create_app(*, secret: str = SECRET, app_key: str = APP_KEY, webhook_base: str = "", autopilot_on: bool = False,
               autopilot_interval: float = 3.0, failure_rate: float = 0.0, timeout_rate: float = 0.0) -> FastAPI:
    app = FastAPI(title="fake carrier open platforms (SF, ZTO, JD, DEBANG)", docs_url=None, redoc_url=None,
                  openapi_url=None)
    state = FakeCarrierState(app_key=app_key, secret=secret, webhook_base=webhook_base, autopilot=autopilot_on,
                             autopilot_interval=autopilot_interval)
    state.faults.failure_rate, state.faults.timeout_rate = failure_rate, timeout_rate
    app.state.carriers = state
    app.include_router(control_router(state.faults))

    def carrier_or_404(value: str) -> CarrierCode | JSONResponse:
        try:
            return parse_carrier(value)
        except ValueError as exc:
            return _err(404, 40400, str(exc))

    @app.post("/{carrier}/waybills")
    async def create_waybill(request: Request, carrier: str):
        c = carrier_or_404(carrier)
        if isinstance(c, JSONResponse):
            return c
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        body = await request.body()
        h = request.headers
        why = ("unknown app key" if h.get(HEADER_APP_KEY) != state.app_key
               else check_signature(state.secret, state.app_key, h.get(HEADER_TIMESTAMP), body, h.get(HEADER_SIGN)))
        if why:
            with state.lock:
                state.bad_signatures += 1
            return _err(401, 40100, f"签名错误 invalid signature: {why}")
        try:
            req = WaybillRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
            first = errors[0] if errors else {"field": "body", "message": "invalid"}
            return _err(400, 40000, f"参数错误 invalid {first['field']}: {first['message']}", errors=errors)
        if req.carrier != c:
            return _err(400, 40001, f"参数错误 invalid carrier: body says {req.carrier}, path says {c}")
        lo, hi, msg = LIMITS.get(c, (None, None, ""))
        if (lo is not None and req.weight_kg < lo) or (hi is not None and req.weight_kg > hi):
            return _err(400, 40003, f"{msg} (weight_kg={req.weight_kg})")
        base_url = str(request.base_url).rstrip("/")
        new = False
        with state.lock:
            state.create_calls += 1
            no = state.by_order.get((c.value, req.order_id))
            if no is None:
                no, new = state.next_number(c), True
                state.waybills[no] = WaybillRecord(waybill_no=no, carrier=c, order_id=req.order_id,
                                                   request=req.model_dump(mode="json"),
                                                   created_at=datetime.now(UTC))
                state.by_order[(c.value, req.order_id)] = no
            rec = state.waybills[no]
            lose_answer = state.fail_after_create > 0
            if lose_answer:
                state.fail_after_create -= 1
        if new and state.autopilot:
            task = asyncio.create_task(autopilot(state, no))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        if lose_answer:
            return _err(503, 50300, "系统繁忙 gateway busy (the waybill was made; retry)")
        return rec.public(base_url, reused=not new)

    @app.get("/{carrier}/labels/{waybill_no}")
    async def label(carrier: str, waybill_no: str, format: str = Query("html", pattern="^(html|zpl)$")):
        c = carrier_or_404(carrier)
        if isinstance(c, JSONResponse):
            return c
        rec = state.waybills.get(waybill_no)
        if rec is None or rec.carrier != c:
            return _err(404, 40404, f"no waybill {waybill_no} at {c}")
        if format == "zpl":
            return PlainTextResponse(label_zpl(rec))
        return HTMLResponse(label_html(rec))

    @app.get("/control/waybills")
    async def list_waybills(request: Request, order_id: str | None = None):
        base_url = str(request.base_url).rstrip("/")
        with state.lock:
            items = [{**r.public(base_url), "events": list(r.events)} for r in state.waybills.values()
                     if order_id is None or r.order_id == order_id]
        return {"total": len(items), "items": items}

    @app.post("/control/push")
    async def control_push(body: dict = Body(...)):
        try:
            code = TrackingCode(body.get("code"))
        except ValueError:
            return _err(400, 40000, f"code must be one of {', '.join(c.value for c in TrackingCode)}")
        at = None
        if body.get("at"):
            try:
                at = datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00"))
            except ValueError:
                return _err(400, 40000, "at must be an ISO time, e.g. 2026-11-27T10:00:00+08:00")
            if at.tzinfo is None:
                return _err(400, 40000, "at needs a timezone, e.g. 2026-11-27T10:00:00+08:00")
        try:
            return await push_event(state, str(body.get("waybill_no", "")), code, at=at,
                                    location=str(body.get("location") or ""),
                                    description=str(body.get("description") or ""), event_id=body.get("event_id"))
        except KeyError:
            return _err(404, 40404, f"no waybill {body.get('waybill_no')!r}")
        except RuntimeError as exc:
            return _err(409, 40900, str(exc))

    @app.post("/control/autopilot")
    async def control_autopilot(body: dict = Body(...)):
        with state.lock:
            state.autopilot = bool(body.get("on", True))
            if body.get("interval_seconds") is not None:
                state.autopilot_interval = max(0.0, float(body["interval_seconds"]))
        return {"autopilot": state.autopilot, "interval_seconds": state.autopilot_interval}

    @app.post("/control/webhook")
    async def control_webhook(body: dict = Body(...)):
        with state.lock:
            state.webhook_base = str(body.get("base") or "")
        return {"webhook_base": state.webhook_base}

    @app.post("/control/fail_after_create")
    async def control_fail_after_create(count: int = Query(1, ge=0)):
        with state.lock:
            state.fail_after_create = count
        return {"count": count}

    @app.get("/control/state")
    async def control_state():
        with state.lock:
            return {"waybills": len(state.waybills), "create_calls": state.create_calls,
                    "bad_signatures": state.bad_signatures, "pushes": len(state.pushes),
                    "autopilot": state.autopilot, "webhook_base": state.webhook_base, **state.faults.snapshot()}

    @app.get("/control/pushes")
    async def control_pushes():
        with state.lock:
            return {"items": list(state.pushes)}

    @app.post("/control/reset")
    async def control_reset():
        state.reset()
        return {"ok": True}

    return app


def create_app_from_env() -> FastAPI:
    """For ``make up``: pushes go to this stack's API, on autopilot (collected → … → signed)."""
    from zhongshu.settings import Settings

    s = Settings()
    return create_app(secret=s.carrier_app_secret, app_key=s.carrier_app_key, webhook_base=s.api_base_url,
                      autopilot_on=True, autopilot_interval=4.0)
