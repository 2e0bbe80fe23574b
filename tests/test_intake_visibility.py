"""An accepted order is visible in the read model at once (status received), even while no worker has
picked its workflow up yet — the intake bar is 'visible < 1 s at p99', whatever the worker's backlog.
The workflow's own first projection supersedes that row and is never overwritten by it."""

from __future__ import annotations

import uuid

import pytest

from activities.channels import accept_payload
from api import intake
from domain.order import OrderSubmission
from domain.state import OrderState
from domain.status import OrderStatus
from store import read_model
from store.db import engine_for, migrate
from tests.support import order_payload
from zhongshu.settings import Settings


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    return engine_for(db_url)


async def test_accepted_orders_are_visible_before_any_worker_runs(dev_env, engine, monkeypatch):
    settings = Settings(task_queue=f"nobody-listens-{uuid.uuid4().hex[:6]}", fulfilment=False)
    monkeypatch.setattr(intake, "ADMISSION_WAIT_SECONDS", 0.3)
    via_api = await intake.submit(dev_env.client, engine, settings, order_payload())
    assert via_api.http_status == 202 and via_api.body["status"] == "received"
    via_channel = await accept_payload(dev_env.client, engine, settings, order_payload(), source="webhook:douyin")
    assert via_channel.outcome == "created"
    try:
        for oid in (via_api.body["order_id"], via_channel.order_id):
            row = read_model.get_order(engine, oid)
            assert row is not None and row["status"] == "received" and row["last_seq"] == 0
    finally:
        for oid in (via_api.body["order_id"], via_channel.order_id):
            await dev_env.client.get_workflow_handle(oid).terminate("test over: no worker on this queue")


def test_the_workflows_projection_wins_over_the_received_row(engine):
    sub = OrderSubmission.model_validate(order_payload())
    read_model.record_received(engine, sub)
    later = OrderState(order_id=sub.order_id, status=OrderStatus.VALIDATED, submission=sub,
                       created_at=sub.ordered_at, updated_at=sub.ordered_at,
                       timeline=[{"seq": 1, "at": sub.ordered_at, "event": "order.received", "status": "received", "actor": "api"},
                                 {"seq": 2, "at": sub.ordered_at, "event": "order.validated", "status": "validated", "actor": "system"}])
    read_model.project_order(engine, later)
    read_model.record_received(engine, sub)  # a late re-delivery must not move it back
    row = read_model.get_order(engine, sub.order_id)
    assert row["status"] == "validated" and row["last_seq"] == 2
