"""A fake supplier reservation API (Bosch-style regional warehouses: 博世华东仓, 华北仓, 华南仓).

* ``POST /v1/warehouses/{code}/reservations`` with ``X-App-Key`` and
  ``{"order_id", "province", "adcode", "lines": [{"sku", "name", "quantity"}]}`` → 201
  ``{"reservation_no", "warehouse", "lines", "expected_arrival"}``. All or nothing per request:
  when any line is short the answer is 409 ``{"error": "out_of_stock", "reason", "short": [{"sku",
  "wanted", "available"}]}`` and nothing is held (the caller falls back or asks again for fewer lines).
  Idempotent on ``order_id`` + warehouse: the live reservation already made is answered again (200).
  Expected arrival: now + 1 day in the warehouse's own region, 2 days nearby, 3 days elsewhere.
  401 wrong app key, 404 unknown warehouse, 422 bad body (field named).
* ``GET /v1/warehouses/{code}/reservations?order_id=…`` → the order's live reservation there (0 or 1
  items): a caller retrying after a lost answer looks before reserving again.
* ``DELETE /v1/warehouses/{code}/reservations/{reservation_no}`` releases a reservation (stock back).
* The occasional 5xx and timeout via ``fakes.channel_faults`` (``POST /_control/fail_next`` …).
* Control: ``POST /_control/stock`` ``{"warehouse", "sku", "quantity"}`` (or a list) sets stock — e.g. 0
  at BOSCH-EAST to force a fallback; ``GET /_control/stock``; ``GET /_control/reservations``;
  ``GET /_control/state``; ``POST /_control/reset`` (seed stock back, reservations cleared).

Run alone: ``uvicorn fakes.supplier:create_app --factory --port 8611`` (app key ``zs-supplier-key``).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fakes.channel_faults import Faults, control_router, health_router

APP_KEY = "zs-supplier-key"

_BOSCH_SKUS = {
    "BOSCH-BP-COROLLA18": "博世刹车片(前) 卡罗拉18款",
    "BOSCH-BP-SYLPHY20": "博世刹车片(后) 轩逸20款",
    "BOSCH-BP-CAMRY19": "博世刹车片(前) 凯美瑞19款",
    "BOSCH-BD-LAVIDA19": "博世刹车盘 朗逸19款",
    "BOSCH-WIPER-24": "博世雨刮片 24寸",
    "BOSCH-SP-FR7": "博世火花塞 FR7",
    "BOSCH-OF-0986": "博世机油滤清器 0986",
}


@dataclass
class SupplierWarehouse:
    code: str
    name: str
    home: frozenset[str]  # delivery provinces reached next day
    near: frozenset[str]  # … in two days; anywhere else three
    stock: dict[str, int]

    def arrival_days(self, province: str) -> int:
        return 1 if province in self.home else 2 if province in self.near else 3


def seed_warehouses() -> dict[str, SupplierWarehouse]:
    east = {"BOSCH-BP-COROLLA18": 200, "BOSCH-BP-SYLPHY20": 120, "BOSCH-BP-CAMRY19": 60, "BOSCH-BD-LAVIDA19": 40,
            "BOSCH-WIPER-24": 500, "BOSCH-SP-FR7": 300, "BOSCH-OF-0986": 400}
    north = {"BOSCH-BP-COROLLA18": 80, "BOSCH-BP-SYLPHY20": 60, "BOSCH-BP-CAMRY19": 30, "BOSCH-WIPER-24": 200,
             "BOSCH-SP-FR7": 150}
    south = {"BOSCH-BP-COROLLA18": 50, "BOSCH-BP-CAMRY19": 40, "BOSCH-WIPER-24": 150, "BOSCH-OF-0986": 100}
    return {w.code: w for w in [
        SupplierWarehouse("BOSCH-EAST", "博世华东区域仓(上海嘉定)",
                          frozenset({"上海市", "江苏省", "浙江省", "安徽省"}),
                          frozenset({"福建省", "江西省", "山东省", "湖北省", "湖南省", "河南省"}), east),
        SupplierWarehouse("BOSCH-NORTH", "博世华北区域仓(天津武清)",
                          frozenset({"北京市", "天津市", "河北省", "山东省", "山西省"}),
                          frozenset({"辽宁省", "吉林省", "黑龙江省", "内蒙古自治区", "河南省", "陕西省"}), north),
        SupplierWarehouse("BOSCH-SOUTH", "博世华南区域仓(广州黄埔)",
                          frozenset({"广东省", "广西壮族自治区", "海南省", "福建省"}),
                          frozenset({"湖南省", "江西省", "云南省", "贵州省"}), south),
    ]}


class ReserveLine(BaseModel):
    sku: str = Field(min_length=1)
    name: str = ""
    quantity: int = Field(gt=0)


class ReserveIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=128)
    province: str = ""
    adcode: str = ""
    lines: list[ReserveLine] = Field(min_length=1)


@dataclass
class FakeSupplierState:
    app_key: str = APP_KEY
    warehouses: dict[str, SupplierWarehouse] = field(default_factory=seed_warehouses)
    reservations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (order_id, wh) → body
    calls: int = 0
    conflicts: int = 0
    unauthorized: int = 0
    seq: int = 0
    faults: Faults = field(default_factory=Faults)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.warehouses = seed_warehouses()
            self.reservations.clear()
            self.calls = self.conflicts = self.unauthorized = 0
        self.faults.reset()


def create_app() -> FastAPI:
    app = FastAPI(title="fake supplier reservation API", docs_url=None, redoc_url=None, openapi_url=None)
    state = FakeSupplierState()
    app.state.supplier = state
    app.include_router(control_router(state.faults, reset=state.reset))
    app.include_router(health_router())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        fields = [".".join(str(p) for p in e["loc"] if p != "body") + f": {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "invalid reservation", "fields": fields}, status_code=422)

    async def guard(request: Request, code: str) -> JSONResponse | None:
        with state.lock:
            state.calls += 1
        if (fail := await state.faults.maybe_fail()) is not None:
            return fail
        if request.headers.get("x-app-key", "") != state.app_key:
            with state.lock:
                state.unauthorized += 1
            return JSONResponse({"error": "invalid app key"}, status_code=401)
        if code not in state.warehouses:
            return JSONResponse({"error": "unknown_warehouse", "reason": f"供应商仓 {code} 不存在"}, status_code=404)
        return None

    @app.post("/v1/warehouses/{code}/reservations")
    async def reserve(code: str, request: Request, body: ReserveIn):
        if (bad := await guard(request, code)) is not None:
            return bad
        wh = state.warehouses[code]
        with state.lock:
            key = (body.order_id, code)
            if key in state.reservations and state.reservations[key]["status"] == "reserved":
                return JSONResponse(state.reservations[key], status_code=200)  # a retry: same answer
            wanted: dict[str, int] = {}
            names: dict[str, str] = {}
            for ln in body.lines:
                wanted[ln.sku] = wanted.get(ln.sku, 0) + ln.quantity
                names.setdefault(ln.sku, ln.name or _BOSCH_SKUS.get(ln.sku, ""))
            short = [{"sku": sku, "wanted": q, "available": wh.stock.get(sku, 0)}
                     for sku, q in wanted.items() if wh.stock.get(sku, 0) < q]
            if short:
                state.conflicts += 1
                return JSONResponse({"error": "out_of_stock", "warehouse": code,
                                     "reason": f"{wh.name} 库存不足", "short": short}, status_code=409)
            for sku, q in wanted.items():
                wh.stock[sku] -= q
            state.seq += 1
            now = datetime.now(UTC)
            res = {
                "reservation_no": f"RSV-{code}-{now:%Y%m%d}-{state.seq:05d}",
                "warehouse": code,
                "order_id": body.order_id,
                "lines": [{"sku": sku, "name": names[sku], "quantity": q} for sku, q in wanted.items()],
                "expected_arrival": (now + timedelta(days=wh.arrival_days(body.province))).isoformat(),
                "status": "reserved",
                "created_at": now.isoformat(),
            }
            state.reservations[key] = res
        return JSONResponse(res, status_code=201)

    @app.get("/v1/warehouses/{code}/reservations")
    async def find(code: str, request: Request, order_id: str):
        if (bad := await guard(request, code)) is not None:
            return bad
        with state.lock:
            res = state.reservations.get((order_id, code))
            items = [copy.deepcopy(res)] if res and res["status"] == "reserved" else []
        return {"count": len(items), "items": items}

    @app.delete("/v1/warehouses/{code}/reservations/{reservation_no}")
    async def release(code: str, reservation_no: str, request: Request):
        if (bad := await guard(request, code)) is not None:
            return bad
        wh = state.warehouses[code]
        with state.lock:
            for res in state.reservations.values():
                if res["warehouse"] == code and res["reservation_no"] == reservation_no:
                    if res["status"] == "reserved":
                        for ln in res["lines"]:
                            wh.stock[ln["sku"]] = wh.stock.get(ln["sku"], 0) + ln["quantity"]
                        res["status"] = "released"
                    return res
        return JSONResponse({"error": "unknown_reservation", "reason": f"预留单 {reservation_no} 不存在"},
                            status_code=404)

    @app.post("/_control/stock")
    async def set_stock(body: Any = Body(...)):
        items = body if isinstance(body, list) else [body]
        with state.lock:
            for it in items:
                code = it.get("warehouse") if isinstance(it, dict) else None
                if code not in state.warehouses:
                    return JSONResponse({"error": f"unknown warehouse {code!r}"}, status_code=404)
                try:
                    qty = int(it["quantity"])
                    sku = str(it["sku"])
                except (KeyError, TypeError, ValueError):
                    return JSONResponse({"error": "give warehouse, sku and an integer quantity"}, status_code=422)
                state.warehouses[code].stock[sku] = max(0, qty)
        return {"updated": len(items)}

    @app.get("/_control/stock")
    async def get_stock():
        with state.lock:
            return {code: {"name": w.name, "stock": dict(w.stock)} for code, w in state.warehouses.items()}

    @app.get("/_control/reservations")
    async def list_reservations(order_id: str | None = None):
        with state.lock:
            items = [copy.deepcopy(r) for r in state.reservations.values() if order_id is None or r["order_id"] == order_id]
        return {"count": len(items), "items": items}

    @app.get("/_control/state")
    async def control_state():
        with state.lock:
            counts = {"reservations": len(state.reservations), "calls": state.calls, "conflicts": state.conflicts,
                      "unauthorized": state.unauthorized}
        return counts | state.faults.snapshot()


    return app
