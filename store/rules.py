"""Routing rule versions: every imported workbook becomes a new immutable version; one is active.

Orders record the version that decided them, so a version is never edited or deleted: importing
validates the whole workbook first (nothing half-imported) and stores its bytes, sha256 and parsed
JSON; activating is a separate, explicit step. Because versions are immutable, ``load`` caches the
parsed RuleSet per (database, version) in-process, and routing never reads the database per rule.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from domain.default_rules import DEFAULT_RULES_PATH, build_default_rules
from domain.routing import compiled
from domain.routing_rules import RuleSet, RuleSetDiff, diff_rule_sets, export_workbook, parse_workbook
from store.schema import rule_versions

_CACHE: dict[tuple[str, int], RuleSet] = {}
_CACHE_LOCK = threading.Lock()
_RETRIES = 5


class RuleVersionInfo(BaseModel):
    version: int
    created_at: datetime
    created_by: str
    source_filename: str
    sha256: str
    active: bool
    activated_at: datetime | None


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _insert(engine: Engine, rule_set: RuleSet, data: bytes, filename: str, created_by: str, version: int | None = None) -> int:
    row = {
        "created_at": datetime.now(UTC),
        "created_by": created_by,
        "source_filename": filename,
        "sha256": hashlib.sha256(data).hexdigest(),
        "ruleset": rule_set.model_dump(mode="json", by_alias=True),
        "workbook": data,
        "active": False,
        "activated_at": None,
    }
    for attempt in range(_RETRIES):
        try:
            with engine.begin() as conn:
                v = version or (conn.execute(select(func.max(rule_versions.c.version))).scalar() or 0) + 1
                conn.execute(rule_versions.insert().values(version=v, **row))
                return v
        except IntegrityError:
            if version is not None or attempt == _RETRIES - 1:
                raise  # a concurrent import took the number; retry with the next one
    raise AssertionError("unreachable")


def import_rules(engine: Engine, data: bytes, filename: str, created_by: str) -> int:
    """Validate the workbook (RulesWorkbookError lists every bad cell) and store it as a new,
    inactive version; returns the version number."""
    rule_set = parse_workbook(data)
    compiled(rule_set)  # zen accepts the decision table now, not at the first order
    return _insert(engine, rule_set, data, filename, created_by)


def activate(engine: Engine, version: int) -> None:
    """Make ``version`` the one routing uses (the previous active version is deactivated)."""
    for attempt in range(_RETRIES):
        try:
            with engine.begin() as conn:
                conn.execute(update(rule_versions).where(rule_versions.c.active.is_(True)).values(active=False))
                done = conn.execute(
                    update(rule_versions)
                    .where(rule_versions.c.version == version)
                    .values(active=True, activated_at=datetime.now(UTC))
                )
                if done.rowcount != 1:
                    raise LookupError(f"rule version {version} does not exist")
                return
        except IntegrityError:  # a concurrent activation won the unique "one active" index; try again
            if attempt == _RETRIES - 1:
                raise


def active_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(rule_versions.c.version).where(rule_versions.c.active.is_(True))).scalar()


def version_to_pin(engine: Engine) -> int:
    """The version a new order is pinned to: the active one (the shipped default workbook if none
    was imported yet)."""
    version = active_version(engine)
    if version is None:
        version = ensure_default(engine)
    if version is None:
        raise RuntimeError("no routing rules version is active; import one with `zhongshu rules import`")
    return version


def load(engine: Engine, version: int) -> RuleSet:
    """The RuleSet of ``version`` (with ``.version`` set); cached, versions never change."""
    key = (engine.url.render_as_string(hide_password=True), version)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    with engine.connect() as conn:
        data = conn.execute(select(rule_versions.c.ruleset).where(rule_versions.c.version == version)).scalar()
    if data is None:
        raise LookupError(f"rule version {version} does not exist")
    rule_set = RuleSet.model_validate({**data, "version": version})
    with _CACHE_LOCK:
        return _CACHE.setdefault(key, rule_set)


def load_active(engine: Engine) -> RuleSet | None:
    v = active_version(engine)
    return None if v is None else load(engine, v)


def list_versions(engine: Engine) -> list[RuleVersionInfo]:
    cols = [c for c in rule_versions.c if c.name not in ("ruleset", "workbook")]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(rule_versions.c.version.desc())).mappings().all()
    return [
        RuleVersionInfo(**{**r, "created_at": _utc(r["created_at"]), "activated_at": _utc(r["activated_at"])}) for r in rows
    ]


def export(engine: Engine, version: int) -> bytes:
    """The workbook exactly as it was imported (operations' formatting and comments kept)."""
    with engine.connect() as conn:
        data = conn.execute(select(rule_versions.c.workbook).where(rule_versions.c.version == version)).scalar()
    if data is None:
        raise LookupError(f"rule version {version} does not exist")
    return bytes(data)


def diff(engine: Engine, v1: int, v2: int) -> RuleSetDiff:
    """What changed from v1 to v2, per sheet (rows added/removed/changed), for the console."""
    return diff_rule_sets(load(engine, v1), load(engine, v2))


def ensure_default(engine: Engine) -> int | None:
    """On an empty table, import and activate rules/default_rules.xlsx as version 1 (safe to race);
    returns the active version."""
    with engine.connect() as conn:
        exists = conn.execute(select(func.count()).select_from(rule_versions)).scalar()
    if not exists:
        path = DEFAULT_RULES_PATH
        data = path.read_bytes() if path.exists() else export_workbook(build_default_rules())
        try:
            _insert(engine, parse_workbook(data), data, path.name, "system", version=1)
            if active_version(engine) is None:
                activate(engine, 1)
        except IntegrityError:
            pass  # another process seeded it first
    return active_version(engine)
