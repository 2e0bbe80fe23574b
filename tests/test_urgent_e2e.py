"""加急 over real HTTP against the real pieces (dev server, worker, API, PostgreSQL, fake partners): an
order waits in its warehouse's open wave (30 orders, no cut-off); a person marks it urgent; the API
tells the wave, which closes at once with the order's pick line marked ⚡加急."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from tests.fulfilment_stack import REVIEWER, fulfilment_stack, wait_for
from tests.support import order_payload

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ustack(dev_env, tmp_path_factory, fake_wecom):
    """Waves of 30 orders with no cut-off and a packer: an order waits in its open wave."""
    async with fulfilment_stack(dev_env, tmp_path_factory.mktemp("var"), fake_wecom, name="urgent", wave_size=30,
                                wave_auto_pack=False) as s:
        yield s


def test_marking_an_order_urgent_closes_its_open_wave_and_marks_its_pick_line(ustack):
    with ustack.http() as api, ustack.http(REVIEWER) as reviewer:
        r = api.post("/v1/orders", json=order_payload(ordered_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
        assert r.status_code == 202, r.text
        oid = r.json()["order_id"]

        def joined():
            o = api.get(f"/v1/orders/{oid}").json()
            return o.get("status") == "picking" and any(e["event"] == "order.wave_joined" for e in o.get("timeline", [])) and o

        warehouse = wait_for("the order in its open wave", joined)["warehouse"]
        assert not [w for w in api.get("/v1/waves", params={"warehouse": warehouse}).json()["items"]
                    if oid in w.get("order_ids", [])], "30 orders or a cut-off close it: neither has come"

        r = reviewer.post(f"/v1/orders/{oid}/marks", json={"kind": "urgent"})
        assert r.status_code == 201, r.text
        assert r.json()["marks"]["urgent"] is True and r.json()["waves_told"] == [warehouse], r.json()

        wave = wait_for("the wave closed", lambda: next(
            (w for w in api.get("/v1/waves", params={"warehouse": warehouse}).json()["items"] if oid in w.get("order_ids", [])), None))
        assert wave["close_reason"] == "urgent"
        assert wave["closed_at"].endswith(("Z", "+00:00")), "times say their zone, as the orders' do"
        picks = api.get(f"/v1/waves/{wave['wave_id']}/picklist.json").json()
        assert picks["order_ids"] == [oid] and picks["instructions"][0]["notes"][0] == "⚡加急", picks
        printed = api.get(f"/v1/waves/{wave['wave_id']}/picklist.html")
        assert printed.status_code == 200 and "⚡加急" in printed.text  # the printed pick list says it too
