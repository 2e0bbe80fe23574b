"""财务对账: a day's reconciliation report — our completed orders vs the channels' settlement
statements vs the ERP's receipts. Run (or re-run) a day, read the differences by class, download
the Excel report. Runs go through the API (POST /v1/reconciliation/runs), i.e. the same
ReconciliationWorkflow the daily schedule starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.ui import CN_TZ, fmt_money, fmt_time

LABELS = {
    "missing_settlement": "渠道未结算",
    "missing_receipt": "ERP未收款",
    "unmatched_settlement": "无对应订单的结算",
    "freight_not_collected": "运费未收",
    "rounding_difference": "尾差",
    "amount_mismatch": "金额不符",
    "coupon_redeemed_twice": "优惠券重复核销",
    "coupon_not_in_ledger": "优惠券未入台账",
}


def yuan(fen) -> str:
    return "-" if fen is None else fmt_money(f"{fen / 100:.2f}")


st.title("💰 财务对账")
api = from_env()
yesterday = datetime.now(CN_TZ).date() - timedelta(days=1)
c1, c2 = st.columns([2, 1])
day = c1.date_input("对账日 day", yesterday, key="recon_day")
if c2.button("运行对账 run", key="recon_run", type="primary"):
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
    ok = t["channel_reconciles"] and t["erp_reconciles"]
    (st.success if ok else st.error)(
        f"差异 {s['differences']} 笔 · 渠道差异合计 {yuan(t['channel_diff_fen'])} · ERP 差异合计 {yuan(t['erp_diff_fen'])} · "
        + ("合计轧平到分 totals reconcile to the fen" if ok else "合计未轧平 totals do NOT reconcile")
    )
    st.dataframe(
        [{"类别": f"{c['label']} ({k})", "笔数": c["count"], "金额": yuan(c["amount_fen"])} for k, c in s["classes"].items()],
        hide_index=True,
    )
    diffs = run["differences"]
    present = [k for k in LABELS if any(d["cls"] == k for d in diffs)]
    if present:
        tabs = st.tabs([f"{LABELS[k]} ({sum(d['cls'] == k for d in diffs)})" for k in present])
        for tab, k in zip(tabs, present, strict=True):
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
