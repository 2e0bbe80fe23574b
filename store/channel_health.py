"""Channel health, delivery versions and processed push messages in the read model.

* ``record_sync_report`` / ``record_watch_report`` — the projection of a sync / watchdog workflow's
  health: keyed by account and the report's ``seq``, so an activity retry (or an older report
  arriving late) changes nothing and never counts a poll's orders twice.
* ``claim_version`` — compare-and-set of the channel's version of an order: an older copy never wins
  (atomic on SQLite and PostgreSQL), so of two racing deliveries the older one loses; the very copy
  the order has again (same version, same contents) is a duplicate.
* ``processed_message`` / ``remember_message`` — a push message id already processed is a replay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, case, false, func, or_, select, update

from domain.channels.health import SyncHealthReport, WatchHealthReport, beijing_day
from domain.redelivery import DeliveryVersion
from store.read_model import _insert, _utc
from store.schema import channel_health, channel_versions, orders, webhook_attempts, webhook_messages


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = _utc(v)
    return d


def record_sync_report(engine: Engine, r: SyncHealthReport) -> bool:
    """Upsert the account's row from a sync report; False when this (or a later) report was applied."""
    day = beijing_day(r.at)
    row = {
        "account_id": r.account_id, "channel": r.channel, "kind": "sync", "state": r.state.value,
        "state_since": r.state_since, "workflow_id": r.workflow_id, "seq": r.seq,
        "interval_seconds": r.interval_seconds, "stall_after_seconds": r.stall_after_seconds,
        "last_poll_at": r.last_poll_at, "last_success_at": r.last_success_at, "last_error": r.last_error,
        "consecutive_errors": r.consecutive_errors, "cursor": r.cursor, "backlog_trades": r.backlog_trades,
        "imported_day": day, "imported_today": r.created, "pushes": 0, "typical_gap_seconds": None,
        "updated_at": datetime.now(UTC),
    }
    t = channel_health.c
    with engine.begin() as conn:
        ins = _insert(engine, channel_health).values(**row)
        res = conn.execute(ins.on_conflict_do_update(
            index_elements=[t.account_id],
            set_={**{k: ins.excluded[k] for k in row if k not in ("account_id", "imported_today")},
                  "imported_today": case((t.imported_day == day, t.imported_today + r.created), else_=r.created)},
            where=t.seq < ins.excluded.seq,
        ).returning(t.account_id))
        return res.first() is not None


def record_watch_report(engine: Engine, r: WatchHealthReport) -> bool:
    row = {
        "account_id": r.account_id, "channel": r.channel, "kind": "webhook", "state": r.state.value,
        "state_since": r.state_since, "workflow_id": r.workflow_id, "seq": r.seq, "interval_seconds": None,
        "stall_after_seconds": r.silence_after_seconds, "last_poll_at": None, "last_success_at": r.last_push_at,
        "last_error": None, "consecutive_errors": 0, "cursor": None, "backlog_trades": 0, "imported_day": None,
        "imported_today": 0, "pushes": r.pushes, "typical_gap_seconds": r.typical_gap_seconds,
        "updated_at": datetime.now(UTC),
    }
    t = channel_health.c
    with engine.begin() as conn:
        ins = _insert(engine, channel_health).values(**row)
        res = conn.execute(ins.on_conflict_do_update(
            index_elements=[t.account_id], set_={k: ins.excluded[k] for k in row if k != "account_id"},
            where=t.seq < ins.excluded.seq).returning(t.account_id))
        return res.first() is not None


def health_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(channel_health).order_by(channel_health.c.account_id))]


def orders_created_since(engine: Engine, since: datetime) -> dict[str, int]:
    """Orders received per channel since ``since`` (for pushed channels: one account per channel)."""
    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.channel, func.count()).where(orders.c.created_at >= since)
                            .group_by(orders.c.channel))
        return {ch: int(n) for ch, n in rows}


def last_authentic_push(engine: Engine, channel: str) -> datetime | None:
    """When the channel last pushed us something genuine (signature good, not stale) — what the API
    saw itself, for a pushed channel whose watchdog has not reported (yet)."""
    t = webhook_attempts.c
    with engine.connect() as conn:
        r = conn.execute(select(t.received_at).where(t.channel == channel, t.outcome.notin_(("bad_signature", "stale")))
                         .order_by(t.received_at.desc()).limit(1)).first()
    return _utc(r.received_at) if r is not None else None


# ---------------------------------------------------------------------------------------- versions


def stored_version(engine: Engine, order_id: str) -> DeliveryVersion | None:
    with engine.connect() as conn:
        r = conn.execute(select(channel_versions).where(channel_versions.c.order_id == order_id)).first()
    if r is None:
        return None
    return DeliveryVersion(updated_at=_utc(r.channel_updated_at), version=r.version)


class Claim(StrEnum):
    NEW = "new"  # the first copy, a newer one, or the same version with other contents: tell the order
    DUPLICATE = "duplicate"  # the very copy the order has (same version, same contents): nothing to tell
    OLDER = "older"  # older than what the order has: never applied


def claim_version(engine: Engine, order_id: str, channel: str, v: DeliveryVersion, content_sha256: str | None = None) -> Claim:
    """Record ``v`` (and the copy's content digest) as the order's channel version unless the stored
    one is newer. Atomic: of two racing deliveries, the older cannot overwrite the newer. The same
    version with other contents is NEW (two edits within the channel's time resolution — Tmall's
    ``modified`` is whole seconds — must both reach the order); with the same contents it is a
    DUPLICATE (an overlapping sync window re-reading it)."""
    t = channel_versions.c
    values = {"channel_updated_at": v.updated_at, "version": v.version, "content_sha256": content_sha256,
              "recorded_at": datetime.now(UTC)}
    if v.version is not None:
        not_older, same = or_(t.version.is_(None), t.version <= v.version), t.version == v.version
    elif v.updated_at is not None:
        not_older = and_(t.version.is_(None), or_(t.channel_updated_at.is_(None), t.channel_updated_at <= v.updated_at))
        same = and_(t.version.is_(None), t.channel_updated_at == v.updated_at)
    else:
        return Claim.NEW
    identical = and_(same, t.content_sha256 == content_sha256) if content_sha256 else false()
    with engine.begin() as conn:
        ins = _insert(engine, channel_versions).values(order_id=order_id, channel=channel, **values)
        if conn.execute(ins.on_conflict_do_nothing(index_elements=[t.order_id]).returning(t.order_id)).first():
            return Claim.NEW
        res = conn.execute(update(channel_versions).where(t.order_id == order_id, not_older, ~identical)
                           .values(**values).returning(t.order_id))
        if res.first() is not None:
            return Claim.NEW
        dup = conn.execute(select(t.order_id).where(t.order_id == order_id, identical)).first()
        return Claim.DUPLICATE if dup is not None else Claim.OLDER


# ---------------------------------------------------------------------------------------- messages


def processed_message(engine: Engine, channel: str, msg_id: str) -> dict[str, Any] | None:
    """The processed message with this id (a replay), counting the replay; None when it is new."""
    t = webhook_messages.c
    with engine.begin() as conn:
        res = conn.execute(update(webhook_messages).where(t.channel == channel, t.msg_id == msg_id)
                           .values(replays=t.replays + 1).returning(t.msg_id))
        if res.first() is None:
            return None
        r = conn.execute(select(webhook_messages).where(t.channel == channel, t.msg_id == msg_id)).first()
        return _row(r) if r is not None else None


def remember_message(engine: Engine, channel: str, msg_id: str, outcome: str, result: dict[str, Any]) -> None:
    """Record a processed message and what it was answered (only after it was processed: a message
    whose processing failed is re-sent by the platform with the same id and must then be processed)."""
    with engine.begin() as conn:
        ins = _insert(engine, webhook_messages).values(channel=channel, msg_id=msg_id, received_at=datetime.now(UTC),
                                                       outcome=outcome, result=result, replays=0)
        conn.execute(ins.on_conflict_do_nothing(index_elements=[webhook_messages.c.channel, webhook_messages.c.msg_id]))
