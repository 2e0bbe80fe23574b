"""After release, in real time on the dev server: the order's fulfilment part and its parcel wait idle
through their durable timers — the customer's confirmation window (a reminder), its grace (a review
task for a person), the parcel's silence in transit (two stall alerts, each a review), the aftersales
window after signing — and the order still completes, every history replaying. The pieces are the
real ones (dev server, our worker and API over HTTP, SQLite, the fake carriers and mini-program);
the order's own history holds the confirmation and aftersales timers, the parcel's its stall timers;
timers of seconds keep it to about a minute."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio

from domain import geo
from domain.contracts import shipment as SH
from tests.channel_support import timers_fired
from tests.fulfilment_stack import DEVICE, SERVICE, fulfilment_stack, wait_for
from tests.support import order_payload
from tests.workflow_helpers import replay_fails

CONFIRM_WINDOW_H = 3 / 3600  # 3 s, then the reminder; 3 s more, then a review task
TRANSIT_ALERT_H = 4 / 3600  # 4 s without a tracking event in transit: a stall alert
AFTERSALES_DAYS = 5 / 86400  # 5 s after signing the order completes


@pytest_asyncio.fixture(loop_scope="session")
async def rt_stack(dev_env, tmp_path, fake_wecom):
    async with fulfilment_stack(
            dev_env, tmp_path / "var", fake_wecom, name="rt-fulfil", database_url=f"sqlite:///{tmp_path / 'rt.db'}", stock=50,
            confirm_window_hours=CONFIRM_WINDOW_H, confirm_grace_hours=CONFIRM_WINDOW_H, transit_alert_hours=TRANSIT_ALERT_H,
            aftersales_window_days=AFTERSALES_DAYS) as s:
        yield s.api_url, s.carriers_url, s.mini_url


async def test_part_and_parcel_live_through_their_idle_timers_and_the_order_completes(rt_stack, dev_env):
    api_url, carriers_url, mini_url = rt_stack
    api = httpx.Client(base_url=api_url, headers={"X-API-Key": SERVICE}, timeout=30)
    device = httpx.Client(base_url=api_url, headers={"X-API-Key": DEVICE}, timeout=30)
    r = api.post("/v1/orders", json=order_payload(ordered_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                                                  customer={"id": f"SHOP-RT-{uuid.uuid4().hex[:6]}", "name": "实时",
                                                            "phone": "13812345678"}))
    assert r.status_code == 202, r.text
    oid = r.json()["order_id"]

    def view():
        got = api.get(f"/v1/orders/{oid}")
        return got.json() if got.status_code == 200 else {}

    def events():
        return [e["event"] for e in view().get("timeline", [])]

    row = wait_for("picking", lambda: (v := view()).get("status") == "picking" and v)
    task = wait_for("a task", lambda: (c := device.post(f"/v1/warehouse/{row['parts'][0]['warehouse']}/claim",
                                                        json={"device_id": "MC33-RT", "picker": "小张"})).status_code == 200
                    and c.json())
    assert device.post(f"/v1/warehouse/{row['parts'][0]['warehouse']}/tasks/{task['task_id']}/confirm",
                       json={"picked_qty": task["quantity"], "device_id": "MC33-RT", "picker": "小张"}).status_code == 200

    # the customer does not answer: the window's timer sends a reminder, the grace's timer asks a person
    wait_for("the reminder", lambda: "address.reminder_sent" in events(), timeout=30)
    review = wait_for("an address review", lambda: next((t for t in view().get("reviews", [])
                                                          if t["kind"] == "address" and t["state"] == "open"), None), timeout=30)
    assert review["reason"]
    cards = httpx.get(f"{mini_url}/_control/cards", params={"order_id": oid}).json()["items"]
    assert len(cards) == 2  # the first card and the reminder
    c = geo.centroid(view()["address"]["adcode"])
    ok = httpx.post(cards[-1]["url"] + "/confirm", json={"lat": c.lat, "lng": c.lng}, timeout=30)
    assert ok.status_code == 200 and ok.json()["accepted"] is True, ok.text

    # the parcel is silent in transit: its timer raises a stall alert, and again after as long
    row = wait_for("shipped", lambda: (v := view()).get("status") == "shipped" and v)
    part_id = row["parts"][0]["part_id"]
    sid = SH.shipment_id(part_id, 1)
    shipment = dev_env.client.get_workflow_handle(sid)
    sv, deadline = None, time.monotonic() + 40
    while time.monotonic() < deadline:
        sv = await shipment.query(SH.STATE.name, result_type=SH.ShipmentView)
        if sv.shipment is not None and len([a for a in sv.shipment.alerts if a.kind == "stalled"]) >= 2:
            break
        await asyncio.sleep(0.5)
    assert sv is not None and sv.shipment is not None
    assert len([a for a in sv.shipment.alerts if a.kind == "stalled"]) >= 2, sv.shipment.alerts
    wb = sv.shipment.waybill.waybill_no
    for code, where in (("collected", "杭州萧山"), ("signed", "萧山北干街道")):
        pushed = httpx.post(f"{carriers_url}/control/push", json={"waybill_no": wb, "code": code, "location": where}, timeout=30)
        assert pushed.status_code == 200, pushed.text

    # signed: idle through the aftersales window, then completed
    wait_for("delivered", lambda: view().get("status") in ("delivered", "completed"))
    wait_for("completed", lambda: view().get("status") == "completed", timeout=30)
    order = dev_env.client.get_workflow_handle(oid)
    await order.result()
    histories = [await dev_env.client.get_workflow_handle(w).fetch_history() for w in (oid, part_id, sid)]
    fired = [timers_fired(h) for h in histories]
    assert fired[0] >= 3 and fired[2] >= 2, fired  # reminder, grace, aftersales window; two stalls in transit
    for h in histories:
        assert await replay_fails(h) is None
