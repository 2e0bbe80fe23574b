"""The order workflow pushes each accepted order to the ERP beside its own progress and records the
ERP document number; an ERP outage delays the push, never routing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio.worker import Worker

from activities.channels import ChannelActivities
from domain.policy import FulfilmentPolicy, OrderPolicy
from domain.status import OrderStatus
from fakes import erp as fake_erp
from fakes.serve import serve_in_thread
from store import read_model, risk_data
from store.db import engine_for
from tests.support import order_payload
from tests.workflow_helpers import keep_history, replay_fails, result_of, start_order, until
from workers.order_worker import WORKFLOWS, activities_for
from zhongshu.settings import Settings


@pytest.fixture(scope="module")
def erp_server():
    server = serve_in_thread(fake_erp.create_app())
    yield server
    server.stop()


async def test_order_is_pushed_to_the_erp_and_survives_an_outage(ts_env, task_queue, sqlite_session_url, erp_server, tmp_path):
    engine = engine_for(sqlite_session_url)
    risk_data.seed_defaults(engine)
    settings = Settings(var_dir=tmp_path, database_url=sqlite_session_url, erp_url=erp_server.url,
                        erp_app_id=fake_erp.CLIENT_ID, erp_app_secret=fake_erp.CLIENT_SECRET)
    state = erp_server._server.config.app.state.erp
    state.down = True
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*activities_for(engine, "", settlement_url=""), *ChannelActivities(engine, settings).all()],
        activity_executor=ThreadPoolExecutor(8),
    ):
        h = await start_order(ts_env.client, task_queue, order_payload())
        st = await until(h, lambda s: s.status == OrderStatus.ROUTED)  # routed while the ERP is down
        assert st.erp_doc_no is None
        state.down = False
        result = await result_of(h)
    assert result.status == OrderStatus.COMPLETED and result.erp_doc_no
    pushed = next(e for e in result.timeline if e.event == "erp.pushed")
    assert pushed.data["doc_no"] == result.erp_doc_no
    assert read_model.get_order(engine, result.order_id)["erp_doc_no"] == result.erp_doc_no
    saved = httpx.get(f"{erp_server.url}/_control/saved").json()["items"]
    assert len([s for s in saved if s["order_id"] == result.order_id]) == 1  # retries never made a second bill
    await keep_history(h, "erp_push_after_outage")


@asynccontextmanager
async def _order_while_the_erp_is_down(client, task_queue, sqlite_session_url, erp_server, tmp_path):
    """Our worker with the real activities, the fake ERP down, and one order with fulfilment on (no
    warehouse, no confirmation, no shipping); yields the order's handle and the ERP's switch."""
    engine = engine_for(sqlite_session_url)
    risk_data.seed_defaults(engine)
    settings = Settings(var_dir=tmp_path, database_url=sqlite_session_url, erp_url=erp_server.url,
                        erp_app_id=fake_erp.CLIENT_ID, erp_app_secret=fake_erp.CLIENT_SECRET)
    state = erp_server._server.config.app.state.erp
    state.down = True
    policy = OrderPolicy(fulfilment=FulfilmentPolicy(warehouse=False, confirm_address=False, ship=False))
    try:
        async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS,
                          activities=[*activities_for(engine, "", settlement_url=""), *ChannelActivities(engine, settings).all()],
                          activity_executor=ThreadPoolExecutor(8)):
            yield await start_order(client, task_queue, order_payload(), policy), state  # 30 minutes old: released at once
    finally:
        state.down = False


async def test_an_erp_outage_never_holds_the_warehouse(dev_env, task_queue, sqlite_session_url, erp_server, tmp_path):
    """With fulfilment on, the order goes through its stages while the ERP is down; only `completed`
    waits for the push (completed means the ERP has the order too). On the dev server, as in CI on
    2026-12-02 when this history did not replay (the projection was a local activity then)."""
    async with _order_while_the_erp_is_down(dev_env.client, task_queue, sqlite_session_url, erp_server, tmp_path) as (h, erp):
        st = await until(h, lambda s: s.status == OrderStatus.PACKED)  # past the warehouse, ERP still down
        assert st.erp_doc_no is None
        erp.down = False
        await h.result()
        assert await replay_fails(await h.fetch_history()) is None  # its whole history replays
        result = await result_of(h)
    assert result.status == OrderStatus.COMPLETED and result.erp_doc_no
    events = [e.event for e in result.timeline]
    assert events.index("order.packed") < events.index("erp.pushed") < events.index("order.completed")


@pytest.mark.parametrize("run", range(8))
async def test_a_flush_beside_a_query_and_a_part_report_replays(run, ts_env, task_queue, sqlite_session_url,
                                                                 erp_server, tmp_path):
    """The state query polled while the order flushes and its part reports: with the projection a
    local activity this history failed to replay in about one run in three on the time-skipping
    server (its result reached the live run one task late, beside the report; README, limits)."""
    async with _order_while_the_erp_is_down(ts_env.client, task_queue, sqlite_session_url, erp_server, tmp_path) as (h, erp):
        await until(h, lambda s: s.status == OrderStatus.PACKED, timeout=60)
        erp.down = False
        await h.result()
        assert await replay_fails(await h.fetch_history()) is None
