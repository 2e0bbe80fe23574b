"""Routing and risk activities: the rules version an order is pinned to, its routing decision, the
risk scan with context from the read model, and the coupon ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity

from activities.confirmation import is_trusted_address
from domain.contracts.assessment import (
    ASSESS_ORDER,
    ASSESS_RISK,
    CHECK_MANUAL_CHOICE,
    PIN_RULES_VERSION,
    PLAN_PARTS,
    REDEEM_COUPON,
    RELEASE_COUPON,
    ROUTE_ORDER,
    Assessment,
    AssessRequest,
    ChoiceCheck,
    CouponRequest,
    ManualChoice,
    RiskAssessment,
    RiskRequest,
    RouteRequest,
    SplitRequest,
)
from domain.contracts.confirmation import TrustCheck
from domain.logistics import WAREHOUSE_SENDERS
from domain.order_view import part_order
from domain.risk import Severity, risk_level, scan
from domain.routing import RoutingDecision, RoutingInput, check_manual_choice, choose_carrier, route
from domain.split import PartPlan, plan_parts
from store import risk_data, rules, stock

__all__ = ["AssessmentActivities", "CouponRequest", "RiskAssessment", "RiskRequest", "RouteRequest"]


class AssessmentActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=PIN_RULES_VERSION.name)
    def pin_rules_version(self) -> int:
        """The active rules version (the shipped default workbook if none was imported yet)."""
        return rules.version_to_pin(self.engine)

    @activity.defn(name=ASSESS_ORDER.name)
    def assess_order(self, req: AssessRequest) -> Assessment:
        """The risk scan; when nothing blocks or holds, also the coupon, the route and the trust check
        (what the order would otherwise ask for in three more calls, right after)."""
        risk = self.assess_risk(req)
        if any(h.severity in (Severity.BLOCK, Severity.HOLD) for h in risk.hits):
            return Assessment(risk=risk)
        order = req.order
        first = self.redeem_coupon(CouponRequest(order=order)) if req.redeem_coupon else None
        try:
            decision = self.route_order(RouteRequest(order=order, rule_version=req.rule_version)) if order.address else None
            trusted = None
            if req.customer_id and order.address is not None:
                trusted = is_trusted_address(self.engine, TrustCheck(order_id=order.order_id, customer_id=req.customer_id,
                                                                     address_text=order.address.text))
        except Exception:  # no redemption outlives a failed call: the order would not know it holds the coupon
            if first == order.order_id:
                self.release_coupon(CouponRequest(order=order))
            raise
        return Assessment(risk=risk, went_on=True, coupon_first=first, decision=decision, trusted_address=trusted)

    @activity.defn(name=ROUTE_ORDER.name)
    def route_order(self, req: RouteRequest) -> RoutingDecision:
        rule_set = rules.load(self.engine, req.rule_version)
        if req.order.address is None:
            # no district: only a reviewer's reroute can route it, with the carrier they name
            return RoutingDecision(
                matched=bool(req.warehouse),
                warehouse=req.warehouse,
                rule_id="manual" if req.warehouse else None,
                carrier=req.carrier,
                carrier_reason=f"审核人指定 carrier chosen by the reviewer: {req.carrier}" if req.carrier
                else "地址无区县,无法自动选快递 no district: the reviewer must name the carrier",
                rule_version=req.rule_version,
                reason=f"人工分单 rerouted by a reviewer to {req.warehouse}" if req.warehouse else "no district",
            )
        inp = RoutingInput.from_order(req.order)
        decision = route(rule_set, inp)
        if req.warehouse:
            carrier = decision.carrier
            reason = decision.carrier_reason
            if req.carrier:
                carrier, reason = req.carrier.strip().upper(), (
                    f"审核人强制指定 carrier overridden by the reviewer: {req.carrier} (承运商表不允许, 已记录)" if req.override
                    else f"审核人指定 carrier chosen by the reviewer: {req.carrier}")
            decision = decision.model_copy(
                update={
                    "matched": True,
                    "warehouse": req.warehouse,
                    "rule_id": "manual",
                    "carrier": carrier,
                    "carrier_reason": reason,
                    "reason": f"人工分单 rerouted by a reviewer to {req.warehouse}",
                }
            )
        return decision

    @activity.defn(name=ASSESS_RISK.name)
    def assess_risk(self, req: RiskRequest) -> RiskAssessment:
        order = req.order
        serving: list[str] | None = None
        only_suspended = False
        if order.address is not None:
            rule_set = rules.load(self.engine, req.rule_version)
            a = order.address
            serving = [c.code for c in rule_set.carriers if c.serves(a.province)]
            if len(serving) == 1:
                only_suspended = any(
                    s.carrier == serving[0] and s.covers(a.province, a.city, a.district, order.ordered_at)
                    for s in rule_set.suspensions
                )
        ctx = risk_data.load_context(
            self.engine,
            order,
            datetime.now(UTC),
            req.thresholds,
            serving_carriers=serving,
            only_carrier_suspended=only_suspended,
            flags=req.flags,
        )
        hits = [h for h in scan(order, ctx, req.thresholds) if h.code not in req.acknowledged]
        return RiskAssessment(hits=hits, level=risk_level(hits), burst_order_ids=ctx.burst_order_ids)

    @activity.defn(name=REDEEM_COUPON.name)
    def redeem_coupon(self, req: CouponRequest) -> str | None:
        """Record the redemption once; returns the order that redeemed the code first."""
        c = req.order.coupon
        if c is None:
            return None
        earlier = risk_data.redeem_coupon(self.engine, c.code, req.order.order_id, c.amount)
        return earlier or req.order.order_id

    @activity.defn(name=RELEASE_COUPON.name)
    def release_coupon(self, req: CouponRequest) -> bool:
        c = req.order.coupon
        return c is not None and risk_data.release_coupon(self.engine, c.code, req.order.order_id)

    @activity.defn(name=CHECK_MANUAL_CHOICE.name)
    def check_manual_choice(self, req: ManualChoice) -> ChoiceCheck:
        rule_set = rules.load(self.engine, req.rule_version)
        known = set(WAREHOUSE_SENDERS) | {r.warehouse for r in rule_set.warehouse_rules if r.warehouse} | stock.warehouses(self.engine)
        problems = check_manual_choice(rule_set, req.order, req.warehouse, req.carrier, override=req.override,
                                       known_warehouses=known)
        return ChoiceCheck(ok=not problems, problems=problems)

    @activity.defn(name=PLAN_PARTS.name)
    def plan_parts(self, req: SplitRequest) -> list[PartPlan]:
        """The order's parts by stock on hand; each part of a split order gets its own carrier (its weight)."""
        warehouse = req.decision.warehouse or ""
        on_hand = stock.on_hand(self.engine, req.order.skus) if req.split else {}
        plan = plan_parts(req.order.lines, warehouse, on_hand, max_parts=req.max_parts)
        if len(plan) == 1 and plan[0].warehouse == warehouse:
            return [plan[0].model_copy(update={"carrier": req.decision.carrier})]
        rule_set = rules.load(self.engine, req.rule_version)
        out = []
        for part in plan:
            carrier = req.decision.carrier
            if req.order.address is not None:
                best, _, _ = choose_carrier(rule_set, RoutingInput.from_order(part_order(req.order, part.lines)))
                carrier = best.code if best else carrier
            out.append(part.model_copy(update={"carrier": carrier}))
        return out

    def all(self) -> list:
        return [self.pin_rules_version, self.assess_order, self.route_order, self.assess_risk, self.redeem_coupon, self.release_coupon,
                self.check_manual_choice, self.plan_parts]


