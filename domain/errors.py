"""Field-level errors, shared by the API's 422s and recorded rejections: one entry per bad field,
with a dotted path (``lines[0].unit_price``) for programs and a Chinese sentence naming the field
(from the label table, ``domain.labels``) for the person who reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from domain import labels


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
    """pydantic's errors → one ``FieldError`` per field, said in Chinese (收货人电话不能为空, 请填写)."""
    return [FieldError(field=field_path(tuple(e["loc"])), message=labels.validation_message(e))
            for e in exc.errors(include_url=False)]
