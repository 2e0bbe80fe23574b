"""`zhongshu bench routing`: how many routing decisions per second the default rules sustain.

Generates a reproducible mix of orders (the rule regions, the rest of China, light parcels and
heavy engines, SLA demands, 余杭区 where JD is suspended), routes each one through
``domain.routing.route`` against rules/default_rules.xlsx, and prints throughput and hit counts per
rule and carrier. The first call compiles the zen decision; it is counted, as a cold start would be.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.default_rules import DEFAULT_RULES_PATH, build_default_rules
from domain.routing import RoutingInput, RoutingLine, route
from domain.routing_rules import parse_workbook

REGIONS = [
    ("浙江省", "杭州市", "西湖区"), ("浙江省", "杭州市", "萧山区"), ("浙江省", "杭州市", "余杭区"),
    ("浙江省", "宁波市", "鄞州区"), ("江苏省", "南京市", "鼓楼区"), ("上海市", "上海市", "浦东新区"),
    ("安徽省", "合肥市", "蜀山区"), ("广东省", "广州市", "天河区"), ("福建省", "厦门市", "思明区"),
    ("广西壮族自治区", "南宁市", "青秀区"), ("海南省", "海口市", "美兰区"), ("北京市", "北京市", "朝阳区"),
    ("四川省", "成都市", "武侯区"), ("新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
]
PARTS = [  # sku, category, unit price range (yuan), unit weight kg
    ("BOSCH-BP-COROLLA18", "刹车片", (120, 400), "1.2"),
    ("MANN-OF-W712", "机油滤清器", (25, 80), "0.4"),
    ("MOBIL-1-5W30-4L", "机油", (220, 380), "3.8"),
    ("MICHELIN-205-55R16", "轮胎", (420, 900), "9.5"),
    ("ENG-1.5T-EA211", "发动机总成", (300, 12000), "45"),
]


def generate(n: int, seed: int = 7) -> list[RoutingInput]:
    rnd = random.Random(seed)
    start = datetime(2026, 12, 12, tzinfo=UTC)
    orders = []
    for i in range(n):
        province, city, district = rnd.choice(REGIONS)
        lines = []
        for sku, category, (lo, hi), kg in rnd.sample(PARTS, rnd.choice([1, 1, 2, 3])):
            price = Decimal(rnd.randint(lo * 100, hi * 100)) / 100
            lines.append(RoutingLine(sku=sku, category=category, unit_price=price, quantity=rnd.choice([1, 1, 2, 4]),
                                     weight_kg=Decimal(kg)))
        orders.append(RoutingInput(province=province, city=city, district=district, lines=lines,
                                   ordered_at=start + timedelta(seconds=i * 3),
                                   required_sla_days=rnd.choice([None, None, None, 1, 2])))
    return orders


def run(n: int = 10000, console: Console | None = None) -> list[tuple[str, str]]:
    """Route ``n`` generated orders; print and return (metric, value) rows."""
    console = console or Console()
    rule_set = parse_workbook(DEFAULT_RULES_PATH) if DEFAULT_RULES_PATH.exists() else build_default_rules()
    orders = generate(n)
    rules, carriers = Counter(), Counter()
    with Progress(TextColumn("routing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("route", total=n)
        t0 = time.perf_counter()
        for i, order in enumerate(orders, start=1):
            d = route(rule_set, order)
            rules[d.rule_id or "(none)"] += 1
            carriers[d.carrier or "(none → review)"] += 1
            if i % 250 == 0 or i == n:
                progress.update(task, completed=i)
        seconds = time.perf_counter() - t0
    rows = [("decisions", f"{n}"), ("seconds", f"{seconds:.3f}"), ("decisions/s", f"{n / seconds:,.0f}" if seconds else "∞")]
    rows += [(f"rule {k}", f"{v}") for k, v in sorted(rules.items())]
    rows += [(f"carrier {k}", f"{v}") for k, v in sorted(carriers.items())]
    table = Table(title=f"routing benchmark ({DEFAULT_RULES_PATH.name})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in rows:
        table.add_row(metric, value)
    console.print(table)
    return rows


if __name__ == "__main__":
    run()
