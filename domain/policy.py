"""Policy values an order workflow runs under, fixed at its start so replays see the same numbers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.contracts.task_queues import TaskQueues
from domain.dedupe import Unmerge
from domain.order import OrderSubmission
from domain.risk import RiskThresholds


class FulfilmentPolicy(BaseModel):
    """What happens after release. ``OrderPolicy.fulfilment`` None means the order completes at
    release (the hub stops at routing); the settings give every new order this policy."""

    warehouse: bool = True  # join the warehouse's wave and wait for pick and pack
    confirm_address: bool = True  # the customer re-confirms the delivery point before dispatch
    confirm_window_seconds: int = 12 * 3600  # no confirmation by then: reminder
    confirm_grace_seconds: int = 2 * 3600  # … and this much later: review task (kind address)
    confirm_radius_km: float = 15.0  # picked point within this distance of the district centroid
    confirm_skip_channels: list[str] = []  # channels whose orders never need re-confirmation
    ship: bool = True  # e-waybill from the carrier and tracking until signed
    transit_alert_hours: float = Field(default=24, gt=0)  # no tracking event for this long in transit: alert
    aftersales_window_days: float = Field(default=15, ge=0)  # the order stays open for aftersales this long after delivery
    suppliers: list[str] = ["BOSCH-EAST", "BOSCH-NORTH"]  # supplier warehouses, in fallback order
    max_parts: int = 3  # an order no single warehouse holds is split over at most this many warehouses


class RetryBounds(BaseModel):
    """How long an activity may keep failing before the workflow is stuck and a person is asked."""

    data_attempts: int = Field(default=8, ge=1)  # read model, rules, cleansing: ~2 minutes of backoff
    partner_hours: float = Field(default=2.0, gt=0)  # carriers, suppliers, the ERP, mini-program cards


class OrderPolicy(BaseModel):
    dedupe_window_seconds: int = 300
    review_escalation_seconds: int = 2 * 3600
    review_red_seconds: int = 24 * 3600
    untouched_seconds: int = 24 * 3600  # a small team's order nobody acted on for this long turns red (domain/team.py)
    console_url: str = "http://127.0.0.1:8501"
    risk: RiskThresholds = RiskThresholds()
    fulfilment: FulfilmentPolicy | None = None
    retry: RetryBounds = RetryBounds()
    queues: TaskQueues = TaskQueues()  # each stage's task queue (default: everything on the order's queue)

    @property
    def release_delay_seconds(self) -> int:
        """How long after its order time a routed order stays open before release: long enough
        for a late duplicate to merge into it and for a burst breaker to hold it."""
        return max(self.dedupe_window_seconds, self.risk.burst_window_minutes * 60)


class PartPolicy(BaseModel):
    """What a fulfilment part and its parcels need of the order's policy (small: it is in their histories)."""

    review_escalation_seconds: int = 2 * 3600
    review_red_seconds: int = 24 * 3600
    console_url: str = "http://127.0.0.1:8501"
    fulfilment: FulfilmentPolicy = FulfilmentPolicy()
    retry: RetryBounds = RetryBounds()
    queues: TaskQueues = TaskQueues()

    @classmethod
    def of(cls, p: OrderPolicy) -> PartPolicy:
        return cls(review_escalation_seconds=p.review_escalation_seconds, review_red_seconds=p.review_red_seconds,
                   console_url=p.console_url, fulfilment=p.fulfilment or FulfilmentPolicy(), retry=p.retry, queues=p.queues)


class OrderWorkflowInput(BaseModel):
    submission: OrderSubmission
    policy: OrderPolicy = OrderPolicy()
    received_by: str = "api"  # who delivered it: api, a channel sync, a webhook
    replacement_of: str | None = None  # an exchange/reissue: the original order (no dedupe, no risk hold)
    aftersales_id: str | None = None  # … and the aftersales case that asked for it
    unmerge: Unmerge | None = None  # a merged duplicate split back out by a person (no dedupe this run)

    def resumed_after(self) -> tuple[int, int]:
        """(projections, timeline events) an earlier run of this order's workflow id already wrote."""
        return (self.unmerge.projected_seq, self.unmerge.events) if self.unmerge else (0, 0)
