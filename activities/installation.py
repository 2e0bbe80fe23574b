"""The ``book_installation`` activity: a technician work order at the technician app, over HTTP.

Retrying is Temporal's job: an unreachable app or a 5xx raises a retryable error; a 4xx (wrong
token, a body it refuses, no slot within a week) raises a non-retryable ``ApplicationError`` so the
workflow can put the order in front of a person instead of retrying for ever. The app is idempotent
on the order id, so a retry after a lost answer gets the same work order back.
"""

from __future__ import annotations

import logging

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from domain.contracts.logistics import BOOK_INSTALLATION
from domain.installation import Appointment, InstallationRequest

log = logging.getLogger("zhongshu.installation")

DEFAULT_TOKEN = "zs-technician-token"  # the fake's; real deployments configure their own


class InstallationActivities:
    def __init__(self, technician_url: str, token: str = DEFAULT_TOKEN, timeout: float = 10.0):
        self.technician_url = (technician_url or "").rstrip("/")
        self.token = token
        self.timeout = timeout

    @activity.defn(name=BOOK_INSTALLATION.name)
    async def book_installation(self, req: InstallationRequest) -> Appointment:
        if not self.technician_url:
            raise ApplicationError("technician_url is not set (ZHONGSHU_TECHNICIAN_URL): cannot book an installation",
                                   type="TechnicianNotConfigured", non_retryable=True)
        url = f"{self.technician_url}/v1/work-orders"
        try:
            async with partner_http.async_client(timeout=self.timeout) as client:
                resp = await client.post(url, json=req.model_dump(mode="json"),
                                         headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as exc:
            raise ApplicationError(f"technician app {self.technician_url} unreachable: {type(exc).__name__}",
                                   type="TechnicianUnavailable") from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ApplicationError(f"technician app answered HTTP {resp.status_code}", type="TechnicianUnavailable")
        if resp.status_code >= 400:
            raise ApplicationError(
                f"technician app refused the work order for {req.order_id}: HTTP {resp.status_code} {_detail(resp)}",
                type="TechnicianRefused", non_retryable=True)
        try:
            body = resp.json()
            appt = Appointment(work_order_no=body["work_order_no"], technician_name=body["technician"]["name"],
                               technician_phone=body["technician"]["phone"], slot_start=body["slot_start"],
                               slot_end=body["slot_end"], items=body.get("items", []))
        except (ValueError, KeyError, TypeError) as exc:
            raise ApplicationError(f"technician app answered an unreadable work order: {exc}",
                                   type="TechnicianBadAnswer") from None
        log.info("installation booked for %s: %s %s %s", req.order_id, appt.work_order_no, appt.technician_name,
                 appt.slot_start.isoformat())
        return appt

    def all(self) -> list:
        return [self.book_installation]


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("error", "reason") if body.get(k)]
        parts += [str(f) for f in body.get("fields", [])]
        return "; ".join(parts)
    return str(body)[:200]
