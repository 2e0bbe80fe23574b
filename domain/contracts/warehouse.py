"""The warehouse's wave workflow (one per warehouse) as the fulfilment parts and devices see it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.contracts import Activity, Signal, WorkflowType
from domain.contracts.task_queues import Stage
from domain.warehouse import OpenWave, PickTask, ReturnToStock, WarehouseException, WaveDone, WaveOrder, WavePolicy

WAVE_WORKFLOW_ID = "wave-{warehouse}"


def wave_workflow_id(warehouse: str) -> str:
    return WAVE_WORKFLOW_ID.format(warehouse=warehouse)


class JoinWave(BaseModel):
    order: WaveOrder
    policy: WavePolicy | None = None  # default: the worker's settings (used only if the wave workflow starts)
    task_queue: str | None = None  # default: the calling activity's task queue


JOIN_WAVE: Activity[JoinWave, str] = Activity("join_wave", JoinWave, str, Stage.WAREHOUSE)


class WaveStart(BaseModel):
    """What starts a warehouse's wave workflow (its own input adds what a continue-as-new carries over)."""

    warehouse: str
    policy: WavePolicy = WavePolicy()


WAVE: WorkflowType[WaveStart, None] = WorkflowType("WaveWorkflow", WaveStart, None)


# payloads of the wave workflow's activities (activities/warehouse.py)
class PlanRequest(BaseModel):
    wave: OpenWave
    qc_categories: list[str] = []


class StockMove(BaseModel):
    move_id: str  # task id (+ suffix): the idempotency key
    warehouse: str
    bin: str
    sku: str
    delta: int  # negative: picked; positive: put away
    reason: str = "pick"
    bin_emptied: bool = False  # a short pick: the bin physically holds nothing more


class WaveSnapshot(BaseModel):
    wave_id: str
    warehouse: str
    wave_no: str
    carrier: str
    state: str
    opened_at: datetime
    cutoff_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    order_ids: list[str] = []
    tasks: list[PickTask] = []
    packed_by: str | None = None
    packed_at: datetime | None = None
    version: int = 0
    at: datetime

# messages of the wave workflow
ADD_ORDER: Signal[WaveOrder] = Signal("add_order", WaveOrder)
CANCEL_ORDER: Signal[str] = Signal("cancel_order", str)  # the order id: its pending tasks go, picked goods come back
RETURN_TO_STOCK: Signal[ReturnToStock] = Signal("return_to_stock", ReturnToStock)
CLOSE_OPEN_WAVES: Signal[None] = Signal("close_open_waves", None)
EXPEDITE_ORDER: Signal[str] = Signal("expedite_order", str)  # the order id, marked 加急: its wave closes, its picks first
# … and the one it sends to whoever joined (WaveOrder.reply_to, else the order id)
WAVE_DONE: Signal[WaveDone] = Signal("wave_done", WaveDone)


# the wave workflow's own activities (activities/warehouse.py)
PLAN_WAVE: Activity[PlanRequest, list[PickTask]] = Activity("plan_wave", PlanRequest, list[PickTask])
PROJECT_WAVE: Activity[WaveSnapshot, None] = Activity("project_wave", WaveSnapshot, None)
RECORD_STOCK_MOVE: Activity[StockMove, int] = Activity("record_stock_move", StockMove, int)
RECORD_WAREHOUSE_EXCEPTION: Activity[WarehouseException, str] = Activity("record_warehouse_exception", WarehouseException, str)
# (the exception, the console's URL): two arguments, as the activity has always been called
NOTIFY_WAREHOUSE_LEAD: Activity[WarehouseException, None] = Activity("notify_warehouse_lead", WarehouseException, None)
