"""The API's error shape is the domain's: one entry per bad field (``domain.errors``).

A request FastAPI itself refuses — a query string (``?offset=-1``), a path parameter, a JSON body
that does not fit the route's model — answers 422 in the same shape, said in Chinese from the one
label table (``domain.labels``): ``{"message": "请求参数有误: 起始位置不能小于 0", "errors": [{field,
label, message, where}]}``; ``field`` stays the identifier a program reads (``offset``,
``lines[0].unit_price``), ``where`` says which part of the request it was (query, path, body, header).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from domain import labels
from domain.errors import FieldError, field_errors, field_path

__all__ = ["FieldError", "field_errors", "field_path", "invalid_body", "query_refusal", "request_errors"]

WHERE = {"query": "查询参数", "path": "路径参数", "body": "请求内容", "header": "请求头", "cookie": "Cookie"}


def request_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """FastAPI's ``RequestValidationError.errors()`` → the 422 body, Chinese sentences naming each field."""
    items = []
    for e in errors:
        loc = tuple(e.get("loc") or ())
        [said] = labels.validation_errors([e])
        items.append({"field": field_path(loc), "label": said["label"], "message": said["message"],
                      "where": str(loc[0]) if loc and loc[0] in WHERE else "body"})
    first = items[0] if items else None
    message = "请求参数有误" + (f" ({WHERE[first['where']]}): {first['message']}" if first else "")
    if len(items) > 1:
        message += f" 等 {len(items)} 处"
    return {"message": message, "errors": items}


def invalid_body(exc: ValidationError) -> dict[str, Any]:
    """A model a route built by hand refused (its own ``model_validate``): the same 422 shape, in Chinese."""
    items = [e.model_dump() for e in field_errors(exc)]
    message = "请求参数有误" + (f": {items[0]['message']}" if items else "") + (f" 等 {len(items)} 处" if len(items) > 1 else "")
    return {"message": message, "errors": items}


def query_refusal(field: str | tuple[str | int, ...], why: str) -> RequestValidationError:
    """A query parameter the route itself refuses (a reversed range, a code that is no bin), answered
    like FastAPI's own refusals: raise it and the 422 names the field in Chinese (``request_errors``).
    ``why`` follows the field's label: ``"不能早于开始日期 (date_to is before date_from)"`` → 结束日期不能早于开始日期."""
    loc = ("query", *((field,) if isinstance(field, str) else field))
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": why, "ctx": {"error": why}}])
