"""Small teams (小微团队): the registration form's order and the 24-hour rule, as pure functions.

A team without a channel integration registers orders through a web form (``api/team_routes.py``);
each becomes an ordinary order of channel ``team`` through the one intake service. Two rules are its
own: the team's WeCom group hears of every new order, and an order nobody has *touched* for 24 hours
turns red (flag ``stale`` in the read model, event ``order.untouched``) and the group is told again —
every further 24 hours, a few times, until someone acts or the order moves on.

*Untouched* means both: the order has not moved past review and release (it is still received,
validated, held for a review, or routed and not yet in a warehouse's wave), and no person has acted on
it through its workflow since it was registered — a review decided, an address corrected, a cancel
asked. A remark or flag set in the console is a note, not an action on the order. The timer is the
order workflow's own (``workflows/team_watch.py``), never a scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from domain.order import Channel, OrderSubmission
from domain.status import OrderStatus
from domain.timeline import TimelineEvent

CHANNEL = Channel.TEAM
BEIJING = timezone(timedelta(hours=8))
STALE_FLAG = "stale"  # labels.FLAGS: 超24小时未处理
NOTICE_KIND = "team_order"  # NotifyRequest.kind of the team's WeCom notices (activities/notify.py)
MAX_REMINDERS = 7  # then the order stays red, silently, until someone acts
UNTOUCHED_STATUSES = frozenset({OrderStatus.RECEIVED, OrderStatus.VALIDATED, OrderStatus.HELD, OrderStatus.ROUTED})
MACHINE_ACTORS = frozenset({"system", "rules", "hub", "customer"})  # the hub itself and the customer's own page


def person_who_acted(timeline: Iterable[TimelineEvent], registered_by: str) -> str | None:
    """The first person who acted on the order after it was registered (None: nobody). The
    registration itself (its actor is ``registered_by``) and the hub's own steps do not count."""
    for e in timeline:
        who = e.actor or ""
        if who and who != registered_by and who not in MACHINE_ACTORS and not who.startswith("channel:"):
            return who
    return None


def untouched(status: OrderStatus, timeline: Iterable[TimelineEvent], registered_by: str) -> bool:
    return status in UNTOUCHED_STATUSES and person_who_acted(timeline, registered_by) is None


def registered_by(received_by: str) -> str:
    """The person behind ``team:<username>`` (the intake source the form records)."""
    return received_by.removeprefix("team:")


def untouched_for(seconds: float) -> str:
    """How long an order has waited, said for a person: 24 小时, 1.5 小时, 30 分钟, 2 秒."""
    if seconds >= 3600:
        return f"{round(seconds / 3600, 1):g} 小时"
    if seconds >= 60:
        return f"{round(seconds / 60):g} 分钟"
    return f"{round(seconds):g} 秒"


def notice_reason(sub: OrderSubmission, received_by: str, *, untouched_seconds: float = 0) -> str:
    """The one line the WeCom notice says about the order (no phone, no street address); a reminder
    (``untouched_seconds`` > 0) says how long nobody acted."""
    goods = "、".join(f"{ln.name}×{ln.quantity}" for ln in sub.lines[:3]) + (" 等" if len(sub.lines) > 3 else "")
    who = registered_by(received_by)
    text = f"{sub.customer.name} · ¥{sub.paid_amount} · {goods} · 登记人 {who}"
    if untouched_seconds > 0:
        text = f"登记后 {untouched_for(untouched_seconds)}无人处理: " + text
    return text


# ---------------------------------------------------------------- the form → a canonical order

_OPTIONAL_LINE_FIELDS = ("vehicle_model", "weight_kg", "supplier")


def order_number(now: datetime, suffix: str) -> str:
    """The team order's channel order id: T + the Beijing day + 8 characters of ``suffix`` (the API
    passes a digest of who sent which form, so a form sent again the same day is the same order; a
    re-send after midnight would be merged as a duplicate instead). Short enough to read out."""
    day = now.astimezone(BEIJING).strftime("%y%m%d")
    return f"T{day}{re.sub(r'[^A-Za-z0-9]', '', suffix)[:8].upper()}"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _sum_goods(lines: list[dict[str, Any]], freight: Any) -> str | None:
    """Goods total + freight, when every number parses (else None: the door names the bad field)."""
    try:
        total = sum((Decimal(str(ln.get("unit_price"))) * int(str(ln.get("quantity"))) for ln in lines), Decimal("0"))
        return str(total + (Decimal(str(freight)) if not _blank(freight) else Decimal("0")))
    except (ArithmeticError, ValueError, TypeError, AttributeError):  # InvalidOperation, Overflow, not an object …
        return None


def _line(ln: Any) -> Any:
    return {k: v for k, v in ln.items() if not (k in _OPTIONAL_LINE_FIELDS and _blank(v))} if isinstance(ln, dict) else ln


def submission_payload(form: dict[str, Any], *, order_no: str, now: datetime) -> dict[str, Any]:
    """The form's fields as a canonical order payload (``OrderSubmission``), so every error the door
    finds names the same path as the form's input (``customer.phone``, ``lines[0].unit_price``). Blank
    optional fields are left out; a blank paid amount is the goods total plus freight."""
    customer = form.get("customer") or {}
    if isinstance(customer, dict) and _blank(customer.get("id")):  # not an object: the door says so
        phone = str(customer.get("phone") or "")
        customer = customer | {"id": "team-" + (re.sub(r"\D", "", phone)[-11:] or order_no)}
    given = form.get("lines")
    lines: Any = ([_line(ln) for ln in given if not isinstance(ln, dict) or any(not _blank(v) for v in ln.values())]
                  if isinstance(given, list) else given)  # not a list (or an item not an object): the door says so
    address = form.get("address")
    payload: dict[str, Any] = {
        "channel": CHANNEL.value, "channel_order_id": order_no, "ordered_at": now.isoformat(),
        "customer": customer, "address": {"raw": address} if isinstance(address, str) else address or {},
        "lines": lines if lines is not None else [], "note": form.get("note") or "",
    }
    if not _blank(form.get("freight")):
        payload["freight"] = form["freight"]
    paid = form.get("paid_amount")
    if _blank(paid):
        paid = _sum_goods(lines, form.get("freight")) if isinstance(lines, list) else None
    if paid is not None:
        payload["paid_amount"] = paid  # still None: left out, so the door says it is missing
    return payload
