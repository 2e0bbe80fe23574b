"""Splitting an order across warehouses (拆单): which warehouse ships which lines.

An order goes to the warehouse its routing chose. When that warehouse does not hold every line, the
order is split into parts over the fewest warehouses that together hold every line (the routed
warehouse first, then the others by name), up to ``max_parts``. A line is never split: each whole line
goes to one warehouse; another single warehouse that holds everything beats any split. When no combination within the maximum holds everything, the order stays in one
part at the routed warehouse, and a short pick there puts it before a person (stock review), as a
single-warehouse order always did. Supplier-sourced lines ship from the supplier and ride with the
routed warehouse's part.

Pure: the activity reads the stock table and the rules; this decides.
"""

from __future__ import annotations

from itertools import combinations

from pydantic import BaseModel, Field

from domain.order import CleanLine


class PartLine(BaseModel):
    line_no: int
    sku: str
    quantity: int = Field(gt=0)


class PartPlan(BaseModel):
    part_no: int = Field(ge=1)
    warehouse: str
    carrier: str | None = None
    lines: list[PartLine]
    reason: str = ""


Stock = dict[str, dict[str, int]]  # warehouse → sku → quantity on hand


def _holds(stock: Stock, warehouse: str, line: CleanLine) -> bool:
    return stock.get(warehouse, {}).get(line.sku, 0) >= line.quantity


def _covers(stock: Stock, warehouses: tuple[str, ...], lines: list[CleanLine]) -> bool:
    return all(any(_holds(stock, w, ln) for w in warehouses) for ln in lines)


def plan_parts(lines: list[CleanLine], preferred: str, stock: Stock, *, max_parts: int = 3) -> list[PartPlan]:
    """The parts of an order, fewest warehouses first (another warehouse holding everything beats a
    split); one part at ``preferred`` when it holds every line, when the stock table knows nothing
    better, or when no split within ``max_parts`` works."""
    picked = [ln for ln in lines if not ln.supplier]
    every = [PartLine(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity) for ln in lines]
    whole = [PartPlan(part_no=1, warehouse=preferred, lines=every)]
    if not picked or _covers(stock, (preferred,), picked) or max_parts < 2:
        return whole
    others = sorted(w for w in stock if w != preferred)
    for one in others:  # another warehouse holds everything: no split at all
        if _covers(stock, (one,), picked):
            return [PartPlan(part_no=1, warehouse=one, lines=every,
                             reason=f"{preferred} 库存不足, 改由 {one} 整单发货 {preferred} lacks stock: {one} ships it all")]
    for k in range(2, max_parts + 1):
        # combinations that include the routed warehouse come first, then the others, by name
        combos = [(preferred, *c) for c in combinations(others, k - 1)] + list(combinations(others, k))
        for combo in combos:
            if not _covers(stock, combo, picked):
                continue
            assigned: dict[str, list[PartLine]] = {w: [] for w in combo}
            for ln in lines:
                w = preferred if (ln.supplier and preferred in assigned) else next(
                    (w for w in combo if _holds(stock, w, ln)), combo[0])
                assigned[w].append(PartLine(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity))
            used = [w for w in combo if assigned[w]]
            why = f"{preferred} 库存不足, 拆为{len(used)}个包裹: " + "; ".join(
                f"{w} {'、'.join(f'{pl.sku}×{pl.quantity}' for pl in assigned[w])}" for w in used)
            return [PartPlan(part_no=i + 1, warehouse=w, lines=assigned[w], reason=why) for i, w in enumerate(used)]
    return whole
