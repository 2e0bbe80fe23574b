"""Labels and formats shared by the console pages: one place for the Chinese words and the colours.

Statuses, flags, review kinds and timeline events have English machine names in the API; people on
the floor read the Chinese label with an icon, so a status is recognisable at a glance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from domain import labels
from domain.labels import diff_class

CN_TZ = timezone(timedelta(hours=8))  # China has no DST; no tz database needed

BadgeColour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"]  # st.badge's colours

# status → (icon, label, badge colour)
STATUS: dict[str, tuple[str, str, BadgeColour]] = {
    "received": ("📥", "已接收", "blue"),
    "validated": ("✅", "已校验", "green"),
    "held": ("⏸️", "待审核", "orange"),
    "routed": ("🧭", "已分单", "violet"),
    "picking": ("🛒", "拣货中", "violet"),
    "packed": ("📦", "已打包", "blue"),
    "shipped": ("🚚", "运输中", "blue"),
    "delivered": ("📬", "已签收", "green"),
    "completed": ("🏁", "已完成", "green"),
    "rejected": ("⛔", "已拒绝", "red"),
    "cancelled": ("✖️", "已取消", "gray"),
    "merged": ("🔗", "已合并", "gray"),
}
TERMINAL = {"completed", "rejected", "cancelled", "merged"}
CHANNELS = {"tmall": "天猫", "taobao": "淘宝", "douyin": "抖音", "miniprogram": "小程序", "erp": "ERP", "manual": "手工"}
FLAGS = {"suspected_brushing": "促销刷单疑似"}
KINDS = {"address": "地址", "routing": "分单", "risk": "风控", "stock": "缺货", "transit": "物流停滞", "follow_up": "跟进", "returned": "包裹退回", "carrier": "面单失败"}
DECISIONS = {"approve": "通过", "reject": "拒绝", "reroute": "改派仓库", "correct_address": "更正地址"}
WAREHOUSES = ["HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD"]  # no warehouse list endpoint yet
EVENTS = {
    "order.received": "订单接收",
    "order.validated": "校验通过",
    "order.routed": "已分单",
    "order.completed": "已完成",
    "order.wave_joined": "进入波次",
    "order.wave_kept": "留在原波次",
    "order.packed": "拣货打包完成",
    "order.short_picked": "拣货缺货",
    "order.shipped": "已发货",
    "order.delivered": "已签收",
    "address.confirmation_sent": "已发送地址确认",
    "address.confirmed": "客户已确认地址",
    "address.changed": "修改地址",
    "address.change_refused": "改址被拒(已发出)",
    "waybill.created": "电子面单已生成",
    "tracking.event": "物流轨迹",
    "tracking.stalled": "运输超时预警",
    "aftersales.opened": "售后已发起",
    "order.rejected": "订单拒绝",
    "order.cancelled": "订单取消",
    "review.opened": "创建审核任务",
    "review.escalated": "审核已升级",
    "review.red": "审核超24小时",
    "review.decided": "审核已决定",
    "address.corrected": "地址已更正",
    "address.accepted_unresolved": "地址按原文接受",
    "duplicate.merged": "合并重复订单",
    "duplicate.merged_into": "并入其他订单",
}


def _unknown(status: str | None) -> tuple[str, str, BadgeColour]:
    """A status the order table has no icon for (a part's or parcel's, e.g. 运输中): its label still."""
    raw = status or "-"
    said = next((t for t in (labels.order_status(raw), labels.part_status(raw), labels.parcel_status(raw)) if t != raw), raw)
    return ("❔", said, "gray")


def status_text(status: str | None) -> str:
    icon, label, _ = STATUS.get(status or "", None) or _unknown(status)
    return f"{icon} {label}"


def status_badge(status: str | None) -> tuple[str, BadgeColour]:
    """(label, colour) for st.badge."""
    icon, label, colour = STATUS.get(status or "", None) or _unknown(status)
    return f"{icon} {label}", colour


def flags_text(flags: list[str] | None) -> str:
    return "、".join(FLAGS.get(f, f) for f in flags or [])


def stale(order: dict[str, Any], hours: int = 24) -> bool:
    """An open order nobody touched for a day: the small-team rule 'untouched 24 h turns red'."""
    at = parse_time(order.get("updated_at"))
    quiet = TERMINAL | {"delivered"}  # a delivered order waiting out its aftersales window needs nobody
    return at is not None and order.get("status") not in quiet and datetime.now(UTC) - at > timedelta(hours=hours)


def event_text(event: str) -> str:
    label = EVENTS.get(event)
    return f"{label} ({event})" if label else event


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def fmt_time(value: Any) -> str:
    """Beijing time, to the second: what a reviewer compares with WeCom messages."""
    dt = parse_time(value)
    if dt is None:
        return str(value or "")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(CN_TZ).strftime("%Y-%m-%d %H:%M:%S")


def fmt_age(seconds: int | float | None) -> str:
    """8000 → '2小时13分'; days when it is that bad."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分"
    return f"{secs}秒"


def fmt_money(value: Any) -> str:
    if value is None or value == "":
        return "-"
    try:
        return f"¥{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


def region(province: Any, city: Any, district: Any) -> str:
    return "".join(p for p in (province, city, district) if p) or "-"


def yuan(fen: Any) -> str:
    return "-" if fen is None else fmt_money(f"{fen / 100:.2f}")


def reconciliation_banner(summary: dict[str, Any]) -> tuple[str, str]:
    """(level, text) of a reconciliation day: green only when every difference class is zero —
    totals that net out to the fen while single orders differ are not 'reconciled'."""
    t = summary["totals"]
    open_classes = {k: c for k, c in (summary.get("classes") or {}).items() if c.get("count") or c.get("amount_fen")}
    head = (f"差异 {summary['differences']} 笔 · 渠道差异合计 {yuan(t['channel_diff_fen'])} · "
            f"ERP 差异合计 {yuan(t['erp_diff_fen'])} · ")
    if not open_classes and not summary["differences"]:
        return "success", head + "全部轧平到分, 无差异"
    detail = "、".join(f"{diff_class(k)} {c.get('count', 0)} 笔" for k, c in open_classes.items())
    return "error", head + "未轧平: " + (detail or "有差异")
