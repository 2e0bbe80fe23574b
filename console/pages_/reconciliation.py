"""财务对账: a day's reconciliation report — our completed orders vs the channels' settlement
statements vs the ERP's receipts. Run (or re-run) a day, read the differences by class, download
the Excel report. Runs go through the API (POST /v1/reconciliation/runs), i.e. the same
ReconciliationWorkflow the daily schedule starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.auth import may
from console.ui import CN_TZ, fmt_time, reconciliation_banner, yuan
from domain.labels import DIFF_CLASSES as LABELS


def default_day():
    """The newest day that has a report (what a person opens the page for), else yesterday."""
    try:
        days = [r["day"] for r in from_env().get("/v1/reconciliation/runs")["items"]]
    except (ApiError, KeyError, TypeError):
        days = []
    if days:
        return datetime.fromisoformat(max(days)).date()
    return datetime.now(CN_TZ).date() - timedelta(days=1)


st.title("💰 财务对账")
api = from_env()
if "recon_day" not in st.session_state:
    st.session_state.recon_day = default_day()
c1, c2 = st.columns([2, 1])
day = c1.date_input("对账日", key="recon_day", format="YYYY/MM/DD")
if c2.button("运行对账", key="recon_run", type="primary", disabled=not may("finance"),
             help=None if may("finance") else "对账由财务或管理员运行"):
    with st.spinner("对账中 …"):
        try:
            api.post("/v1/reconciliation/runs", {"day": day.isoformat(), "wait": True})
            st.success(f"{day} 对账完成")
        except ApiError as exc:
            show_error(exc, "运行对账")

try:
    run = api.get(f"/v1/reconciliation/runs/{day.isoformat()}")
except ApiError as exc:
    if exc.status == 404 and not exc.route_missing:
        st.info(f"{day} 还没有对账报告; 点击 “运行对账”。")
        run = None
    else:
        show_error(exc, "查询对账")
        st.stop()

if run:
    s = run["summary"]
    t = s["totals"]
    st.caption(f"运行于 {fmt_time(run['run_at'])} · workflow `{md_escape(run['workflow_id'])}`")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("已完成订单", s["orders"])
    m2.metric("我方实付合计", yuan(t["ours_fen"]))
    m3.metric("渠道结算合计", yuan(t["channel_fen"]), help=f"渠道订单我方合计 {yuan(t['ours_channel_fen'])}")
    m4.metric("ERP 收款合计", yuan(t["erp_fen"]))
    level, text = reconciliation_banner(s)
    getattr(st, level)(text)
    st.dataframe(
        [{"类别": LABELS.get(k, c.get("label") or k), "笔数": c["count"], "金额": yuan(c["amount_fen"])}
         for k, c in s["classes"].items()],
        hide_index=True,
    )
    diffs = run["differences"]
    present = list(dict.fromkeys(d["cls"] for d in diffs))
    if present:
        tabs = st.tabs([f"{LABELS.get(k, k)} ({sum(d['cls'] == k for d in diffs)})" for k in present])
        for tab, k in zip(tabs, present, strict=False):
            tab.dataframe(
                [{"订单号": d["order_id"], "来源": d["source"], "我方": yuan(d["ours_fen"]), "对方": yuan(d["theirs_fen"]),
                  "差额": yuan(d["amount_fen"]), "说明": d["detail"]} for d in diffs if d["cls"] == k],
                hide_index=True,
            )
    try:
        xlsx = api.get_bytes(f"/v1/reconciliation/runs/{day.isoformat()}/report.xlsx")
        st.download_button("下载 Excel 报告", xlsx, file_name=f"reconciliation-{day}.xlsx", key="recon_download",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    except ApiError as exc:
        show_error(exc, "下载报告")

with st.expander("最近的对账 recent runs"):
    try:
        runs = api.get("/v1/reconciliation/runs")["items"]
    except ApiError as exc:
        show_error(exc, "查询对账列表")
        runs = []
    if runs:
        st.dataframe(
            [{"对账日": r["day"], "运行时间": fmt_time(r["run_at"]), "订单": r["summary"]["orders"],
              "差异": r["summary"]["differences"]} for r in runs],
            hide_index=True,
        )
    else:
        st.caption("暂无")
