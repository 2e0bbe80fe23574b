"""The shop's own WeChat mini-program backend → canonical order payload.

Its backend posts the order it took, with WeChat's address-picker fields::

    {"out_trade_no": "MP20261127000123", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
     "paid_at": "2026-11-27T10:00:00+08:00",
     "address": {"userName": "张伟", "telNumber": "021-6888 1234 / 13611112222",
                 "provinceName": "上海市", "cityName": "上海市", "countyName": "浦东新区",
                 "detailInfo": "张江路1号"},
     "items": [{"sku": "MANN-OF-W712", "name": "曼牌机油滤清器", "category": "机油滤清器",
                "qty": 4, "price_fen": 4500, "fitment": "朗逸19款"}],
     "total_fee": 18000, "freight_fee": 0, "remark": ""}

Amounts are fen (WeChat pay); the caller may also send a canonical order to POST /v1/orders.
"""

from __future__ import annotations

import re
from typing import Any

from domain.channels.common import (
    MISSING,
    MappingError,
    address,
    category,
    china_time,
    fen,
    integer,
    not_an_object,
    objects,
    order_id_text,
    phone,
    require,
    text,
)


def to_submission(p: dict[str, Any], channel: str = "miniprogram") -> dict[str, Any]:
    if not isinstance(p, dict):
        raise MappingError("body", not_an_object(p))
    oid = order_id_text(p.get("out_trade_no"), "out_trade_no")
    a = p.get("address")
    if not isinstance(a, dict):
        raise MappingError("address", MISSING if a in (None, "") else not_an_object(a))
    items = p.get("items") or []
    if not items:
        raise MappingError("items", "订单没有商品明细 (an order without items)")
    lines = []
    for i, it in enumerate(objects(items, "items")):
        at = f"items[{i}]"
        name = text(require(it, "name", at=at))
        if not name:
            raise MappingError(f"{at}.name", "缺少商品名称 (missing)")
        line = {"sku": text(require(it, "sku", at=at)), "name": name[:128], "category": category(it.get("category"), name),
                "quantity": integer(require(it, "qty", at=at), f"{at}.qty"),
                "unit_price": fen(require(it, "price_fen", at=at), f"{at}.price_fen")}
        if text(it.get("fitment")):
            line["vehicle_model"] = text(it.get("fitment"))
        lines.append(line)
    # the picker's telNumber is free text: sometimes two numbers ('021-6888 1234 / 13611112222'); prefer a mobile
    tel = str(a.get("telNumber") or "")
    numbers = [n for n in re.split(r"[/,，;；]", tel) if n.strip()]
    mobiles = [n for n in numbers if re.search(r"1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}", n)]
    return {
        "channel": channel,
        "channel_order_id": oid,
        "ordered_at": china_time(p.get("paid_at") or p.get("created_at"), "paid_at"),
        "customer": {
            "id": text(p.get("openid")) or text(p.get("unionid")) or "miniprogram-user",
            "name": text(require(a, "userName", at="address")),
            "phone": phone(*(mobiles or numbers), field="address.telNumber"),
        },
        "address": address(a.get("provinceName"), a.get("cityName"), a.get("countyName"), a.get("detailInfo"),
                           field="address.detailInfo"),
        "lines": lines,
        "freight": fen(p.get("freight_fee") or 0, "freight_fee"),
        "paid_amount": fen(require(p, "total_fee"), "total_fee"),
        "note": (text(p.get("remark")) or "")[:500],
    }
