"""Realistic sample orders for the fake channels, the demo, the benchmark and the tests: Chinese
names, the addresses the field sees (abbreviated cities, missing provinces, full-width digits,
extra spaces, +86 / dashed phones) and the parts the platform sells."""

from __future__ import annotations

import random
from dataclasses import dataclass

NAMES = ["王建国", "李 娜", "张伟", "刘洋", "陈　强", "杨秀英", "赵磊", "黄敏", "周杰", "吴桂芳", "徐明", "孙丽"]

# (province, city, district, street detail) as channels send them — deliberately untidy
ADDRESSES = [
    ("浙江省", "杭州市", "萧山区", "北干街道金城路188号"),
    ("浙江", "杭州", "西湖区", "文三路９０号 东部软件园"),
    ("", "杭州市", "余杭区", "五常街道文一西路998号"),
    ("浙江省", "宁波市", "鄞州区", "浙江省宁波市鄞州区首南街道天童南路588号"),
    ("江苏省", "南京市", "鼓楼区", "中山北路  30号"),
    ("上海", "上海市", "浦东新区", "张江路1号"),
    ("广东省", "广州市", "天河区", "天河路385号太古汇"),
    ("安徽省", "合肥市", "蜀山区", "长江西路 200 号"),
]

PHONE_FORMATS = ["+86 {a}-{b}-{c}", "{a}{b}{c}", "{a} {b} {c}", "+86-{a} {b} {c}", "(+86){a}{b}{c}", "{a}-{b}-{c}",
                 "0086 {a}{b}{c}", "１３９{b}{c}"]


def untidy_phone(rng: random.Random, i: int) -> str:
    """A fresh valid mobile (139…) written the way channels write them: +86, dashes, spaces, full-width."""
    digits = f"139{rng.randrange(10**8):08d}"
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return PHONE_FORMATS[i % len(PHONE_FORMATS)].format(a=a, b=b, c=c)


@dataclass(frozen=True)
class Part:
    sku: str
    title: str  # how the shop titles it (category is inferred from the title)
    price_fen: int
    fitment: str | None


PARTS = [
    Part("BOSCH-BP-COROLLA18", "博世刹车片 前轮 陶瓷配方", 26800, "卡罗拉18款"),
    Part("MANN-OF-W712", "曼牌机油滤清器 W712", 4500, "朗逸19款"),
    Part("ENG-1.5T-EA211", "大众EA211 1.5T 发动机总成 原厂翻新", 1280000, "朗逸2019款"),
    Part("NGK-SP-ILKAR7", "NGK铱金火花塞 4支装", 32000, "思域2020款"),
    Part("MOBIL-1-5W30-4L", "美孚1号 全合成机油 5W-30 4L", 32800, None),
    Part("VARTA-BAT-60AH", "瓦尔塔蓄电池 60Ah", 56000, "通用"),
]


def pick(rng: random.Random, i: int):
    """Deterministic-but-varied pieces for order i: name, address tuple, phone, 1–2 parts."""
    name = NAMES[i % len(NAMES)]
    addr = ADDRESSES[(i * 7 + 3) % len(ADDRESSES)]
    phone = untidy_phone(rng, i)  # unique per order: generated orders never trip the same-phone+SKU rule
    parts = rng.sample(PARTS[:2] + PARTS[3:], rng.choice([1, 1, 2])) if i % 10 else [PARTS[2]]
    return name, addr, phone, parts
