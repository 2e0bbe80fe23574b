"""规则: routing decision-table versions — list, activate, compare, export, upload.

Written against the rules API contract (GET/POST /v1/rules, /activate, /diff, /export). Until the
API serves those routes, FastAPI answers its bare 404 "Not Found" and this page says so calmly
instead of erroring; any other error is the API's own words.
"""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.ui import fmt_time


def failed(exc: ApiError, what: str) -> None:
    if exc.route_missing:
        st.info(f"{what}: API 尚未提供该接口 (404)。")
    else:
        show_error(exc, what)


st.title("📐 分单规则")
api = from_env()
try:
    data = api.get("/v1/rules")
except ApiError as exc:
    failed(exc, "查询规则版本")
    st.stop()

if flash := st.session_state.pop("rules_flash", None):
    st.success(flash)
items = data.get("items") or []
active = data.get("active")
st.markdown(f"**当前生效版本** {f'v{active}' if active is not None else '无 (未配置规则)'}")
if items:
    st.dataframe(
        [{"版本": f"v{r['version']}", "生效": "✅" if r.get("active") else "", "上传时间": fmt_time(r.get("created_at")),
          "上传人": r.get("created_by") or "", "文件": r.get("filename") or "", "SHA256": (r.get("sha256") or "")[:12]}
         for r in items],
        hide_index=True,
    )
versions = [r["version"] for r in items]

tab_act, tab_diff, tab_export, tab_upload = st.tabs(["启用版本", "版本对比", "导出", "上传新版本"])

with tab_act:
    if versions:
        v = st.selectbox("版本", versions, format_func=lambda x: f"v{x}", key="rules_activate_v")
        if st.button("启用此版本", disabled=v == active, key="rules_activate_go"):
            try:
                api.post(f"/v1/rules/{v}/activate")
                st.session_state.rules_flash = f"已启用 v{v}，新订单将按此版本分单。"
                st.rerun()
            except ApiError as exc:
                failed(exc, "启用版本")
    else:
        st.info("还没有规则版本。")

with tab_diff:
    if len(versions) >= 2:
        c1, c2 = st.columns(2)
        a = c1.selectbox("从", versions, index=1 if versions[0] > versions[1] else 0, format_func=lambda x: f"v{x}",
                         key="rules_diff_from")
        b = c2.selectbox("到", versions, index=0 if versions[0] > versions[1] else 1, format_func=lambda x: f"v{x}",
                         key="rules_diff_to")
        if st.button("对比", key="rules_diff_go"):
            sheets: dict | None
            try:
                result = api.get("/v1/rules/diff", **{"from": a, "to": b})
                sheets = {} if result.get("empty") else {
                    name: d for name, d in (result.get("sheets") or {}).items()
                    if d.get("added") or d.get("removed") or d.get("changed")
                }
            except ApiError as exc:
                failed(exc, "版本对比")
                sheets = None
            if sheets == {}:
                st.info("两个版本没有差异。")
            for name, d in (sheets or {}).items():
                with st.expander(f"{name} · 新增 {len(d.get('added', []))} · 删除 {len(d.get('removed', []))} · "
                                 f"修改 {len(d.get('changed', []))}", expanded=True):
                    if d.get("added"):
                        st.markdown(":green[新增]")
                        st.dataframe(d["added"], hide_index=True)
                    if d.get("removed"):
                        st.markdown(":red[删除]")
                        st.dataframe(d["removed"], hide_index=True)
                    for ch in d.get("changed", []):
                        st.markdown(f":orange[修改] `{md_escape(str(ch.get('key')))}`")
                        st.dataframe([{"": "修改前", **(ch.get("before") or {})}, {"": "修改后", **(ch.get("after") or {})}],
                                     hide_index=True)
    else:
        st.info("至少需要两个版本才能对比。")

with tab_export:
    if versions:
        v = st.selectbox("版本", versions, format_func=lambda x: f"v{x}", key="rules_export_v")
        if st.button("生成 Excel"):
            try:
                st.session_state.rules_export = (v, api.get_bytes(f"/v1/rules/{v}/export"))
            except ApiError as exc:
                failed(exc, "导出")
        ready = st.session_state.get("rules_export")
        if ready and ready[0] == v:
            st.download_button(f"下载 v{v}.xlsx", ready[1], file_name=f"zhongshu-rules-v{v}.xlsx",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

with tab_upload:
    up = st.file_uploader("规则表 (.xlsx)", type=["xlsx"])
    if up is not None and st.button("上传并校验", icon="⬆️"):
        try:
            res = api.post("/v1/rules", files={"file": (up.name, up.getvalue(), up.type or "application/octet-stream")})
            st.success(f"已上传为 v{res.get('version')}。检查差异后再启用。")
        except ApiError as exc:
            failed(exc, "上传")
