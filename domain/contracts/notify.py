"""Notifications: WeCom to-dos for people in the hub, notices for customers (mini-program)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.contracts import Activity


class NotifyRequest(BaseModel):
    order_id: str
    kind: str = Field(description="review kind: address | routing | risk | …")
    reason: str
    features: list[str] = []
    console_url: str
    escalated: bool = False


class CustomerNotice(BaseModel):
    order_id: str
    customer_id: str
    title: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=1000)


NOTIFY_WECOM: Activity[NotifyRequest, None] = Activity("notify_wecom", NotifyRequest, None)
NOTIFY_CUSTOMER: Activity[CustomerNotice, None] = Activity("notify_customer", CustomerNotice, None)
