"""The label table (domain/labels.py) covers the code base: every enum value, every timeline event
name the code writes or reads, every risk feature, every field of the payloads people send; and a
lookup never raises. The coverage tests walk the source, so a new code without a Chinese label
fails here with the list of what is missing."""

from __future__ import annotations

import ast
import importlib
import re
import typing
from datetime import UTC
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core.core_schema import ErrorType

from domain import labels

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("domain", "workflows", "activities", "api", "store", "devices", "workers", "console", "zhongshu")
CJK = re.compile(r"[\u4e00-\u9fff]")

# each enum of the code base → its group in labels.GROUPS; by_name: the label is keyed by the member's
# name (the value is Chinese already, or a display text)
ENUM_GROUPS: dict[str, tuple[str, bool]] = {
    "Stage": ("stage", False),
    "OrderStatus": ("order_status", False), "PartStatus": ("part_status", False),
    "ShipmentStatus": ("parcel_status", False), "ReviewKind": ("review_kind", False),
    "ReviewState": ("review_state", False), "Decision": ("decision", False), "CloseReason": ("close_reason", False),
    "TaskKind": ("task_kind", False), "TaskState": ("task_state", False), "ScanStep": ("scan_step", False),
    "ScanResult": ("scan_result", False), "MisScan": ("mis_scan", False), "ExceptionKind": ("exception_kind", False),
    "BlacklistKind": ("blacklist_kind", False), "Channel": ("channel", False),
    "AftersalesType": ("aftersales_type", False), "CaseStatus": ("case_status", False),
    "CarrierCode": ("carrier", False), "TrackingCode": ("tracking", False), "DiffClass": ("diff_class", False),
    "Severity": ("severity", False), "ShipMode": ("ship_mode", False), "Category": ("category", True),
    "VehicleModel": ("vehicle_model", True), "HealthState": ("channel_health", False),
}
# enums no person ever reads, each with the reason
INTERNAL_ENUMS: dict[str, str] = {
    "Freshness": "the intake's comparison of two deliveries' versions; people see the timeline event",
    "Claim": "the store's compare-and-set answer for a channel version",
}

# f-strings that build event names: the codes their one placeholder takes
EVENT_FSTRINGS = {"order.{}": ("domain.status", "OrderStatus"), "return.{}": ("domain.logistics", "TrackingCode")}
EVENT_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


def _sources(root: Path, dirs=PRODUCT + ("tests",)):
    for d in dirs:
        for p in sorted((root / d).rglob("*.py")):
            if p.relative_to(root).as_posix() in ("domain/labels.py", "tests/test_labels.py"):
                continue
            yield p, ast.parse(p.read_text(encoding="utf-8"))


def _fstring_shape(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _strings(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return list(node.elts)
    return [node]


def event_names(root: Path = ROOT) -> tuple[dict[str, str], dict[str, str]]:
    """Event names the code writes or compares with: arguments named ``event`` of any function, the
    strings compared with an ``.event``/``["event"]``, ``*_EVENTS`` tuples and ``EVENTS`` dicts.
    Returns ({name: where}, {f-string shape: where})."""
    trees = list(_sources(root))
    positions: dict[str, set[int]] = {}  # function name → positions of its ``event`` parameter
    for _, tree in trees:
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [a.arg for a in fn.args.posonlyargs + fn.args.args]
                if args and args[0] in ("self", "cls"):
                    args = args[1:]
                if "event" in args:
                    positions.setdefault(fn.name, set()).add(args.index("event"))
    names: dict[str, str] = {}
    shapes: dict[str, str] = {}

    def take(node: ast.AST, where: str) -> None:
        for n in _strings(node):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and EVENT_NAME.match(n.value):
                names.setdefault(n.value, where)
            elif isinstance(n, ast.JoinedStr):
                shape = _fstring_shape(n)
                if re.match(r"^[a-z_]+\.", shape):
                    shapes.setdefault(shape, where)
            elif isinstance(n, ast.IfExp):
                take(n.body, where)
                take(n.orelse, where)

    def is_event_ref(n: ast.AST) -> bool:
        return ((isinstance(n, ast.Attribute) and n.attr == "event")
                or (isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "event"))

    for path, tree in trees:
        for node in ast.walk(tree):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                fname = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                for i in positions.get(fname, ()):
                    if i < len(node.args):
                        take(node.args[i], where)
                for kw in node.keywords:
                    if kw.arg == "event":
                        take(kw.value, where)
            elif isinstance(node, ast.Compare) and (is_event_ref(node.left) or any(map(is_event_ref, node.comparators))):
                for side in [node.left, *node.comparators]:
                    take(side, where)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and (t.id.endswith("_EVENTS") or t.id == "EVENTS")
                                                      for t in node.targets):
                take(node.value, where)
                if isinstance(node.value, ast.Dict):
                    for k in node.value.keys:
                        if k is not None:
                            take(k, where)
    return names, shapes


def enum_classes(root: Path = ROOT) -> list[tuple[str, str]]:
    """(module, class) of every Enum subclass defined in product code."""
    found = []
    for path, tree in _sources(root, PRODUCT):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", "")) in ("StrEnum", "Enum", "IntEnum") for b in node.bases):
                found.append((".".join(path.relative_to(root).with_suffix("").parts), node.name))
    return found


# ---------------------------------------------------------------- coverage of the code base


def test_every_enum_value_has_a_label():
    missing, unmapped = [], []
    classes = enum_classes()
    assert len(classes) >= 20, classes  # the walk found the code base's enums
    for module, name in classes:
        if name in INTERNAL_ENUMS:
            continue
        if name not in ENUM_GROUPS:
            unmapped.append(f"{module}.{name}")
            continue
        group, by_name = ENUM_GROUPS[name]
        enum: type[Enum] = getattr(importlib.import_module(module), name)
        for member in enum:
            key = member.name if by_name else member.value
            if key not in labels.GROUPS[group]:
                missing.append(f"{group}: {key} ({module}.{name})")
    assert not unmapped, f"enums with no label group (add them to domain/labels.py and ENUM_GROUPS): {unmapped}"
    assert not missing, "enum values without a Chinese label:\n" + "\n".join(missing)


def test_every_event_name_has_a_label():
    names, shapes = event_names()
    assert len(names) >= 60, sorted(names)  # the walk found the code base's events
    unknown_shapes = {s: w for s, w in shapes.items() if s not in EVENT_FSTRINGS}
    assert not unknown_shapes, f"event names built by f-strings the test cannot expand: {unknown_shapes}"
    for shape in shapes:
        module, cls = EVENT_FSTRINGS[shape]
        for member in getattr(importlib.import_module(module), cls):
            names.setdefault(shape.replace("{}", member.value), f"f-string {shape}")
    missing = sorted(f"{n}  ({where})" for n, where in names.items() if n not in labels.EVENTS)
    assert not missing, "timeline events without a Chinese label:\n" + "\n".join(missing)


def test_the_walk_sees_events_written_in_every_way():
    names, shapes = event_names()
    for n in ("order.received", "risk.scanned", "order.intercepted", "case.opened", "qc.failed", "review.decided",
              "logistics.shipped", "waybill.created", "duplicate.merged_into"):
        assert n in names, n
    assert "return.{}" in shapes
    assert "customer.phone" not in names and "sqlalchemy.url" not in names  # field paths, config keys: not events


def test_every_risk_feature_has_a_name_and_a_sentence():
    from domain.risk import CHECKS

    assert {c.code for c in CHECKS} == set(labels.RISK_FEATURES)
    for c in CHECKS:
        assert CJK.search(c.title) and c.title == labels.RISK_FEATURES[c.code].name
        assert labels.risk_sentence(c.code, {}) and CJK.search(labels.risk_sentence(c.code, {}))


def test_every_review_kind_says_what_each_of_its_decisions_does():
    from domain.review import ALLOWED_DECISIONS, Decision, ReviewKind

    assert set(ALLOWED_DECISIONS) == set(ReviewKind)
    missing = [(k.value, d.value) for k, ds in ALLOWED_DECISIONS.items() for d in ds
               if (k.value, d.value) not in labels.DECISIONS_BY_KIND]
    assert not missing, f"decisions without a per-kind label: {missing}"
    assert all(d.value in labels.DECISIONS for d in Decision)


def test_literal_codes_have_labels():
    from domain.aftersales import AftersalesTicket
    from domain.logistics import TransitAlert
    from domain.risk import risk_level

    for code in typing.get_args(TransitAlert.model_fields["kind"].annotation):
        assert code in labels.TRANSIT_ALERTS, code
    for code in typing.get_args(AftersalesTicket.model_fields["kind"].annotation):
        assert code in labels.TICKET_KINDS, code
    for code in typing.get_args(typing.get_type_hints(risk_level)["return"]):
        assert code in labels.RISK_LEVELS, code


def test_partners_and_places_are_named():
    from domain.default_rules import build_default_rules
    from domain.logistics import WAREHOUSE_SENDERS

    rules = build_default_rules()
    for w in list(WAREHOUSE_SENDERS) + [r.warehouse for r in rules.warehouse_rules if r.warehouse]:
        assert w in labels.WAREHOUSES, w
    for c in rules.carriers:
        assert labels.carrier(c.code) == c.name  # the carrier table and the labels say the same name


def test_every_label_is_chinese():
    latin_ok = {("channel", "erp"), ("category", "SKU")}
    bad = [(g, k, v) for g, table in labels.GROUPS.items() for k, v in table.items()
           if not CJK.search(v) and (g, k) not in latin_ok]
    assert not bad, bad


# ---------------------------------------------------------------- the lookups


def test_lookups_fall_back_to_the_raw_code_and_never_raise():
    assert labels.order_status("teleported") == "teleported"
    assert labels.event("order.teleported") == "order.teleported"
    assert labels.label("no_such_group", "x") == "x"
    assert labels.decision("escalate", "ops") == "escalate"
    assert labels.risk_feature("NEW_FEATURE_18") == "NEW_FEATURE_18"
    assert labels.risk_sentence("NEW_FEATURE_18", {"x": 1}) == "NEW_FEATURE_18"
    assert labels.vehicle_model("TESLA_MODEL3_2024") == "TESLA_MODEL3_2024"
    assert labels.order_status(None) == "" and labels.flags(None) == ""
    assert labels.field_label("mystery.thing") == "mystery.thing"
    assert labels.validation_message({"type": "brand_new_type", "loc": ("customer", "phone"), "msg": "odd"}) \
        == "收货人电话不正确: odd"


def test_lookups_read_enum_members_and_values_alike():
    from domain.catalogue import Category, VehicleModel
    from domain.logistics import CarrierCode, TrackingCode
    from domain.order import Channel
    from domain.status import OrderStatus

    assert labels.order_status(OrderStatus.DELIVERED) == labels.order_status("delivered") == "已签收"
    assert labels.channel(Channel.TMALL) == "天猫" and labels.channel("douyin") == "抖音"
    assert labels.channel("miniprogram") == "小程序" and labels.channel("api") == "接口"
    assert labels.carrier(CarrierCode.SF) == "顺丰速运"
    assert labels.tracking(TrackingCode.IN_TRANSIT) == "运输中"
    assert labels.warehouse("HZ-DIRECT") == "杭州自营仓"
    assert labels.warehouse("HZ-DIRECT,GZ-CLOUD") == "杭州自营仓、广州云仓"
    assert labels.vehicle_model("TOYOTA_COROLLA_2018") == "丰田 卡罗拉 2018款"
    assert labels.category("ENGINE_ASSEMBLY") == labels.category("发动机总成") == "发动机总成"
    assert all(labels.vehicle_model(v.name) == v.value == v.label for v in VehicleModel)
    assert all(labels.category(c.name) == c.value == c.label for c in Category)
    assert labels.flags(["suspected_brushing", "urgent", "stuck"]) == "促销刷单疑似、加急、卡住"
    assert labels.with_code("已签收", "delivered") == "已签收 (delivered)"


def test_decisions_say_what_they_do_for_each_kind():
    assert labels.decision("approve", "ops") == "重试"
    assert labels.decision("approve", "returned") == "重新发货"
    assert labels.decision("approve", "carrier") == "重试下单"
    assert labels.decision("reroute", "carrier") == "换承运商"
    assert labels.decision("reroute", "routing") == "指定仓库"
    assert labels.decision("approve") == "通过"


def test_the_modules_own_label_dicts_read_the_table():
    from domain import aftersales, logistics, reconciliation, warehouse

    assert logistics.TRACKING_LABELS == {c: labels.TRACKING[c.value] for c in logistics.TrackingCode}
    assert logistics.CARRIER_NAMES == {c: labels.CARRIERS[c.value] for c in logistics.CarrierCode}
    assert aftersales.TYPE_LABELS == {t: labels.AFTERSALES_TYPES[t.value] for t in aftersales.AftersalesType}
    assert aftersales.STATUS_LABELS == {s: labels.CASE_STATUSES[s.value] for s in aftersales.CaseStatus}
    assert reconciliation.LABELS == {c: labels.DIFF_CLASSES[c.value] for c in reconciliation.DiffClass}
    assert {s.value: look.label for s, look in warehouse.TASK_LOOK.items()} == labels.TASK_STATES
    assert warehouse.EXCEPTION_TITLES == {k: labels.EXCEPTION_KINDS[k.value] for k in warehouse.ExceptionKind}


# ---------------------------------------------------------------- risk sentences


def test_risk_sentences_carry_the_numbers_that_tripped_them():
    s = labels.risk_sentence("AMOUNT_OUTLIER", {"amount": "12800.00", "average": "800.00", "history_days": 90,
                                                "multiple": "5"})
    assert s == "订单金额 12800.00 元超过该客户近 90 天均单 800.00 元的 5 倍"
    s = labels.risk_sentence("QUANTITY_EXCESSIVE", {"limit": 50, "items": [{"line_no": 2, "sku": "BP-1", "quantity": 51}]})
    assert s == "第2行 BP-1 ×51 超过单行上限 50 件"
    s = labels.risk_sentence("INVALID_PHONE", {"problem": "not_mobile", "phone": "+86571****8888", "channel_label": "天猫"})
    assert s == "零售渠道(天猫)订单的电话 +86571****8888 不是手机号"
    s = labels.risk_sentence("PRICE_BELOW_FLOOR", {"items": [
        {"kind": "not_positive", "line_no": 1, "sku": "A", "price": "0.00"},
        {"kind": "below_floor", "line_no": 2, "sku": "B", "price": "1.00", "floor": "120.00"}]})
    assert s == "第1行 A 单价 0.00 元 ≤ 0; 第2行 B 单价 1.00 元低于底价 120.00 元"
    assert labels.risk_sentence("CARRIER_SUSPENDED", {"region": "浙江省杭州市余杭区", "carrier": None,
                                                      "carrier_label": ""}) \
        == "浙江省杭州市余杭区 唯一的承运商 当前停运"
    # a hit recorded before its data carried every number reads as the feature's name, not a template
    assert labels.risk_sentence("BURST_SAME_ADDRESS", {"count": 5}) == "同一客户短时间内向同一地址连续下单"
    assert labels.risk_sentence("FITMENT_MISMATCH", {"items": [{"line_no": 1}]}) == "适配车型不符"
    assert labels.risk_sentence("INVALID_PHONE", {"problem": "brand_new"}) == "电话号码无效"


def test_a_scan_hit_reason_is_the_tables_sentence():
    from datetime import datetime

    from domain.order import Channel, CleanLine, CleanOrder
    from domain.risk import RiskContext, RiskThresholds, scan

    order = CleanOrder(
        order_id="order-tmall-T1", channel=Channel.TMALL, channel_order_id="T1",
        ordered_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC), customer_id="C1", customer_name="测试员",
        phone="+8657188888888", address_raw="杭州市西湖区 暂不配送", address=None,
        lines=[CleanLine(line_no=1, sku="BP-1", name="刹车片", category="刹车片", quantity=60,
                         unit_price=Decimal("268.00"))],
        coupon=None, freight=Decimal("0"), paid_amount=Decimal("1.00"), note="")
    hits = scan(order, RiskContext(customer_avg_amount=Decimal("100"), customer_order_count=3), RiskThresholds())
    assert {h.code for h in hits} >= {"NO_DELIVERY_KEYWORD", "INVALID_PHONE", "ADDRESS_UNRESOLVED", "QUANTITY_EXCESSIVE",
                                       "PAYMENT_MISMATCH", "TEST_RECIPIENT", "AMOUNT_OUTLIER"}
    for h in hits:
        assert CJK.search(h.reason) and "{" not in h.reason and h.title == labels.risk_feature(h.code)
    phone = next(h for h in hits if h.code == "INVALID_PHONE")
    assert "天猫" in phone.reason and "tmall" not in phone.reason


# ---------------------------------------------------------------- fields and validation messages


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        for arg in [f.annotation, *typing.get_args(f.annotation)]:
            inner = typing.get_args(arg) if typing.get_origin(arg) is list else (arg,)
            for t in inner:
                if isinstance(t, type) and issubclass(t, BaseModel):
                    idx = "[0]" if typing.get_origin(arg) is list else ""
                    out += _paths(t, f"{path}{idx}.")
    return out


@pytest.mark.parametrize("model", ["domain.order:OrderSubmission", "domain.review:ReviewDecision",
                                   "domain.aftersales:AftersalesRequest", "domain.logistics:TrackingEvent",
                                   "domain.warehouse:PickConfirmation", "domain.warehouse:QcResult",
                                   "domain.warehouse:DeviceException"])
def test_every_field_people_send_has_a_chinese_name(model):
    module, name = model.split(":")
    cls = getattr(importlib.import_module(module), name)
    unnamed = [p for p in _paths(cls) if not CJK.search(labels.field_label(p)) and labels.field_label(p) != "SKU"]
    assert not unnamed, f"{model}: fields without a Chinese label: {unnamed}"


def test_field_labels_name_the_line():
    assert labels.field_label("customer.phone") == "收货人电话"
    assert labels.field_label("lines[0].unit_price") == "第1行单价"
    assert labels.field_label(("body", "lines", 2, "quantity")) == "第3行数量"
    assert labels.field_label(("body", "lines", 1)) == "第2行商品"
    assert labels.field_label("address.detail") == "详细地址"
    assert labels.field_label(()) == "请求内容"


def test_every_pydantic_error_type_has_a_sentence():
    missing = [t for t in typing.get_args(ErrorType) if t not in labels.VALIDATION]
    assert not missing, missing


def _errors(data: dict) -> list[dict]:
    from domain.order import OrderSubmission

    with pytest.raises(ValidationError) as exc:
        OrderSubmission.model_validate(data)
    return labels.validation_errors(exc.value.errors())


def test_validation_messages_are_chinese_sentences_naming_the_field():
    errs = _errors({
        "channel": "wechat", "channel_order_id": "T 1", "ordered_at": "2026-11-27T10:00:00",
        "customer": {"id": "", "name": "张三", "phone": "138"}, "address": {},
        "lines": [{"sku": "BP-1", "name": "刹车片", "category": "刹车片", "quantity": 0, "unit_price": "abc"},
                  {"sku": "BP-2", "name": "刹车盘", "category": "刹车盘", "quantity": 1, "unit_price": "1.234"}],
        "paid_amount": "-1", "note": "x" * 501,
    })
    by_field = {e["field"]: e["message"] for e in errs}
    assert by_field["channel"].startswith("渠道不是可选的值, 可选: tmall(天猫)、taobao(淘宝)")
    assert by_field["channel_order_id"].startswith("渠道订单号格式不对")
    assert by_field["ordered_at"] == "下单时间需要带时区, 例如 2026-11-27T10:00:00+08:00"
    assert by_field["customer.id"] == "客户编号不能为空, 请填写"
    assert by_field["customer.phone"] == "收货人电话至少需要 5 个字符"
    assert by_field["address"] == "收货地址需填写地址原文, 或省/市/区县/详细地址"
    assert by_field["lines[0].quantity"] == "第1行数量必须大于 0"
    assert by_field["lines[0].unit_price"] == "第1行单价应为数字"
    assert by_field["lines[1].unit_price"] == "第2行单价最多 2 位小数"
    assert by_field["paid_amount"] == "实付金额不能为负数"
    assert by_field["note"] == "备注最多 500 个字符"
    assert all(e["label"] and CJK.search(e["message"]) for e in errs)


def test_missing_fields_say_please_fill_in():
    errs = _errors({"channel": "tmall", "lines": [{"sku": "BP-1"}]})
    by_field = {e["field"]: e["message"] for e in errs}
    assert by_field["customer"] == "收货人不能为空, 请填写"
    assert by_field["lines[0].unit_price"] == "第1行单价不能为空, 请填写"
    assert by_field["paid_amount"] == "实付金额不能为空, 请填写"


def test_unknown_english_value_errors_keep_their_text_behind_a_chinese_lead():
    msg = labels.validation_message({"type": "value_error", "loc": ("lines", 0, "category"),
                                     "msg": "Value error, unknown category 'x'", "ctx": {"error": "unknown category 'x'"}})
    assert msg == "第1行品类不正确: unknown category 'x'"
    msg = labels.validation_message({"type": "value_error", "loc": ("bin",), "ctx": {"error": "库位 'Z' 不是 区-巷道-货位 格式"}})
    assert msg == "库位: 库位 'Z' 不是 区-巷道-货位 格式"


def test_the_routing_reviews_feature_reads_in_chinese():
    assert labels.risk_feature("NO_RULE_MATCH") == "无匹配分单规则, 需人工分单"
    assert CJK.search(labels.risk_sentence("NO_RULE_MATCH", {"region": "西藏自治区拉萨市城关区"}))


def test_a_query_parameter_can_have_its_own_label():
    # ?code= on the bin-label sheet is a bin code; "code" in a carrier's push body is a tracking state
    assert labels.field_label(("query", "code")) == "库位编码"
    assert labels.field_label(("body", "code")) == labels.field_label("code") == "轨迹状态"


def test_a_text_too_long_is_counted_in_characters_a_list_in_items():
    text = labels.validation_message({"type": "too_long", "loc": ("body", "address", "raw"), "ctx": {"max_length": 300},
                                      "input": "杭" * 1000})
    items = labels.validation_message({"type": "too_long", "loc": ("body", "lines"), "ctx": {"max_length": 200},
                                       "input": [{}] * 201})
    assert text.endswith("最多 300 个字符") and items.endswith("最多 200 项")
