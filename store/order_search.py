"""Find any order: by what a caller on the phone says (the last 4 digits, a waybill number, the shop's
order number, a name) or what a supervisor filters by (days, status, warehouse, carrier).

Every criterion narrows (AND). A waybill matches the order's own waybill, any of its parts' and
any parcel registered for it; a phone of 4 digits matches the number's end, a longer one the number's
last 11 digits whatever its +86 or spacing. Days are Beijing calendar days of ``ordered_at``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from store.read_model import paged
from store.schema import order_parts, orders, waybills

CN_TZ = timezone(timedelta(hours=8))


@dataclass
class OrderQuery:
    phone: str | None = None
    waybill: str | None = None
    channel_order_id: str | None = None
    name: str | None = None
    order_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    channel: str | None = None
    warehouse: str | None = None
    carrier: str | None = None
    customer_id: str | None = None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def phone_condition(phone: str):
    """4 digits: the number ends so; more: its last 11 digits (mainland mobile) or all it has."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise ValueError("电话 phone: 请输入数字(完整号码或后4位)")
    if len(digits) < 4:
        raise ValueError("电话 phone: 至少输入后4位")
    tail = digits[-11:] if len(digits) >= 11 else digits
    return orders.c.phone.like("%" + tail)


def conditions(q: OrderQuery) -> list:
    conds: list = []
    if q.phone:
        conds.append(phone_condition(q.phone))
    if q.waybill:
        w = q.waybill.strip()
        conds.append(or_(orders.c.waybill_no == w,
                         orders.c.order_id.in_(select(waybills.c.order_id).where(waybills.c.waybill_no == w)),
                         orders.c.order_id.in_(select(order_parts.c.order_id).where(order_parts.c.waybill_no == w))))
    if q.channel_order_id:
        conds.append(orders.c.channel_order_id == q.channel_order_id.strip())
    if q.order_id:
        conds.append(orders.c.order_id.like(_like(q.order_id.strip()), escape="\\"))
    if q.name:
        conds.append(orders.c.customer_name.like(_like(q.name.strip()), escape="\\"))
    if q.date_from:
        conds.append(orders.c.ordered_at >= datetime.combine(q.date_from, time(0), CN_TZ))
    if q.date_to:
        conds.append(orders.c.ordered_at < datetime.combine(q.date_to + timedelta(days=1), time(0), CN_TZ))
    for col, value in ((orders.c.status, q.status), (orders.c.channel, q.channel), (orders.c.warehouse, q.warehouse),
                       (orders.c.carrier, q.carrier), (orders.c.customer_id, q.customer_id)):
        if value:
            conds.append(col == value)
    return conds


def search_orders(engine: Engine, q: OrderQuery, *, limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    return paged(engine, [orders], conds=conditions(q), order_by=[orders.c.ordered_at.desc(), orders.c.order_id],
                 limit=limit, offset=offset, count_from=orders)
