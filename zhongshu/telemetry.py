"""The API's telemetry in one call, :func:`instrument_api` — traces, metrics, the log context.

* traces: FastAPI server spans (zhongshu.tracing), SQL spans of the read model's engine;
* ``GET /metrics`` (Prometheus text): the Temporal SDK's metrics of the API's client, the business
  gauges, and ``zhongshu_api_request_duration_seconds{method,route,status}``. Open to callers on
  127.0.0.1/::1 (``ZHONGSHU_METRICS_ALLOW_LOCALHOST``, default on — turn it off behind a reverse
  proxy on the same host), otherwise it needs a ``readonly`` (or service) key, as
  ``X-API-Key`` or ``Authorization: Bearer``;
* logs: records logged while a request for ``/v1/orders/order-…`` (or a review of one) is handled
  carry that order id.

The worker's side lives in workers/run.py (metrics endpoint) and workers/temporal_client.py
(interceptor, runtime).
"""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response

from api.auth import caller_role
from store.db import engine_for
from zhongshu import metrics, tracing
from zhongshu.logging_setup import reset_order, set_order
from zhongshu.settings import Settings

LOCALHOST = {"127.0.0.1", "::1", "localhost"}
METRICS_ROLES = {"readonly", "service"}
_ORDER_IN_PATH = re.compile(r"/(order-[a-z0-9_]+-[^/~?#]+)")


class RequestTelemetry:
    """Pure ASGI middleware: latency by route template and status; the order id of the path bound
    for the request's logs."""

    def __init__(self, app, histogram):
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500
        m = _ORDER_IN_PATH.search(scope.get("path", ""))
        token = set_order(m.group(1) if m else None)

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"  # unmatched paths never become labels
            self.histogram.labels(scope.get("method", ""), template, str(status)).observe(time.perf_counter() - t0)
            reset_order(token)


def metrics_allowed(request: Request, settings: Settings) -> None:
    """Localhost (when allowed) or a readonly/service credential; else 401/403 like every other route."""
    host = request.client.host if request.client else ""
    if settings.metrics_allow_localhost and host in LOCALHOST:
        return
    role = caller_role(request)
    if role not in METRICS_ROLES:
        raise HTTPException(403, f"role {role!r} may not read metrics; needs one of {sorted(METRICS_ROLES)}")


def metrics_router(registry, settings: Settings) -> APIRouter:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:  # sync: the business gauges query the read model in a thread
        metrics_allowed(request, settings)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def instrument_api(app: FastAPI, settings: Settings) -> None:
    """Traces, ``GET /metrics``, latency histogram and order-id log context for the app (idempotent)."""
    if getattr(app.state, "telemetry", None) is not None:
        return
    if tracing.trace_api(app, settings):
        tracing.instrument_engine(engine_for(settings.db_url), settings, "api")  # the lifespan's engine: one per URL
    registry = metrics.registry_for("api", settings, lambda: engine_for(settings.db_url))
    histogram = metrics.api_latency(registry)
    app.add_middleware(RequestTelemetry, histogram=histogram)
    app.include_router(metrics_router(registry, settings))
    app.state.telemetry = registry
