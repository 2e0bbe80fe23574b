"""Smart routing (智能分单): which warehouse ships an order, and with which carrier.

Warehouse rules are a first-hit decision table evaluated by GoRules' zen-engine: the RuleSet's
rules become one JDM ``decisionTableNode`` (hitPolicy ``first``), loaded into a ``ZenEngine``
(static loader) once per rule-set content and cached in-process, so a decision costs microseconds
and never a database round trip. Money enters the table as integer fen: zen compares exact
decimals but cannot take Python ``Decimal``s, and floats would blur 1999.99 against 2000.

The carrier is then chosen by a plain scan of the carrier table: the cheapest carrier that serves
the province, is not suspended there at the order time, and meets the weight limits and the SLA.
Every other carrier gets a bilingual reason, for the reviewer and the order's timeline. The
carrier is chosen even when no warehouse rule matched, as a suggestion for the routing review.

The payload models (RoutingInput, RoutingDecision) carry no zen import, so workflows can use them.
``route`` is a plain synchronous function (zen's sync ``ZenEngine.evaluate``), safe to call from
Temporal's activity thread pool.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

from domain.order import CleanOrder
from domain.routing_rules import CHINA_TZ, Carrier, RuleSet, WarehouseRule

_COMPILED: OrderedDict[str, CompiledRules] = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 32


class RoutingLine(BaseModel):
    sku: str
    category: str  # Category value, e.g. 发动机总成
    unit_price: Decimal
    quantity: int = 1
    weight_kg: Decimal | None = None  # per unit


class RoutingInput(BaseModel):
    province: str
    city: str
    district: str
    adcode: str = ""
    goods_amount: Decimal | None = None  # None → Σ unit price × quantity
    lines: list[RoutingLine]
    total_weight_kg: Decimal | None = None  # None → Σ line weight × quantity (unknown weights count 0)
    ordered_at: datetime
    required_sla_days: int | None = Field(default=None, ge=0)

    @field_validator("ordered_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("ordered_at needs a timezone")
        return v

    @property
    def amount(self) -> Decimal:
        if self.goods_amount is not None:
            return self.goods_amount
        return sum((ln.unit_price * ln.quantity for ln in self.lines), Decimal("0"))

    @property
    def weight(self) -> Decimal:
        if self.total_weight_kg is not None:
            return self.total_weight_kg
        return sum(((ln.weight_kg or Decimal("0")) * ln.quantity for ln in self.lines), Decimal("0"))

    @property
    def region(self) -> str:
        return f"{self.province}{'' if self.city == self.province else self.city}{self.district}"

    @classmethod
    def from_order(cls, order: CleanOrder, required_sla_days: int | None = None) -> RoutingInput:
        if order.address is None:
            raise ValueError(f"{order.order_id}: address not resolved; routing needs province/city/district")
        a = order.address
        lines = [RoutingLine(sku=ln.sku, category=ln.category, unit_price=ln.unit_price, quantity=ln.quantity,
                             weight_kg=ln.weight_kg) for ln in order.lines]
        return cls(province=a.province, city=a.city, district=a.district, adcode=a.adcode, goods_amount=order.goods_amount,
                   lines=lines, ordered_at=order.ordered_at, required_sla_days=required_sla_days)


class CarrierOption(BaseModel):
    code: str
    name: str
    freight: Decimal | None  # None when excluded before pricing
    sla_days: int
    excluded: str | None = None  # why not eligible; None = eligible


class RoutingDecision(BaseModel):
    matched: bool  # a warehouse was decided automatically; False → routing review
    warehouse: str | None = None
    rule_id: str | None = None  # the rule that hit (may be a "send to review" rule)
    ship_mode: str | None = None
    carrier: str | None = None  # None → routing review
    carrier_name: str | None = None
    freight: Decimal | None = None
    carrier_reason: str
    carrier_options: list[CarrierOption] = []
    rule_version: int | None = None
    reason: str

    @property
    def needs_review(self) -> bool:
        return not self.matched or self.carrier is None


# ---------------------------------------------------------------- warehouse rules → JDM


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _in(names: list[str]) -> str:
    return f"$ in [{', '.join(_lit(n) for n in names)}]" if names else ""


def _line_cell(rule: WarehouseRule) -> str:
    conds = []
    if rule.line_unit_price_gt is not None:
        conds.append(f"#.unit_price_fen > {_fen(rule.line_unit_price_gt)}")
    if rule.line_category is not None:
        conds.append(f"#.category == {_lit(rule.line_category.value)}")
    return f"some($, {' and '.join(conds)})" if conds else ""


def decision_graph(rule_set: RuleSet) -> dict[str, Any]:
    """The warehouse rules as a JDM graph: input → decision table (first hit) → output."""
    inputs = [("province", "省份"), ("city", "城市"), ("district", "区县"), ("goods_amount_fen", "订单金额(分)"), ("lines", "订单行")]
    outputs = ["rule_id", "warehouse", "ship_mode"]
    rules = []
    for r in rule_set.ordered_rules:
        row = {"_id": r.rule_id, "_description": r.note}
        row.update({"in_province": _in(r.provinces), "in_city": _in(r.cities), "in_district": _in(r.districts)})
        row["in_goods_amount_fen"] = f"$ >= {_fen(r.min_amount)}" if r.min_amount is not None else ""
        row["in_lines"] = _line_cell(r)
        row.update({"out_rule_id": _lit(r.rule_id), "out_warehouse": _lit(r.warehouse or ""),
                    "out_ship_mode": _lit(r.ship_mode.value if r.ship_mode else "")})
        rules.append(row)
    table = {
        "hitPolicy": "first",
        "inputs": [{"id": f"in_{f}", "name": n, "field": f} for f, n in inputs],
        "outputs": [{"id": f"out_{f}", "name": f, "field": f} for f in outputs],
        "rules": rules,
    }

    def node(id_: str, type_: str, name: str, x: int, content: dict[str, Any]) -> dict[str, Any]:
        return {"id": id_, "type": type_, "name": name, "position": {"x": x, "y": 0}, "content": content}

    return {
        "nodes": [
            node("request", "inputNode", "Request", 0, {"schema": ""}),
            node("warehouse_rules", "decisionTableNode", "仓库规则", 300, table),
            node("response", "outputNode", "Response", 600, {"schema": ""}),
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "warehouse_rules", "type": "edge"},
            {"id": "e2", "sourceId": "warehouse_rules", "targetId": "response", "type": "edge"},
        ],
    }


class CompiledRules:
    """A zen engine holding one rule set's decision graph (static loader, compiled once).

    ``ZenEngine.evaluate`` on a static loader is ~10 µs here; ``ZenDecision.evaluate`` costs
    ~250 µs per call in zen-engine 2.1 (per-call setup), so the engine form is the one used.
    """

    KEY = "warehouse_rules"

    def __init__(self, rule_set: RuleSet):
        import zen  # native; imported on first use so workflow code can import the models cheaply

        self.graph = decision_graph(rule_set)
        text = json.dumps(self.graph, ensure_ascii=False)
        zen.ZenEngine().create_decision(text).validate()  # a bad table fails when compiled (store import), not per order
        self.engine = zen.ZenEngine({"loader": {"type": "static", "content": {self.KEY: self.graph}}})

    def evaluate(self, context: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.engine.evaluate(self.KEY, context)["result"]  # zen-engine is untyped
        return result


def compiled(rule_set: RuleSet) -> CompiledRules:
    """The compiled warehouse rules for this rule-set content, built once per process (LRU of 32)."""
    key = rule_set.fingerprint
    with _LOCK:
        if key in _COMPILED:
            _COMPILED.move_to_end(key)
            return _COMPILED[key]
    rules = CompiledRules(rule_set)
    with _LOCK:
        _COMPILED[key] = rules
        while len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return rules


# ---------------------------------------------------------------- carriers


def _money(x: Decimal) -> str:
    return f"¥{x:.2f}"


def carrier_options(rule_set: RuleSet, inp: RoutingInput) -> list[CarrierOption]:
    """Every carrier with its freight and, if it cannot take the parcel, why (a table scan)."""
    weight, out = inp.weight, []
    for c in rule_set.carriers:
        out.append(CarrierOption(code=c.code, name=c.name, freight=c.freight(weight), sla_days=c.sla_days,
                                 excluded=_excluded(rule_set, c, inp, weight)))
    return out


def _excluded(rule_set: RuleSet, c: Carrier, inp: RoutingInput, weight: Decimal) -> str | None:
    if not c.serves(inp.province):
        return f"不服务{inp.province} does not serve {inp.province}"
    for s in rule_set.suspensions:
        if s.carrier == c.code and s.covers(inp.province, inp.city, inp.district, inp.ordered_at):
            until = f"{s.until.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}" if s.until else "另行通知 further notice"
            return f"停运 suspended in {s.place} until {until}" + (f" ({s.reason})" if s.reason else "")
    if weight < c.min_weight_kg:
        return f"低于最低重量 under min weight: {weight} kg < {c.min_weight_kg} kg"
    if c.max_weight_kg is not None and weight > c.max_weight_kg:
        return f"超重 over weight limit: {weight} kg > {c.max_weight_kg} kg"
    if inp.required_sla_days is not None and c.sla_days > inp.required_sla_days:
        return f"时效太慢 SLA too slow: {c.sla_days} d > required {inp.required_sla_days} d"
    return None


def _freight(o: CarrierOption) -> Decimal:
    """An option's price: carrier_options prices every carrier, excluded or not."""
    assert o.freight is not None
    return o.freight


def choose_carrier(rule_set: RuleSet, inp: RoutingInput) -> tuple[CarrierOption | None, str, list[CarrierOption]]:
    options = carrier_options(rule_set, inp)
    eligible = sorted((o for o in options if o.excluded is None), key=lambda o: (_freight(o), o.sla_days, o.code))
    best = eligible[0] if eligible else None
    notes = []
    for o in options:
        if o.excluded:
            notes.append(f"{o.code}: {o.excluded}")
        elif best is not None and o is not best:
            notes.append(f"{o.code}: 更贵 more expensive {_money(_freight(o))} > {_money(_freight(best))}")
    if best is None:
        head = f"无可用快递 no eligible carrier for {inp.region}, {inp.weight} kg → 人工分单 routing review"
    else:
        head = f"{best.code} {best.name} {_money(_freight(best))}, {best.sla_days} d: 最便宜 cheapest eligible"
    return best, head + ("; " + "; ".join(notes) if notes else ""), options


# ---------------------------------------------------------------- the decision


def route(rule_set: RuleSet, inp: RoutingInput) -> RoutingDecision:
    """Warehouse by the first matching rule (zen-engine), carrier by the cheapest eligible one."""
    context = {
        "province": inp.province,
        "city": inp.city,
        "district": inp.district,
        "adcode": inp.adcode,
        "goods_amount_fen": _fen(inp.amount),
        "lines": [{"sku": ln.sku, "category": ln.category, "unit_price_fen": _fen(ln.unit_price)} for ln in inp.lines],
    }
    hit = compiled(rule_set).evaluate(context)
    best, carrier_reason, options = choose_carrier(rule_set, inp)
    version = f" v{rule_set.version}" if rule_set.version is not None else ""
    rule = next((r for r in rule_set.warehouse_rules if r.rule_id == hit.get("rule_id")), None)
    if rule is None:
        reason = f"没有规则命中 no warehouse rule{version} matched {inp.region}, {_money(inp.amount)} → 人工分单 routing review"
    elif rule.warehouse:
        reason = f"规则 rule {rule.rule_id}{version} 命中 matched: {rule.describe()}"
    else:
        reason = f"规则 rule {rule.rule_id}{version} 要求人工分单 sends {inp.region} to routing review: {rule.note or rule.describe()}"
    return RoutingDecision(
        matched=bool(hit.get("warehouse")),
        warehouse=hit.get("warehouse") or None,
        rule_id=hit.get("rule_id"),
        ship_mode=hit.get("ship_mode") or None,
        carrier=best.code if best else None,
        carrier_name=best.name if best else None,
        freight=best.freight if best else None,
        carrier_reason=carrier_reason,
        carrier_options=options,
        rule_version=rule_set.version,
        reason=reason,
    )


# ---------------------------------------------------------------- a person's choice


def check_manual_choice(rule_set: RuleSet, order: CleanOrder, warehouse: str | None, carrier: str | None, *,
                        override: bool, known_warehouses: set[str]) -> list[str]:
    """Why a reviewer's reroute cannot stand (empty: it can). A warehouse must exist; a carrier must
    be in the carrier table and, unless the reviewer overrides it on purpose, serve the district, not
    be suspended there and take the parcel's weight — the same checks the table itself applies."""
    problems: list[str] = []
    if warehouse and warehouse not in known_warehouses:
        problems.append(f"未知仓库 unknown warehouse {warehouse!r}; 可选 known: {', '.join(sorted(known_warehouses))}")
    if not carrier:
        if order.address is None:
            problems.append("地址未解析到区县, 需指定承运商 no district: name the carrier")
        return problems
    table = {c.code: c for c in rule_set.carriers}
    c = table.get(carrier.strip().upper())
    if c is None:
        problems.append(f"未知承运商 unknown carrier {carrier!r}; 可选 known: {', '.join(sorted(table))}")
        return problems
    if override or order.address is None:
        return problems
    inp = RoutingInput.from_order(order)
    why = _excluded(rule_set, c, inp, inp.weight)
    if why:
        problems.append(f"{c.code} {c.name} 不可用 cannot take this parcel: {why}; 如确需使用请勾选强制指定并写明原因 "
                        "(override with a note)")
    return problems
