"""Console sign-in (issues 13, 14): the login form posts straight to the console's own
``/session/login`` (``console/sign_in.py``), which signs in at the API and sets the ``zhongshu_session``
cookie, so the sign-in survives a reload and a new tab. WeCom OAuth comes back to ``/session/wecom``.
No service key in the console: what a person may do is what their role may do at the API."""

from __future__ import annotations

from html import escape

import streamlit as st

from console.api_client import ApiClient, ApiError, api_url, md_escape
from console.session import SESSION_KEY, current_user, session_token, sign_out_local, stale_cookie  # noqa: F401
from zhongshu.settings import get_settings

REFUSALS = {
    "wrong": "用户名或密码错误",
    "locked": "账号已锁定(多次密码错误), 请稍后再试或联系管理员",
    "disabled": "账号已停用, 请联系管理员",
    "unknown": "该企业微信账号未开通, 请联系管理员",
    "missing": "请填写用户名和密码",
    "unavailable": "暂时无法连接订单中枢 API, 请稍后再试",
    "wecom": "企业微信登录失败, 请重试",
    "origin": "请在订单中枢自己的登录页登录 (来自其他网站的登录请求已拒绝)",
}

_FORM = """
<form method="post" action="/session/login" class="zs-login">
  <input type="hidden" name="next" value="{next}">
  <label for="zs-username">用户名</label>
  <input id="zs-username" name="username" autocomplete="username" required maxlength="64" autofocus>
  <label for="zs-password">密码</label>
  <input id="zs-password" name="password" type="password" autocomplete="current-password" required maxlength="200">
  <button type="submit">登录</button>
</form>
<style>
.zs-login {{ display: flex; flex-direction: column; gap: .4rem; max-width: 22rem; }}
.zs-login input {{ padding: .5rem; border: 1px solid #ccc; border-radius: .4rem; font-size: 1rem; }}
.zs-login button {{ margin-top: .6rem; padding: .5rem; border: 0; border-radius: .4rem; background: #ff4b4b;
  color: white; font-size: 1rem; cursor: pointer; }}
</style>
"""

_LOGOUT = """
<form method="post" action="/session/logout" class="zs-logout"><button type="submit">退出登录</button></form>
<style>.zs-logout button {{ padding: .3rem .8rem; border: 1px solid #ccc; border-radius: .4rem; background: white;
  cursor: pointer; }}</style>
"""


def _next_page() -> str:
    """Where to go after signing in: the page the visitor opened (a WeCom link, a bookmark)."""
    asked = st.query_params.get("next")
    if asked:
        return asked
    path = "/" + (st.context.url or "").split("://", 1)[-1].partition("/")[2] if st.context.url else "/"
    query = "&".join(f"{k}={v}" for k, v in st.query_params.items() if k != "login_error")
    return path.split("?")[0] + (f"?{query}" if query else "")


def login_page() -> None:
    """The only page a visitor who has not signed in sees."""
    st.title("🔐 登录 订单中枢")
    reason = st.query_params.get("login_error")
    if reason:
        st.error(REFUSALS.get(reason, REFUSALS["wrong"]))
    elif stale_cookie():
        st.warning("登录已过期或已退出, 请重新登录")
    st.html(_FORM.format(next=escape(_next_page(), quote=True)))
    try:  # WeCom sign-in, when the API has it switched on: WeCom sends the browser back to /session/wecom
        start = ApiClient(api_url()).get("/v1/auth/wecom", redirect_uri=f"{_console_url()}/session/wecom")
        st.link_button("企业微信登录", start["authorize_url"])
    except ApiError:
        pass


def _console_url() -> str:
    return get_settings().console_url.rstrip("/")


def sidebar_user() -> None:
    """Who is signed in, and the way out (revokes the session at the API and clears the cookie)."""
    user = current_user()
    if not user:
        return
    st.markdown(f"👤 **{md_escape(user.get('display_name') or user['username'])}** · {user.get('role_label', user['role'])}")
    st.html(_LOGOUT.format())


def may(*roles: str) -> bool:
    """Whether the signed-in person's role may do what the API reserves for ``roles`` (admin always
    may): the console greys out what would only answer 403, and says who may."""
    role = (current_user() or {}).get("role")
    return role in set(roles) | {"admin", "service"}
