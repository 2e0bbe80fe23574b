"""Douyin shop (抖店) order push → canonical order payload.

A push body is a JSON list of messages ``[{"tag": "101", "msg_id": "…", "data": "<json string>"}]``;
tag 100 = order created, 101 = paid (the one we take), others (e.g. 105 cancelled) are acknowledged
and ignored. ``data`` carries the order detail (as ``/order/orderDetail`` returns it)::

    {"shop_order_id": "6920123456789012345", "create_time": 1796176800, "pay_time": 1796176830,
     "doudian_open_id": "1@#x1…", "post_receiver": "李 娜", "post_tel": "+86 139-0571-1234",
     "post_addr": {"province": {"name": "浙江省"}, "city": {"name": "杭州市"},
                   "town": {"name": "西湖区"}, "street": {"name": "文三路"}, "detail": "90号东部软件园"},
     "order_amount": 53600, "post_amount": 0, "promotion_amount": 0, "buyer_words": "",
     "sku_order_list": [{"code": "BOSCH-BP-COROLLA18", "product_name": "博世刹车片", "item_num": 2,
                         "origin_amount": 53600, "goods_price": 26800,
                         "spec": [{"name": "适配车型", "value": "卡罗拉18款"}]}]}

Amounts are fen; times unix seconds. ``update_time`` (as ``order.orderDetail`` has it) is the
channel's version of the order: ``version_of`` reads it, so a late copy of an older push is never
applied over a newer one (``domain.redelivery.freshness``).

Signed pushes are checked for age: ``message_time`` is the time the message itself carries
(``update_time``, else ``pay_time``/``create_time``; the signature covers the whole body, so it cannot
be altered), and ``domain.channels.signing.push_age_problem`` refuses one outside the window. Each
message's ``msg_id`` identifies it across the platform's re-sends (a replay is answered, not
processed twice).

Real pushes (``doudian_trade_TradePaid``, tag 101) usually carry only ids — ``{"p_id": 69…, "s_ids": […],
"shop_id": 4463798, "order_status": 2, "pay_time": …, "pay_amount": …}`` — and the order itself is read
from the open API (``order.orderDetail``). ``needs_detail`` tells the two apart, ``pushed_order_id`` /
``pushed_shop_id`` read the ids, ``detail_from_response`` takes the order out of the API's answer;
the fetch itself is I/O (``activities.channels.DouyinClient``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from domain.channels.common import (
    MappingError,
    address,
    category,
    china_time,
    fen,
    fen_int,
    fitment,
    integer,
    kind,
    not_an_object,
    objects,
    order_id_text,
    phone,
    require,
    text,
)
from domain.redelivery import DeliveryVersion

ORDER_TAGS = {"101", "doudian_trade_TradePaid"}  # paid (numeric tag or the event name)
IGNORED_TAGS = {"100", "102", "103", "104", "105", "106", "108", "110",  # created-unpaid, shipped, cancelled …
                "doudian_trade_TradeCreate", "doudian_trade_TradeSellerShip", "doudian_trade_TradeCanceled"}
ID_KEYS = ("p_id", "shop_order_id", "order_id")
DETAIL_KEYS = ("sku_order_list",)  # present only when the message carries the whole order
OK_CODE = 10000  # the open API's success code


def needs_detail(data: Any) -> bool:
    """True for an ids-only message (the order must be fetched); False when the order is in the push."""
    return (isinstance(data, dict) and not any(k in data for k in DETAIL_KEYS)
            and any(data.get(k) not in (None, "") for k in ID_KEYS))


def pushed_order_id(data: Any) -> str:
    """The (parent) order id of a push message: ``p_id`` in real pushes, ``shop_order_id`` in ours."""
    if not isinstance(data, dict):
        raise MappingError("data", not_an_object(data))
    return order_id_text(next((data[k] for k in ID_KEYS if data.get(k) not in (None, "")), None), "p_id")


def pushed_shop_id(data: Any) -> str | None:
    """The shop the push is for (the open API's token is per shop); None when the push does not say."""
    return text(data.get("shop_id")) if isinstance(data, dict) else None


def _unix(value: Any) -> datetime | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        n = float(value)
    except (TypeError, ValueError):
        return None
    if n <= 0:
        return None
    if n > 1e12:  # milliseconds
        n /= 1000
    try:
        return datetime.fromtimestamp(n, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


TIME_KEYS = ("update_time", "pay_time", "create_time")


def message_time(data: Any) -> datetime | None:
    """The time a push message carries (its order's ``update_time``, else ``pay_time``, ``create_time``)."""
    if not isinstance(data, dict):
        return None
    for key in TIME_KEYS:
        t = _unix(data.get(key))
        if t is not None:
            return t
    return None


def version_of(order: Any) -> DeliveryVersion | None:
    """The channel's version of an order detail: its ``update_time`` (None when it has none)."""
    if not isinstance(order, dict):
        return None
    t = _unix(order.get("update_time"))
    return DeliveryVersion(updated_at=t) if t is not None else None


def message_id(message: dict[str, Any]) -> str | None:
    mid = message.get("msg_id")
    return str(mid)[:100] if mid not in (None, "") else None


def detail_from_response(body: Any, order_id: str) -> dict[str, Any]:
    """The order out of an ``order.orderDetail`` answer ``{"code": 10000, "data": {"shop_order_detail": …}}``."""
    if not isinstance(body, dict) or body.get("code") != OK_CODE:
        raise MappingError("code", f"抖店开放平台没有答复成功 (not a success answer: {str(body)[:200]})")
    data = body.get("data")
    detail = data.get("shop_order_detail") if isinstance(data, dict) else None
    if not isinstance(detail, dict):
        raise MappingError("data.shop_order_detail", "抖店开放平台的答复里没有订单详情 (missing)")
    got = text(detail.get("order_id") or detail.get("shop_order_id"))
    if got and got != order_id:
        raise MappingError("data.shop_order_detail.order_id",
                           f"抖店开放平台答复的是另一个订单: 请求 {order_id}, 收到 {got} (asked for {order_id}, got {got})")
    return detail


def messages(body: Any) -> list[dict[str, Any]]:
    """The push's messages, each with ``data`` parsed; MappingError when the body is not a push."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise MappingError("body", f"推送报文应为消息的 JSON 数组, 收到的是{kind(body)} (a push is a JSON list of messages)")
    out = []
    for i, m in enumerate(body):
        if not isinstance(m, dict) or "tag" not in m:
            raise MappingError(f"[{i}]", "消息应为带 tag 字段的 JSON 对象 (message without tag)")
        data = m.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError:
                raise MappingError(f"[{i}].data", "不是有效的 JSON 文本 (data is not JSON)") from None
        if str(m["tag"]) in ORDER_TAGS and not isinstance(data, dict):  # an order message the platform cannot mean
            raise MappingError(f"[{i}].data", not_an_object(data))
        out.append({**m, "tag": str(m["tag"]), "data": data})
    return out


def to_submission(order: dict[str, Any], channel: str = "douyin") -> dict[str, Any]:
    if not isinstance(order, dict):
        raise MappingError("data", not_an_object(order))
    if needs_detail(order):
        raise MappingError("data", "这条推送只带订单号, 要先从抖店开放平台取订单详情 (order.orderDetail) 才能映射; "
                                   "请配置抖店开放平台账号后重推 (an ids-only push: the order detail has to be fetched "
                                   "(order.orderDetail) before mapping; set up the Douyin open API account)")
    oid = order_id_text(order.get("shop_order_id") or order.get("order_id"), "shop_order_id")
    items = order.get("sku_order_list") or []
    if not items:
        raise MappingError("sku_order_list", "订单没有商品明细 (an order without items)")
    lines = []
    for i, s in enumerate(objects(items, "sku_order_list")):
        at = f"sku_order_list[{i}]"
        name = text(s.get("product_name"))
        if not name:
            raise MappingError(f"{at}.product_name", "缺少商品名称 (missing)")
        sku = text(s.get("code")) or text(s.get("out_sku_id")) or text(s.get("sku_id"))
        if not sku:
            raise MappingError(f"{at}.code", "商品没有商家编码, 请在抖店后台给该商品填写商家编码 "
                                             "(no merchant SKU code on the item)")
        qty = integer(require(s, "item_num", at=at), f"{at}.item_num")
        price = s.get("goods_price")
        if price is None:
            price = fen_int(require(s, "origin_amount", at=at), f"{at}.origin_amount") // max(qty, 1)
        line = {"sku": sku, "name": name[:128], "category": category(s.get("category"), name), "quantity": qty,
                "unit_price": fen(price, f"{at}.goods_price")}
        vm = fitment(s.get("spec"))
        if vm:
            line["vehicle_model"] = vm
        lines.append(line)
    addr = order.get("post_addr") or {}
    if not isinstance(addr, dict):
        raise MappingError("post_addr", not_an_object(addr))

    def name_of(part: Any) -> Any:
        return part.get("name") if isinstance(part, dict) else part

    street = text(name_of(addr.get("street")))
    detail = "".join(filter(None, (street, text(addr.get("detail"))))) or None
    sub: dict[str, Any] = {
        "channel": channel,
        "channel_order_id": oid,
        "ordered_at": china_time(order.get("pay_time") or order.get("create_time"), "create_time"),
        "customer": {
            "id": text(order.get("doudian_open_id")) or text(order.get("user_id")) or "douyin-buyer",
            "name": text(require(order, "post_receiver")),
            "phone": phone(order.get("post_tel"), field="post_tel"),
        },
        "address": address(name_of(addr.get("province")), name_of(addr.get("city")), name_of(addr.get("town")),
                           detail, field="post_addr"),
        "lines": lines,
        "freight": fen(order.get("post_amount") or 0, "post_amount"),
        "paid_amount": fen(require(order, "order_amount"), "order_amount"),
        "note": (text(order.get("buyer_words")) or "")[:500],
    }
    promo = fen_int(order.get("promotion_amount") or 0, "promotion_amount")
    if promo:
        sub["coupon"] = {"code": f"DOUYIN-{oid}", "amount": fen(promo, "promotion_amount")}
    return sub
