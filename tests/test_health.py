"""The order health index against hand-computed fixtures, including empty periods ('no data')."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from domain.health import BASELINE, HealthCounts, OrderFacts, aggregate, fmt, health_index, percentile, region_of


def test_full_period_hand_computed():
    c = HealthCounts(
        orders=200, due=100, shipped_on_time=95, shipped=90, signed_48h=81, exceptions=20, answered_15m=18,
        fields_required=1000, fields_filled=990, sync_measured=200, synced_30s=196, enquiries=6,
    )
    h = health_index(c)
    # timeliness = 95/100×0.4 + 81/90×0.3 + 18/20×0.3 = 0.38 + 0.27 + 0.27 = 0.92
    assert h.timeliness.value == Fraction(92, 100)
    # data = 990/1000×0.5 + 196/200×0.5 = 0.495 + 0.49 = 0.985
    assert h.data.value == Fraction(985, 1000)
    # experience = 6/200×100 = 3 enquiries per 100 orders
    assert h.experience == 3
    # score = (92 + 98.5) / 2 = 95.25
    assert h.score == Fraction(9525, 100)
    d = h.as_dict()
    assert d["score"] == 95.2 or d["score"] == 95.3  # presentation rounding only
    assert d["timeliness"]["score"] == 92.0 and d["data"]["score"] == 98.5
    assert d["above_baseline"] is True and d["baseline"] == BASELINE == 80
    assert d["timeliness"]["terms"]["signed_within_48h"] == {
        "weight": 0.3, "numerator": 81, "denominator": 90, "value": 0.9, "no_data": False
    }


def test_empty_period_is_no_data_everywhere():
    h = health_index(HealthCounts())
    assert h.timeliness.value is None and h.data.value is None and h.experience is None and h.score is None
    assert h.partial_score is None
    d = h.as_dict()
    assert d["no_data"] and d["score"] is None and d["experience"]["no_data"]
    assert d["timeliness"]["missing"] == ["on_time_shipped", "signed_within_48h", "exceptions_answered_15m"]
    assert fmt(h.score) == "no data"


def test_before_shipping_exists_timeliness_is_no_data_but_partial_is_shown():
    # today's pipeline: nothing ships yet, 4 exceptions of which 3 answered in 15 min
    c = HealthCounts(orders=10, exceptions=4, answered_15m=3, fields_required=90, fields_filled=81,
                     sync_measured=10, synced_30s=10, enquiries=1)
    h = health_index(c)
    assert h.timeliness.value is None
    assert h.timeliness.missing == ["on_time_shipped", "signed_within_48h"]
    assert h.timeliness.partial == Fraction(3, 4)  # only the exceptions term has data
    # data = 81/90×0.5 + 1×0.5 = 0.45 + 0.5 = 0.95
    assert h.data.value == Fraction(95, 100)
    assert h.score is None  # the index is not stated on partial data …
    assert h.partial_score == (Fraction(3, 4) + Fraction(95, 100)) / 2 * 100  # … the trend is, labelled
    assert h.experience == 10


def test_aggregate_from_order_facts_hand_computed():
    facts = [
        OrderFacts(order_id="a", fields_required=9, fields_filled=9, due=True, shipped_on_time=True, shipped=True,
                   signed_48h=True, exceptions=1, answered_15m=1, sync_measured=True, synced_30s=True, enquiries=2),
        OrderFacts(order_id="b", fields_required=9, fields_filled=6, due=True, shipped_on_time=False, shipped=True,
                   signed_48h=False, exceptions=2, answered_15m=0, sync_measured=True, synced_30s=False),
        OrderFacts(order_id="c", fields_required=9, fields_filled=9, due=False, sync_measured=False),
        OrderFacts(order_id="d", fields_required=9, fields_filled=3, due=True, shipped=False,
                   sync_measured=True, synced_30s=True, enquiries=1),
    ]
    c = aggregate(facts)
    assert c == HealthCounts(orders=4, due=3, shipped_on_time=1, shipped=2, signed_48h=1, exceptions=3, answered_15m=1,
                             fields_required=36, fields_filled=27, sync_measured=3, synced_30s=2, enquiries=3)
    h = health_index(c)
    # timeliness = 1/3×0.4 + 1/2×0.3 + 1/3×0.3 = 2/15 + 3/20 + 1/10 = (8 + 9 + 6)/60 = 23/60
    assert h.timeliness.value == Fraction(23, 60)
    # data = 27/36×0.5 + 2/3×0.5 = 3/8 + 1/3 = 17/24
    assert h.data.value == Fraction(17, 24)
    assert h.experience == 75  # 3/4 × 100
    assert h.score == (Fraction(23, 60) + Fraction(17, 24)) / 2 * 100
    assert aggregate([]) == HealthCounts()


def test_percentile_and_regions():
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert region_of("浙江省") == "华东" and region_of("广东省") == "华南" and region_of(None) == "未知"


# ------------------------------------------------------------------ from the read model (both DBs)


def _seed(engine, now):
    """Three orders placed 'yesterday' with a hand-known shape, one merged duplicate, one out of period."""
    from sqlalchemy import text

    from store.schema import orders, review_tasks, status_enquiries, timeline_events

    base = now - timedelta(days=1)

    def order(oid, status, *, channel="tmall", warehouse="HZ-DIRECT", phone="+8613800000000", ordered_at=base, **kw):
        return dict(order_id=oid, channel=channel, channel_order_id=oid, status=status, customer_id="C1",
                    customer_name="王", phone=phone, province="浙江省", city="杭州市", district="萧山区",
                    adcode="330109", address_text="浙江省杭州市萧山区x", goods_amount=Decimal("100.00"),
                    coupon_code=None, coupon_amount=None, freight=Decimal("0"), paid_amount=Decimal("100.00"),
                    flags=[], risk_level="none", merged_into=None, warehouse=warehouse, carrier="SF",
                    ordered_at=ordered_at, created_at=ordered_at, updated_at=ordered_at, last_seq=1,
                    projected_at=ordered_at) | kw

    rows = [
        order("o1", "completed"),
        order("o2", "completed", channel="douyin", phone=None, district=None),  # 7 of 9 fields
        order("o3", "held", warehouse=None),
        order("o4", "merged"),  # a duplicate: not an order of its own
        order("o5", "completed", ordered_at=base - timedelta(days=10)),  # outside the period
    ]

    def ev(oid, seq, at, event, status, data=None):
        return dict(order_id=oid, seq=seq, at=at, event=event, status=status, actor="system", reason="", data=data or {})

    t = base
    events = [
        ev("o1", 1, t, "order.received", "received"),
        ev("o1", 2, t + timedelta(seconds=1), "risk.scanned", "validated", {"codes": []}),
        ev("o1", 3, t + timedelta(hours=2), "order.released_to_warehouse", "routed"),
        ev("o1", 4, t + timedelta(hours=20), "order.shipped", "routed"),  # on time (24 h SLA)
        ev("o1", 5, t + timedelta(hours=50), "order.signed", "completed"),  # 30 h after shipping
        ev("o2", 1, t, "order.received", "received"),
        ev("o2", 2, t + timedelta(seconds=1), "risk.scanned", "validated", {"codes": ["AMOUNT_OUTLIER"]}),
        ev("o2", 3, t + timedelta(hours=1), "order.released_to_warehouse", "routed"),
        ev("o2", 4, t + timedelta(hours=30), "order.shipped", "routed"),  # late
        ev("o2", 5, t + timedelta(hours=90), "order.signed", "completed"),  # 60 h: not within 48
        ev("o3", 1, t, "order.received", "received"),
        ev("o3", 2, t + timedelta(seconds=1), "risk.scanned", "held", {"codes": ["AMOUNT_OUTLIER", "INVALID_PHONE"]}),
    ]
    reviews = [
        dict(review_id="o2~risk-1", order_id="o2", kind="risk", state="decided", reason="r", features=[],
             created_at=t, decided_at=t + timedelta(minutes=10)),
        dict(review_id="o3~risk-1", order_id="o3", kind="risk", state="open", reason="r", features=[], created_at=t,
             decided_at=None),
    ]
    with engine.begin() as conn:
        conn.execute(orders.insert(), rows)
        conn.execute(timeline_events.insert(), events)
        conn.execute(review_tasks.insert(), reviews)
        conn.execute(status_enquiries.insert(), [dict(order_id="o1", at=now, role="service"),
                                                 dict(order_id="o1", at=now, role="readonly"),
                                                 dict(order_id="o4", at=now, role="readonly")])
        # sync delays: o1 all fast, o2 one event 45 s late, o3 unknown (NULL: before migration 0005)
        for oid, seq, secs in (("o1", s, 2) for s in range(1, 6)):
            conn.execute(text("UPDATE timeline_events SET recorded_at = :r WHERE order_id = :o AND seq = :s"),
                         {"r": _stamp(engine, next(e["at"] for e in events if e["order_id"] == oid and e["seq"] == seq)
                                      + timedelta(seconds=secs)), "o": oid, "s": seq})
        for seq, secs in ((1, 1), (2, 45), (3, 1), (4, 1), (5, 1)):
            conn.execute(text("UPDATE timeline_events SET recorded_at = :r WHERE order_id = 'o2' AND seq = :s"),
                         {"r": _stamp(engine, next(e["at"] for e in events if e["order_id"] == "o2" and e["seq"] == seq)
                                      + timedelta(seconds=secs)), "s": seq})
        conn.execute(text("UPDATE timeline_events SET recorded_at = NULL WHERE order_id = 'o3'"))


def _stamp(engine, dt):
    if engine.dialect.name == "postgresql":
        return dt
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_health_from_read_model_hand_computed(engine):
    from store import metrics

    now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    _seed(engine, now)
    start, end = now - timedelta(days=2), now
    h = metrics.health(engine, start, end, as_of=now + timedelta(days=5))
    c = h["counts"]
    # o1, o2, o3 (o4 merged, o5 out of period)
    assert c["orders"] == 3
    # due: o1, o2 (released and shipped); on time: o1; shipped 2; signed ≤ 48 h: o1
    assert (c["due"], c["shipped_on_time"], c["shipped"], c["signed_48h"]) == (2, 1, 2, 1)
    # exceptions: o2 (answered in 10 min), o3 (open)
    assert (c["exceptions"], c["answered_15m"]) == (2, 1)
    # fields: 27 required, o2 misses phone and district
    assert (c["fields_required"], c["fields_filled"]) == (27, 25)
    # sync: o1 fast, o2 45 s late once, o3 not measured
    assert (c["sync_measured"], c["synced_30s"]) == (2, 1)
    assert c["enquiries"] == 2  # o4's enquiry is about a merged duplicate
    # timeliness = 1/2×0.4 + 1/2×0.3 + 1/2×0.3 = 0.5 ; data = 25/27×0.5 + 1/2×0.5
    assert h["timeliness"]["value"] == 0.5
    assert h["data"]["value"] == round(float(Fraction(25, 54) + Fraction(1, 4)), 4)
    assert h["experience"]["value"] == round(200 / 3, 2)

    only_douyin = metrics.health(engine, start, end, channel="douyin", as_of=now + timedelta(days=5))
    assert only_douyin["counts"]["orders"] == 1 and only_douyin["timeliness"]["terms"]["on_time_shipped"]["value"] == 0
    per_wh = metrics.health(engine, start, end, warehouse="HZ-DIRECT", as_of=now + timedelta(days=5))
    assert per_wh["counts"]["orders"] == 2

    empty = metrics.health(engine, now + timedelta(days=30), now + timedelta(days=31), series=True)
    assert empty["no_data"] and empty["counts"]["orders"] == 0 and empty["experience"]["no_data"]
    assert [p["score"] for p in empty["series"]] == [None, None]


def test_dashboard_breakdowns(engine):
    from store import metrics

    now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    _seed(engine, now)
    d = metrics.dashboard(engine, now - timedelta(days=2), now, as_of=now)
    assert {r["stage"]: r["orders"] for r in d["stage_counts"]} == {"completed": 2, "held": 1}
    rates = {r["code"]: r for r in d["exception_rates"]}
    assert d["risk_scanned"] == 3 and rates["AMOUNT_OUTLIER"]["orders"] == 2
    assert rates["AMOUNT_OUTLIER"]["rate"] == round(2 / 3, 4) and rates["INVALID_PHONE"]["orders"] == 1
    assert d["reviews"]["total"] == 2 and d["reviews"]["answered_15m"] == 1 and d["reviews"]["rate"] == 0.5
    times = {r["stage"]: r for r in d["stage_times"]}
    # o1 and o2 each spent 1 s in received
    assert times["received"]["n"] == 3 and times["received"]["p50_seconds"] == 1.0
    assert d["aftersales_by_region"] == []  # no aftersales stage yet: empty, not an error
    assert len(d["health"]["series"]) == 3


@pytest.mark.parametrize("frm,to", [("2026-11-20", "2026-11-26"), (None, None)])
def test_parse_period(frm, to):
    from store.metrics import parse_period

    start, end = parse_period(frm, to, now=datetime(2026, 11, 27, 4, 0, tzinfo=UTC))
    assert end - start == timedelta(days=7)
    if frm:
        assert start == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)  # Beijing midnight
    with pytest.raises(ValueError):
        parse_period("2026-11-27", "2026-11-20")


def test_stage_times_follow_the_clock_not_the_sequence(engine):
    """A parcel's events carry their own sequence and a carrier's scan its own time: by sequence the
    order can step back in time, and a stage would last a negative while (the dashboard showed -24 s)."""
    from store import metrics
    from store.schema import orders, timeline_events

    now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    t = now - timedelta(hours=10)
    row = dict(order_id="late-scan", channel="tmall", channel_order_id="late-scan", status="delivered", customer_id="C1",
               customer_name="王", phone="+8613800000000", province="浙江省", city="杭州市", district="萧山区", adcode="330109",
               address_text="x", goods_amount=Decimal("1"), freight=Decimal("0"), paid_amount=Decimal("1"), flags=[],
               risk_level="none", warehouse="HZ-DIRECT", carrier="SF", ordered_at=t, created_at=t, updated_at=t, last_seq=3,
               projected_at=t)

    def ev(seq, at, event, status):
        return dict(order_id="late-scan", seq=seq, at=at, event=event, status=status, actor="system", reason="", data={})

    with engine.begin() as conn:
        conn.execute(orders.insert(), [row])
        conn.execute(timeline_events.insert(), [
            ev(1, t, "order.received", "received"),
            ev(2, t + timedelta(hours=2), "order.shipped", "shipped"),
            ev(3, t + timedelta(hours=1, minutes=59), "tracking.event", "delivered"),  # the carrier's own (earlier) time
            ev(4, t + timedelta(hours=3), "order.delivered", "delivered"),
        ])
    d = metrics.dashboard(engine, now - timedelta(days=1), now, as_of=now)
    times = {r["stage"]: r for r in d["stage_times"]}
    assert all(r["p50_seconds"] >= 0 and r["p90_seconds"] >= 0 for r in times.values()), times
