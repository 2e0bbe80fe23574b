"""查找订单: find any order by what a caller says (phone or its last 4 digits, waybill, the shop's
order number, a name) or by day, status, warehouse and carrier; open it, or export the result to Excel.

One call, ``GET /v1/orders/search``; every criterion narrows. The export re-runs the same search
for up to 5,000 rows and writes them with openpyxl (Chinese headers, masked phones).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from console.api_client import ApiError, from_env, show_error
from console.order_export import EXPORT_MAX, export_row, row, xlsx
from console.ui import CN_TZ
from domain import labels
from domain.order import Channel

TIMELINE = "pages_/timeline.py"

st.title("🔎 查找订单")
today = datetime.now(CN_TZ).date()
with st.form("search", border=True):
    a, b, c, d = st.columns(4)
    phone = a.text_input("电话 (完整或后4位)", key="s_phone")
    waybill = b.text_input("运单号", key="s_waybill")
    channel_order_id = c.text_input("渠道订单号", key="s_channel_order")
    name = d.text_input("收件人姓名", key="s_name")
    e, f, g, h, i = st.columns([2, 1.2, 1.2, 1.2, 1.2])
    picked = e.date_input("下单日期", value=[], key="s_days", format="YYYY/MM/DD", max_value=today + timedelta(days=1))
    status = f.selectbox("状态", ["", *labels.ORDER_STATUS], format_func=lambda s: labels.order_status(s) if s else "全部",
                         key="s_status")
    channel = g.selectbox("渠道", ["", *(c.value for c in Channel)], format_func=lambda s: labels.channel(s) if s else "全部",
                          key="s_channel")
    warehouse = h.selectbox("仓库", ["", *labels.WAREHOUSES], format_func=lambda s: labels.warehouse(s) if s else "全部",
                            key="s_warehouse")
    carrier = i.selectbox("承运商", ["", *labels.CARRIERS], format_func=lambda s: labels.carrier(s) if s else "全部",
                          key="s_carrier")
    submitted = st.form_submit_button("查找", type="primary", icon="🔎")

days = tuple(picked or ())
params = {"phone": phone.strip(), "waybill": waybill.strip(), "channel_order_id": channel_order_id.strip(),
          "name": name.strip(), "status": status, "channel": channel, "warehouse": warehouse, "carrier": carrier,
          "date_from": days[0].isoformat() if days else None,
          "date_to": days[-1].isoformat() if days else None}
try:
    data = from_env().get("/v1/orders/search", limit=100, **params)
except ApiError as exc:
    show_error(exc, "查找订单")
    st.stop()
items = data["items"]
st.caption(f"共 {data['total']} 条" + (" (显示最新 100 条)" if data["total"] > 100 else ""))
if not items:
    st.info("没有符合条件的订单。")
    st.stop()
rows = [row(o) for o in items]
event = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="search_table")
if event and event.selection.rows:
    st.switch_page(TIMELINE, query_params={"order_id": rows[event.selection.rows[0]]["订单号"]})
c1, c2 = st.columns([3, 2])
with c1:
    pick = st.selectbox("打开订单", [r["订单号"] for r in rows], key="search_pick")
    if st.button("打开", key="search_open"):
        st.switch_page(TIMELINE, query_params={"order_id": pick})
with c2:
    asked = repr(sorted(params.items()))  # the export belongs to this search: another search hides it
    if st.button("导出 Excel", icon="📤", key="search_export"):
        try:
            full = from_env().get("/v1/orders/search", limit=1000, **params)
            allrows = [export_row(o) for o in full["items"]]
            offset = len(allrows)
            while offset < min(full["total"], EXPORT_MAX):
                more = from_env().get("/v1/orders/search", limit=1000, offset=offset, **params)["items"]
                if not more:
                    break
                allrows += [export_row(o) for o in more]
                offset += len(more)
            made = datetime.now(CN_TZ).strftime("%Y%m%d-%H%M")
            st.session_state.search_xlsx = (asked, xlsx(allrows), f"订单导出-{made}-{len(allrows)}条.xlsx")
        except ApiError as exc:
            show_error(exc, "导出")
    export = st.session_state.get("search_xlsx")
    if export and export[0] == asked:
        st.download_button("下载 Excel", export[1], file_name=export[2], key="search_dl",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon="⬇️")
