"""`zhongshu bench peak` on a tiny day (30 orders in one minute, every kind of trouble once at least):
it runs through the real stack it starts (dev server, fakes, one worker process, the API, PostgreSQL),
writes the chart (PNG, HTML) and the one-page summary, and loses or doubles no order and no waybill."""

from __future__ import annotations

import json
import random
import socket

import pytest
from zhongshu_devtools.bench_peak import KINDS, Curve, Mix, plan_day, run


def test_the_day_curve_spikes_at_the_start_and_a_small_day_has_every_trouble():
    offsets = Curve(orders=12_000, minutes=20).offsets(random.Random(1))
    first_minute = sum(1 for t in offsets if t < 60)
    assert len(offsets) == 12_000 and all(0 <= t < 1200 for t in offsets)
    assert 3000 < first_minute < 4500, first_minute  # 5 % of the time at 10× the rate: ~34 % of the orders
    plan = plan_day(Curve(orders=30, minutes=1), Mix())
    assert {a.kind for a in plan} >= set(KINDS)
    assert {a.channel for a in plan} == {"douyin", "api", "tmall"}


def free_block(size: int = 40) -> int:
    """A base port with ``size`` free ports after it (the bench's stack: dev server, UI, API, fakes at +20…)."""
    rnd = random.Random()
    for _ in range(50):
        base = rnd.randrange(21000, 32000, 100)  # below the ephemeral range (32768-): no client grabs them meanwhile
        try:
            socks = []
            for p in range(base, base + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no free block of ports")


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_tiny_peak_day_writes_its_chart_and_table_and_loses_nothing(tmp_path):
    result = run(Curve(orders=30, minutes=1), workers=1, out=tmp_path, port_base=free_block(),
                 drain_seconds=180)
    for name in ("peak.png", "peak.html", "summary.md", "summary.html", "summary.json", "minutes.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "peak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["lost_orders"] == 0 and s["duplicated_orders"] == 0
    assert s["lost_waybills"] == 0 and s["duplicated_waybills"] == 0
    assert s["orders_in_read_model"] >= 30 and s["not_settled_at_end"] == 0
    assert s["review_tasks"] >= 1 and s["reviews_without_notice"] == 0, "the unresolvable address is a review, noticed in WeCom"
    assert s["by_status"].get("rejected", 0) >= 1, "the 暂不配送 address was intercepted"
    assert s["by_status"].get("merged", 0) >= 1, "the brushing twin was merged"
    assert s["address_changes_accepted"] >= 1 and s["mis_scans_caught"] == s["mis_scans_injected"]
    table = (tmp_path / "summary.md").read_text()
    assert "lost / duplicated orders | 0 / 0" in table and "| minute |" in table
    assert result["rows"] and result["rows"][0]["accepted"] > 0
