"""What an order's earlier workflow run left in the read model, for a new run of the same workflow id
(an order split back out of the one it was merged into): its status, anchor and where its
projection and timeline stopped, so the new run's projections and events come after them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from store.schema import orders, timeline_events


@dataclass(frozen=True)
class EarlierRun:
    status: str
    merged_into: str | None
    projected_seq: int
    events: int


def earlier_run(engine: Engine, order_id: str) -> EarlierRun | None:
    """None: no such order in the read model."""
    with engine.connect() as conn:
        row = conn.execute(select(orders.c.status, orders.c.merged_into, orders.c.last_seq)
                           .where(orders.c.order_id == order_id)).first()
        if row is None:
            return None
        events = conn.execute(select(func.coalesce(func.max(timeline_events.c.seq), 0))
                              .where(timeline_events.c.order_id == order_id, timeline_events.c.source == "")).scalar_one()
    return EarlierRun(status=row.status, merged_into=row.merged_into, projected_seq=int(row.last_seq), events=int(events))
