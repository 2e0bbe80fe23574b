"""Routing and risk activities: the rules version an order is pinned to, its routing decision, the
risk scan with context from the read model, and the coupon ledger."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio import activity

from domain.order import CleanOrder
from domain.risk import RiskHit, RiskThresholds, risk_level, scan
from domain.routing import RoutingDecision, RoutingInput, route
from store import risk_data, rules


class RouteRequest(BaseModel):
    order: CleanOrder
    rule_version: int
    warehouse: str | None = None  # a reviewer's reroute: this warehouse, carrier still by the table
    carrier: str | None = None  # a reviewer's explicit carrier


class RiskRequest(BaseModel):
    order: CleanOrder
    flags: list[str]
    rule_version: int
    thresholds: RiskThresholds
    acknowledged: list[str] = []  # feature codes a reviewer already decided on for this order


class RiskAssessment(BaseModel):
    hits: list[RiskHit]
    level: str
    burst_order_ids: list[str] = []


class CouponRequest(BaseModel):
    order: CleanOrder


class AssessmentActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name="pin_rules_version")
    def pin_rules_version(self) -> int:
        """The active rules version (the shipped default workbook if none was imported yet)."""
        version = rules.active_version(self.engine)
        if version is None:
            version = rules.ensure_default(self.engine)
        if version is None:
            raise RuntimeError("no routing rules version is active; import one with `zhongshu rules import`")
        return version

    @activity.defn(name="route_order")
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
                carrier, reason = req.carrier, f"审核人指定 carrier chosen by the reviewer: {req.carrier}"
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

    @activity.defn(name="assess_risk")
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
            datetime.now(timezone.utc),
            req.thresholds,
            serving_carriers=serving,
            only_carrier_suspended=only_suspended,
            flags=req.flags,
        )
        hits = [h for h in scan(order, ctx, req.thresholds) if h.code not in req.acknowledged]
        return RiskAssessment(hits=hits, level=risk_level(hits), burst_order_ids=ctx.burst_order_ids)

    @activity.defn(name="redeem_coupon")
    def redeem_coupon(self, req: CouponRequest) -> str | None:
        """Record the redemption once; returns the order that redeemed the code first."""
        c = req.order.coupon
        if c is None:
            return None
        earlier = risk_data.redeem_coupon(self.engine, c.code, req.order.order_id, c.amount)
        return earlier or req.order.order_id

    @activity.defn(name="release_coupon")
    def release_coupon(self, req: CouponRequest) -> bool:
        c = req.order.coupon
        return bool(c) and risk_data.release_coupon(self.engine, c.code, req.order.order_id)

    def all(self) -> list:
        return [self.pin_rules_version, self.route_order, self.assess_risk, self.redeem_coupon, self.release_coupon]


