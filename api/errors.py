"""Turn pydantic's errors into the API's shape: one entry per bad field, with a dotted path."""

from __future__ import annotations

from pydantic import ValidationError

from domain.errors import FieldError


def field_path(loc: tuple) -> str:
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
