"""The rules workbook: layout, round trip, and validation errors that name sheet, row and column."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest

from domain.default_rules import DEFAULT_RULES_PATH, build_default_rules
from domain.routing_rules import (
    SHEET_CARRIERS,
    SHEET_RULES,
    SHEET_SUSPENSIONS,
    RuleSet,
    RulesWorkbookError,
    WarehouseRule,
    diff_rule_sets,
    export_workbook,
    parse_workbook,
)


def edited(edit) -> bytes:
    """The default workbook after ``edit(workbook)``."""
    wb = openpyxl.load_workbook(io.BytesIO(export_workbook(build_default_rules())))
    edit(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def errors_of(data: bytes):
    with pytest.raises(RulesWorkbookError) as exc:
        parse_workbook(data)
    return exc.value.errors


def test_committed_workbook_is_the_code_built_default():
    """rules/default_rules.xlsx is generated; regenerate with `python -m domain.default_rules`."""
    assert DEFAULT_RULES_PATH.read_bytes() == export_workbook(build_default_rules())
    assert parse_workbook(DEFAULT_RULES_PATH).model_dump() == build_default_rules().model_dump()


def test_layout_two_header_rows():
    wb = openpyxl.load_workbook(DEFAULT_RULES_PATH)
    assert wb.sheetnames[:3] == [SHEET_RULES, SHEET_CARRIERS, SHEET_SUSPENSIONS]
    ws = wb[SHEET_RULES]
    assert ws["A1"].value == "规则编号" and ws["A2"].value == "rule_id"
    assert [c.value for c in ws[3]][:3] == ["R1", 10, "浙江省"]


def test_round_trip_and_reproducible_bytes():
    rs = build_default_rules()
    data = export_workbook(rs)
    back = parse_workbook(data)
    assert back.model_dump() == rs.model_dump()
    assert export_workbook(back) == data
    assert back.suspensions[0].valid_from.utcoffset().total_seconds() == 8 * 3600


def test_columns_found_by_id_not_position_and_lists_accept_chinese_commas():
    def edit(wb):
        ws = wb[SHEET_RULES]
        ws.move_range("C1:C20", cols=20)  # provinces column moved to the far right
        ws["W5"] = "浙江省，江苏省、上海市 安徽省"  # R3's provinces (row 5), mixed separators
    rs = parse_workbook(edited(edit))
    r3 = next(r for r in rs.warehouse_rules if r.rule_id == "R3")
    assert r3.provinces == ["浙江省", "江苏省", "上海市", "安徽省"]


def test_bad_province_names_sheet_row_column():
    (err,) = errors_of(edited(lambda wb: wb[SHEET_RULES].__setitem__("C3", "浙江")))
    assert (err.sheet, err.row, err.column, err.field) == (SHEET_RULES, 3, "C", "provinces")
    assert "浙江" in err.message and "浙江省" in err.message  # says what to write instead
    assert "仓库规则!C3" in str(err)


def test_non_numeric_price():
    (err,) = errors_of(edited(lambda wb: wb[SHEET_CARRIERS].__setitem__("D4", "八块")))
    assert (err.sheet, err.row, err.column, err.field) == (SHEET_CARRIERS, 4, "D", "first_weight_price")
    assert "not a number" in err.message


def test_unknown_category():
    (err,) = errors_of(edited(lambda wb: wb[SHEET_RULES].__setitem__("H4", "飞机引擎")))
    assert (err.sheet, err.row, err.column, err.field) == (SHEET_RULES, 4, "H", "line_category")
    assert "unknown category" in err.message


def test_duplicate_rule_id_names_the_second_row():
    (err,) = errors_of(edited(lambda wb: wb[SHEET_RULES].__setitem__("A4", "R1")))
    assert (err.sheet, err.row, err.column, err.field) == (SHEET_RULES, 4, "A", "rule_id")
    assert "duplicate" in err.message and "also on row 3" in err.message


def test_missing_sheet():
    (err,) = errors_of(edited(lambda wb: wb.remove(wb[SHEET_CARRIERS])))
    assert err.sheet == SHEET_CARRIERS and err.row is None and "missing sheet" in err.message


def test_all_errors_collected_at_once():
    def edit(wb):
        wb[SHEET_RULES]["C3"] = "浙江"
        wb[SHEET_RULES]["J4"] = None  # ship mode blank although a warehouse is given
        wb[SHEET_CARRIERS]["F5"] = 2.5  # SLA days not whole
        wb[SHEET_SUSPENSIONS]["D3"] = "西湖区2"
        wb[SHEET_SUSPENSIONS]["E3"] = "not a date"
        wb[SHEET_RULES]["A7"] = "R3"  # duplicate of row 5, found although other rows are bad
    errs = errors_of(edited(edit))
    where = {(e.sheet, e.row, e.column) for e in errs}
    assert where == {(SHEET_RULES, 3, "C"), (SHEET_RULES, 4, "J"), (SHEET_CARRIERS, 5, "F"), (SHEET_RULES, 7, "A"),
                     (SHEET_SUSPENSIONS, 3, "D"), (SHEET_SUSPENSIONS, 3, "E")}


def test_suspension_of_unknown_carrier():
    (err,) = errors_of(edited(lambda wb: wb[SHEET_SUSPENSIONS].__setitem__("A3", "EMS")))
    assert (err.sheet, err.row, err.column) == (SHEET_SUSPENSIONS, 3, "A") and "unknown carrier" in err.message


def test_district_must_belong_to_city_and_city_to_province():
    errs = errors_of(edited(lambda wb: (wb[SHEET_RULES].__setitem__("D3", "南京市"))))
    assert [(e.row, e.column) for e in errs] == [(3, "D")]
    errs = errors_of(edited(lambda wb: (wb[SHEET_RULES].__setitem__("E4", "鼓楼区"))))
    assert [(e.row, e.column) for e in errs] == [(4, "E")]


def test_header_row_problems():
    errs = errors_of(edited(lambda wb: wb[SHEET_CARRIERS].__setitem__("F2", "sla")))
    assert {(e.row, e.column) for e in errs} == {(2, "F"), (2, None)}  # unknown id, and sla_days missing


def test_not_a_workbook():
    (err,) = errors_of(b"rule_id,priority\nR1,1\n")
    assert "xlsx" in err.message


def test_models_reject_inconsistent_sets_built_in_code():
    rs = build_default_rules()
    with pytest.raises(ValueError, match="duplicate"):
        RuleSet(warehouse_rules=rs.warehouse_rules + [rs.warehouse_rules[0]], carriers=rs.carriers)
    with pytest.raises(ValueError, match="ship mode required"):
        WarehouseRule(rule_id="X", priority=1, warehouse="HZ-CLOUD")


def test_diff_rows_added_removed_changed():
    old = build_default_rules()
    r1 = old.warehouse_rules[0].model_copy(update={"min_amount": Decimal("3000")})
    new = RuleSet(
        warehouse_rules=[r1, *old.warehouse_rules[1:], WarehouseRule(rule_id="R6", priority=95, provinces=["四川省"],
                                                                     warehouse="CD-CLOUD", ship_mode="cloud")],
        carriers=old.carriers,
        suspensions=[],
    )
    d = diff_rule_sets(old, new)
    rules = d.sheets[SHEET_RULES]
    assert [r["rule_id"] for r in rules.added] == ["R6"] and not rules.removed
    assert [(c.key, c.changes) for c in rules.changed] == [("R1", {"min_amount": ("2000", "3000")})]
    assert len(d.sheets[SHEET_SUSPENSIONS].removed) == 1
    assert d.sheets[SHEET_CARRIERS].model_dump() == {"added": [], "removed": [], "changed": []}
    assert not d.empty and diff_rule_sets(old, old).empty
