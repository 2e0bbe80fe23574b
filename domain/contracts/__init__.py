"""Contracts between the layers: typed references to activities, workflow messages and workflow types.

A stage's contract module (``domain.contracts.order``, ``.fulfilment``, …) holds its payload models, the
names of its signals, updates and queries, its workflow id helpers and the activities it calls. The
worker registers activities under these names, workflows call them through these references and the
API sends messages by them, so a name is written once and its payload and result types travel with it.
Pure: pydantic and the standard library only, importable inside the workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from domain.contracts.task_queues import Stage

I = TypeVar("I")  # noqa: E741 - input
O = TypeVar("O")  # noqa: E741 - output


@dataclass(frozen=True)
class Activity(Generic[I, O]):
    """An activity: its registered name, the type of its one argument, the type of its result."""

    name: str
    arg: Any
    result: Any
    stage: Stage | None = None  # the stage whose queue runs it as a remote activity (None: the caller's queue)


@dataclass(frozen=True)
class Signal(Generic[I]):
    name: str
    arg: Any


@dataclass(frozen=True)
class Update(Generic[I, O]):
    name: str
    arg: Any
    result: Any


@dataclass(frozen=True)
class Query(Generic[O]):
    name: str
    result: Any


@dataclass(frozen=True)
class WorkflowType(Generic[I, O]):
    """A workflow type: the name it is registered under, its input and its result."""

    name: str
    arg: Any
    result: Any


def all_refs(module: Any) -> list[Activity[Any, Any] | Signal[Any] | Update[Any, Any] | Query[Any] | WorkflowType[Any, Any]]:
    """Every reference a contract module declares (for the registration test and the docs)."""
    kinds = (Activity, Signal, Update, Query, WorkflowType)
    return [v for v in vars(module).values() if isinstance(v, kinds)]
