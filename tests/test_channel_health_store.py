"""The channel health tables on SQLite and PostgreSQL: a retried or late report never counts twice,
orders imported today restart on the Beijing day, the channel version is compare-and-set (an older
copy never wins), and a processed push message id is recognised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.channels.health import HealthState, SyncHealthReport, WatchHealthReport
from domain.redelivery import DeliveryVersion
from store.channel_health import (
    Claim,
    claim_version,
    health_rows,
    processed_message,
    record_sync_report,
    record_watch_report,
    remember_message,
    stored_version,
)

T0 = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 Beijing, New Year's Eve


def report(seq: int, at: datetime, created: int, **kw) -> SyncHealthReport:
    return SyncHealthReport(account_id="tmall-x", channel="tmall", workflow_id="channel-sync-tmall-x", seq=seq,
                            state=kw.pop("state", HealthState.RUNNING), state_since=T0, at=at, interval_seconds=30,
                            stall_after_seconds=90, last_poll_at=at, last_success_at=at, cursor=at - timedelta(seconds=2),
                            created=created, **kw)


def test_sync_reports_count_once_and_restart_on_the_beijing_day(engine):
    assert record_sync_report(engine, report(1, T0, 3))
    assert not record_sync_report(engine, report(1, T0, 3))  # the activity retried: nothing counted twice
    assert record_sync_report(engine, report(2, T0 + timedelta(minutes=10), 2))
    assert not record_sync_report(engine, report(2, T0, 9))  # an older report arriving late changes nothing
    [row] = health_rows(engine)
    assert row["imported_day"] == "2026-12-31" and row["imported_today"] == 5 and row["seq"] == 2
    # 00:10 Beijing on 1 January: a new day starts at this poll's orders
    assert record_sync_report(engine, report(3, T0 + timedelta(minutes=40), 1, state=HealthState.FAILED,
                                             last_error="tmall: error 25 Invalid signature", consecutive_errors=1))
    [row] = health_rows(engine)
    assert row["imported_day"] == "2027-01-01" and row["imported_today"] == 1
    assert row["state"] == "failed" and "Invalid signature" in row["last_error"] and row["kind"] == "sync"
    assert row["last_success_at"] == T0 + timedelta(minutes=40)


def test_watch_reports_by_seq(engine):
    w = WatchHealthReport(account_id="douyin", channel="douyin", workflow_id="channel-watchdog-douyin", seq=1,
                          state=HealthState.LEARNING, state_since=T0, at=T0, last_push_at=T0, pushes=1)
    assert record_watch_report(engine, w)
    assert record_watch_report(engine, w.model_copy(update={"seq": 2, "state": HealthState.SILENT, "pushes": 9,
                                                           "silence_after_seconds": 1800.0}))
    assert not record_watch_report(engine, w.model_copy(update={"seq": 2}))
    [row] = health_rows(engine)
    assert row["state"] == "silent" and row["pushes"] == 9 and row["stall_after_seconds"] == 1800.0


def test_channel_version_is_compare_and_set(engine):
    v1, v2 = DeliveryVersion(updated_at=T0), DeliveryVersion(updated_at=T0 + timedelta(seconds=10))
    assert stored_version(engine, "order-douyin-1") is None
    assert claim_version(engine, "order-douyin-1", "douyin", v1, "a") == Claim.NEW
    assert claim_version(engine, "order-douyin-1", "douyin", v2, "b") == Claim.NEW
    assert claim_version(engine, "order-douyin-1", "douyin", v1, "a") == Claim.OLDER  # the late copy loses
    assert claim_version(engine, "order-douyin-1", "douyin", v2, "b") == Claim.DUPLICATE  # the very same copy
    assert claim_version(engine, "order-douyin-1", "douyin", v2, "c") == Claim.NEW  # same second, other contents
    assert claim_version(engine, "order-douyin-1", "douyin", v2, "c") == Claim.DUPLICATE
    assert claim_version(engine, "order-douyin-1", "douyin", v2) == Claim.NEW  # no digest: cannot tell, tell the order
    assert stored_version(engine, "order-douyin-1").updated_at == v2.updated_at
    assert claim_version(engine, "order-x-2", "x", DeliveryVersion(version=3), "a") == Claim.NEW
    assert claim_version(engine, "order-x-2", "x", DeliveryVersion(version=2), "b") == Claim.OLDER
    assert stored_version(engine, "order-x-2").version == 3


def test_a_processed_message_id_is_recognised(engine):
    assert processed_message(engine, "douyin", "m-1") is None  # new
    remember_message(engine, "douyin", "m-1", "created", {"order_ids": ["order-douyin-1"], "rejection_ids": []})
    remember_message(engine, "douyin", "m-1", "created", {"order_ids": ["other"]})  # twice: the first stays
    first = processed_message(engine, "douyin", "m-1")
    assert first["result"]["order_ids"] == ["order-douyin-1"] and first["replays"] == 1
    assert processed_message(engine, "miniprogram", "m-1") is None  # per channel


def test_migration_0009_matches_the_schema_and_downgrades(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from store.db import MIGRATIONS, engine_for
    from store.schema import metadata

    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine_for(url)
    command.upgrade(cfg, "head")
    tables = ("channel_health", "channel_versions", "webhook_messages")
    insp = inspect(engine_for(url))
    for name in tables:
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in metadata.tables[name].columns}, name
    command.downgrade(cfg, "0008")
    assert not set(tables) & set(inspect(engine_for(url)).get_table_names())
    command.upgrade(cfg, "head")
