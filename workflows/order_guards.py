"""What runs beside an order's stages: duplicate merges, the burst breaker, channel re-deliveries,
reroute checks and the push to the ERP. Workflow code (signals to other orders, activities), kept apart
from ``OrderWorkflow`` so the order reads as its stages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain.confirmation import AddressChange, ConfirmationResult
    from domain.contracts import assessment as A
    from domain.contracts import intake as I
    from domain.contracts import order as C
    from domain.contracts.finance import PUSH_ORDER_TO_ERP, ErpPushRequest
    from domain.errors import field_errors
    from domain.order import OrderSubmission
    from domain.policy import OrderPolicy
    from domain.redelivery import Change, Freshness, VersionedSubmission, changes, freshness
    from domain.review import Decision, ReviewDecision
    from domain.status import OrderStatus

from workflows.io import PARTNER, Io
from workflows.ledger import Ledger

S = OrderStatus
CLOSED_ANCHOR_FLAG = "closed-anchor-flag"  # workflow.patched id (2026-12): a closed anchor's row is marked
RELEASE_FROM_ARRIVAL = "release-from-arrival"  # workflow.patched id (2026-12-06): a future order time waits from arrival
AHEAD_TOLERANCE = timedelta(hours=1)  # clocks differ by minutes; a time zone mistake is whole hours
REFUSED_ADDRESS_TASK = "refused-redelivered-address-task"  # workflow.patched id (2026-12-06): a person is told
ERP_PUSH = PARTNER | {"schedule_to_close_timeout": timedelta(days=2)}  # the ERP down for a day delays the push, never the order


async def merge_into(rec: C.OrderRecord, anchor: str, policy: OrderPolicy, io: Io) -> dict[str, Any]:
    """Fold this order into the earlier one (same phone, same SKU within the window); tell it so, or,
    when its workflow has closed, mark its read-model row (flag and timeline) instead.
    Returns the ``order.merged`` event's reason and data."""
    order = rec.order
    assert order is not None
    if "suspected_brushing" not in rec.flags:
        rec.flags.append("suspected_brushing")
    rec.merged_into = anchor
    try:
        await workflow.get_external_workflow_handle(anchor).signal(C.DUPLICATE_MERGED.name, C.DuplicateNotice(
            duplicate_order_id=order.order_id, skus=order.skus, channel=order.channel.value))
        told = True
    except Exception:  # noqa: BLE001 - the anchor closed meanwhile: its row says so, our timeline says where we went
        told = False
    data: dict[str, Any] = {"merged_into": anchor, "anchor_notified": told}
    if not told and workflow.patched(CLOSED_ANCHOR_FLAG):
        data["anchor_flagged"] = await io.local(I.FLAG_CLOSED_ANCHOR, I.ClosedAnchorNotice(
            anchor_order_id=anchor, duplicate_order_id=order.order_id, skus=order.skus, at=workflow.now(),
            reason=merged_reason(order.order_id, order.skus, anchor_closed=True)))
    return {"reason": f"促销刷单疑似: 同一手机号同一SKU ({', '.join(order.skus)}) {policy.dedupe_window_seconds // 60} 分钟内重复, "
                      f"并入 {anchor} (same phone and SKU within the window)",
            "data": data}


def merged_reason(duplicate_order_id: str, skus: list[str], *, anchor_closed: bool = False) -> str:
    """The anchor's ``duplicate.merged`` sentence, on its timeline or (closed) on its row."""
    return f"促销刷单疑似: {duplicate_order_id} 并入本单 (SKU {', '.join(skus)}{'; 本单已结束 anchor closed' if anchor_closed else ''})"


def opened(ledger: Ledger, inp: C.OrderInput) -> None:
    """The run's first event: the order arrived, or a person split it back out of its anchor."""
    if inp.unmerge is None:
        ledger.event("order.received", actor=inp.received_by, reason=f"由 {inp.received_by} 送达")
    else:
        ledger.event("order.unmerged", actor=inp.unmerge.actor, reason=inp.unmerge.reason(),
                     data={"anchor": inp.unmerge.anchor})


def merged(rec: C.OrderRecord, ledger: Ledger, notice: C.DuplicateNotice) -> bool:
    """A later duplicate was folded into this order (or, ``unmerged_by``, split back out of it)."""
    if notice.unmerged_by is not None:
        if notice.duplicate_order_id not in rec.merged_duplicates:
            return False
        rec.merged_duplicates.remove(notice.duplicate_order_id)
        ledger.event("duplicate.unmerged", actor=notice.unmerged_by, reason=f"{notice.duplicate_order_id} 已拆出为独立订单 "
                     "(split back out)", data={"duplicate_order_id": notice.duplicate_order_id})
        return True
    if notice.duplicate_order_id in rec.merged_duplicates:
        return False
    rec.merged_duplicates.append(notice.duplicate_order_id)
    if "suspected_brushing" not in rec.flags:
        rec.flags.append("suspected_brushing")
    ledger.event("duplicate.merged", reason=merged_reason(notice.duplicate_order_id, notice.skus),
                 data={"duplicate_order_id": notice.duplicate_order_id})
    return True


async def trip_burst_breaker(rec: C.OrderRecord, earlier: list[str], policy: OrderPolicy) -> list[str]:
    """Hold every other order of the burst too, wherever it is before dispatch. Returns those that
    had closed already."""
    count = len(earlier) + 1
    notice = C.BurstNotice(by_order_id=rec.order_id, count=count, reason=(
        f"熔断: 同一客户同一地址{policy.risk.burst_window_minutes}分钟内{count}单 (由 {rec.order_id} 触发)"))
    closed = []
    for oid in earlier:
        try:
            await workflow.get_external_workflow_handle(oid).signal(C.BURST_HOLD.name, notice)
        except Exception:  # noqa: BLE001 - that order has closed; nothing left to hold
            closed.append(oid)
    return closed


def should_hold(rec: C.OrderRecord, ledger: Ledger, seen: set[str], notice: C.BurstNotice, *, released: bool,
                in_risk_review: bool) -> bool:
    """A burst arrived (perhaps late: a sync catching up, an ERP import). Held before dispatch, at
    whatever stage the order is; too late once a part was released (then said so on the timeline)."""
    if rec.status.terminal or notice.by_order_id in seen:
        return False
    seen.add(notice.by_order_id)
    if released:
        ledger.event("burst.too_late", reason=f"{notice.reason}; 包裹已放行发货, 如需拦截请联系承运商或发起售后")
        return False
    if rec.status in (S.RECEIVED, S.VALIDATED) or in_risk_review:
        return False  # its own scan counts the burst, or the reviewer already sees it
    return True


def redelivery_changes(before: OrderSubmission, after: VersionedSubmission, rec: C.OrderRecord,
                       ledger: Ledger) -> list[Change]:
    """What a channel's re-delivery changes, if it is for this order, the order is still open and the
    copy is not older than the one the order has (a late copy never reverts newer data)."""
    if after.order_id != rec.order_id or rec.status.terminal:
        return []
    if freshness(after.channel_version, rec.channel_version) == Freshness.OLDER:
        ledger.event("channel.redelivery_stale", actor=f"channel:{after.channel.value}",
                     reason=f"渠道旧版本, 未应用 older copy not applied ({after.channel_version.text() if after.channel_version else '-'}"
                            f" < {rec.channel_version.text() if rec.channel_version else '-'})")
        return []
    rec.channel_version = after.channel_version or rec.channel_version
    return changes(before, after)


async def check_reroute(io: Io, rec: C.OrderRecord, d: ReviewDecision) -> None:
    """A reviewer's reroute is checked like a rule (a known warehouse, a carrier that serves the
    district and is not suspended there) unless it is an explicit, recorded override."""
    if d.decision != Decision.REROUTE or rec.order is None or rec.rule_version is None:
        return
    check = await io.local(A.CHECK_MANUAL_CHOICE, A.ManualChoice(order=rec.order, rule_version=rec.rule_version,
                                                                 warehouse=d.warehouse, carrier=d.carrier, override=d.override))
    if not check.ok:
        raise ApplicationError("改派不可用 reroute refused: " + "; ".join(check.problems), type="InvalidDecision",
                               non_retryable=True)


def release_deadline(rec: C.OrderRecord, delay_seconds: int, ledger: Ledger) -> datetime:
    """The release window runs from the order's time, or from its arrival when it says it was placed
    later than it reached us (a channel's clock or time zone is off: Beijing time sent as UTC is 8 h
    ahead) — such an order would otherwise wait hours with nobody told. The timeline says so."""
    placed, arrived = rec.submission.ordered_at, rec.created_at
    if placed > arrived + AHEAD_TOLERANCE and workflow.patched(RELEASE_FROM_ARRIVAL):
        if not ledger.has("order.time_ahead"):
            hours = (placed - arrived).total_seconds() / 3600
            ledger.event("order.time_ahead", reason=f"下单时间比到达时间晚 {hours:.1f} 小时, 请检查渠道的时钟或时区; 发货等待从到达时算起 "
                                                    f"(ordered_at is {hours:.1f} h after arrival: the release window runs from arrival)",
                         data={"ordered_at": placed.isoformat(), "arrived_at": arrived.isoformat()})
        placed = arrived
    return placed + timedelta(seconds=delay_seconds)


async def apply_redelivered_address(change: Callable[[AddressChange], Awaitable[ConfirmationResult]], ledger: Ledger,
                                    sub: VersionedSubmission, by: str) -> str | None:
    """A re-delivered address before dispatch is the customer's change. Returns why it was not applied
    (None: applied), for a person's task: a copy whose address a change cannot take (too short, no
    Chinese place name) is a refusal on the timeline, never a workflow task that fails for ever."""
    try:
        new = AddressChange(address=sub.address.as_text(), requested_by=by)
    except ValidationError as exc:
        reason = "渠道重推的新地址无效, 未应用 (re-delivered address refused): " + "; ".join(e.message for e in field_errors(exc))
        ledger.event("channel.change_not_applied", actor=by, reason=reason)
        return reason
    r = await change(new)
    ledger.event("channel.address_changed" if r.accepted else "channel.change_not_applied", actor=by, reason=r.message)
    return None if r.accepted else r.message


def refused_address_text(refused: str | None, sub: VersionedSubmission, text: str | None) -> str | None:
    """The follow-up task's text with a refused re-delivered address first: unless a person acts, the
    customer's change is lost (before 2026-12-06 only the timeline said so)."""
    if not refused or not workflow.patched(REFUSED_ADDRESS_TASK):
        return text
    said = f"新地址未能应用: {refused} (渠道地址: {sub.address.as_text()[:120]})"
    return f"{said}; {text}" if text else said


def changes_for_a_person(found: list[Change], ledger: Ledger, by: str, *, address_applies: bool) -> str | None:
    """The changes a re-delivery brings that nobody applies automatically, recorded; their text for the
    follow-up task (None: nothing for a person)."""
    others = [c for c in found if c.field != "address" or not address_applies]
    if not others:
        return None
    text = "; ".join(c.text() for c in others)
    ledger.event("channel.redelivered_changed", actor=by, reason=f"渠道重推订单有变更: {text}",
                 data={"changes": [c.model_dump() for c in others]})
    return text


async def push_to_erp(io: Io, rec: C.OrderRecord, ledger: Ledger) -> None:
    """Beside the order's own progress: the ERP's sales order number on the timeline once pushed."""
    assert rec.order is not None
    result = await io.remote(PUSH_ORDER_TO_ERP, ErpPushRequest(order=rec.order), options=ERP_PUSH)
    if result.doc_no:
        rec.erp_doc_no = result.doc_no
        ledger.event("erp.pushed", reason=f"ERP 销售订单 {result.doc_no}", data={"doc_no": result.doc_no})
