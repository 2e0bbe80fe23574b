"""Supplier collaboration, the pure part: reserving a supplier's stock at its regional warehouses.

A line with ``supplier="BOSCH"`` is reserved at the first configured Bosch regional warehouse
(``BOSCH-EAST``, then ``BOSCH-NORTH`` …) that has it; what no warehouse has goes to review. The
``reserve_supplier_stock`` activity does the HTTP; the workflow decides with ``ReservationOutcome``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.order import CleanOrder


class ReservationLine(BaseModel):
    sku: str = Field(min_length=1)
    name: str = ""
    quantity: int = Field(gt=0)


class ReservationRequest(BaseModel):
    order_id: str = Field(min_length=1)
    supplier: str = ""  # e.g. BOSCH; for messages
    province: str = ""  # delivery province: the supplier's arrival estimate depends on it
    adcode: str = ""
    lines: list[ReservationLine] = Field(min_length=1)
    candidates: list[str] = Field(default=[], description="supplier warehouse codes, in fallback order")


class Reservation(BaseModel):
    supplier_warehouse: str
    reservation_no: str
    lines: list[ReservationLine]
    expected_arrival: datetime


class FailedLine(BaseModel):
    sku: str
    name: str = ""
    quantity: int
    reasons: list[str]  # one per warehouse tried, e.g. "BOSCH-EAST: 库存不足 (有 0, 需 4)"

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) or "无可用供应商仓"


class ReservationOutcome(BaseModel):
    order_id: str
    reservations: list[Reservation] = []
    failed: list[FailedLine] = []

    @property
    def needs_review(self) -> bool:
        """Some line could not be reserved anywhere: a person decides (another supplier, wait, cancel)."""
        return bool(self.failed)

    @property
    def expected_arrival(self) -> datetime | None:
        """When everything reserved is in: the latest arrival."""
        return max((r.expected_arrival for r in self.reservations), default=None)

    def summary(self) -> str:
        """One line for the order's timeline."""
        parts = [f"{r.supplier_warehouse} 预留 {r.reservation_no} "
                 f"({', '.join(f'{ln.sku}×{ln.quantity}' for ln in r.lines)}), 预计到货 {r.expected_arrival:%Y-%m-%d}"
                 for r in self.reservations]
        parts += [f"{f.sku}×{f.quantity} 未能预留: {f.reason}" for f in self.failed]
        return "；".join(parts) or "无需预留"


def candidates_for(supplier: str, configured: list[str] | str) -> list[str]:
    """The configured supplier warehouses of ``supplier`` in configured (fallback) order:
    BOSCH → [BOSCH-EAST, BOSCH-NORTH]. ``configured`` may be the settings' comma-separated text."""
    if isinstance(configured, str):
        configured = configured.split(",")
    code = (supplier or "").strip().upper()
    if not code:
        return []
    seen: list[str] = []
    for wh in configured:
        w = wh.strip().upper()
        if (w == code or w.startswith(code + "-")) and w not in seen:
            seen.append(w)
    return seen


def reservation_requests(order: CleanOrder, configured: list[str] | str) -> list[ReservationRequest]:
    """One request per supplier among the order's lines (same SKU summed), in first-seen order.
    A supplier with no configured warehouse gets empty candidates: its lines end up in review."""
    by_supplier: dict[str, dict[str, ReservationLine]] = {}
    for line in order.lines:
        if not line.supplier:
            continue
        lines = by_supplier.setdefault(line.supplier.strip().upper(), {})
        if line.sku in lines:
            lines[line.sku].quantity += line.quantity
        else:
            lines[line.sku] = ReservationLine(sku=line.sku, name=line.name, quantity=line.quantity)
    a = order.address
    return [ReservationRequest(order_id=order.order_id, supplier=s, province=a.province if a else "",
                               adcode=a.adcode if a else "", lines=list(lines.values()),
                               candidates=candidates_for(s, configured))
            for s, lines in by_supplier.items()]


def merge_outcomes(order_id: str, outcomes: list[ReservationOutcome]) -> ReservationOutcome:
    """Several suppliers' outcomes as the order's one."""
    return ReservationOutcome(order_id=order_id, reservations=[r for o in outcomes for r in o.reservations],
                              failed=[f for o in outcomes for f in o.failed])
