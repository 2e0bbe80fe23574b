"""The audit log (issue 13): every human and credentialed action — who, role, when, what, from which
address, with what result. Written by the API (api/audit.py) and the CLI, read by admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from store.schema import audit_log


def _storable(text: str | None, limit: int) -> str | None:
    """Cut to the column's width; a NUL (which PostgreSQL text cannot hold) written as ``\\x00``,
    so a login typed with one is still on the record."""
    return (text or "").replace("\x00", "\\x00")[:limit] or None


def record(engine: Engine, *, actor: str, role: str, kind: str, action: str, status: int, target: str | None = None,
           client_ip: str | None = None, detail: str | None = None, at: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(audit_log.insert(), dict(  # parameters, not .values(): one cached statement
            at=at or datetime.now(UTC), actor=_storable(actor, 80) or "", role=_storable(role, 20) or "",
            kind=_storable(kind, 10) or "", action=_storable(action, 120) or "", target=_storable(target, 300),
            client_ip=_storable(client_ip, 64), status=status, detail=_storable(detail, 2000)))


def query(engine: Engine, *, actor: str | None = None, action: str | None = None, since: datetime | None = None,
          until: datetime | None = None, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    q = select(audit_log)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if action:
        q = q.where(audit_log.c.action.contains(action, autoescape=True))
    if since:
        q = q.where(audit_log.c.at >= since)
    if until:
        q = q.where(audit_log.c.at < until)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        rows = conn.execute(q.order_by(audit_log.c.id.desc()).limit(limit).offset(offset))
        items = []
        for r in rows:
            d = dict(r._mapping)
            if d["at"].tzinfo is None:
                d["at"] = d["at"].replace(tzinfo=UTC)
            items.append(d)
    return total, items
