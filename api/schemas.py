"""Response shapes every route declares, so /openapi.json says what each status code carries.

Errors come in one permissive shape: FastAPI's ``{"detail": …}`` for HTTPException, our
``{"message", "errors": [{field, message}]}`` for validation, rejections and 503s. Bounds for path and
query integers live here too: the read model's ids and offsets are 32-bit / bounded, and an integer a
database cannot hold is a 422, never a 500.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from domain.aftersales import AftersalesType, CaseStatus
from domain.order import Channel
from domain.review import ReviewKind, ReviewState
from domain.status import OrderStatus
from domain.warehouse import ExceptionKind, TaskState

MAX_ID = 2**31 - 1  # Integer primary keys
MAX_OFFSET = 10_000_000


def blank_is_none(value: Any) -> Any:
    """An empty filter (``?status=``, what a form sends for "any") means no filter, not a 422."""
    return None if isinstance(value, str) and not value.strip() else value


StatusFilter = Annotated[OrderStatus | None, BeforeValidator(blank_is_none)]
ChannelFilter = Annotated[Channel | None, BeforeValidator(blank_is_none)]
DayFilter = Annotated[date | None, BeforeValidator(blank_is_none)]
# the list filters: one of the codes (empty: any); another value is a 422 listing the codes (api/errors.py)
ReviewStateFilter = Annotated[ReviewState | None, BeforeValidator(blank_is_none)]
ReviewKindFilter = Annotated[ReviewKind | None, BeforeValidator(blank_is_none)]
CaseStatusFilter = Annotated[CaseStatus | None, BeforeValidator(blank_is_none)]
AftersalesTypeFilter = Annotated[AftersalesType | None, BeforeValidator(blank_is_none)]
TaskStateFilter = Annotated[TaskState | None, BeforeValidator(blank_is_none)]  # one of a repeated ?state=
ExceptionKindFilter = Annotated[ExceptionKind | None, BeforeValidator(blank_is_none)]
# a warehouse exception is recorded open (activities/warehouse.py) and resolved by a person
ExceptionStateFilter = Annotated[Literal["open", "resolved"] | None, BeforeValidator(blank_is_none)]
# a wave's read-model state (workflows/wave.py: picking → packing → done; open as the label table names it)
WaveState = Literal["open", "picking", "packing", "done"]
WaveStateFilter = Annotated[WaveState | None, BeforeValidator(blank_is_none)]


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="allow")
    field: str | None = Field(description="dotted path, e.g. lines[0].unit_price; null for a whole-file problem")
    message: str


class Problem(BaseModel):
    """An error: ``detail`` (HTTPException) or ``message`` + ``errors`` (validation, rejection, 503)."""

    model_config = ConfigDict(extra="allow")
    detail: Any = None
    message: str | None = None
    errors: list[FieldProblem] | None = None
    rejection_id: int | None = None
    retry_after: int | None = None


class Doc(BaseModel):
    """A JSON object; its fields are described by the route."""

    model_config = ConfigDict(extra="allow")


class Listing(BaseModel):
    model_config = ConfigDict(extra="allow")
    items: list[dict[str, Any]]
    total: int | None = None


_DESCRIPTIONS = {
    400: "bad request", 401: "missing or wrong API key / token", 403: "the caller's role may not do this",
    404: "not found", 409: "conflicts with the current state", 413: "body over the size limit (summary recorded)",
    415: "not JSON (recorded as a rejection)", 422: "invalid input, naming the field (recorded where it is an order)",
    503: "a dependency (Temporal, the worker) is unavailable: nothing was applied; see Retry-After",
}


def errors(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the given error codes (always 401/403/422 for authenticated routes)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": Problem, "description": described.get(f"r{code}", _DESCRIPTIONS.get(code, "error"))}
    return out


AUTH = (401, 403, 422)
