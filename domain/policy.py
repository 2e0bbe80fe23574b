"""Policy values an order workflow runs under, fixed at its start so replays see the same numbers."""

from __future__ import annotations

from pydantic import BaseModel

from domain.order import OrderSubmission


class OrderPolicy(BaseModel):
    dedupe_window_seconds: int = 300
    review_escalation_seconds: int = 2 * 3600
    review_red_seconds: int = 24 * 3600
    console_url: str = "http://127.0.0.1:8501"


class OrderWorkflowInput(BaseModel):
    submission: OrderSubmission
    policy: OrderPolicy = OrderPolicy()
    received_by: str = "api"  # who delivered it: api, a channel sync, a webhook
