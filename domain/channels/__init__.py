"""Channel payloads → canonical orders: one mapper module per channel, pure (no I/O).

``map_payload(channel, raw)`` returns a canonical ``OrderSubmission`` payload (a dict) or raises
``MappingError`` naming the channel's field and the reason; callers record that as a rejection
with the raw payload, replayable after a fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.channels import douyin, erp, miniprogram, tmall
from domain.channels.common import MappingError
from domain.redelivery import DeliveryVersion

MAPPERS: dict[str, Callable[..., dict[str, Any]]] = {
    "tmall": tmall.to_submission,
    "taobao": tmall.to_submission,
    "douyin": douyin.to_submission,
    "miniprogram": miniprogram.to_submission,
    "erp": erp.to_submission,
}


VERSIONS: dict[str, Callable[[Any], DeliveryVersion | None]] = {
    "tmall": tmall.version_of,
    "taobao": tmall.version_of,
    "douyin": douyin.version_of,
}


def delivery_version(channel: str, raw: Any) -> DeliveryVersion | None:
    """The channel's own version of a raw order (update time), where the channel gives one."""
    reader = VERSIONS.get(channel)
    return reader(raw) if reader else None


def map_payload(channel: str, raw: Any) -> dict[str, Any]:
    mapper = MAPPERS.get(channel)
    if mapper is None:
        raise MappingError("channel", f"没有这个渠道的报文映射, 收到 {channel!r} (no mapper for channel {channel!r})")
    try:
        return mapper(raw, channel=channel)
    except MappingError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
        # the last resort, for malformed shapes no mapper foresaw (each names its own fields where it can)
        raise MappingError("payload", f"渠道报文结构无法解析 (unexpected shape: {type(exc).__name__}: {exc})") from None


__all__ = ["MAPPERS", "MappingError", "delivery_version", "map_payload"]
