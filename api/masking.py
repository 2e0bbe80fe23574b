"""What a readonly caller sees (issue 13): every phone masked (138****5678), wherever it sits in the
answer — the order view nests phones in parts, address changes and events."""

from __future__ import annotations

from typing import Any

from domain.cleansing import mask_phone


def mask_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (mask_phone(v) if isinstance(v, str) and v and "phone" in k.lower() else mask_personal(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal(v) for v in value]
    return value
