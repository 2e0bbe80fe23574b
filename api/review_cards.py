"""Review cards: everything a reviewer needs to decide a held order, in one answer.

A review task alone says "why held"; to decide, a person needs the order (customer and their history
with us, masked phone, the resolved district, channel, amount, items with names and fitment), the risk
features as Chinese sentences with the numbers that tripped them, and only the choices that can stand:
warehouses we know and the carriers of the carrier table with, for each one that cannot take the
parcel, why (suspensions included). The console draws cards from this; the decision itself still
goes through ``POST /v1/reviews/{id}/decision``, which re-checks everything.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select

from api.auth import READERS, Caller, require
from api.intake import current_view
from api.schemas import AUTH, ReviewKindFilter, ReviewStateFilter, errors
from domain import labels
from domain.logistics import WAREHOUSE_SENDERS
from domain.printouts import masked_phone
from domain.review import ReviewState
from domain.routing import RoutingInput, RoutingLine, carrier_options
from store import read_model, rules, stock
from store.schema import orders

router = APIRouter(tags=["reviews"])


def _age(row: dict[str, Any]) -> dict[str, Any]:
    created = row.get("created_at")
    if created:
        row["age_seconds"] = int((datetime.now(UTC) - created).total_seconds())
    row["escalated"] = row.get("escalated_at") is not None
    row["red"] = row.get("red_at") is not None
    return row


def known_warehouses(engine, rule_set) -> list[str]:
    """The warehouses a reroute may name: the same set the reroute check accepts."""
    known = set(WAREHOUSE_SENDERS) | stock.warehouses(engine)
    if rule_set is not None:
        known |= {r.warehouse for r in rule_set.warehouse_rules if r.warehouse}
    return sorted(known)


def customer_history(engine, customer_id: str, but: str) -> dict[str, Any]:
    """How many other orders this customer has with us and what they paid ('new customer' is a risk
    feature); merged duplicates are not orders of their own."""
    with engine.connect() as conn:
        n, paid = conn.execute(select(func.count(), func.coalesce(func.sum(orders.c.paid_amount), 0))
                               .where(orders.c.customer_id == customer_id, orders.c.order_id != but,
                                      orders.c.status != "merged")).one()
    return {"orders": int(n), "paid_total": str(Decimal(paid or 0).quantize(Decimal("0.01")))}


def carrier_choices(rule_set, view) -> list[dict[str, Any]]:
    """Every carrier of the table for this order's district: eligible ones first (cheapest first),
    the others with the reason they cannot take it (not served, suspended there, weight). Empty when
    the district is unknown. The routing decision's own options when the live order has one; else the
    table now with the lines' weights — when a line has none, a minimum-weight rule is not held against
    the order (the decision re-checks with the real weight)."""
    if rule_set is None or view is None or view.address is None:
        return []
    routed = view.routing.carrier_options if view.routing is not None else []
    if routed:
        opts, weight_known = list(routed), True
    else:
        a = view.address
        inp = RoutingInput(province=a.province, city=a.city, district=a.district, adcode=a.adcode,
                           goods_amount=view.goods_amount, ordered_at=view.ordered_at,
                           lines=[RoutingLine(sku=ln.sku, category=ln.category, unit_price=ln.unit_price,
                                              quantity=ln.quantity, weight_kg=ln.weight_kg) for ln in view.lines])
        opts, weight_known = carrier_options(rule_set, inp), all(ln.weight_kg is not None for ln in view.lines)
    out = []
    for o in opts:
        excluded = o.excluded
        if excluded and not weight_known and excluded.startswith("低于最低重量"):
            excluded = None
        out.append({"code": o.code, "label": labels.carrier(o.code), "freight": None if o.freight is None else str(o.freight),
                    "sla_days": o.sla_days, "eligible": excluded is None, "excluded": excluded})
    out.sort(key=lambda c: (not c["eligible"], Decimal(c["freight"]) if c["freight"] else Decimal("1e9"), c["code"]))
    return out


def order_summary(view, history: dict[str, Any]) -> dict[str, Any] | None:
    if view is None:
        return None
    a = view.address
    return {
        "order_id": view.order_id, "status": str(view.status), "status_label": labels.order_status(view.status),
        "channel": view.channel, "channel_label": labels.channel(view.channel), "channel_order_id": view.channel_order_id,
        "customer_id": view.customer_id, "customer_name": view.customer_name, "phone_masked": masked_phone(view.phone),
        "customer_history": history,
        "address_text": a.text if a else view.address_raw, "address_raw": view.address_raw,
        "district": {"province": a.province, "city": a.city, "district": a.district, "adcode": a.adcode} if a else None,
        "goods_amount": view.goods_amount, "paid_amount": view.paid_amount, "freight": view.freight,
        "coupon_code": view.coupon_code, "coupon_amount": view.coupon_amount,
        "ordered_at": view.ordered_at, "warehouse": view.warehouse, "carrier": view.carrier,
        "items": [{"line_no": ln.line_no, "sku": ln.sku, "name": ln.name, "category": ln.category,
                   "quantity": ln.quantity, "unit_price": ln.unit_price, "vehicle_model": ln.vehicle_model,
                   "vehicle_label": labels.vehicle_model(ln.vehicle_model) if ln.vehicle_model else None}
                  for ln in view.lines],
        "risk_level": view.risk_level, "risk_level_label": labels.risk_level(view.risk_level),
        "risk_hits": [{"code": h.code, "label": labels.risk_feature(h.code), "severity": str(h.severity),
                       "severity_label": labels.severity(h.severity),
                       "sentence": labels.risk_sentence(h.code, h.data), "data": h.data} for h in view.risk_hits],
        "flags": list(view.flags), "flags_label": labels.flags(view.flags),
    }


@router.get("/v1/reviews/cards", responses=errors(*AUTH))
async def review_cards(
    request: Request,
    state: Annotated[ReviewStateFilter, Query(description="default open; empty: any; another value is a 422")] = ReviewState.OPEN,
    kind: Annotated[ReviewKindFilter, Query(description="a review kind (empty: any); another value is a 422")] = None,
    min_age_minutes: int | None = Query(None, ge=0, le=60 * 24 * 365, description="only tasks waiting at least this long"),
    escalation: str | None = Query(None, pattern="^(any|escalated|red|none)$",
                                   description="escalated (incl. red) | red | none (not escalated)"),
    limit: int = Query(100, ge=1, le=200),
    _role: Caller = Depends(require(*READERS)),
):
    """Open review tasks with their orders, risk sentences and valid choices (see module doc)."""
    engine, client = request.app.state.engine, request.app.state.client
    rows = [_age(r) for r in await asyncio.to_thread(read_model.list_reviews, engine, state=state, kind=kind)]
    if min_age_minutes:
        rows = [r for r in rows if r.get("age_seconds", 0) >= min_age_minutes * 60]
    if escalation == "escalated":
        rows = [r for r in rows if r["escalated"] or r["red"]]
    elif escalation == "red":
        rows = [r for r in rows if r["red"]]
    elif escalation == "none":
        rows = [r for r in rows if not (r["escalated"] or r["red"])]
    rows = rows[:limit]
    rule_set = await asyncio.to_thread(rules.load_active, engine)
    warehouses = await asyncio.to_thread(known_warehouses, engine, rule_set)
    sem = asyncio.Semaphore(8)

    async def card(row: dict[str, Any]) -> dict[str, Any]:
        async with sem:
            view = await current_view(client, engine, row["order_id"])
        history = await asyncio.to_thread(customer_history, engine, view.customer_id, view.order_id) if view else {}
        row["kind_label"] = labels.review_kind(row["kind"])
        row["state_label"] = labels.review_state(row["state"])
        row["feature_labels"] = [labels.risk_feature(f) for f in row.get("features") or []]
        row["order"] = order_summary(view, history)
        row["choices"] = {
            "warehouses": [{"code": w, "label": labels.warehouse(w)} for w in warehouses],
            "carriers": carrier_choices(rule_set, view),
        }
        return row

    items = await asyncio.gather(*(card(r) for r in rows))
    return {"total": len(items), "items": items}
