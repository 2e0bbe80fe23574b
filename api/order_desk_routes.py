"""The operators' order desk: find any order, and mark it (备注 / 旗帜 / 加急).

Search answers what a caller on the phone gives (last 4 digits, waybill, the shop's order number, a
name) and what a supervisor filters by; see ``store/order_search.py``. Phones come back masked
(``phone_masked``) next to the raw number only for callers that may see it (service, reviewer).
Marks are the person's notes on the order (``store/order_marks.py``), shown on its timeline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from temporalio.service import RPCError, RPCStatusCode

from api.auth import READERS, Caller, actor, require
from api.errors import query_refusal
from api.schemas import AUTH, MAX_OFFSET, ChannelFilter, DayFilter, StatusFilter, errors
from domain import labels, team
from domain.contracts import warehouse as W
from domain.printouts import masked_phone
from domain.status import OrderStatus
from store import order_marks
from store.order_search import OrderQuery, search_orders

router = APIRouter(tags=["orders"])
SIGNAL_TIMEOUT = timedelta(seconds=5)


@router.get("/v1/orders/search", responses=errors(*AUTH, 422))
def search(
    request: Request,
    phone: str | None = Query(None, max_length=32, description="the full number or its last 4 digits"),
    waybill: str | None = Query(None, max_length=40),
    channel_order_id: str | None = Query(None, max_length=64),
    name: str | None = Query(None, max_length=64, description="part of the customer's name"),
    order_id: str | None = Query(None, max_length=100, description="part of the order id"),
    date_from: Annotated[DayFilter, Query(description="ordered on or after this Beijing day")] = None,
    date_to: Annotated[DayFilter, Query(description="ordered on or before this Beijing day")] = None,
    status: Annotated[StatusFilter, Query(description="one of the order statuses (empty: any); another value is a 422")] = None,
    channel: Annotated[ChannelFilter, Query(description="one of the channels (empty: any); another value is a 422")] = None,
    warehouse: str | None = Query(None, max_length=32),
    carrier: str | None = Query(None, max_length=32),
    customer_id: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    caller: Caller = Depends(require(*READERS)),
):
    """Orders matching every given criterion, newest order first, each with its marks."""
    if date_from and date_to and date_from > date_to:
        raise query_refusal("date_to", "不能早于开始日期 (date_to is before date_from)")
    q = OrderQuery(phone=phone, waybill=waybill, channel_order_id=channel_order_id, name=name, order_id=order_id,
                   date_from=date_from, date_to=date_to, status=status, channel=channel, warehouse=warehouse,
                   carrier=carrier, customer_id=customer_id)
    try:
        total, items = search_orders(request.app.state.engine, q, limit=limit, offset=offset)
    except ValueError as exc:  # the phone's digits (store/order_search.py): the same 422 shape as every refusal
        raise query_refusal("phone", str(exc).removeprefix("电话 phone: ")) from None
    marks = order_marks.marks(request.app.state.engine, [o["order_id"] for o in items])
    for o in items:
        o["phone_masked"] = masked_phone(o.get("phone"))
        if caller.masked:
            o.pop("phone", None)
        o["status_label"] = labels.order_status(o.get("status"))
        o["channel_label"] = labels.channel(o.get("channel"))
        o["marks"] = marks.get(o["order_id"])
        o["stale"] = team.STALE_FLAG in (o.get("flags") or [])  # a small team's order untouched for 24 h: red
        o["flags_label"] = labels.flags(o.get("flags"))
    return {"total": total, "limit": limit, "offset": offset, "items": items}


class MarkIn(BaseModel):
    """One mark: ``remark`` needs ``text``; ``flag`` a colour (or null to clear); ``urgent`` true/false."""

    kind: Literal["remark", "flag", "urgent"]
    actor: str | None = Field(default=None, max_length=64, description="who marks it (a signed-in person is who they signed in as)")
    text: str = Field(default="", max_length=500, validate_default=True)
    flag: Literal["red", "yellow", "green", "blue", "purple"] | None = None
    urgent: bool = True

    @field_validator("text")
    @classmethod
    def _needs_text(cls, text: str, info: ValidationInfo) -> str:
        """On ``text`` itself (not the whole body), so the refusal names the field a person fills in."""
        if info.data.get("kind") == "remark" and not text.strip():
            raise ValueError("不能为空, 请填写备注内容 (text is required for a remark)")
        return text


@router.post("/v1/orders/{order_id}/marks", status_code=201,
             responses={200: {"description": "the flag or 加急 was already so: unchanged, no new event"}, **errors(*AUTH, 404)})
async def mark(request: Request, body: MarkIn, order_id: str = Path(max_length=100),
               caller: Caller = Depends(require("reviewer", "customer_service", "warehouse_lead"))):
    """Add a remark, set or clear the flag, mark or unmark urgent; answers the order's marks after it."""
    data: dict[str, str]
    if body.kind == "remark":
        event, data = "order.remarked", {}
    elif body.kind == "flag":
        event, data = ("order.flagged", {"flag": body.flag}) if body.flag else ("order.unflagged", {})
    else:
        event, data = ("order.marked_urgent" if body.urgent else "order.unmarked_urgent"), {}
    engine = request.app.state.engine
    if body.kind == "urgent" and body.urgent:
        status = await asyncio.to_thread(order_marks.status_of, engine, order_id)
        if status is not None and OrderStatus(status).terminal:
            raise HTTPException(409, f"订单{labels.order_status(status)}, 无需加急 (order {order_id!r} is {status}: "
                                     "nothing left to expedite)")
    if body.kind != "remark" and (now := await _current_marks(engine, order_id)) is not None and (
            (body.kind == "urgent" and now["urgent"] == body.urgent) or (body.kind == "flag" and now["flag"] == body.flag)):
        # pressed twice: the mark stands as it is (no second timeline event); 加急 tells the waves again
        out: dict[str, Any] = {"order_id": order_id, "event": None, "event_label": None, "unchanged": True, "marks": now}
        if body.kind == "urgent" and body.urgent:
            out |= await _expedite(request, order_id)
        return JSONResponse(jsonable_encoder(out), status_code=200)
    done = await asyncio.to_thread(order_marks.add_mark, engine, order_id, event, actor=actor(caller, body.actor, "actor"),
                                   reason=body.text.strip(), data=data)
    if done is None:
        raise HTTPException(404, f"订单 {order_id!r} 不存在 (order not found)")
    out = {"order_id": order_id, "event": event, "event_label": labels.event(event),
           "marks": (await asyncio.to_thread(order_marks.marks, engine, [order_id]))[order_id]}
    if body.kind == "urgent" and body.urgent:
        out |= await _expedite(request, order_id)
    return out


async def _current_marks(engine, order_id: str) -> dict | None:
    """The order's marks now, or None when it is unknown (the 404 is add_mark's to give)."""
    if await asyncio.to_thread(order_marks.status_of, engine, order_id) is None:
        return None
    return (await asyncio.to_thread(order_marks.marks, engine, [order_id]))[order_id]


async def _expedite(request: Request, order_id: str) -> dict[str, list]:
    """Tell the wave of each warehouse where the order is being picked: its open wave closes now and
    its picks come first. A part that has not joined a wave yet is marked urgent when it joins (the
    wave reads the mark). Best effort, and said so: the mark stands whatever Temporal answers."""
    told: list[str] = []
    not_told: list[dict[str, str]] = []
    client = request.app.state.client
    for wh in await asyncio.to_thread(order_marks.picking_warehouses, request.app.state.engine, order_id):
        try:
            await client.get_workflow_handle(W.wave_workflow_id(wh)).signal(W.EXPEDITE_ORDER.name, order_id,
                                                                            rpc_timeout=SIGNAL_TIMEOUT)
            told.append(wh)
        except RPCError as exc:
            why = "该仓库没有运行中的波次" if exc.status == RPCStatusCode.NOT_FOUND else f"订单服务暂时不可用 ({exc.message})"
            not_told.append({"warehouse": wh, "reason": why})
    return {"waves_told": told, "waves_not_told": not_told}


@router.get("/v1/orders/{order_id}/marks", responses=errors(*AUTH, 404))
def get_marks(request: Request, order_id: str = Path(max_length=100),
              _r: Caller = Depends(require(*READERS))):
    engine = request.app.state.engine
    if order_marks.status_of(engine, order_id) is None:
        raise HTTPException(404, f"订单 {order_id!r} 不存在 (order not found)")
    return order_marks.marks(engine, [order_id])[order_id]
