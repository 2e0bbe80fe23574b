"""Address re-confirmation: the customer's card and the trusted-address check."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.contracts import Activity
from domain.contracts.task_queues import Stage


class CardRequest(BaseModel):
    order_id: str
    customer_id: str
    customer_name: str
    phone: str  # E.164; only the masked form leaves the hub
    address_text: str
    round: int = Field(default=1, ge=1)
    reminder: bool = False


class TrustCheck(BaseModel):
    order_id: str  # this order (never trusted because of itself)
    customer_id: str
    address_text: str  # ResolvedAddress.text, as the read model stores it


SEND_CONFIRMATION_CARD: Activity[CardRequest, None] = Activity("send_confirmation_card", CardRequest, None, Stage.LOGISTICS)
IS_TRUSTED_ADDRESS: Activity[TrustCheck, bool] = Activity("is_trusted_address", TrustCheck, bool)
