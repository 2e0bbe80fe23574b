"""账号管理: an admin adds people, disables them, resets passwords (issue 13). The API decides
(admin only); this page shows what it answered."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error

ROLES = {"reviewer": "审核员", "customer_service": "客服", "warehouse_lead": "仓库组长", "finance": "财务", "admin": "管理员"}

st.title("👥 账号管理")
api = from_env()
flash = st.session_state.pop("users_flash", None)
if flash:
    (st.success if flash[0] == "success" else st.error)(md_escape(flash[1]))

try:
    people = api.get("/v1/users")["items"]
except ApiError as exc:
    show_error(exc, "读取账号")
    st.stop()

st.dataframe([{"用户名": u["username"], "姓名": u["display_name"], "角色": ROLES.get(u["role"], u["role"]),
               "状态": "已停用" if u["disabled"] else ("已锁定" if u.get("locked_until") else "正常"),
               "企业微信": u.get("wecom_userid") or ""} for u in people], hide_index=True)

with st.form("add_user", clear_on_submit=True):
    st.subheader("新增账号")
    c1, c2, c3 = st.columns(3)
    username = c1.text_input("用户名", key="new_username")
    display = c2.text_input("姓名", key="new_display_name")
    role = c3.selectbox("角色", list(ROLES), format_func=lambda r: ROLES[r], key="new_role")
    c4, c5 = st.columns(2)
    password = c4.text_input("初始密码 (至少 10 位)", type="password", key="new_password")
    wecom = c5.text_input("企业微信 UserID (可选)", key="new_wecom")
    if st.form_submit_button("新增", type="primary"):
        try:
            api.post("/v1/users", {"username": username.strip(), "display_name": display.strip(), "role": role,
                                   "password": password or None, "wecom_userid": wecom.strip() or None})
            st.session_state.users_flash = ("success", f"已新增 {username}")
            st.rerun()
        except ApiError as exc:
            show_error(exc, "新增账号")

st.subheader("停用 / 启用 / 重置密码")
names = [u["username"] for u in people]
if names:
    who = st.selectbox("账号", names, key="manage_user")
    c1, c2, c3 = st.columns([1, 1, 2])
    if c1.button("停用", key="disable_user"):
        try:
            api.post(f"/v1/users/{who}/disable")
            st.session_state.users_flash = ("success", f"已停用 {who}")
            st.rerun()
        except ApiError as exc:
            show_error(exc, "停用")
    if c2.button("启用", key="enable_user"):
        try:
            api.post(f"/v1/users/{who}/enable")
            st.session_state.users_flash = ("success", f"已启用 {who}")
            st.rerun()
        except ApiError as exc:
            show_error(exc, "启用")
    new_pw = c3.text_input("新密码", type="password", key="reset_password")
    if c3.button("重置密码", key="reset_password_btn"):
        try:
            api.post(f"/v1/users/{who}/password", {"password": new_pw})
            st.session_state.users_flash = ("success", f"已重置 {who} 的密码 (并已解锁)")
            st.rerun()
        except ApiError as exc:
            show_error(exc, "重置密码")
