"""Console sign-in (issue 13): a login form (and WeCom OAuth when the API offers it); the session
token lives in this browser session's ``st.session_state`` only and every page calls the API with it.
No service key in the console: what a person may do is what their role may do at the API."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiClient, ApiError, api_url, from_env, md_escape
from console.session import SESSION_KEY, _signed_in, current_user, session_token, sign_out_local  # noqa: F401
from zhongshu.settings import get_settings


def _wecom_callback(code: str) -> None:
    try:
        _signed_in(ApiClient(api_url()).post("/v1/auth/wecom/callback", {"code": code}))
    except ApiError as exc:
        st.session_state.login_error = str(exc)
    st.query_params.clear()


def login_page() -> None:
    """The only page a visitor who has not signed in sees."""
    if st.query_params.get("code") and not current_user():
        _wecom_callback(st.query_params["code"])
        st.rerun()
    st.title("🔐 登录 订单中枢")
    with st.form("login"):
        username = st.text_input("用户名", key="login_username")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        try:
            _signed_in(ApiClient(api_url()).post("/v1/auth/login", {"username": username.strip(), "password": password}))
            st.session_state.pop("login_error", None)
            st.rerun()
        except ApiError as exc:
            st.session_state.login_error = str(exc)
    if st.session_state.get("login_error"):
        st.error(md_escape(st.session_state.login_error))
    try:  # WeCom sign-in, when the API has it switched on
        console_url = _console_url()
        start = ApiClient(api_url()).get("/v1/auth/wecom", redirect_uri=console_url)
        st.link_button("企业微信登录", start["authorize_url"])
    except ApiError:
        pass


def _console_url() -> str:
    return get_settings().console_url


def sidebar_user() -> None:
    """Who is signed in, and the way out."""
    user = current_user()
    if not user:
        return
    st.markdown(f"👤 **{md_escape(user.get('display_name') or user['username'])}** · {user.get('role_label', user['role'])}")
    if st.button("退出登录", key="logout"):
        try:
            from_env().post("/v1/auth/logout")
        except ApiError:
            pass
        sign_out_local()
        st.rerun()
