"""Realistic sample orders (auto-parts B2B: repair shops ordering brake pads, filters, engines).

Used by the demo, the benchmarks and tests; deterministic for a given seed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

SHOPS = [
    ("SHOP-HZ-001", "王建国", "13857112345", "浙江省杭州市西湖区文三路90号东部软件园汽修中心"),
    ("SHOP-HZ-002", "李明", "13967154321", "杭州萧山区北干街道金城路188号"),
    ("SHOP-HZ-003", "陈海燕", "+86 139-5710-2233", "杭州市余杭区五常街道文一西路998号"),
    ("SHOP-NJ-001", "赵强", "13813876543", "江苏省南京市鼓楼区中山北路200号"),
    ("SHOP-SH-001", "孙丽", "13601761234", "上海市浦东新区张江路88号"),
    ("SHOP-HF-001", "周涛", "13905512345", "安徽省合肥市蜀山区长江西路66号"),
    ("SHOP-GZ-001", "吴磊", "13802412345", "广东省广州市天河区体育西路100号"),
    ("SHOP-FZ-001", "郑华", "13905012345", "福建省福州市鼓楼区五四路50号"),
    ("SHOP-CD-001", "刘洋", "13808012345", "四川省成都市武侯区人民南路四段1号"),
    ("SHOP-BJ-001", "黄伟", "13901012345", "北京市朝阳区建国路88号"),
    ("SHOP-NN-001", "覃志", "13907712345", "广西南宁市青秀区民族大道100号"),
    ("SHOP-WH-001", "胡斌", "13907112345", "湖北省武汉市洪山区珞喻路1037号"),
]

PRODUCTS = [
    # sku, name, category, unit price, vehicle model text, weight kg
    ("BOSCH-BP-COROLLA18", "博世刹车片(前)", "刹车片", "268.00", "卡罗拉18款", "1.8"),
    ("BOSCH-BP-SYLPHY20", "博世刹车片(后)", "刹车片", "198.00", "日产轩逸2020款", "1.5"),
    ("MANN-OF-W712", "曼牌机油滤清器", "机油滤清器", "45.00", "大众朗逸2019款", "0.4"),
    ("MOBIL-1-5W30-4L", "美孚1号全合成机油 5W-30 4L", "机油", "329.00", None, "3.6"),
    ("NGK-SP-ILKAR7", "NGK铱金火花塞", "火花塞", "88.00", "本田思域2020款", "0.2"),
    ("VARTA-BAT-60AH", "瓦尔塔蓄电池 60Ah", "蓄电池", "560.00", None, "15.0"),
    ("ENG-1.5T-EA211", "EA211 1.5T 发动机总成", "发动机总成", "12800.00", "大众速腾2019款", "95.0"),
    ("ENG-2.0-TOYOTA", "丰田2.0L 发动机总成", "发动机总成", "15800.00", "丰田凯美瑞2019款", "110.0"),
    ("BOSCH-WIPER-24", "博世雨刮片 24寸", "雨刮", "69.00", None, "0.3"),
    ("MICHELIN-205-55R16", "米其林轮胎 205/55R16", "轮胎", "599.00", None, "9.0"),
]


def _line(p, qty: int) -> dict[str, Any]:
    sku, name, cat, price, vehicle, weight = p
    line = {"sku": sku, "name": name, "category": cat, "quantity": qty, "unit_price": price, "weight_kg": weight}
    if vehicle:
        line["vehicle_model"] = vehicle
    return line


def make_order(
    i: int,
    rng: random.Random,
    *,
    now: datetime,
    channel: str = "miniprogram",
    prefix: str = "DEMO",
    shop: tuple | None = None,
    products: list | None = None,
    minutes_ago: float | None = None,
) -> dict[str, Any]:
    shop = shop or rng.choice(SHOPS)
    chosen = products or rng.sample(PRODUCTS[:6] + PRODUCTS[8:], k=rng.randint(1, 3))
    lines = [_line(p, rng.randint(1, 6) if p[2] != "发动机总成" else 1) for p in chosen]
    goods = sum(Decimal(ln["unit_price"]) * ln["quantity"] for ln in lines)
    freight = Decimal("12.00") if goods < 500 else Decimal("0.00")
    ago = minutes_ago if minutes_ago is not None else rng.uniform(6, 90)
    cid, name, phone, address = shop
    return {
        "channel": channel,
        "channel_order_id": f"{prefix}{i:06d}",
        "ordered_at": (now - timedelta(minutes=ago)).isoformat(),
        "customer": {"id": cid, "name": name, "phone": phone},
        "address": {"raw": address},
        "lines": lines,
        "freight": str(freight),
        "paid_amount": str(goods + freight),
        "note": "",
    }


def demo_batch(n: int = 40, seed: int = 7, now: datetime | None = None, prefix: str = "DEMO") -> list[dict[str, Any]]:
    """n orders with the situations a reviewer should see: duplicates, an unresolvable address,
    an engine assembly to 萧山, a big order to 西湖区, and one malformed payload."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    out = [make_order(i, rng, now=now, prefix=prefix) for i in range(1, n + 1)]
    if n >= 10:
        # a brushing pair: same phone + SKU within 5 minutes
        out[3] = make_order(4, rng, now=now, prefix=prefix, shop=SHOPS[1], products=[PRODUCTS[0]], minutes_ago=20)
        out[4] = make_order(5, rng, now=now, prefix=prefix, shop=SHOPS[1], products=[PRODUCTS[0]], minutes_ago=18)
        # an address nobody can resolve → address review
        out[6]["address"] = {"raw": "老地方,仓库后门第三个卷帘门"}
        # an engine assembly to 萧山
        out[7] = make_order(8, rng, now=now, prefix=prefix, shop=SHOPS[1], products=[PRODUCTS[6]])
        # a malformed payload (negative quantity, bad phone) → 422 and a recorded rejection
        out[9]["lines"][0]["quantity"] = -2
        out[9]["customer"]["phone"] = "12345"
    return out
