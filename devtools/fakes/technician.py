"""A fake installation-technician app (上门安装师傅派单平台).

* ``POST /v1/work-orders`` with ``Authorization: Bearer <token>`` and an ``InstallationRequest``-shaped
  body (``order_id``, ``customer_name``, ``phone``, ``address``, ``adcode``, ``lines``, ``earliest``)
  → ``{"work_order_no", "technician": {"name", "phone"}, "slot_start", "slot_end", "items"}``.
  A technician is assigned to the first free 2-hour slot (09-11, 11-13, 14-16, 16-18 Beijing time)
  starting at or after ``earliest`` — on the ETA day or the next, further only when fully booked.
  Idempotent on ``order_id``: the same order gets the same work order back.
  401 wrong token, 422 bad body (field named), 409 no slot within a week.
* The occasional 5xx and timeout via ``fakes.channel_faults`` (``POST /_control/fail_next`` …).
* ``GET /_control/work-orders`` lists what was booked; ``GET /_control/state``; ``POST /_control/reset``.

Run alone: ``uvicorn fakes.technician:create_app --factory --port 8610`` (token ``zs-technician-token``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fakes.channel_faults import Faults, control_router, health_router

CN_TZ = timezone(timedelta(hours=8))
TOKEN = "zs-technician-token"
TECHNICIANS = [("张伟", "+8613812340001"), ("李强", "+8613812340002"), ("王磊", "+8613812340003"),
               ("刘洋", "+8613812340004")]
SLOTS = [(time(9), time(11)), (time(11), time(13)), (time(14), time(16)), (time(16), time(18))]
SEARCH_DAYS = 7


class WorkLine(BaseModel):
    sku: str = Field(min_length=1)
    name: str = Field(min_length=1)
    category: str = ""
    quantity: int = Field(gt=0)
    vehicle_model: str | None = None


class WorkOrderIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=128)
    customer_name: str = Field(min_length=1)
    phone: str = Field(min_length=5)
    address: str = Field(min_length=1)
    adcode: str = ""
    lines: list[WorkLine] = Field(min_length=1)
    earliest: datetime


@dataclass
class FakeTechnicianState:
    token: str = TOKEN
    technicians: list[tuple[str, str]] = field(default_factory=lambda: list(TECHNICIANS))
    work_orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # order_id → work order
    busy: set[tuple[str, date, int]] = field(default_factory=set)  # (technician, day, slot index)
    calls: int = 0
    unauthorized: int = 0
    faults: Faults = field(default_factory=Faults)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.work_orders.clear()
            self.busy.clear()
            self.calls = self.unauthorized = 0
        self.faults.reset()

    def assign(self, earliest: datetime) -> tuple[str, str, datetime, datetime] | None:
        """First free (technician, slot) starting at or after ``earliest``; caller holds the lock."""
        local = earliest.astimezone(CN_TZ)
        for d in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=d)
            for i, (start, end) in enumerate(SLOTS):
                at = datetime.combine(day, start, tzinfo=CN_TZ)
                if at < local:
                    continue
                for name, phone in self.technicians:
                    if (name, day, i) not in self.busy:
                        self.busy.add((name, day, i))
                        return name, phone, at, datetime.combine(day, end, tzinfo=CN_TZ)
        return None


def create_app() -> FastAPI:
    app = FastAPI(title="fake technician app", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeTechnicianState()
    app.state.technician = state
    app.include_router(control_router(state.faults, reset=state.reset))
    app.include_router(health_router())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        fields = [".".join(str(p) for p in e["loc"] if p != "body") + f": {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "invalid work order", "fields": fields}, status_code=422)

    @app.post("/v1/work-orders")
    async def create_work_order(request: Request, body: WorkOrderIn):
        with state.lock:
            state.calls += 1
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        if request.headers.get("authorization", "") != f"Bearer {state.token}":
            with state.lock:
                state.unauthorized += 1
            return JSONResponse({"error": "invalid token"}, status_code=401)
        if body.earliest.tzinfo is None:
            return JSONResponse({"error": "invalid work order", "fields": ["earliest: needs a timezone"]},
                                status_code=422)
        with state.lock:
            if body.order_id in state.work_orders:
                return state.work_orders[body.order_id]
            got = state.assign(body.earliest)
            if got is None:
                return JSONResponse({"error": "no_slot", "reason": f"{SEARCH_DAYS}天内师傅已约满"}, status_code=409)
            name, phone, start, end = got
            wo = {
                "work_order_no": f"AZ{start:%Y%m%d}{len(state.work_orders) + 1:05d}",
                "order_id": body.order_id,
                "technician": {"name": name, "phone": phone},
                "slot_start": start.isoformat(),
                "slot_end": end.isoformat(),
                "items": [f"{ln.name}×{ln.quantity}" for ln in body.lines],
                "customer_name": body.customer_name,
                "address": body.address,
                "adcode": body.adcode,
                "created_at": datetime.now(UTC).isoformat(),
            }
            state.work_orders[body.order_id] = wo
        return wo

    @app.get("/_control/work-orders")
    async def list_work_orders(order_id: str | None = None):
        with state.lock:
            items = [w for w in state.work_orders.values() if order_id is None or w["order_id"] == order_id]
        return {"count": len(items), "items": items}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            counts = {"work_orders": len(state.work_orders), "calls": state.calls, "unauthorized": state.unauthorized}
        return counts | state.faults.snapshot()


    return app
