"""Tmall / Taobao trade (TOP ``taobao.trades.sold.increment.get`` / ``trade.fullinfo.get`` shape)
→ canonical order payload.

A trade looks like::

    {"tid": 3821094412345678, "status": "WAIT_SELLER_SEND_GOODS", "created": "2026-11-27 10:02:11",
     "modified": "2026-11-27 10:02:40", "buyer_open_uid": "AAHd5…", "buyer_nick": "t**2",
     "receiver_name": "王建国", "receiver_mobile": "13857112345", "receiver_phone": "0571-8888 8888",
     "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "萧山区",
     "receiver_address": "北干街道金城路188号", "payment": "536.00", "post_fee": "0.00",
     "coupon_fee": "0.00", "buyer_message": "…",
     "orders": {"order": [{"oid": …, "title": "博世刹车片 前轮 卡罗拉", "outer_sku_id": "BOSCH-BP-COROLLA18",
                           "num": 2, "price": "268.00", "sku_properties_name": "适配车型:卡罗拉18款"}]}}

Amounts are yuan strings; times are China local without an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.channels.common import (
    MappingError,
    address,
    category,
    china_time,
    fitment,
    integer,
    not_an_object,
    objects,
    order_id_text,
    phone,
    require,
    text,
    yuan,
)
from domain.redelivery import DeliveryVersion

# statuses that are not (yet / any more) orders to fulfil
SKIP_STATUSES = {"WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY", "TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"}


def version_of(trade: Any) -> DeliveryVersion | None:
    """The channel's version of a trade: its ``modified`` time (China local, whole seconds)."""
    if not isinstance(trade, dict) or not trade.get("modified"):
        return None
    try:
        return DeliveryVersion(updated_at=datetime.fromisoformat(china_time(trade["modified"], "modified")))
    except (MappingError, ValueError):
        return None


def is_fulfillable(trade: dict[str, Any]) -> bool:
    return trade.get("status") not in SKIP_STATUSES


def to_submission(trade: dict[str, Any], channel: str = "tmall") -> dict[str, Any]:
    if not isinstance(trade, dict):
        raise MappingError("trade", not_an_object(trade))
    tid = order_id_text(trade.get("tid"), "tid")
    nested = isinstance(trade.get("orders"), dict)  # TOP: {"orders": {"order": [...]}}; some feeds: {"orders": [...]}
    items = trade["orders"].get("order") if nested else trade.get("orders")
    if not items:
        raise MappingError("orders.order", "订单没有商品明细 (a trade without items)")
    lines = []
    base = "orders.order" if nested else "orders"
    for i, o in enumerate(objects(items, base)):
        at = f"{base}[{i}]"
        title = text(o.get("title"))
        if not title:
            raise MappingError(f"{at}.title", "缺少商品标题 (missing)")
        sku = text(o.get("outer_sku_id")) or text(o.get("outer_iid")) or text(o.get("sku_id")) or text(o.get("num_iid"))
        if not sku:
            raise MappingError(f"{at}.outer_sku_id", "商品没有商家编码 (outer_sku_id/outer_iid), 请在店铺后台给该商品填写商家编码 "
                                                     "(no merchant SKU (outer_sku_id/outer_iid) on the item)")
        line = {
            "sku": sku,
            "name": title[:128],
            "category": category(o.get("category"), title),
            "quantity": integer(require(o, "num", at=at), f"{at}.num"),
            "unit_price": yuan(require(o, "price", at=at), f"{at}.price"),
        }
        vm = fitment(o.get("sku_properties_name"))
        if vm:
            line["vehicle_model"] = vm
        lines.append(line)
    sub: dict[str, Any] = {
        "channel": channel,
        "channel_order_id": tid,
        "ordered_at": china_time(trade.get("pay_time") or trade.get("created"), "created"),
        "customer": {
            "id": text(trade.get("buyer_open_uid")) or text(trade.get("buyer_nick")) or f"{channel}-buyer",
            "name": text(require(trade, "receiver_name")),
            "phone": phone(trade.get("receiver_mobile"), trade.get("receiver_phone"), field="receiver_mobile"),
        },
        "address": address(
            trade.get("receiver_state"), trade.get("receiver_city"), trade.get("receiver_district"),
            " ".join(filter(None, (text(trade.get("receiver_town")), text(trade.get("receiver_address"))))) or None,
            field="receiver_address",
        ),
        "lines": lines,
        "freight": yuan(trade.get("post_fee") or "0", "post_fee"),
        "paid_amount": yuan(require(trade, "payment"), "payment"),
        "note": (text(trade.get("buyer_message")) or "")[:500],
    }
    coupon = trade.get("coupon_fee")
    if coupon not in (None, "", "0", "0.00", 0):
        sub["coupon"] = {"code": text(trade.get("coupon_code")) or f"TMALL-{tid}", "amount": yuan(coupon, "coupon_fee")}
    return sub
