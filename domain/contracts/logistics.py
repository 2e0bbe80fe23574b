"""Carriers and technicians: the e-waybill and the installation appointment."""

from __future__ import annotations

from domain.contracts import Activity
from domain.contracts.task_queues import Stage
from domain.installation import Appointment, InstallationRequest
from domain.logistics import Waybill, WaybillRequest

CREATE_WAYBILL: Activity[WaybillRequest, Waybill] = Activity("create_waybill", WaybillRequest, Waybill, Stage.LOGISTICS)
BOOK_INSTALLATION: Activity[InstallationRequest, Appointment] = Activity(
    "book_installation", InstallationRequest, Appointment, Stage.LOGISTICS)
