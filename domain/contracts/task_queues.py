"""Task queues per stage: which queue a stage's workflows and partner activities are sent to.

The order hub has four stages that separate worker processes can serve (``zhongshu worker --stages``):
orders (intake, assessment, release, aftersales, channel syncs), warehouse (fulfilment parts, waves,
supplier stock), logistics (parcels, waybills, confirmation cards, installation) and finance
(reconciliation). A workflow never writes a queue name: it asks its policy's ``TaskQueues`` for the
stage's queue. ``None`` means "the caller's own queue" — the default, so one worker serving one queue
runs everything and orders started before the split (their input has no queues) replay unchanged.
Local activities always run beside their workflow, so every worker registers every activity.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class Stage(StrEnum):
    ORDERS = "orders"
    WAREHOUSE = "warehouse"
    LOGISTICS = "logistics"
    FINANCE = "finance"


STAGES: tuple[Stage, ...] = tuple(Stage)


class TaskQueues(BaseModel):
    """The queue of each stage, fixed in the order's policy at its start (None: the caller's queue)."""

    orders: str | None = None
    warehouse: str | None = None
    logistics: str | None = None
    finance: str | None = None

    def of(self, stage: Stage) -> str | None:
        queue: str | None = getattr(self, stage.value)
        return queue

    def options(self, stage: Stage | None) -> dict[str, Any]:
        """``task_queue=…`` for a child workflow or activity of ``stage``; nothing when it stays on the caller's queue."""
        queue = self.of(stage) if stage is not None else None
        return {"task_queue": queue} if queue else {}


def parse_stages(text: str) -> list[Stage]:
    """``orders,warehouse`` → the stages; empty means all. Raises ValueError naming the unknown stage."""
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    if not names:
        return list(STAGES)
    known = {s.value: s for s in STAGES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"未知的阶段 unknown stage {', '.join(unknown)!s}: 可选 one of {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]
