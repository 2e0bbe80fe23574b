"""One row of an order as the search page and its Excel export show it (Chinese headers and labels,
masked phone), and the export itself (openpyxl)."""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook

from console.ui import fmt_money, fmt_time
from domain import labels

EXPORT_MAX = 5000  # rows; a bigger export belongs in a report, not a page
COLUMNS = ["订单号", "状态", "渠道", "渠道单号", "客户", "电话", "收货地区", "实付", "仓库", "承运商", "运单号",
           "标记", "下单时间"]


def row(o: dict) -> dict:
    m = o.get("marks") or {}
    marks = [x for x in ("⚡加急" if m.get("urgent") else "", f"🚩{labels.flag(m['flag'])}" if m.get("flag") else "",
                         labels.flags(o.get("flags"))) if x]
    return {"订单号": o["order_id"], "状态": o.get("status_label") or labels.order_status(o["status"]),
            "渠道": o.get("channel_label") or labels.channel(o["channel"]), "渠道单号": o.get("channel_order_id") or "",
            "客户": o.get("customer_name") or "", "电话": o.get("phone_masked") or "",
            "收货地区": "".join(x for x in (o.get("province"), o.get("city"), o.get("district")) if x) or "-",
            "实付": fmt_money(o.get("paid_amount")), "仓库": labels.warehouse(o["warehouse"]) if o.get("warehouse") else "",
            "承运商": labels.carrier(o["carrier"]) if o.get("carrier") else "", "运单号": o.get("waybill_no") or "",
            "标记": "、".join(marks), "下单时间": fmt_time(o.get("ordered_at"))}


def export_row(o: dict) -> dict:
    """``row`` for the workbook: 实付 is a number (finance sums the column), shown as ¥ by its format."""
    paid = o.get("paid_amount")
    try:
        amount = Decimal(str(paid)) if paid not in (None, "") else None
    except InvalidOperation:
        amount = None
    return row(o) | {"实付": amount}


def xlsx(rows: list[dict]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has its one sheet
    ws.title = "订单"
    ws.append(COLUMNS)
    money = COLUMNS.index("实付") + 1
    for r in rows:
        ws.append([r[c] for c in COLUMNS])
        cell = ws.cell(row=ws.max_row, column=money)
        if isinstance(cell.value, Decimal | int | float):
            cell.number_format = '"¥"#,##0.00'

    for col, width in zip("ABCDEFGHIJKLM", (34, 10, 8, 22, 10, 14, 20, 12, 12, 10, 18, 14, 20), strict=False):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
