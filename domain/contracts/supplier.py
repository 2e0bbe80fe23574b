"""Supplier stock for supplier-sourced lines (reserved at the supplier's regional warehouse)."""

from __future__ import annotations

from domain.contracts import Activity
from domain.contracts.task_queues import Stage
from domain.supplier import Reservation, ReservationOutcome, ReservationRequest

RESERVE_SUPPLIER_STOCK: Activity[ReservationRequest, ReservationOutcome] = Activity(
    "reserve_supplier_stock", ReservationRequest, ReservationOutcome, Stage.WAREHOUSE)
RELEASE_SUPPLIER_STOCK: Activity[Reservation, None] = Activity("release_supplier_stock", Reservation, None, Stage.WAREHOUSE)
