"""拒收记录: payloads the hub refused (422), with their field errors, and a replay button.

A rejection is never lost: it is fixed here (edit the JSON) and replayed through the same intake
path as a fresh delivery; the API's answer — a new order, or a new rejection — is shown as is.
"""

from __future__ import annotations

import json
import math
import re

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.ui import CHANNELS, fmt_time

SIZE = 50


def errors_text(errors: list[dict]) -> str:
    """Each error's sentence (it names the field in Chinese); records from before that keep their path."""
    return "; ".join(m if re.search(r"[\u4e00-\u9fff]", m := str(e.get("message", ""))) else f"{e.get('field', '?')}: {m}"
                     for e in errors or [])


st.title("📮 拒收记录")
page_no = st.session_state.setdefault("rejections_page", 1)
api = from_env()
try:
    data = api.get("/v1/rejections", limit=SIZE, offset=(page_no - 1) * SIZE)
except ApiError as exc:
    show_error(exc, "查询拒收记录")
    st.stop()
items, total = data["items"], data["total"]
if not items:
    st.info("没有拒收记录。")
    st.stop()

st.dataframe(
    [{"编号": r["id"], "接收时间": fmt_time(r["received_at"]), "来源": r["source"],
      "渠道": CHANNELS.get(r.get("channel") or "", r.get("channel") or ""), "渠道单号": r.get("channel_order_id") or "",
      "错误": errors_text(r["errors"]), "重放时间": fmt_time(r.get("replayed_at")), "重放订单": r.get("replay_order_id") or ""}
     for r in items],
    hide_index=True,
)
pages = max(1, math.ceil(total / SIZE))
p1, p2, p3 = st.columns([1, 1, 4])
if p1.button("上一页", disabled=page_no <= 1):
    st.session_state.rejections_page = page_no - 1
    st.rerun()
if p2.button("下一页", disabled=page_no >= pages):
    st.session_state.rejections_page = page_no + 1
    st.rerun()
p3.caption(f"共 {total} 条 · 第 {page_no}/{pages} 页")

st.markdown("#### 修正并重放")
by_id = {r["id"]: r for r in items}
rid = st.selectbox("拒收记录", list(by_id), format_func=lambda i: f"#{i} · {by_id[i].get('channel_order_id') or '-'}")
row = by_id[rid]
st.dataframe(row["errors"], hide_index=True)
if row.get("replay_order_id"):
    st.page_link("pages_/timeline.py", label=f"已重放为 {row['replay_order_id']}", icon="🧭",
                 query_params={"order_id": row["replay_order_id"]})
original = json.dumps(row["payload"], ensure_ascii=False, indent=2)
edited = st.text_area("报文 (JSON, 可修改后重放)", value=original, height=360, key=f"payload-{rid}")
if st.button("重放", icon="🔁", key=f"replay-{rid}"):
    try:
        corrected = None if edited.strip() == original.strip() else json.loads(edited)
    except json.JSONDecodeError as exc:
        st.error(md_escape(f"JSON 格式错误: {exc}"))
        st.stop()
    try:
        result = api.post(f"/v1/rejections/{rid}/replay", corrected)
        st.success(md_escape(f"重放成功: {result.get('order_id')} ({result.get('status')})"))
        st.json(result)
    except ApiError as exc:
        show_error(exc, "重放")
        if exc.body is not None:
            st.json(exc.body)
