"""The warehouse's wave workflow (one per warehouse) as the fulfilment parts and devices see it."""

from __future__ import annotations

from pydantic import BaseModel

from domain.contracts import Activity, Signal
from domain.warehouse import ReturnToStock, WaveDone, WaveOrder, WavePolicy

WAVE_WORKFLOW_ID = "wave-{warehouse}"


def wave_workflow_id(warehouse: str) -> str:
    return WAVE_WORKFLOW_ID.format(warehouse=warehouse)


class JoinWave(BaseModel):
    order: WaveOrder
    policy: WavePolicy | None = None  # default: the worker's settings (used only if the wave workflow starts)
    task_queue: str | None = None  # default: the calling activity's task queue


JOIN_WAVE: Activity[JoinWave, str] = Activity("join_wave", JoinWave, str)

# messages of the wave workflow
ADD_ORDER: Signal[WaveOrder] = Signal("add_order", WaveOrder)
CANCEL_ORDER: Signal[str] = Signal("cancel_order", str)  # the order id: its pending tasks go, picked goods come back
RETURN_TO_STOCK: Signal[ReturnToStock] = Signal("return_to_stock", ReturnToStock)
CLOSE_OPEN_WAVES: Signal[None] = Signal("close_open_waves", None)
# … and the one it sends to whoever joined (WaveOrder.reply_to, else the order id)
WAVE_DONE: Signal[WaveDone] = Signal("wave_done", WaveDone)
