"""The dashboard's 售后原因 by region reads the cases themselves: the order's 'aftersales.opened'
event says a case opened, the case carries the customer's reason (issue 14: the panel was always empty)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from store import metrics
from store.aftersales import aftersales_cases
from store.schema import orders, timeline_events


def _order(oid: str, province: str, at: datetime) -> dict:
    return dict(order_id=oid, channel="tmall", channel_order_id=oid, status="delivered", customer_id="C1",
                customer_name="王", phone="+8613800000000", province=province, city="x市", district="y区",
                adcode="330109", address_text="x", goods_amount=Decimal("100.00"), coupon_code=None,
                coupon_amount=None, freight=Decimal("0"), paid_amount=Decimal("100.00"), flags=[], risk_level="none",
                merged_into=None, warehouse="HZ-DIRECT", carrier="SF", ordered_at=at, created_at=at, updated_at=at,
                last_seq=2, projected_at=at)


def _case(oid: str, n: int, reason: str, at: datetime) -> dict:
    return dict(case_id=f"{oid}~AS{n}", order_id=oid, type="return", status="requested", customer_id="C1", reason=reason,
                requested_by="客服", lines=[{"sku": "S", "quantity": 1}], timeline=[], last_seq=1, created_at=at,
                updated_at=at)


def test_aftersales_reasons_by_region_come_from_the_cases(engine):
    now = datetime.now(UTC)
    at = now - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(orders.insert(), [_order("as-1", "浙江省", at), _order("as-2", "浙江省", at),
                                       _order("as-3", "广东省", at)])
        conn.execute(aftersales_cases.insert(), [_case("as-1", 1, "刹车片异响", now), _case("as-2", 1, "刹车片异响", now),
                                                 _case("as-2", 2, "尺寸不符", now), _case("as-3", 1, "尺寸不符", now)])
        conn.execute(timeline_events.insert(), [  # what the order logs: no reason in the data
            dict(order_id="as-1", seq=1, at=now, event="aftersales.opened", status="delivered", actor="客服",
                 reason="退货退款: 刹车片异响", data={"case_id": "as-1~AS1", "type": "return"})])
    d = metrics.dashboard(engine, now - timedelta(days=3), now + timedelta(hours=1))
    rows = {(r["region"], r["reason"]): r["count"] for r in d["aftersales_by_region"]}
    east = next(r for r in rows if r[1] == "刹车片异响")[0]
    assert rows == {(east, "刹车片异响"): 2, (east, "尺寸不符"): 1, (next(r for r in rows if r[0] != east)[0], "尺寸不符"): 1}
    assert metrics.top_reasons(d["aftersales_by_region"], east)[0] == {"region": east, "reason": "刹车片异响", "count": 2}


def test_reconciliation_banner_is_green_only_without_any_difference():
    from console.ui import reconciliation_banner

    totals = {"channel_diff_fen": 0, "erp_diff_fen": 0}
    zero = {"totals": totals, "differences": 0, "classes": {"freight_not_collected": {"count": 0, "amount_fen": 0}}}
    assert reconciliation_banner(zero)[0] == "success"
    netted = {"totals": totals, "differences": 2,  # +¥10 and −¥10: the totals reconcile, two orders do not
              "classes": {"freight_not_collected": {"count": 1, "amount_fen": 1000},
                          "rounding_difference": {"count": 1, "amount_fen": -1000}}}
    level, text = reconciliation_banner(netted)
    assert level == "error" and "运费未收 1 笔" in text and "尾差 1 笔" in text and "未轧平" in text
