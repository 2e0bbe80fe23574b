"""/v1/warehouse and /v1/waves: what devices, packers, QC and the console call.

Devices (role ``device``) claim their current task, confirm picks, report mis-scans and ask for a
reprinted label; each call is an update or signal on the warehouse's ``WaveWorkflow`` (id
``wave-{warehouse}``), answered synchronously. Lists, the printable pick list and the JSON pick
list come from the read model the workflow projects.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities import warehouse as wh
from api.auth import READERS, require
from api.schemas import (
    AUTH,
    Doc,
    ExceptionKindFilter,
    ExceptionStateFilter,
    Listing,
    TaskStateFilter,
    WaveStateFilter,
    errors,
)
from domain.warehouse import (
    TASK_LOOK,
    DeviceException,
    ExceptionKind,
    PackConfirmation,
    PickConfirmation,
    QcResult,
    TaskClaim,
    TaskState,
)
from workflows.wave import WaveWorkflow

router = APIRouter(tags=["warehouse"])
# bounded like the read model's columns (store/schema.py), so a long id is a 422, not a database error
WarehouseId = Annotated[str, Path(max_length=32)]
WaveId = Annotated[str, Path(max_length=80)]
TaskId = Annotated[str, Path(max_length=100)]
ExceptionId = Annotated[str, Path(max_length=64)]


class ClaimIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=64)
    picker: str = Field(default="", max_length=64)


class ConfirmIn(BaseModel):
    picked_qty: int = Field(ge=0, le=100000)
    device_id: str = Field(default="", max_length=64)
    picker: str = Field(default="", max_length=64)


class QcIn(BaseModel):
    passed: bool
    inspector: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=300)


class PackIn(BaseModel):
    packer: str = Field(default="", max_length=64)


class MisScanIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=64)
    picker: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)
    task_id: str | None = Field(default=None, max_length=100)
    kind: str = Field(pattern="^(unreadable|wrong_bin|wrong_item|wrong_quantity)$")
    barcode: str = Field(default="", max_length=200)


class ExceptionIn(BaseModel):
    kind: ExceptionKind = ExceptionKind.REPRINT_LABEL
    task_id: str | None = Field(default=None, max_length=100)
    bin: str | None = Field(default=None, max_length=16)
    picker: str = Field(default="", max_length=64)
    device_id: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=500)


def _engine(request: Request):
    return request.app.state.engine


def _wave(request: Request, warehouse: str):
    client: Client = request.app.state.client
    return client.get_workflow_handle(f"wave-{warehouse}")


CAN_RETRIES = 3  # a wave continuing as new between the lookup and the update: the new run takes it


async def _update(request: Request, warehouse: WarehouseId, name: str, arg: Any) -> Any:
    method = getattr(WaveWorkflow, name)
    for attempt in range(CAN_RETRIES + 1):
        try:
            return await _wave(request, warehouse).execute_update(method, arg)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise HTTPException(409, getattr(cause, "message", None) or str(cause)) from None
        except RPCError as exc:
            # NOT_FOUND: no wave, or the run that was asked ended by continuing as new (not delivered: safe to resend)
            if exc.status == RPCStatusCode.NOT_FOUND and attempt < CAN_RETRIES:
                await asyncio.sleep(0.1 * (attempt + 1))
                continue
            raise _rpc_problem(exc, warehouse) from None
    raise AssertionError("unreachable")


def _rpc_problem(exc: RPCError, warehouse: str) -> HTTPException:
    if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
        return HTTPException(404, f"该仓库没有运行中的波次: warehouse {warehouse!r} has no running wave workflow")
    return HTTPException(503, f"订单服务暂时不可用, 请稍后重试 (Temporal unavailable: {exc.message})",
                         headers={"Retry-After": "5"})


def _task_json(task) -> dict[str, Any]:
    body = task.model_dump(mode="json")
    look = TASK_LOOK[TaskState(task.state)]
    body.update(state_label=look.label, state_icon=look.icon, state_colour=look.colour)
    return body


# ---------------------------------------------------------------- devices


@router.post("/v1/warehouse/{warehouse}/claim", response_model=Doc,
             responses={204: {"description": "no task to do"}, **errors(*AUTH, 404, 409, 503)})
async def claim(request: Request, warehouse: WarehouseId, body: ClaimIn, _r: str = Depends(require("device"))):
    """The device's current task: the one it holds, else the next one in walking order (204: none)."""
    task = await _update(request, warehouse, "claim_task", TaskClaim(**body.model_dump()))
    if task is None:
        return Response(status_code=204)
    return _task_json(task)


@router.post("/v1/warehouse/{warehouse}/tasks/{task_id}/confirm", response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def confirm(request: Request, warehouse: WarehouseId, task_id: TaskId, body: ConfirmIn, _r: str = Depends(require("device"))):
    """A confirmed pick (or put-away); fewer units than asked is a short pick and opens an exception."""
    task = await _update(request, warehouse, "confirm_pick", PickConfirmation(task_id=task_id, **body.model_dump()))
    return _task_json(task)


@router.post("/v1/warehouse/{warehouse}/tasks/{task_id}/qc", response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def qc(request: Request, warehouse: WarehouseId, task_id: TaskId, body: QcIn, _r: str = Depends(require("device"))):
    task = await _update(request, warehouse, "qc_result", QcResult(task_id=task_id, **body.model_dump()))
    return _task_json(task)


@router.post("/v1/warehouse/{warehouse}/misscans", status_code=201, response_model=Doc, responses=errors(*AUTH))
def mis_scan(request: Request, warehouse: WarehouseId, body: MisScanIn, _r: str = Depends(require("device"))):
    """One mis-scan a device caught (idempotent by event_id): the per-picker counts of the dashboard."""
    created = wh.record_scan_event(_engine(request), wh.ScanEventIn(warehouse=warehouse, **body.model_dump()))
    return {"event_id": body.event_id, "created": created}


@router.post("/v1/warehouse/{warehouse}/exceptions", status_code=201, response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def raise_exception(request: Request, warehouse: WarehouseId, body: ExceptionIn, _r: str = Depends(require("device"))):
    """A floor exception, e.g. 'reprint label' after 3 bad bin labels: recorded and sent to the
    warehouse lead in WeCom."""
    exc_id = await _update(request, warehouse, "report_exception", DeviceException(**body.model_dump()))
    return {"exception_id": exc_id}


@router.get("/v1/warehouse/exceptions", response_model=Listing, responses=errors(*AUTH))
def list_exceptions(
    request: Request, warehouse: str | None = Query(None, max_length=32),
    state: Annotated[ExceptionStateFilter, Query(description="open | resolved (empty: any); another value is a 422")] = None,
    kind: Annotated[ExceptionKindFilter, Query(description="an exception kind (empty: any); another value is a 422")] = None,
    _r: str = Depends(require(*READERS, "device")),
):
    items = wh.list_exceptions(_engine(request), warehouse=warehouse, state=state, kind=kind)
    return {"total": len(items), "items": items}


@router.post("/v1/warehouse/exceptions/{exception_id}/resolve", response_model=Doc, responses=errors(*AUTH, 404, 409))
def resolve(request: Request, exception_id: ExceptionId, _r: str = Depends(require("reviewer", "warehouse_lead"))):
    if not wh.resolve_exception(_engine(request), exception_id):
        if not wh.exception_exists(_engine(request), exception_id):
            raise HTTPException(404, f"仓库异常不存在: exception {exception_id!r} not found")
        raise HTTPException(409, f"该异常已处理: exception {exception_id!r} is not open")
    return {"exception_id": exception_id, "state": "resolved"}


@router.get("/v1/warehouse/pickers", response_model=Listing, responses=errors(*AUTH))
def pickers(request: Request, warehouse: str | None = None, _r: str = Depends(require(*READERS))):
    """Mis-scans per picker by kind, next to the lines each one picked."""
    return {"items": wh.picker_stats(_engine(request), warehouse=warehouse)}


@router.get("/v1/warehouse/tasks", response_model=Listing, responses=errors(*AUTH))
def tasks(request: Request, warehouse: str | None = None,
          state: Annotated[list[TaskStateFilter], Query(
              description="task states, repeat for several (empty: any); another value is a 422")] = [],  # noqa: B006
          _r: str = Depends(require(*READERS, "device"))):
    states = [s for s in state if s is not None]
    return {"items": wh.list_tasks(_engine(request), warehouse=warehouse, states=states or None)}


# ---------------------------------------------------------------- waves


@router.get("/v1/waves", response_model=Listing, responses=errors(*AUTH))
def list_waves(request: Request, warehouse: str | None = None,
               state: Annotated[WaveStateFilter, Query(description="a wave state (empty: any); another value is a 422")] = None,
               open_only: bool = False, limit: int = Query(100, ge=1, le=500),
               _r: str = Depends(require(*READERS, "device"))):
    items = wh.list_waves(_engine(request), warehouse=warehouse, state=state, open_only=open_only, limit=limit)
    return {"total": len(items), "items": items}


def _get_wave(request: Request, wave_id: str) -> dict[str, Any]:
    wave = wh.get_wave(_engine(request), wave_id)
    if wave is None:
        raise HTTPException(404, f"波次不存在: wave {wave_id!r} not found")
    return wave


@router.get("/v1/waves/{wave_id}", response_model=Doc, responses=errors(*AUTH, 404))
def get_wave(request: Request, wave_id: WaveId, _r: str = Depends(require(*READERS, "device"))):
    return _get_wave(request, wave_id)


@router.get("/v1/waves/{wave_id}/picklist.json", response_model=Doc, responses=errors(*AUTH, 404))
def pick_list_json(request: Request, wave_id: WaveId, _r: str = Depends(require(*READERS, "device"))):
    """Pick instructions for devices, in walking order."""
    return wh.pick_list_json(_get_wave(request, wave_id))


@router.get("/v1/waves/{wave_id}/picklist.html", response_class=HTMLResponse, responses=errors(*AUTH, 404))
def pick_list_html(request: Request, wave_id: WaveId, _r: str = Depends(require(*READERS, "device"))):
    """The printable pick list (拣货单)."""
    return HTMLResponse(wh.render_pick_list_html(_get_wave(request, wave_id)))


@router.post("/v1/waves/{wave_id}/pack", response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def pack(request: Request, wave_id: WaveId, body: PackIn, _r: str = Depends(require("device"))):
    """The packer confirms the wave; its orders are told (``wave_done``)."""
    wave = await asyncio.to_thread(_get_wave, request, wave_id)
    state = await _update(request, wave["warehouse"], "confirm_pack", PackConfirmation(wave_id=wave_id, packer=body.packer))
    return {"wave_id": wave_id, "state": state}


@router.post("/v1/warehouse/{warehouse}/close-waves", status_code=202, response_model=Doc, responses=errors(*AUTH, 404, 503))
async def close_waves(request: Request, warehouse: WarehouseId, _r: str = Depends(require("device"))):
    """Close the warehouse's open waves now (end of shift, the truck arrived early) instead of waiting
    for N orders or the cut-off."""
    try:
        await _wave(request, warehouse).signal(WaveWorkflow.close_open_waves)
    except RPCError as exc:
        raise _rpc_problem(exc, warehouse) from None
    return {"warehouse": warehouse, "close_requested": True}
