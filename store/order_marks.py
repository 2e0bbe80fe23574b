"""What a person marks on an order: remarks (备注), a flag colour (旗帜) and urgency (加急).

They are the person's notes about the order, not steps of its fulfilment, so no workflow carries
them: each mark is a timeline event written under its own source (``console``), which the order's
projections never touch (they insert their own events and skip existing keys). The order's
timeline therefore shows who marked what and when; its current flag and urgency are its latest
such events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from store.schema import order_parts, orders, timeline_events

SOURCE = "console"
EVENTS = ("order.remarked", "order.flagged", "order.unflagged", "order.marked_urgent", "order.unmarked_urgent")


def add_mark(engine: Engine, order_id: str, event: str, *, actor: str, reason: str = "",
             data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Append one mark; None when the order is unknown. A concurrent mark takes the next seq."""
    if event not in EVENTS:
        raise ValueError(f"unknown mark {event!r}")
    for _ in range(5):
        try:
            with engine.begin() as conn:
                row = conn.execute(select(orders.c.status).where(orders.c.order_id == order_id)).first()
                if row is None:
                    return None
                seq = conn.execute(select(func.coalesce(func.max(timeline_events.c.seq), 0))
                                   .where(timeline_events.c.order_id == order_id,
                                          timeline_events.c.source == SOURCE)).scalar_one() + 1
                mark = {"order_id": order_id, "source": SOURCE, "seq": seq, "at": datetime.now(UTC),
                        "event": event, "status": row.status, "actor": actor, "reason": reason, "data": data or {}}
                conn.execute(timeline_events.insert().values(**mark))
                return mark
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record the mark on {order_id} (too many at once)")


def marks(engine: Engine, order_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per order: ``urgent`` (bool), ``flag`` (colour or None), ``remarks`` (oldest first)."""
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, dict[str, Any]] = {i: {"urgent": False, "flag": None, "remarks": []} for i in ids}
    if not ids:
        return out
    with engine.connect() as conn:
        rows = conn.execute(select(timeline_events).where(timeline_events.c.order_id.in_(ids),
                                                          timeline_events.c.source == SOURCE)
                            .order_by(timeline_events.c.order_id, timeline_events.c.seq))
        for r in rows:
            m = out[r.order_id]
            if r.event == "order.remarked":
                m["remarks"].append({"at": r.at, "actor": r.actor, "text": r.reason})
            elif r.event == "order.flagged":
                m["flag"] = (r.data or {}).get("flag")
            elif r.event == "order.unflagged":
                m["flag"] = None
            elif r.event == "order.marked_urgent":
                m["urgent"] = True
            elif r.event == "order.unmarked_urgent":
                m["urgent"] = False
    return out


def picking_warehouses(engine: Engine, order_id: str) -> list[str]:
    """Warehouses where a part of the order is in a wave now (status picking): where 加急 has to go."""
    with engine.connect() as conn:
        rows = conn.execute(select(order_parts.c.warehouse).where(order_parts.c.order_id == order_id,
                                                                  order_parts.c.status == "picking")
                            .distinct().order_by(order_parts.c.warehouse))
        return [r.warehouse for r in rows]


def is_urgent(engine: Engine, order_id: str) -> bool:
    return bool(marks(engine, [order_id])[order_id]["urgent"])


def status_of(engine: Engine, order_id: str) -> str | None:
    """The order's status in the read model; None when there is no such order."""
    with engine.connect() as conn:
        return conn.execute(select(orders.c.status).where(orders.c.order_id == order_id)).scalar()
