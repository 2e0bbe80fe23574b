"""数据看板: the order health index over time against the 80-point baseline, orders per stage and
stage timeliness (p50/p90), exception rates by risk feature, reviews answered within 15 min, and
aftersales reasons by region ("TOP 3 return reasons in East China" without SQL). Everything comes
from GET /v1/metrics/dashboard; the Excel export is the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from console.api_client import ApiError, from_env, show_error
from console.ui import CHANNELS, CN_TZ, STATUS, WAREHOUSES, status_text
from domain.regions import REGION_NAMES

ALL = ""
NO_DATA = "无数据"
REGIONS = list(REGION_NAMES)  # one region table: domain/regions.py


def fmt_score(v) -> str:
    return NO_DATA if v is None else f"{v:.1f}"


def fmt_secs(v) -> str:
    if v is None:
        return NO_DATA
    v = float(v)
    if v < 120:
        return f"{v:.0f}秒"
    if v < 7200:
        return f"{v / 60:.1f}分"
    return f"{v / 3600:.1f}小时"


st.title("📊 数据看板")
today = datetime.now(CN_TZ).date()
c1, c2, c3, c4 = st.columns(4)
frm = c1.date_input("从 from", today - timedelta(days=6), key="dash_from")
to = c2.date_input("到 to (含)", today, key="dash_to")
channel = c3.selectbox("渠道", [ALL, *CHANNELS], format_func=lambda c: "全部" if c == ALL else CHANNELS[c], key="dash_channel")
warehouse = c4.selectbox("仓库", [ALL, *WAREHOUSES], format_func=lambda w: "全部" if w == ALL else w, key="dash_warehouse")

api = from_env()
params = {"from": frm.isoformat(), "to": to.isoformat(), "channel": channel, "warehouse": warehouse}
try:
    d = api.get("/v1/metrics/dashboard", **params)
except ApiError as exc:
    show_error(exc, "查询看板")
    st.stop()

h = d["health"]
st.subheader("订单健康度")
m1, m2, m3, m4 = st.columns(4)
score = h["score"]
m1.metric("健康度 (基线 80)", fmt_score(score), delta=None if score is None else f"{score - h['baseline']:+.1f} vs 80")
m2.metric("时效", fmt_score(h["timeliness"]["score"]))
m3.metric("数据", fmt_score(h["data"]["score"]))
exp = h["experience"]["value"]
m4.metric("体验: 每百单查询 (越低越好)", NO_DATA if exp is None else f"{exp:.2f}")
if score is None:
    missing = h["timeliness"]["missing"] + h["data"]["missing"]
    partial = h["partial_score"]
    st.caption(
        "部分指标无数据 (分母为 0), 不计算总分: " + ", ".join(missing)
        + (f" — 仅按有数据的指标折算: {partial:.1f}" if partial is not None else "")
    )

series = pd.DataFrame(h.get("series", []))
if not series.empty:
    series["指数"] = series["score"].where(series["score"].notna(), series["partial_score"])
    series["类型"] = ["完整 full" if s is not None and s == s else "部分 partial" for s in series["score"]]
    points = series.dropna(subset=["指数"])
    base = alt.Chart(pd.DataFrame({"baseline": [h["baseline"]]})).mark_rule(color="red", strokeDash=[6, 4]).encode(
        y="baseline:Q"
    )
    if points.empty:
        st.info("所选期间没有可计算健康度的数据。")
    else:
        line = alt.Chart(points).mark_line(point=True).encode(
            x=alt.X("day:T", title="日期"),
            y=alt.Y("指数:Q", scale=alt.Scale(domain=[0, 100]), title="健康度"),
            color=alt.Color("类型:N"),
            tooltip=["day", "score", "partial_score", "timeliness", "data", "experience", "orders"],
        )
        st.altair_chart(line + base, width="stretch")

st.subheader(f"阶段 stages — {d['orders']} 单")
left, right = st.columns(2)
stages = pd.DataFrame(d["stage_counts"])
if stages.empty:
    left.info("所选期间没有订单。")
else:
    stages["阶段"] = [status_text(s) for s in stages["stage"]]
    left.altair_chart(
        alt.Chart(stages).mark_bar().encode(x=alt.X("阶段:N", sort=[status_text(s) for s in STATUS]), y="orders:Q",
                                           tooltip=["stage", "orders"]),
        width="stretch",
    )
times = pd.DataFrame(d["stage_times"])
if times.empty:
    right.info("还没有阶段耗时数据。")
else:
    long = times.melt(id_vars=["stage", "n"], value_vars=["p50_seconds", "p90_seconds"], var_name="分位", value_name="秒")
    long["分位"] = long["分位"].map({"p50_seconds": "p50", "p90_seconds": "p90"})
    long["stage"] = [status_text(x) for x in long["stage"]]  # the axis in Chinese, as the table
    right.altair_chart(
        alt.Chart(long).mark_bar().encode(x=alt.X("stage:N", title="阶段"), xOffset="分位:N", y=alt.Y("秒:Q", title="停留秒数"),
                                          color="分位:N", tooltip=["stage", "分位", "秒", "n"]),
        width="stretch",
    )
    right.dataframe(
        [{"阶段": status_text(r["stage"]), "样本": r["n"], "p50": fmt_secs(r["p50_seconds"]), "p90": fmt_secs(r["p90_seconds"])}
         for r in d["stage_times"]],
        hide_index=True,
    )

st.subheader("异常率 (按风险特征)")
rates = pd.DataFrame(d["exception_rates"])
if rates.empty:
    st.info(f"扫描 {d['risk_scanned']} 单, 无风险特征命中。")
else:
    rates["特征"] = rates["title"] + " (" + rates["code"] + ")"
    st.altair_chart(
        alt.Chart(rates).mark_bar().encode(y=alt.Y("特征:N", sort="-x"), x=alt.X("rate:Q", axis=alt.Axis(format="%"), title="命中率"),
                                           tooltip=["code", "title", "orders", "rate"]),
        width="stretch",
    )
    st.caption(f"扫描 {d['risk_scanned']} 单")

st.subheader("审核响应 (15 分钟内处理)")
rv = d["reviews"]
r1, r2 = st.columns([1, 3])
r1.metric("15分钟内处理", NO_DATA if rv["rate"] is None else f"{rv['rate']:.0%}", help=f"{rv['answered_15m']}/{rv['total']}")
if rv["by_kind"]:
    r2.dataframe(
        [{"类型": r["kind"], "总数": r["total"], "已处理": r["decided"], "15分钟内": r["answered_15m"], "比例": f"{r['rate']:.0%}"}
         for r in rv["by_kind"]],
        hide_index=True,
    )

st.subheader("售后原因 (按大区)")
rows = d["aftersales_by_region"]
region = st.selectbox("大区", REGIONS, key="dash_region")
top = sorted((r for r in rows if r["region"] == region), key=lambda r: (-r["count"], r["reason"]))[:3]
if not rows:
    st.info("暂无售后数据 (售后阶段尚未记录原因)。")
elif not top:
    st.info(f"{region} 没有售后记录。")
else:
    st.markdown(f"**{region} 退换货原因 TOP 3**")
    st.dataframe([{"原因": r["reason"], "次数": r["count"]} for r in top], hide_index=True)

st.caption("单均成本: " + (NO_DATA if d["cost_per_order"] is None else f"¥{d['cost_per_order']}"))

try:
    xlsx = api.request("GET", "/v1/metrics/dashboard.xlsx", params={k: v for k, v in params.items() if v}).content
    st.download_button("导出 Excel", xlsx, file_name=f"dashboard-{frm}-{to}.xlsx", key="dash_export",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
except ApiError as exc:
    show_error(exc, "导出")
