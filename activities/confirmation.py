"""Address re-confirmation I/O: the card (and its reminder) pushed to the shop's mini-program, plain
customer notices, and the "trusted repeat address" look-up in the read model.

The mini-program push is idempotent on the receiving side (``Idempotency-Key``: order + round +
reminder for cards, a hash of the notice for notices), so the workflow's retries never send a
customer two cards. 5xx and timeouts raise (the workflow retries with backoff); a 4xx is the
request's fault and raises non-retryable. With no mini-program configured the card is only logged:
a stack without one still runs its orders (a review task picks them up when nobody confirms).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from domain.cleansing import mask_address, mask_phone
from domain.confirmation import ConfirmationCard, card_title, make_token
from domain.contracts.confirmation import IS_TRUSTED_ADDRESS, SEND_CONFIRMATION_CARD, CardRequest, TrustCheck
from domain.contracts.notify import NOTIFY_CUSTOMER, CustomerNotice
from store.schema import orders

log = logging.getLogger("zhongshu.confirmation")

TRUSTED_STATUSES = ("delivered", "completed")


def confirmation_url(api_base_url: str, secret: str, order_id: str, round: int) -> str:
    return f"{api_base_url.rstrip('/')}/c/{make_token(secret, order_id, round)}"


class ConfirmationActivities:
    def __init__(self, engine: Engine, miniprogram_url: str, api_base_url: str, secret: str, timeout: float = 10.0):
        self.engine = engine
        self.miniprogram_url = miniprogram_url.rstrip("/")
        self.api_base_url = api_base_url
        self.secret = secret
        self.timeout = timeout

    def _post(self, path: str, body: dict, key: str) -> dict:
        try:
            with partner_http.client(base_url=self.miniprogram_url, timeout=self.timeout) as c:
                r = c.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            raise RuntimeError(f"mini-program {path} unreachable: {type(exc).__name__}") from None
        if r.status_code >= 500:
            raise RuntimeError(f"mini-program {path} answered {r.status_code}; will retry")
        if r.status_code >= 400:
            raise ApplicationError(f"mini-program refused {path}: {r.status_code} {r.text[:200]}",
                                   type="MiniProgramRefused", non_retryable=True)
        return r.json()

    @activity.defn(name=SEND_CONFIRMATION_CARD.name)
    def send_confirmation_card(self, req: CardRequest) -> ConfirmationCard:
        card = ConfirmationCard(
            order_id=req.order_id, round=req.round,
            url=confirmation_url(self.api_base_url, self.secret, req.order_id, req.round),
            address_text=req.address_text, customer_name=req.customer_name, phone_masked=mask_phone(req.phone),
            reminder=req.reminder, sent_at=datetime.now(UTC), pushed=bool(self.miniprogram_url),
        )
        if not self.miniprogram_url:
            log.info("confirmation card not pushed (no ZHONGSHU_MINIPROGRAM_URL): order %s round %s %s → %s",
                     req.order_id, req.round, mask_address(req.address_text), card.url)
            return card
        key = f"card:{req.order_id}:{req.round}:{'reminder' if req.reminder else 'first'}"
        self._post("/v1/cards", {
            "card_id": key, "customer_id": req.customer_id, "title": card_title(req.reminder),
            **card.model_dump(mode="json", exclude={"pushed"}),
        }, key)
        return card

    @activity.defn(name=NOTIFY_CUSTOMER.name)
    def notify_customer(self, notice: CustomerNotice) -> bool:
        """True when pushed, False when only logged (no mini-program configured)."""
        if not self.miniprogram_url:
            log.info("customer notice not pushed (no ZHONGSHU_MINIPROGRAM_URL): order %s: %s", notice.order_id, notice.title)
            return False
        digest = hashlib.sha256(f"{notice.order_id}\n{notice.title}\n{notice.text}".encode()).hexdigest()[:24]
        key = f"notice:{notice.order_id}:{digest}"
        self._post("/v1/notices", {"notice_id": key, **notice.model_dump()}, key)
        return True

    @activity.defn(name=IS_TRUSTED_ADDRESS.name)
    def is_trusted_address(self, check: TrustCheck) -> bool:
        return is_trusted_address(self.engine, check)

    def all(self) -> list:
        return [self.send_confirmation_card, self.notify_customer, self.is_trusted_address]


def is_trusted_address(engine: Engine, check: TrustCheck) -> bool:
    """The same customer already received an order at exactly this address (delivered or completed,
    with a waybill once the read model records waybills)."""
    q = (
        select(orders.c.order_id)
        .where(orders.c.customer_id == check.customer_id, orders.c.address_text == check.address_text,
               orders.c.status.in_(TRUSTED_STATUSES), orders.c.order_id != check.order_id)
        .limit(1)
    )
    if "waybill_no" in orders.c:  # migration 0007 (shipping) adds it
        q = q.where(orders.c.waybill_no.is_not(None))
    with engine.connect() as conn:
        return conn.execute(q).first() is not None
