"""Carrier endpoints: tracking pushes in, tracking out.

* ``POST /v1/webhooks/carriers/{carrier}`` — no API key: the signature is the credential
  (``domain.logistics``: HMAC-SHA256 over app key + timestamp + body; wrong or stale → 401 and the
  attempt recorded in ``webhook_attempts`` as channel ``carrier:{code}``). The body is one
  ``TrackingEvent`` or a list (or ``{"events": [...]}``). Each event is recorded once per
  (carrier, event id), then signalled to the workflow whose id is the event's ``order_id`` (an order,
  or an aftersales case for return parcels) as signal ``tracking_event``. Answer 202 with one result
  per event: ``delivered`` (signalled), ``duplicate`` (already delivered before), ``unknown_order``
  (no such running workflow; the event is still recorded). Temporal unreachable → 503, so the
  carrier re-sends (the event stays ``pending`` and is signalled on the re-send).
* ``GET /v1/orders/{order_id}/tracking`` — waybill(s) and events, for any read role.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from activities.logistics import record_tracking_event, set_tracking_result, tracking_for
from api.auth import READERS, Caller, own_channel, require
from api.channel_routes import WebhookOutcome, record_attempt
from api.door import is_json_media
from api.schemas import AUTH, Doc, errors
from domain.logistics import (
    HEADER_APP_KEY,
    HEADER_SIGN,
    HEADER_TIMESTAMP,
    TrackingEvent,
    check_signature,
    parse_carrier,
    workflow_id_of,
)
from store import read_model

router = APIRouter()

SIGNAL = "tracking_event"
_EVENTS = TypeAdapter(list[TrackingEvent])


def _events_of(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return payload["events"]
    if isinstance(payload, list):
        return payload
    return [payload]


@router.post("/v1/webhooks/carriers/{carrier}", tags=["logistics"], status_code=202, response_model=Doc,
             responses=errors(400, 401, 404, 413, 415, 503))
async def carrier_webhook(request: Request, carrier: Annotated[str, Path(max_length=32)]):
    app = request.app
    settings, engine, client = app.state.settings, app.state.engine, app.state.client
    body = await request.body()
    remote = request.client.host if request.client else None
    channel = f"carrier:{carrier[:10]}"

    async def attempt(outcome: WebhookOutcome, code: int, reason: str = "", order_ids: list[str] | None = None) -> None:
        await asyncio.to_thread(record_attempt, engine, channel=channel, outcome=outcome, http_status=code,
                                reason=reason, body=body, order_ids=order_ids or [], remote=remote)

    try:
        code = parse_carrier(carrier)
    except ValueError as exc:
        await attempt("ignored", 404, str(exc))
        return JSONResponse({"code": 40400, "message": str(exc)}, status_code=404)
    channel = f"carrier:{code.value}"

    h = request.headers
    why = ("unknown app key" if h.get(HEADER_APP_KEY) != settings.carrier_app_key
           else check_signature(settings.carrier_app_secret, settings.carrier_app_key, h.get(HEADER_TIMESTAMP), body,
                                h.get(HEADER_SIGN)))
    if why:
        await attempt("bad_signature", 401, why)
        return JSONResponse({"code": 40100, "message": f"invalid signature: {why}"}, status_code=401)

    ctype = request.headers.get("content-type")
    if ctype and not is_json_media(ctype):  # a carrier that sends no content type still sends JSON: read it
        msg = f"不支持的内容类型 {ctype!r}, 请以 application/json 推送 (unsupported media type: send JSON)"
        await attempt("unmappable", 415, msg)
        return JSONResponse({"code": 41500, "message": msg}, status_code=415)
    try:
        events = _EVENTS.validate_python(_events_of(json.loads(body)))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        await attempt("unmappable", 400, f"body is not JSON: {exc}")
        return JSONResponse({"code": 40000, "message": f"body is not JSON: {exc}"}, status_code=400)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        await attempt("unmappable", 400, "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        return JSONResponse({"code": 40000, "message": f"invalid event: {errors[0]['field']}: {errors[0]['message']}",
                             "errors": errors}, status_code=400)
    wrong = [e.event_id for e in events if e.carrier != code]
    if wrong:
        msg = f"events {wrong} name another carrier than {code.value}"
        await attempt("unmappable", 400, msg)
        return JSONResponse({"code": 40001, "message": msg}, status_code=400)

    results: list[dict[str, Any]] = []
    order_ids = sorted({e.order_id for e in events})
    try:
        for ev in events:
            new, stored = await asyncio.to_thread(record_tracking_event, engine, ev)
            if not new and stored != "pending":
                results.append({"event_id": ev.event_id, "result": "duplicate"})
                continue
            result, detail = await _signal(client, ev)
            await asyncio.to_thread(set_tracking_result, engine, ev, result)
            results.append({"event_id": ev.event_id, "result": result, **({"detail": detail} if detail else {})})
    except RPCError as exc:  # Temporal unreachable: the carrier re-sends; pending events are signalled then
        await attempt("error", 503, f"temporal unavailable: {exc}", order_ids)
        return JSONResponse({"code": 50300, "message": "temporarily unavailable, retry", "results": results},
                            status_code=503)
    await attempt("accepted", 202, "; ".join(f"{r['event_id']}={r['result']}" for r in results), order_ids)
    return JSONResponse({"code": 0, "message": "success", "results": results}, status_code=202)


async def _signal(client, ev: TrackingEvent) -> tuple[str, str]:
    """("delivered", "") or ("unknown_order", why); other RPC errors propagate (→ 503)."""
    try:
        await client.get_workflow_handle(workflow_id_of(ev.order_id)).signal(SIGNAL, ev)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # no such workflow, or it has already closed
            return "unknown_order", f"no running workflow {ev.order_id}: {exc.message}"
        raise
    return "delivered", ""


@router.get("/v1/orders/{order_id}/tracking", tags=["logistics"], response_model=Doc, responses=errors(*AUTH, 404))
def order_tracking(request: Request, order_id: Annotated[str, Path(max_length=200)],
                         caller: Caller = Depends(require(*READERS, "device", "channel"))):
    if caller.role == "channel":
        known = read_model.get_order(request.app.state.engine, order_id)
        # the order's channel; an unknown id names it too (order-{channel}-{channel_order_id})
        parts = order_id.split("-")
        own_channel(caller, known.get("channel") if known else (parts[1] if len(parts) > 2 and parts[0] == "order" else None))
    data = tracking_for(request.app.state.engine, order_id)
    if data["waybill"] is None and not data["events"]:
        raise HTTPException(404, f"没有运单或物流轨迹: no waybill or tracking event for {order_id}")
    return data
