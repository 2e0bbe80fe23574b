"""订单列表: the read model's orders, filtered the way GET /v1/orders can filter them.

Paging is server-side (limit/offset) so a peak day's orders never load at once. Selecting a row,
or picking an id below the table, opens that order's timeline.
"""

from __future__ import annotations

import math

import streamlit as st

from console.api_client import ApiError, from_env, show_error
from console.ui import CHANNELS, STATUS, flags_text, fmt_money, fmt_time, region, stale, status_text
from domain import labels

TIMELINE = "pages_/timeline.py"
ALL = ""


def reset_page() -> None:
    st.session_state.orders_page = 1


def open_timeline(order_id: str) -> None:
    st.switch_page(TIMELINE, query_params={"order_id": order_id})


st.title("📋 订单列表")

c1, c2, c3, c4 = st.columns([2, 2, 3, 1])
status = c1.selectbox(
    "状态", [ALL, *STATUS], format_func=lambda s: "全部" if s == ALL else status_text(s),
    key="orders_status", on_change=reset_page,
)
channel = c2.selectbox(
    "渠道", [ALL, *CHANNELS], format_func=lambda c: "全部" if c == ALL else CHANNELS[c],
    key="orders_channel", on_change=reset_page,
)
customer_id = c3.text_input("客户编号", key="orders_customer", on_change=reset_page).strip()
size = c4.selectbox("每页", [20, 50, 100], index=1, key="orders_size", on_change=reset_page)
page_no = st.session_state.setdefault("orders_page", 1)

try:
    data = from_env().get(
        "/v1/orders", status=status, channel=channel, customer_id=customer_id, limit=size, offset=(page_no - 1) * size
    )
except ApiError as exc:
    show_error(exc, "查询订单")
    st.stop()

total, items = data["total"], data["items"]
pages = max(1, math.ceil(total / size))
if not items and page_no > 1:  # the list shrank under us: back to the first page
    reset_page()
    st.rerun()
if not items:
    st.info("没有符合条件的订单。")
    st.stop()

rows = [
    {
        "订单号": o["order_id"],
        "状态": status_text(o["status"]),
        "渠道": CHANNELS.get(o["channel"], o["channel"]),
        "客户": f"{o.get('customer_name') or ''} ({o['customer_id']})",
        "收货地区": region(o.get("province"), o.get("city"), o.get("district")),
        "实付": fmt_money(o.get("paid_amount")),
        "标记": "、".join(filter(None, ["🔴 超24小时未处理" if stale(o) else "", flags_text(o.get("flags"))])),
        "仓库": labels.warehouse(o["warehouse"]) if o.get("warehouse") else "",
        "承运商": labels.carrier(o["carrier"]) if o.get("carrier") else "",
        "运单号": o.get("waybill_no") or "",
        "签收": fmt_time(o.get("delivered_at")) if o.get("delivered_at") else "",
        "并入": o.get("merged_into") or "",
        "更新时间": fmt_time(o.get("updated_at")),
    }
    for o in items
]
for col in ("仓库", "承运商", "运单号", "签收", "并入"):  # shown only when some order on this page has one
    if not any(r[col] for r in rows):
        for r in rows:
            del r[col]

event = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="orders_table")
selected = event.selection.rows if event else []
if selected:
    open_timeline(rows[selected[0]]["订单号"])

nav1, nav2, nav3 = st.columns([1, 2, 3])
if nav1.button("上一页", disabled=page_no <= 1):
    st.session_state.orders_page = page_no - 1
    st.rerun()
nav2.caption(f"共 {total} 条 · 第 {page_no}/{pages} 页")
if nav1.button("下一页", disabled=page_no >= pages):
    st.session_state.orders_page = page_no + 1
    st.rerun()

with nav3:
    pick = st.selectbox("打开订单轨迹", [r["订单号"] for r in rows], key="orders_pick")
    if st.button("查看轨迹", key="orders_open"):
        open_timeline(pick)
