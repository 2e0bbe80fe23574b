"""Warehouse read model on SQLite and PostgreSQL: stock import from Excel, idempotent stock moves,
wave projection with its version guard, exceptions, mis-scan counts, the pick list, migration 0006."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from activities import warehouse as wh
from domain.warehouse import (
    CN_TZ,
    ExceptionKind,
    OpenWave,
    StockRow,
    TaskState,
    WarehouseException,
    WaveLine,
    WaveOrder,
    plan_tasks,
)
from store.db import engine_for, migrate
from store.schema import metadata

WAREHOUSE_TABLES = ("warehouse_stock", "stock_moves", "waves", "pick_tasks", "warehouse_exceptions", "scan_events")


def warehouse_engine(url: str):
    """The read model at head (migration 0006 creates the warehouse tables)."""
    migrate(url)
    return engine_for(url)


@pytest.fixture
def eng(db_url):
    return warehouse_engine(db_url)


STOCK = [
    dict(warehouse="HZ-DIRECT", bin="A-03-12", sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)", quantity=5,
         barcode="6901234567890", notes="易碎品轻拿"),
    dict(warehouse="HZ-DIRECT", bin="A-01-02", sku="MANN-OF-W712", name="曼牌机滤", quantity=20, barcode="", notes=""),
]


def test_stock_import_roundtrip_and_errors(eng):
    rows = wh.parse_stock_workbook(wh.stock_workbook(STOCK))
    assert rows == STOCK
    assert wh.import_stock(eng, rows) == {"HZ-DIRECT": 2}
    assert wh.import_stock(eng, rows[:1]) == {"HZ-DIRECT": 1}  # replace: the warehouse as a whole
    assert [r.sku for r in wh.stock_rows(eng, "HZ-DIRECT")] == ["BOSCH-BP-COROLLA18"]

    bad = wh.stock_workbook([dict(STOCK[0], bin="A0312"), dict(STOCK[1], quantity=-1), STOCK[0], STOCK[0]])
    with pytest.raises(wh.StockImportError) as e:
        wh.parse_stock_workbook(bad)
    assert any("row 2 库位" in x for x in e.value.errors) and any("row 3 数量" in x for x in e.value.errors)
    assert any("appears twice" in x for x in e.value.errors)


def test_stock_moves_are_idempotent_and_short_empties_the_bin(eng):
    wh.import_stock(eng, wh.parse_stock_workbook(wh.stock_workbook(STOCK)))
    move = wh.StockMove(move_id="T-1", warehouse="HZ-DIRECT", bin="A-03-12", sku="BOSCH-BP-COROLLA18", delta=-2)
    assert wh.record_stock_move(eng, move) == 3
    assert wh.record_stock_move(eng, move) == 3  # a retried activity
    short = wh.StockMove(move_id="T-2", warehouse="HZ-DIRECT", bin="A-03-12", sku="BOSCH-BP-COROLLA18", delta=-1,
                         bin_emptied=True)
    assert wh.record_stock_move(eng, short) == 0
    back = wh.StockMove(move_id="T-2-P1", warehouse="HZ-DIRECT", bin="A-03-12", sku="BOSCH-BP-COROLLA18", delta=1,
                        reason="putaway")
    assert wh.record_stock_move(eng, back) == 1


def snapshot(version: int, state: str = "picking", task_state: TaskState = TaskState.PENDING) -> wh.WaveSnapshot:
    now = datetime(2026, 11, 26, 10, tzinfo=CN_TZ)
    w = OpenWave(wave_id="HZ-DIRECT-20261126-07", wave_no="B26-07", warehouse="HZ-DIRECT", carrier="SF", opened_at=now,
                 cutoff_at=None, orders=[WaveOrder(order_id="o1", warehouse="HZ-DIRECT", carrier="SF", ordered_at=now,
                                                   lines=[WaveLine(sku="BOSCH-BP-COROLLA18", name="刹车片", quantity=3)])])
    tasks = plan_tasks(w, [StockRow(bin="A-03-12", sku="BOSCH-BP-COROLLA18", quantity=5, notes="易碎品轻拿")],
                       image_url=lambda s: f"http://erp/images/{s}.svg")
    for t in tasks:
        t.state = task_state
    return wh.WaveSnapshot(wave_id=w.wave_id, warehouse=w.warehouse, wave_no=w.wave_no, carrier="SF", state=state,
                           opened_at=now, closed_at=now, close_reason="size", order_ids=["o1"], tasks=tasks,
                           version=version, at=now)


def test_wave_projection_keeps_the_newest_version(eng):
    wh.project_wave(eng, snapshot(2, task_state=TaskState.QC_PENDING))
    wh.project_wave(eng, snapshot(1))  # a late retry of an older snapshot
    w = wh.get_wave(eng, "HZ-DIRECT-20261126-07")
    assert w["qc_pending_count"] == 1 and w["tasks"][0]["state"] == "qc_pending" and w["version"] == 2
    wh.project_wave(eng, snapshot(3, state="done", task_state=TaskState.DONE))
    (row,) = wh.list_waves(eng, warehouse="HZ-DIRECT")
    assert row["state"] == "done" and row["progress"] == 1.0 and row["order_ids"] == ["o1"]
    assert wh.list_waves(eng, open_only=True) == []


def test_pick_list_html_and_json(eng):
    wh.project_wave(eng, snapshot(1, task_state=TaskState.QC_PENDING))
    w = wh.get_wave(eng, "HZ-DIRECT-20261126-07")
    j = wh.pick_list_json(w)
    (i,) = j["instructions"]
    assert j["wave_no"] == "B26-07" and i["bin"] == "A-03-12" and i["quantity"] == 3 and i["notes"] == ["易碎品轻拿"]
    assert i["state_label"] == "待质检" and "⚠️" in i["state_icon"] and i["image_url"].endswith(".svg")
    page = wh.render_pick_list_html(w)
    assert "拣货单 波次 B26-07" in page and "A-03-12" in page and "易碎品轻拿" in page and "待质检" in page
    assert "@media print" in page and '<img src="http://erp/images/BOSCH-BP-COROLLA18.svg"' in page


def test_exceptions_and_mis_scan_counts(eng):
    act = wh.WarehouseActivities(eng)
    exc = WarehouseException(exception_id="WX-1", kind=ExceptionKind.REPRINT_LABEL, warehouse="HZ-DIRECT",
                             bin="A-03-12", picker="小张", device_id="MC33-01", reason="标签无法识别",
                             created_at=datetime.now(UTC))
    assert act.record_warehouse_exception(exc) == "WX-1"
    assert act.record_warehouse_exception(exc) == "WX-1"  # retried
    (row,) = wh.list_exceptions(eng, state="open")
    assert row["kind"] == "reprint_label" and row["picker"] == "小张"
    assert wh.resolve_exception(eng, "WX-1") and not wh.resolve_exception(eng, "WX-1")

    for i, kind in enumerate(["wrong_item", "wrong_item", "unreadable"]):
        ev = wh.ScanEventIn(event_id=f"e{i}", warehouse="HZ-DIRECT", picker="小张", device_id="MC33-01", kind=kind)
        assert wh.record_scan_event(eng, ev)
    assert not wh.record_scan_event(eng, wh.ScanEventIn(event_id="e0", warehouse="HZ-DIRECT", picker="小张",
                                                         device_id="MC33-01", kind="wrong_item"))
    (stats,) = wh.picker_stats(eng, warehouse="HZ-DIRECT")
    assert stats == {"picker": "小张", "mis_scans": 3, "picks": 0, "wrong_item": 2, "unreadable": 1}


def test_migration_0006_matches_the_schema_and_downgrades(tmp_path):
    from alembic import command
    from alembic.config import Config

    from store.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine_for(url)
    command.upgrade(cfg, "head")
    insp = inspect(engine_for(url))
    for name in WAREHOUSE_TABLES:
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in metadata.tables[name].columns}, name
    command.downgrade(cfg, "0005")
    assert not set(WAREHOUSE_TABLES) & set(inspect(engine_for(url)).get_table_names())
    command.upgrade(cfg, "0006")
