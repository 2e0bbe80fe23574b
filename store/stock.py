"""Stock on hand per warehouse (the warehouse_stock table imported from Excel, decremented by picks)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, func, select

from store.schema import warehouse_stock


def on_hand(engine: Engine, skus: Iterable[str]) -> dict[str, dict[str, int]]:
    """warehouse → sku → units on hand (summed over bins), for these SKUs."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    q = (select(warehouse_stock.c.warehouse, warehouse_stock.c.sku, func.sum(warehouse_stock.c.quantity))
         .where(warehouse_stock.c.sku.in_(wanted)).group_by(warehouse_stock.c.warehouse, warehouse_stock.c.sku))
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for warehouse, sku, qty in conn.execute(q):
            out.setdefault(warehouse, {})[sku] = int(qty or 0)
    return out


def warehouses(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {w for (w,) in conn.execute(select(warehouse_stock.c.warehouse).distinct())}
