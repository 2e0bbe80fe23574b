"""渠道健康: each channel account's intake — a polled sync (天猫/淘宝) or a pushed channel (抖音,
小程序) — running, failed, stalled, silent or stopped, with its last poll or push, last error,
orders imported today (Beijing day) and backlog. Red ones first: someone has to look (WeCom has
already been told by the account's own workflow). Everything comes from GET /v1/channels/health."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.ui import fmt_age, fmt_time

KINDS = {"sync": "轮询同步", "webhook": "推送"}

api = from_env()
st.title("🛰️ 渠道健康")
try:
    report = api.get("/v1/channels/health")
except ApiError as exc:
    show_error(exc, "读取渠道健康")
    st.stop()

items = sorted(report["items"], key=lambda i: (not i["red"], i["kind"], i["account_id"]))
c = st.columns(3)
c[0].metric("渠道账号", report["total"])
c[1].metric("🔴 异常", report["red"])
c[2].metric("今日导入订单", sum(i["orders_today"] for i in items))
st.caption(f"统计日 {report['day']} (北京时间) · 检查于 {fmt_time(report['checked_at'])}")
if not items:
    st.info("还没有渠道账号。用 `zhongshu channels add …` 添加。")
    st.stop()

for i in items:
    if i["red"]:
        text = f"🔴 **{md_escape(i['channel_name'] + ' ' + i['account_id'])}** · {md_escape(i['state_label'])} ({i['state']})"
        if i.get("reason"):
            text += f" — {md_escape(i['reason'])}"
        if i.get("last_error"):
            text += f"\n\n最近错误: {md_escape(' '.join(i['last_error'].split())[:300])}"
        st.error(text)

st.dataframe(
    [{"状态": ("🔴 " if i["red"] else "🟢 ") + i["state_label"],
      "账号": i["account_id"], "渠道": i["channel_name"], "类型": KINDS.get(i["kind"], i["kind"]),
      "最近轮询": fmt_time(i.get("last_poll_at")) if i["kind"] == "sync" else "-",
      "最近成功/推送": fmt_time(i.get("last_success_at")) or "-",
      "今日订单": i["orders_today"],
      "积压(单)": i.get("backlog_trades") if i["kind"] == "sync" else None,
      "游标落后": fmt_age(i.get("backlog_seconds")) if i["kind"] == "sync" else "-",
      "最近错误": (i.get("last_error") or "")[:200],
      "说明": i.get("reason") or "",
      "工作流": f"{i.get('workflow_id') or ''} ({i.get('workflow_status') or '-'})"}
     for i in items],
    hide_index=True,
)
