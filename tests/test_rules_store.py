"""Rule versions in the read model, on SQLite and PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from domain.default_rules import DEFAULT_RULES_PATH, build_default_rules
from domain.routing import RoutingInput, RoutingLine, route
from domain.routing_rules import SHEET_RULES, RulesWorkbookError, export_workbook, parse_workbook
from store import rules
from store.schema import rule_versions


def workbook(edit=None) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(export_workbook(build_default_rules())))
    if edit:
        edit(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(rule_versions)).scalar()


def test_ensure_default_seeds_and_activates_once(engine):
    assert rules.active_version(engine) is None
    assert rules.ensure_default(engine) == 1
    assert rules.ensure_default(engine) == 1 and count(engine) == 1
    (info,) = rules.list_versions(engine)
    assert info.active and info.created_by == "system" and info.source_filename == "default_rules.xlsx"
    assert rules.export(engine, 1) == DEFAULT_RULES_PATH.read_bytes()


def test_import_is_a_new_inactive_version_until_activated(engine):
    rules.ensure_default(engine)
    data = workbook(lambda wb: wb[SHEET_RULES].__setitem__("F3", 3000))  # R1 threshold 2000 → 3000
    v = rules.import_rules(engine, data, "rules-2026-12.xlsx", "ops.li")
    assert v == 2 and rules.active_version(engine) == 1
    rules.activate(engine, v)
    assert rules.active_version(engine) == 2
    infos = {i.version: i for i in rules.list_versions(engine)}
    assert [i.version for i in rules.list_versions(engine)] == [2, 1]
    assert infos[2].active and not infos[1].active
    assert infos[2].created_at.tzinfo is not None and infos[2].activated_at.tzinfo is not None
    rules.activate(engine, 1)  # rolling back is activating the old version
    assert rules.active_version(engine) == 1


def test_bad_workbook_stores_nothing(engine):
    bad = workbook(lambda wb: (wb[SHEET_RULES].__setitem__("C3", "浙江"), wb[SHEET_RULES].__setitem__("A4", "R1")))
    with pytest.raises(RulesWorkbookError) as exc:
        rules.import_rules(engine, bad, "bad.xlsx", "ops.li")
    assert len(exc.value.errors) == 2 and count(engine) == 0


def test_activate_unknown_version(engine):
    with pytest.raises(LookupError):
        rules.activate(engine, 42)
    with pytest.raises(LookupError):
        rules.load(engine, 42)


def test_export_round_trip_and_cached_load(engine):
    data = workbook()
    v = rules.import_rules(engine, data, "rules.xlsx", "ops.li")
    assert rules.export(engine, v) == data
    loaded = rules.load(engine, v)
    assert loaded.version == v and rules.load(engine, v) is loaded
    assert parse_workbook(rules.export(engine, v)).model_dump() == loaded.model_dump()
    with engine.connect() as conn:
        sha = conn.execute(select(rule_versions.c.sha256)).scalar()
    import hashlib

    assert sha == hashlib.sha256(data).hexdigest()


def test_diff_between_versions(engine):
    v1 = rules.import_rules(engine, workbook(), "a.xlsx", "ops")
    v2 = rules.import_rules(engine, workbook(lambda wb: wb[SHEET_RULES].__setitem__("I6", "SZ-CLOUD")), "b.xlsx", "ops")
    d = rules.diff(engine, v1, v2)
    assert (d.old_version, d.new_version) == (v1, v2)
    (change,) = d.sheets[SHEET_RULES].changed
    assert change.key == "R4" and change.changes == {"warehouse": ("GZ-CLOUD", "SZ-CLOUD")}
    assert rules.diff(engine, v1, v1).empty


def test_routing_records_the_active_version(engine):
    rules.ensure_default(engine)
    rs = rules.load_active(engine)
    inp = RoutingInput(province="浙江省", city="杭州市", district="西湖区", ordered_at=datetime.now(UTC),
                       lines=[RoutingLine(sku="X", category="刹车片", unit_price=Decimal("2500"))], total_weight_kg=Decimal("2"))
    d = route(rs, inp)
    assert (d.rule_id, d.rule_version) == ("R1", 1)
