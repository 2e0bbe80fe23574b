"""Failure injection shared by the fake channel servers: the occasional 5xx and timeout.

Deterministic plans for tests (``fail_next(count, status)``, ``timeout_next(count, seconds)``) and
random rates for demos (``failure_rate``, ``timeout_rate``; 0 by default, so tests are quiet unless
they test retries). Control over HTTP: ``POST /_control/fail_next?count=2&status=503``,
``POST /_control/timeout_next?count=1&seconds=15``, ``POST /_control/rates?failure=0.05&timeout=0.01``.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse


@dataclass
class Faults:
    fail_count: int = 0
    fail_status: int = 500
    timeout_count: int = 0
    timeout_seconds: float = 30.0
    failure_rate: float = 0.0
    timeout_rate: float = 0.0
    injected_failures: int = 0
    injected_timeouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(42))

    def reset(self) -> None:
        with self.lock:
            self.fail_count = self.timeout_count = self.injected_failures = self.injected_timeouts = 0
            self.failure_rate = self.timeout_rate = 0.0

    def _take(self) -> tuple[str, float | int] | None:
        with self.lock:
            if self.timeout_count > 0:
                self.timeout_count -= 1
                self.injected_timeouts += 1
                return "timeout", self.timeout_seconds
            if self.fail_count > 0:
                self.fail_count -= 1
                self.injected_failures += 1
                return "fail", self.fail_status
            if self.timeout_rate and self.rng.random() < self.timeout_rate:
                self.injected_timeouts += 1
                return "timeout", self.timeout_seconds
            if self.failure_rate and self.rng.random() < self.failure_rate:
                self.injected_failures += 1
                return "fail", 503
        return None

    async def maybe_fail(self) -> JSONResponse | None:
        """None to go on; a 5xx response to return; or sleeps (the caller's timeout) then a 504."""
        plan = self._take()
        if plan is None:
            return None
        kind, value = plan
        if kind == "timeout":
            await asyncio.sleep(float(value))
            return JSONResponse({"error": "injected timeout"}, status_code=504)
        return JSONResponse({"error": "injected failure"}, status_code=int(value))

    def snapshot(self) -> dict:
        with self.lock:
            return {"pending_failures": self.fail_count, "pending_timeouts": self.timeout_count,
                    "injected_failures": self.injected_failures, "injected_timeouts": self.injected_timeouts,
                    "failure_rate": self.failure_rate, "timeout_rate": self.timeout_rate}


def control_router(faults: Faults, reset: Callable[[], None] | None = None) -> APIRouter:
    """Fault injection under ``/_control``; with ``reset``, also ``POST /_control/reset`` (the fake's
    state back to the start) and ``GET /healthz``, which every fake serves."""
    r = APIRouter(prefix="/_control", include_in_schema=False)

    if reset is not None:
        @r.post("/reset")
        async def reset_state():
            reset()
            return {"ok": True}

    @r.post("/fail_next")
    async def fail_next(count: int = Query(1, ge=0), status: int = Query(500, ge=500, le=599)):
        with faults.lock:
            faults.fail_count, faults.fail_status = count, status
        return {"count": count, "status": status}

    @r.post("/timeout_next")
    async def timeout_next(count: int = Query(1, ge=0), seconds: float = Query(30.0, gt=0)):
        with faults.lock:
            faults.timeout_count, faults.timeout_seconds = count, seconds
        return {"count": count, "seconds": seconds}

    @r.post("/rates")
    async def rates(failure: float = Query(0.0, ge=0, le=1), timeout: float = Query(0.0, ge=0, le=1)):
        with faults.lock:
            faults.failure_rate, faults.timeout_rate = failure, timeout
        return {"failure": failure, "timeout": timeout}

    return r


def health_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/healthz")
    async def healthz():
        return {"ok": True}

    return r
