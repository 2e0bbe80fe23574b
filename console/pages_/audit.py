"""审计日志: every human and credentialed action — who, role, when, what, from where, result (issue 13)."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, show_error
from console.ui import fmt_time

st.title("📜 审计日志")
c1, c2, c3 = st.columns([2, 3, 1])
actor = c1.text_input("操作人", key="audit_actor")
action = c2.text_input("操作 (如 POST /v1/reviews)", key="audit_action")
limit = c3.number_input("条数", 10, 1000, 200, key="audit_limit")
try:
    body = from_env().get("/v1/audit", actor=actor.strip(), action=action.strip(), limit=int(limit))
except ApiError as exc:
    show_error(exc, "读取审计日志")
    st.stop()
st.caption(f"共 {body['total']} 条")
st.dataframe([{"时间": fmt_time(i["at"]), "操作人": i["actor"], "角色": i["role"], "方式": i["kind"], "操作": i["action"],
               "对象": i.get("target") or "", "来源地址": i.get("client_ip") or "", "结果": i["status"],
               "说明": i.get("detail") or ""} for i in body["items"]], hide_index=True)
