"""Which keys of a payload a model does not have: a caller's typo (``notes`` for ``note``) is
otherwise dropped without a word. Pure: the model's own field list, walked into nested models."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: ``Customer``, ``list[LineIn]``, ``Coupon | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset, typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models_in(a)]
    return []


def unknown_fields(model: type[BaseModel], data: Any, prefix: str = "") -> list[str]:
    """Dotted paths (``lines[0].sku_code``) of keys ``model`` does not declare, in payload order."""
    if not isinstance(data, dict) or model.model_config.get("extra") == "allow":
        return []
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        names[name] = name
        if info.alias:
            names[info.alias] = name
    out: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            out.append(path)
            continue
        for sub in _models_in(model.model_fields[names[key]].annotation)[:1]:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    out += unknown_fields(sub, item, f"{path}[{i}].")
            else:
                out += unknown_fields(sub, value, f"{path}.")
    return out
