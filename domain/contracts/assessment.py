"""Assessment stage: the pinned rules version, the risk scan, the coupon ledger, routing and the
split of an order into warehouse parts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.contracts import Activity
from domain.order import CleanOrder
from domain.risk import RiskHit, RiskThresholds
from domain.routing import RoutingDecision
from domain.split import PartPlan


class RouteRequest(BaseModel):
    order: CleanOrder
    rule_version: int
    warehouse: str | None = None  # a reviewer's reroute: this warehouse, carrier still by the table
    carrier: str | None = None  # a reviewer's explicit carrier
    override: bool = False  # the reviewer overrides the carrier table on purpose (recorded)


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


class AssessRequest(RiskRequest):
    """The assessment in one call: the risk scan and — when nothing blocks or holds the order — the
    coupon, the route and whether the address is a trusted repeat one (orders since 2026-12-03)."""

    redeem_coupon: bool = False
    customer_id: str = ""  # for the trusted-address check (none when empty)


class Assessment(BaseModel):
    risk: RiskAssessment
    went_on: bool = False  # nothing blocked or held: the coupon, the route and the trust check ran too
    coupon_first: str | None = None  # the order that redeemed the coupon first (when redeemed here)
    decision: RoutingDecision | None = None  # None: the address has no district (routing needs a person)
    trusted_address: bool | None = None  # None: not checked


class CouponRequest(BaseModel):
    order: CleanOrder


class ManualChoice(BaseModel):
    """A reviewer's reroute, checked against the order's pinned tables before it is applied."""

    order: CleanOrder
    rule_version: int
    warehouse: str | None = None
    carrier: str | None = None
    override: bool = False


class ChoiceCheck(BaseModel):
    ok: bool
    problems: list[str] = []  # Chinese, one per reason the choice is refused


class SplitRequest(BaseModel):
    order: CleanOrder
    decision: RoutingDecision  # the routing's warehouse (preferred) and carrier
    rule_version: int
    max_parts: int = Field(default=3, ge=1)
    split: bool = True  # False: one part at the routed warehouse, whatever the stock


ASSESS_ORDER: Activity[AssessRequest, Assessment] = Activity("assess_order", AssessRequest, Assessment)
PIN_RULES_VERSION: Activity[None, int] = Activity("pin_rules_version", None, int)
ASSESS_RISK: Activity[RiskRequest, RiskAssessment] = Activity("assess_risk", RiskRequest, RiskAssessment)
REDEEM_COUPON: Activity[CouponRequest, str | None] = Activity("redeem_coupon", CouponRequest, str | None)
RELEASE_COUPON: Activity[CouponRequest, bool] = Activity("release_coupon", CouponRequest, bool)
ROUTE_ORDER: Activity[RouteRequest, RoutingDecision] = Activity("route_order", RouteRequest, RoutingDecision)
CHECK_MANUAL_CHOICE: Activity[ManualChoice, ChoiceCheck] = Activity("check_manual_choice", ManualChoice, ChoiceCheck)
PLAN_PARTS: Activity[SplitRequest, list[PartPlan]] = Activity("plan_parts", SplitRequest, list[PartPlan])
