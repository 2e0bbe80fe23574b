"""Taking an order in: the one intake service of the API, the webhooks and the channel syncs.

Every entry point has the same guarantees: a payload becomes an order (its workflow started, the
order visible in the read model at once) or a recorded rejection; a re-delivery of the same channel
order never starts a second workflow — it reaches the running order as ``channel_redelivered``,
unless the channel's version says it is older than what the order has. The answer says which, and
``created`` is the truth about *this* delivery (the start uses FAIL on an existing id).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.cleansing import cleanse, mask_name, mask_phone
from domain.contracts import order as C
from domain.contracts import search_attributes as sa
from domain.contracts.task_queues import STAGES, TaskQueues
from domain.errors import FieldError, field_errors
from domain.order import OrderSubmission, storable
from domain.policy import FulfilmentPolicy, OrderPolicy, OrderWorkflowInput
from domain.redelivery import DeliveryVersion, Freshness, VersionedSubmission, freshness
from store import read_model
from store.channel_health import Claim, claim_version, stored_version
from store.schema import rejected_payloads
from zhongshu.settings import Settings


def policy_from(settings: Settings) -> OrderPolicy:
    """The policy every new order runs under, fixed at its start (replays see the same numbers)."""
    return OrderPolicy(
        dedupe_window_seconds=settings.dedupe_window_seconds, review_escalation_seconds=settings.review_escalation_seconds,
        review_red_seconds=settings.review_red_seconds, untouched_seconds=settings.team_untouched_seconds,
        console_url=settings.console_url, risk=settings.risk,
        fulfilment=fulfilment_policy_from(settings), queues=task_queues_from(settings))


def task_queues_from(settings: Settings) -> TaskQueues:
    """Only stages with a queue of their own are named: the rest stay on the caller's queue (no task queue
    on the command, as before the split)."""
    own = {s.value: settings.queue_of(s.value) for s in STAGES if settings.queue_of(s.value) != settings.task_queue}
    return TaskQueues(**own)


def fulfilment_policy_from(settings: Settings) -> FulfilmentPolicy | None:
    if not settings.fulfilment:
        return None
    return FulfilmentPolicy(
        warehouse=settings.fulfilment_warehouse, confirm_address=settings.confirm_address,
        confirm_window_seconds=int(settings.confirm_window_hours * 3600),
        confirm_grace_seconds=int(settings.confirm_grace_hours * 3600), confirm_radius_km=settings.confirm_radius_km,
        confirm_skip_channels=[c.strip() for c in settings.confirm_skip_channels.split(",") if c.strip()],
        ship=settings.ship, transit_alert_hours=settings.transit_alert_hours,
        aftersales_window_days=settings.aftersales_window_days,
        suppliers=[c.strip() for c in settings.suppliers.split(",") if c.strip()])


def summary(sub: OrderSubmission) -> str:
    """Readable one-liner for the Temporal UI: no phone, no address, the name masked (the summary is
    encrypted by the payload codec too, but a list view shows it to whoever decodes)."""
    goods = ", ".join(f"{ln.name}×{ln.quantity}" for ln in sub.lines[:3])
    return f"{sub.channel.value} {sub.channel_order_id} · {mask_name(sub.customer.name)} · ¥{sub.paid_amount} · {goods}"[:200]


# ------------------------------------------------------------------------------------- rejections


def storable_payload(value: Any) -> Any:
    """The payload as it can be recorded: strings (keys too) without NUL or lone surrogates, which
    PostgreSQL text / UTF-8 cannot hold; non-JSON values as text. Only for rejections."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_payload(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return storable(bytes(value[:20000]).decode("utf-8", "replace"))
    return storable(str(value))


def record_rejection(engine: Engine, payload: Any, errors: list[FieldError], source: str, *, once: bool = False,
                     channel: str | None = None, channel_order_id: str | None = None) -> int:
    """Record the rejected payload with its field errors; ``once``: unless the identical one (same
    source, channel order and payload, not yet replayed) is recorded already — a channel re-sending
    it, or an activity retry, records it once. A raw channel payload names its channel and order id
    explicitly (they are not where a canonical payload has them)."""
    if channel is None and isinstance(payload, dict):
        channel = payload.get("channel")
    coid = channel_order_id or (payload.get("channel_order_id") if isinstance(payload, dict) else None)
    channel = storable(str(channel))[:20] if channel else None
    coid = storable(str(coid))[:64] if coid else None
    stored = storable_payload(payload)
    if once and coid:
        canon = json.dumps(stored, sort_keys=True, ensure_ascii=False, default=str)
        with engine.connect() as conn:
            rows = conn.execute(select(rejected_payloads.c.id, rejected_payloads.c.payload).where(
                rejected_payloads.c.channel == channel, rejected_payloads.c.channel_order_id == coid,
                rejected_payloads.c.source == source[:32], rejected_payloads.c.replayed_at.is_(None)))
            for rid, seen in rows:
                if json.dumps(seen, sort_keys=True, ensure_ascii=False, default=str) == canon:
                    return int(rid)
    return read_model.record_rejection(
        engine, source=source[:32], payload=stored, channel=channel, channel_order_id=coid,
        errors=[{"field": storable(e.field), "message": storable(e.message)} for e in errors])


# ------------------------------------------------------------------------------------- the service


class IntakeResult(BaseModel):
    outcome: Literal["created", "existing", "rejected"]
    order_id: str | None = None
    rejection_id: int | None = None
    errors: list[FieldError] = []
    signalled: bool = False  # existing: the running order got the copy (``channel_redelivered``)
    stale: bool = False  # existing: older than (or the very copy) the order has: not signalled
    reason: str = ""

    @property
    def created(self) -> bool:
        return self.outcome == "created"


class TemporalUnavailable(Exception):
    """Temporal did not answer: nothing is confirmed, re-sending is safe (HTTP 503 + Retry-After)."""


def content_digest(sub: OrderSubmission) -> str:
    """The canonical contents of a delivered copy (the same raw copy always maps to the same digest)."""
    return hashlib.sha256(sub.model_dump_json().encode()).hexdigest()


@dataclass
class OrderIntake:
    client: Client
    engine: Engine
    settings: Settings

    async def accept(self, payload: Any, *, source: str, version: DeliveryVersion | None = None,
                     once: bool = False) -> IntakeResult:
        """Validate at the door, then start the order's workflow and make it visible. ``version``: the
        channel's version of this copy; ``once``: record an identical rejection only once (channels)."""
        try:
            sub = OrderSubmission.at_door(payload, window=self.settings.order_window)
            errors = cleanse(sub).errors
        except ValidationError as exc:
            sub, errors = None, field_errors(exc)
        if errors or sub is None:
            rid = await asyncio.to_thread(record_rejection, self.engine, payload, errors, source, once=once)
            return IntakeResult(outcome="rejected", rejection_id=rid, errors=errors,
                                reason="; ".join(f"{e.field}: {e.message}" for e in errors))
        rpc = timedelta(seconds=self.settings.temporal_rpc_seconds)
        try:
            await asyncio.wait_for(self.client.start_workflow(
                C.ORDER.name, OrderWorkflowInput(submission=sub, policy=policy_from(self.settings), received_by=source),
                id=sub.order_id, task_queue=self.settings.task_queue, rpc_timeout=rpc,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,  # an existing order raises: "created" is our truth
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(sa.ORDER_STATUS, "received"), SearchAttributePair(sa.CHANNEL, sub.channel.value),
                    SearchAttributePair(sa.CUSTOMER_ID, sub.customer.id)]),
                static_summary=summary(sub),
                static_details=f"customer {sub.customer.id} · phone {mask_phone(sub.customer.phone)} · via {source}"),
                timeout=self.settings.temporal_rpc_seconds + 1)
        except WorkflowAlreadyStartedError:
            return await self.redeliver(sub, version)
        except (TimeoutError, RPCError) as exc:
            raise TemporalUnavailable(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}") from exc
        await asyncio.to_thread(read_model.record_received, self.engine, sub)  # visible now, not when a worker gets to it
        if version is not None and version.known:
            await asyncio.to_thread(claim_version, self.engine, sub.order_id, sub.channel.value, version, content_digest(sub))
        return IntakeResult(outcome="created", order_id=sub.order_id)

    async def redeliver(self, sub: OrderSubmission, version: DeliveryVersion | None) -> IntakeResult:
        """The order exists: signal it the new copy — unless the channel's version says it is older
        than the copy the order has (a late copy never reverts newer data). The version is claimed
        compare-and-set before the signal, so of two racing deliveries the older does not signal."""
        current = await asyncio.to_thread(stored_version, self.engine, sub.order_id)
        if freshness(version, current) == Freshness.OLDER:
            return IntakeResult(outcome="existing", order_id=sub.order_id, stale=True,
                                reason=f"渠道旧版本, 未应用: older than the copy the order has ({version.text() if version else '-'} < "
                                       f"{current.text() if current else '-'}): not applied")
        if version is not None and version.known:
            claim = await asyncio.to_thread(claim_version, self.engine, sub.order_id, sub.channel.value, version,
                                            content_digest(sub))
            if claim in (Claim.OLDER, Claim.DUPLICATE):
                return IntakeResult(outcome="existing", order_id=sub.order_id, stale=True,
                                    reason=f"{'a newer copy was taken meanwhile' if claim == Claim.OLDER else 'the copy the order has'}"
                                           f" ({version.text()}): not applied")
        try:
            signalled = await asyncio.wait_for(self.signal_redelivery(sub, version), timeout=self.settings.temporal_rpc_seconds)
        except (TimeoutError, RPCError) as exc:
            raise TemporalUnavailable(f"re-delivery not confirmed: {exc}") from exc
        return IntakeResult(outcome="existing", order_id=sub.order_id, signalled=signalled)

    async def signal_redelivery(self, sub: OrderSubmission, version: DeliveryVersion | None = None) -> bool:
        """False when the order's workflow is closed: the re-delivery is then just a duplicate. Other
        RPC errors propagate: the delivery is not taken and the channel re-sends."""
        payload = VersionedSubmission.model_validate({**sub.model_dump(), "channel_version": version})
        try:
            await self.client.get_workflow_handle(sub.order_id).signal(C.CHANNEL_REDELIVERED.name, payload)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True
