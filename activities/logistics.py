"""Logistics I/O: the e-waybill call to the carrier gateway, and the ``waybills`` /
``tracking_events`` tables the webhook route and the tracking API use.

``create_waybill`` is safe to retry: the carrier's idempotency key is the order id (a retry after a
lost answer gets the same number), and before calling we look in our own table, so a replayed
activity does not even reach the carrier. 5xx, timeouts and connection errors raise plain
exceptions (Temporal retries them); a 4xx is the carrier refusing the request and raises a
non-retryable ``ApplicationError`` with the carrier's message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, or_, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from activities.notify import mask_phones
from domain.contracts.fulfilment import PART_MARK
from domain.contracts.logistics import CREATE_WAYBILL
from domain.logistics import (
    RESHIP_MARK,
    CarrierCode,
    TrackingCode,
    TrackingEvent,
    Waybill,
    WaybillRequest,
    signed_headers,
    valid_waybill_no,
)
from store.read_model import _insert, _row
from store.schema import tracking_events, waybills
from zhongshu.settings import get_settings

log = logging.getLogger("zhongshu.logistics")


class CarrierUnavailable(RuntimeError):
    """The gateway answered 5xx or not at all: retryable."""


class LogisticsActivities:
    def __init__(self, engine: Engine, base_url: str | None = None, app_key: str | None = None,
                 secret: str | None = None, *, timeout: float = 10.0):
        self.engine = engine
        self._base_url, self._app_key, self._secret = base_url, app_key, secret
        self.timeout = timeout

    def _settings(self) -> tuple[str, str, str]:
        """Explicit values win; the rest from ZHONGSHU_CARRIER_URL / _APP_KEY / _APP_SECRET, read lazily."""
        if self._base_url is None or self._app_key is None or self._secret is None:
            s = get_settings()
            if self._base_url is None:
                self._base_url = s.carrier_url
            if self._app_key is None:
                self._app_key = s.carrier_app_key
            if self._secret is None:
                self._secret = s.carrier_app_secret
        return self._base_url, self._app_key, self._secret

    @activity.defn(name=CREATE_WAYBILL.name)
    async def create_waybill(self, req: WaybillRequest) -> Waybill:
        existing = await asyncio.to_thread(get_waybill, self.engine, req.order_id, req.carrier)
        if existing is not None:
            return existing
        base_url, app_key, secret = self._settings()
        if not base_url:
            raise ApplicationError("no carrier gateway configured (ZHONGSHU_CARRIER_URL)", type="CarrierNotConfigured",
                                   non_retryable=True)
        body = json.dumps(req.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
        url = f"{base_url.rstrip('/')}/{req.carrier.value}/waybills"
        try:
            async with partner_http.async_client(timeout=self.timeout) as http:
                resp = await http.post(url, content=body, headers=signed_headers(secret, app_key, body))
        except httpx.HTTPError as exc:  # timeouts, refused connections: Temporal retries
            raise CarrierUnavailable(f"{req.carrier} gateway unreachable: {type(exc).__name__}: {exc}") from None
        answer = _json(resp)
        message = mask_phones(str(answer.get("message") or answer.get("error") or resp.text[:300]))
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise CarrierUnavailable(f"{req.carrier} gateway answered {resp.status_code}: {message}")
        if resp.status_code >= 400:
            raise ApplicationError(f"{req.carrier} refused the waybill for {req.order_id} "
                                   f"(HTTP {resp.status_code}, code {answer.get('code')}): {message}",
                                   type="CarrierRefused", non_retryable=True)
        no = str(answer.get("waybill_no") or "")
        if not valid_waybill_no(req.carrier, no):
            raise CarrierUnavailable(f"{req.carrier} answered without a valid waybill number: {no!r}")
        wb = Waybill(order_id=req.order_id, carrier=req.carrier, waybill_no=no, direction=req.direction,
                     label_url=str(answer.get("label_url") or ""), label_zpl=str(answer.get("label_zpl") or ""),
                     created_at=answer.get("created_at") or datetime.now(UTC))
        return await asyncio.to_thread(record_waybill, self.engine, wb, req)

    def all(self) -> list:
        return [self.create_waybill]


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- store functions


def _waybill(r) -> Waybill:
    return Waybill(order_id=r.order_id, carrier=r.carrier, waybill_no=r.waybill_no, direction=r.direction,
                   label_url=r.label_url, label_zpl=r.label_zpl, created_at=r.created_at)


def record_waybill(engine: Engine, wb: Waybill, req: WaybillRequest | None = None) -> Waybill:
    """Insert once per (order id, carrier) — and per number; answers what is stored (the first stands)."""
    row = {"waybill_no": wb.waybill_no, "carrier": wb.carrier.value, "order_id": wb.order_id,
           "direction": wb.direction, "warehouse": req.warehouse if req else None, "label_url": wb.label_url,
           "label_zpl": wb.label_zpl, "weight_kg": req.weight_kg if req else None,
           "parcels": req.parcels if req else 1, "created_at": wb.created_at,
           "recorded_at": datetime.now(UTC)}
    with engine.begin() as conn:
        conn.execute(_insert(engine, waybills).values(**row).on_conflict_do_nothing())
    return get_waybill(engine, wb.order_id, wb.carrier) or wb


def get_waybill(engine: Engine, order_id: str, carrier: CarrierCode | str | None = None) -> Waybill | None:
    q = select(waybills).where(waybills.c.order_id == order_id)
    if carrier is not None:
        q = q.where(waybills.c.carrier == CarrierCode(carrier).value)
    with engine.connect() as conn:
        r = conn.execute(q.order_by(waybills.c.created_at.desc())).first()
    return _waybill(r) if r else None


def record_tracking_event(engine: Engine, ev: TrackingEvent) -> tuple[bool, str]:
    """(new, result so far). A new row starts ``pending``; a re-sent event answers its stored result,
    so one whose signal never got through (``pending``) is signalled again."""
    row = {"carrier": ev.carrier.value, "event_id": ev.event_id, "waybill_no": ev.waybill_no,
           "order_id": ev.order_id, "code": ev.code.value, "at": ev.at, "location": ev.location,
           "description": ev.description, "received_at": datetime.now(UTC), "result": "pending"}
    with engine.begin() as conn:
        res = conn.execute(_insert(engine, tracking_events).values(**row).on_conflict_do_nothing())
        if res.rowcount > 0:
            return True, "pending"
        stored = conn.execute(select(tracking_events.c.result).where(
            tracking_events.c.carrier == ev.carrier.value, tracking_events.c.event_id == ev.event_id)).scalar_one()
        return False, stored


def set_tracking_result(engine: Engine, ev: TrackingEvent, result: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(tracking_events).where(tracking_events.c.carrier == ev.carrier.value,
                                                   tracking_events.c.event_id == ev.event_id).values(result=result))


def tracking_for(engine: Engine, order_id: str) -> dict[str, Any]:
    """The order's waybills and every recorded event (oldest first), for the API and the console."""
    with engine.connect() as conn:
        ours = lambda col: or_(col == order_id, col.like(f"{order_id}{RESHIP_MARK}%"),  # noqa: E731 - v1 re-shipments
                               col.like(f"{order_id}{PART_MARK}%"))  # every parcel of every part
        wbs = [_waybill(r).model_dump(mode="json") for r in conn.execute(
            select(waybills).where(ours(waybills.c.order_id)).order_by(waybills.c.created_at))]
        events = [_row(r) for r in conn.execute(
            select(tracking_events).where(ours(tracking_events.c.order_id))
            .order_by(tracking_events.c.at, tracking_events.c.event_id))]
    for e in events:
        try:
            e["label"] = TrackingCode(e["code"]).label
        except ValueError:
            e["label"] = e["code"]
    return {"order_id": order_id, "waybill": wbs[-1] if wbs else None, "waybills": wbs, "events": events}
