"""FastAPI application: /v1 orders, reviews and rejections. Every route but /healthz needs a key."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.aftersales_routes import router as aftersales_router
from api.audit import AuditLog
from api.auth import READERS, Caller, actor, own_channel, require
from api.auth_routes import router as auth_router
from api.carrier_routes import router as carrier_router
from api.channel_health_routes import router as channel_health_router
from api.channel_routes import close_douyin_api
from api.channel_routes import router as channel_router
from api.codec_routes import CodecCors
from api.codec_routes import router as codec_router
from api.confirm_routes import router as confirm_router
from api.decisions import send_decision
from api.door import RequestDoor
from api.errors import invalid_body, request_errors
from api.intake import current_view, submit, unavailable
from api.masking import mask_personal
from api.metrics_routes import router as metrics_router
from api.order_desk_routes import router as order_desk_router
from api.print_routes import router as print_router
from api.readiness import Readiness, readiness
from api.retry_after import RetryAfterOn503
from api.review_cards import router as review_cards_router
from api.rules_routes import router as rules_router
from api.schemas import (
    AUTH,
    MAX_ID,
    MAX_OFFSET,
    ChannelFilter,
    Doc,
    FieldProblem,
    ReviewKindFilter,
    ReviewStateFilter,
    StatusFilter,
    errors,
)
from api.team_routes import router as team_router
from api.unmerge_routes import router as unmerge_router
from api.warehouse_routes import router as warehouse_router
from domain import divisions
from domain.contracts import order as C
from domain.review import Decision, ReviewDecision, already_decided
from store import read_model, rules
from store.db import engine_for, migrate
from workers.temporal_client import connect
from zhongshu.auth_settings import refuse_default_secrets
from zhongshu.heap import freeze_startup_heap
from zhongshu.logging_setup import setup_logging
from zhongshu.payload_codec import codec_for
from zhongshu.settings import Settings, get_settings
from zhongshu.telemetry import instrument_api


class DecisionIn(BaseModel):
    decision: Decision
    reviewer: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="omit: the decision is recorded under the signed-in person")
    note: str = Field(default="", max_length=500)
    warehouse: str | None = Field(default=None, max_length=32)
    carrier: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    override: bool = Field(default=False, description="reroute: take this carrier although the carrier table refuses it "
                                                     "(needs a note; recorded)")


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=300)
    actor: str | None = Field(default=None, max_length=64,
                              description="omit: the cancel is recorded under the signed-in person")


class Health(BaseModel):
    ok: bool


class OrderAnswer(BaseModel):
    """What a delivery got: ``created`` is true only when this request created the order."""

    model_config = ConfigDict(extra="allow")
    order_id: str
    status: str
    created: bool
    merged_into: str | None = None
    processing: bool | None = Field(default=None, description="202 while intake has not decided yet")
    message: str | None = None
    errors: list[FieldProblem] | None = None
    ignored: list[FieldProblem] | None = Field(default=None, description="keys the order does not have (a typo?), ignored")


class OrderList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class CancelAnswer(BaseModel):
    order_id: str
    cancel_requested: bool


class DecisionAnswerOut(BaseModel):
    """200: applied (the review task after the decision); 202: accepted or pending (see ``state``)."""

    model_config = ConfigDict(extra="allow")
    applied: bool
    outcome: str = Field(description="applied | accepted (will be applied) | pending (submitted, not applied yet)")
    message: str | None = None
    update_id: str | None = None


class ReviewList(BaseModel):
    total: int
    items: list[dict[str, Any]]


def _age(row: dict[str, Any]) -> dict[str, Any]:
    created = row.get("created_at")
    if created:
        row["age_seconds"] = int((datetime.now(UTC) - created).total_seconds())
    row["escalated"] = row.get("escalated_at") is not None
    row["red"] = row.get("red_at") is not None
    return row


def declare_api_key(app: FastAPI) -> None:
    """The API key as an OpenAPI security scheme, so /docs's "Authorize" sends it on every call.
    Declared on the schema (api.auth reads the header itself): a bearer token in the same header
    slot is accepted too."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "API 密钥 (settings: ZHONGSHU_API_KEY / extra keys with roles)"},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "OAuth2 client-credentials token"},
            }
            for ops in schema.get("paths", {}).values():
                for op in ops.values():  # the routes that answer 401 without a key are the keyed ones
                    if isinstance(op, dict) and "401" in (op.get("responses") or {}):
                        op.setdefault("security", [{"ApiKey": []}, {"Bearer": []}])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # the override FastAPI documents ("Extending OpenAPI")


FRAMEWORK_REFUSALS = {"Not Found": "接口不存在 (Not Found: no such route)",
                      "Method Not Allowed": "不支持的请求方法 (Method Not Allowed)"}


def create_app(settings: Settings | None = None, client: Client | None = None, *, freeze_heap: bool = False) -> FastAPI:
    """``freeze_heap``: the API process's own app (uvicorn factory) moves what start-up built out of
    the garbage collector's reach (see ``zhongshu.heap``); apps made in tests leave the heap alone."""
    settings = settings or get_settings()
    refuse_default_secrets(settings, "API")  # issue 13: no development default outside development mode

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        migrate(settings.db_url)
        app.state.engine = engine_for(settings.db_url)
        rules.ensure_default(app.state.engine)
        app.state.client = client or await connect(settings, service="api")
        # the divisions table takes seconds to build: build it now, not in the first caller's request
        await asyncio.to_thread(divisions.place_names)
        if freeze_heap:
            freeze_startup_heap()
        yield
        await close_douyin_api(app)

    app = FastAPIOffline(  # /docs with Swagger UI's files served by the API itself: works offline
        title="Zhongshu 订单中枢 API",
        version="1",
        description="Start and signal order workflows; list orders, reviews and rejections. "
        "People sign in (`POST /v1/auth/login`) and send `Authorization: Bearer <token>`; services send "
        "their API key in `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    declare_api_key(app)
    app.add_middleware(AuditLog)  # issue 13: who did what, from where, with what result
    app.add_middleware(RequestDoor, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RetryAfterOn503)  # a 503 always says when to come back
    instrument_api(app, settings)
    app.add_middleware(CodecCors, origins=settings.codec_origins)  # the Temporal UI calls /v1/codec/… from the browser
    app.state.api_keys = settings.api_keys()
    app.state.codec = codec_for(settings.codec_keys)

    def engine(request: Request):
        return request.app.state.engine

    def temporal(request: Request) -> Client:
        return request.app.state.client

    app.include_router(order_desk_router)  # issue 14: find any order, remarks/flags/urgent (before /v1/orders/{id})
    app.include_router(review_cards_router)  # issue 14: review cards with the order and valid choices
    app.include_router(unmerge_router)  # issue 14: split a merged duplicate back out
    app.include_router(print_router)  # issue 14: pick lists, packing slips, bin labels as PDF
    app.include_router(auth_router)  # issue 13: sign-in, accounts, the audit log
    app.include_router(rules_router)
    app.include_router(channel_router)  # webhooks, OAuth2 token, mini-program, channel replay
    app.include_router(metrics_router)  # issue 7: metrics, order status enquiries, reconciliation
    app.include_router(warehouse_router)  # issue 5: waves, pick tasks, devices, pick lists
    app.include_router(confirm_router)  # issue 6: the customer's confirmation page, address changes
    app.include_router(carrier_router)  # issue 6: carrier tracking pushes, order tracking
    app.include_router(aftersales_router)  # issue 6: aftersales cases
    app.include_router(channel_health_router)  # issue 11: channel health
    app.include_router(team_router)  # issue 14: small teams' registration form (/team)
    app.include_router(codec_router)  # issue 13: the Temporal UI's codec server, for signed-in operators

    # one operation id per method: GET and HEAD on one route would share one (a spec clients reject)
    @app.head("/healthz", tags=["ops"], response_model=Health, operation_id="healthz_head")
    @app.get("/healthz", tags=["ops"], response_model=Health, operation_id="healthz")
    def healthz():
        """Liveness: the API process answers (HEAD too, as load balancers probe). Readiness
        (Temporal, database, worker) is /readyz."""
        return {"ok": True}

    @app.get("/readyz", tags=["ops"], response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
    async def readyz(request: Request):
        """Readiness: Temporal answers, the database answers, a worker polled the order task queue."""
        r = await readiness(temporal(request), engine(request), settings)
        return JSONResponse(r.model_dump(mode="json"), status_code=200 if r.ready else 503)

    # ------------------------------------------------------------------ orders

    @app.post("/v1/orders", tags=["orders"], status_code=202, response_model=OrderAnswer,
              responses={200: {"model": OrderAnswer, "description": "the order existed already (created: false) or was merged"},
                         **errors(*AUTH, 413, 415, 503)})
    async def post_order(
        request: Request,
        payload: Any = Body(..., description="a canonical order (see OrderSubmission)"),
        wait: bool = Query(False, description="wait (up to 10 s) for intake's first decision before answering"),
        caller: Caller = Depends(require("channel")),
    ):
        """202 once the order is durably recorded and its workflow started; its outcome (created, merged,
        rejected by its own checks) is read from the order, or waited for with ``wait=true``."""
        if caller.role == "channel":
            own_channel(caller, payload.get("channel") if isinstance(payload, dict) else None)
        result = await submit(temporal(request), engine(request), settings, payload, source="api", wait=wait)
        return result.response()

    @app.get("/v1/orders", tags=["orders"], response_model=OrderList, responses=errors(*AUTH))
    def list_orders(
        request: Request,
        status: Annotated[StatusFilter, Query(description="one of the order statuses (empty: any); another value is a 422")] = None,
        channel: Annotated[ChannelFilter, Query(description="one of the channels (empty: any); another value is a 422")] = None,
        customer_id: str | None = Query(None, max_length=64),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
        caller: Caller = Depends(require(*READERS)),
    ):
        total, items = read_model.list_orders(
            engine(request), status=status, channel=channel, customer_id=customer_id, limit=limit, offset=offset
        )
        if caller.masked:
            items = [mask_personal(i) for i in items]
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @app.get("/v1/orders/{order_id}", tags=["orders"], response_model=C.OrderView, responses=errors(*AUTH, 404))
    async def get_order(request: Request, order_id: str = Path(max_length=200),
                        caller: Caller = Depends(require(*READERS))):
        """The order's one view: live from its workflow while it runs (with its parts' and parcels'
        events from the read model), from the read model once it has closed."""
        view = await current_view(temporal(request), engine(request), order_id)
        if view is None:
            raise HTTPException(404, f"订单不存在: order {order_id!r} not found")
        if caller.masked:
            return mask_personal(view.model_dump(mode="json"))
        return view

    @app.post("/v1/orders/{order_id}/cancel", tags=["orders"], status_code=202, response_model=CancelAnswer,
              responses=errors(*AUTH, 404, 409, 503))
    async def cancel_order(request: Request, body: CancelIn, order_id: str = Path(max_length=200),
                           caller: Caller = Depends(require("customer_service", "reviewer"))):
        """Cancel before dispatch (recorded; refused on the timeline once shipped). 503: not confirmed,
        re-send (a cancel is idempotent)."""
        try:
            await asyncio.wait_for(temporal(request).get_workflow_handle(order_id).signal(
                C.CANCEL.name, C.CancelRequest(reason=body.reason, actor=actor(caller, body.actor, "actor")),
                rpc_timeout=timedelta(seconds=settings.temporal_rpc_seconds)), timeout=settings.temporal_rpc_seconds + 1)
        except (TimeoutError, RPCError) as exc:
            status = getattr(exc, "status", None)
            if status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                if await asyncio.to_thread(read_model.get_order, engine(request), order_id):
                    raise HTTPException(409, f"订单已结束, 不能取消: order {order_id!r} is closed and cannot be cancelled") from None
                raise HTTPException(404, f"订单不存在: order {order_id!r} not found") from None
            return unavailable(settings, "cancel", exc).response()
        return {"order_id": order_id, "cancel_requested": True}

    # ------------------------------------------------------------------ reviews

    @app.get("/v1/reviews", tags=["reviews"], response_model=ReviewList, responses=errors(*AUTH))
    def list_reviews(
        request: Request,
        state: Annotated[ReviewStateFilter, Query(description="a review state (empty: any); another value is a 422")] = None,
        kind: Annotated[ReviewKindFilter, Query(description="a review kind (empty: any); another value is a 422")] = None,
        order_id: str | None = Query(None, max_length=200),
        caller: Caller = Depends(require(*READERS)),
    ):
        items = [_age(r) for r in read_model.list_reviews(engine(request), state=state, kind=kind, order_id=order_id)]
        if caller.masked:
            items = mask_personal(items)
        return {"total": len(items), "items": items}

    @app.post("/v1/reviews/{review_id}/decision", tags=["reviews"], response_model=DecisionAnswerOut,
              responses={202: {"model": DecisionAnswerOut, "description": "accepted (will be applied) or pending "
                               "(submitted, not applied yet: the worker has not taken it)"},
                         **errors(*AUTH, 404, 409, 503)})
    async def decide(request: Request, body: DecisionIn, review_id: str = Path(max_length=300),
                     caller: Caller = Depends(require("reviewer"))):
        """A reviewer's decision; see ``api.decisions`` for exactly what 200/202/503 promise."""
        owner = C.owner_of_review(review_id)
        if "~" not in review_id or not owner:
            raise HTTPException(404, f"审核任务不存在: review {review_id!r} not found (review ids look like order-…~address-1)")
        who = actor(caller, body.reviewer, "reviewer")
        decision = ReviewDecision(review_id=review_id, **(body.model_dump() | {"reviewer": who}))
        answer = await send_decision(temporal(request), settings, owner, decision)
        if answer is None:  # the workflow holding it has ended: the read model says how the task ended
            known = await asyncio.to_thread(read_model.get_review, engine(request), review_id)
            if known is None:
                raise HTTPException(404, f"审核任务不存在: review {review_id!r} not found")
            if known.get("state") == "decided":
                raise HTTPException(409, already_decided(review_id, known.get("decision"), known.get("reviewer"), known.get("kind")))
            raise HTTPException(409, f"审核单已关闭 review {review_id!r} is closed (its order has finished)")
        return JSONResponse(answer.body, status_code=answer.http_status, headers=answer.headers or None)

    # ------------------------------------------------------------------ rejections

    @app.get("/v1/rejections", tags=["rejections"], response_model=OrderList, responses=errors(*AUTH))
    def list_rejections(
        request: Request,
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
        caller: Caller = Depends(require(*READERS)),
    ):
        total, items = read_model.list_rejections(engine(request), limit=limit, offset=offset)
        if caller.masked:
            items = mask_personal(items)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @app.get("/v1/rejections/{rejection_id}", tags=["rejections"], response_model=Doc, responses=errors(*AUTH, 404))
    def get_rejection(request: Request, rejection_id: int = Path(ge=1, le=MAX_ID),
                      caller: Caller = Depends(require(*READERS))):
        row = read_model.get_rejection(engine(request), rejection_id)
        if row is None:
            raise HTTPException(404, f"拒收记录不存在: rejection {rejection_id} not found")
        return mask_personal(row) if caller.masked else row

    @app.post("/v1/rejections/{rejection_id}/replay", tags=["rejections"], response_model=OrderAnswer,
              responses={200: {"model": OrderAnswer, "description": "the order existed already or was merged"},
                         **errors(*AUTH, 404, 413, 415, 503)})
    async def replay_rejection(
        request: Request,
        rejection_id: int = Path(ge=1, le=MAX_ID),
        corrected: Any = Body(None, description="a fixed payload; omit to replay the stored one as is"),
        _role: str = Depends(require("reviewer", "customer_service")),
    ):
        row = await asyncio.to_thread(read_model.get_rejection, engine(request), rejection_id)
        if row is None:
            raise HTTPException(404, f"拒收记录不存在: rejection {rejection_id} not found")
        payload = corrected if corrected is not None else row["payload"]
        result = await submit(temporal(request), engine(request), settings, payload, source=f"replay:{rejection_id}")
        if result.http_status < 300 and "order_id" in result.body:
            await asyncio.to_thread(read_model.mark_rejection_replayed, engine(request), rejection_id, result.body["order_id"])
        return result.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        """The framework's own bare refusals (an unknown route, a method it does not take) in Chinese
        first, like ours; every other HTTPException goes out as raised (headers included)."""
        if exc.detail in FRAMEWORK_REFUSALS:
            exc = StarletteHTTPException(exc.status_code, FRAMEWORK_REFUSALS[exc.detail], headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_request: Request, exc: RequestValidationError):
        return JSONResponse(request_errors(exc.errors()), status_code=422)  # Chinese, naming the field (api/errors.py)

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception):
        """A value the database cannot hold (an integer over its column, text too long) that no route
        bound caught: the caller's input, so a 422 and never a 500; logged so the bound gets added."""
        logging.getLogger("api").warning("value out of range on %s %s: %s", request.method, request.url.path, exc)
        message = "参数超出可保存范围 (a value is out of range for the database)"
        return JSONResponse({"message": message, "errors": [{"field": "(request)", "message": message}]}, status_code=422)

    @app.exception_handler(ValidationError)
    async def _validation(_request: Request, exc: ValidationError):
        return JSONResponse(invalid_body(exc), status_code=422)

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn api.app:app_from_env --factory` (JSON, masked logs for the API process)."""
    setup_logging("api")
    return create_app(freeze_heap=True)
