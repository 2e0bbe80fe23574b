"""Splitting a merged duplicate back out (issue 14), over HTTP against the real stack (dev server,
worker, API, PostgreSQL): the order runs again under its own id as an order of its own, the person
who split it is on both timelines, its earlier events stay, and it cannot be split twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.console_support import console_session
from tests.support import order_payload

pytestmark = pytest.mark.integration


def wait_for(fn, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := fn():
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def merged_pair(http: httpx.Client) -> tuple[str, str]:
    """(anchor, duplicate): the same phone and SKU three minutes apart; the anchor still open."""
    now = datetime.now(UTC) - timedelta(minutes=2)
    first, second = order_payload(ordered_at=now.isoformat()), order_payload(ordered_at=(now + timedelta(minutes=3)).isoformat())
    second["customer"]["phone"] = first["customer"]["phone"]
    r1 = http.post("/v1/orders?wait=true", json=first)  # its intake done: the first to be checked is the anchor
    r2 = http.post("/v1/orders?wait=true", json=second)
    assert r1.status_code in (200, 202) and r2.status_code == 200 and r2.json()["status"] == "merged", r2.text
    dup = r2.json()["order_id"]
    wait_for(lambda: http.get(f"/v1/orders/{dup}").json().get("merged_into") == r1.json()["order_id"])
    return r1.json()["order_id"], dup


def test_a_merged_duplicate_is_split_back_out_by_the_signed_in_person(stack):
    person = console_session(stack.api_url, stack.api_key, "customer_service")
    me = person["user"]["username"]
    with stack.http() as http, httpx.Client(base_url=stack.api_url, timeout=30,
                                            headers={"Authorization": f"Bearer {person['token']}"}) as kf:
        anchor, dup = merged_pair(http)
        before = [e["event"] for e in http.get(f"/v1/orders/{dup}").json()["timeline"]]
        assert "duplicate.merged_into" in before

        claimed = kf.post(f"/v1/orders/{dup}/unmerge", json={"note": "不同车辆, 客户确认两单", "actor": "someone-else"})
        assert claimed.status_code == 403  # the actor is the signed-in person
        r = kf.post(f"/v1/orders/{dup}/unmerge", json={"note": "不同车辆, 客户确认两单"})
        assert r.status_code == 202, r.text
        assert r.json()["unmerged_from"] == anchor and r.json()["actor"] == me

        # the release window keeps it open for a while; routed is where an order of its own gets to at once
        view = wait_for(lambda: (v := http.get(f"/v1/orders/{dup}").json())["status"] == "routed" and v)
        assert view["merged_into"] is None
        events = [(e["event"], e["actor"]) for e in view["timeline"]]
        names = [e for e, _ in events]
        assert names.index("duplicate.merged_into") < names.index("order.unmerged") < names.index("order.routed")
        assert ("order.unmerged", me) in events and names.count("order.received") == 1  # the first run's arrival, once
        seqs = [e["seq"] for e in view["timeline"] if e.get("source", "") == ""]
        assert len(seqs) == len(set(seqs))  # the new run's events come after the first run's
        unmerged = next(e for e in view["timeline"] if e["event"] == "order.unmerged")
        assert "不同车辆" in unmerged["reason"] and unmerged["data"]["anchor"] == anchor
        def listed_status() -> str:  # the read model, one projection behind the live view
            items = http.get("/v1/orders", params={"customer_id": view["customer_id"]}).json()["items"]
            return next(o for o in items if o["order_id"] == dup)["status"]

        assert wait_for(lambda: listed_status() == "routed")

        a = wait_for(lambda: (v := http.get(f"/v1/orders/{anchor}").json()) and any(
            e["event"] == "duplicate.unmerged" for e in v["timeline"]) and v)  # the anchor is still in its release window
        assert dup not in (a.get("merged_duplicates") or [])
        assert any(e["event"] == "duplicate.unmerged" and e["actor"] == me and dup in e["reason"] for e in a["timeline"])

        again = kf.post(f"/v1/orders/{dup}/unmerge", json={})
        assert again.status_code == 409 and "未被合并" in again.json()["detail"]
        assert kf.post(f"/v1/orders/{anchor}/unmerge", json={}).status_code == 409
        assert kf.post("/v1/orders/order-miniprogram-NOPE/unmerge", json={}).status_code == 404
