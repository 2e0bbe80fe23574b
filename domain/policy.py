"""Policy values an order workflow runs under, fixed at its start so replays see the same numbers."""

from __future__ import annotations

from pydantic import BaseModel

from domain.order import OrderSubmission
from domain.risk import RiskThresholds


class OrderPolicy(BaseModel):
    dedupe_window_seconds: int = 300
    review_escalation_seconds: int = 2 * 3600
    review_red_seconds: int = 24 * 3600
    console_url: str = "http://127.0.0.1:8501"
    risk: RiskThresholds = RiskThresholds()

    @property
    def release_delay_seconds(self) -> int:
        """How long after its order time a routed order stays open before release: long enough
        for a late duplicate to merge into it and for a burst breaker to hold it."""
        return max(self.dedupe_window_seconds, self.risk.burst_window_minutes * 60)


class OrderWorkflowInput(BaseModel):
    submission: OrderSubmission
    policy: OrderPolicy = OrderPolicy()
    received_by: str = "api"  # who delivered it: api, a channel sync, a webhook
