"""Field-level errors, shared by the API's 422s and recorded rejections: one entry per bad field,
with a dotted path (``lines[0].unit_price``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class FieldError(BaseModel):
    field: str
    message: str


def field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("body", "query", "path"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(body)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for e in exc.errors(include_url=False):
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "field required"
        errors.append(FieldError(field=field_path(tuple(e["loc"])), message=msg))
    return errors
