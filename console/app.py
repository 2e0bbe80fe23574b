"""The console's pages and navigation; `streamlit run console/server.py` serves them together with
the sign-in routes (AppTest runs this file directly).

A visitor who has not signed in gets the login form at every page URL. Only navigation and the
sidebar live here; each page is its own module in ``pages_/``. WeCom messages link to
``{console_url}/?order_id=…``, i.e. the default page, so a root URL carrying an order id is forwarded
to the timeline page (after signing in, the browser comes back to that URL).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts console/ on the path, not the project
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from console.api_client import ApiError, from_env, md_escape  # noqa: E402
from console.auth import current_user, login_page, sidebar_user  # noqa: E402

st.set_page_config(page_title="订单中枢 · 审核台", page_icon="📦", layout="wide")

PAGES = [  # (script, title, icon, url path); the first is the default page
    ("pages_/home.py", "工作台", "🏠", ""), ("pages_/orders.py", "订单列表", "📋", "orders"),
    ("pages_/search.py", "查找订单", "🔎", "search"), ("pages_/timeline.py", "订单轨迹", "🧭", "timeline"),
    ("pages_/reviews.py", "审核队列", "🧑‍⚖️", "reviews"), ("pages_/printing.py", "打印中心", "🖨️", "print"),
    ("pages_/rejections.py", "拒收记录", "📮", "rejections"), ("pages_/rules.py", "规则", "📐", "rules"),
    ("pages_/dashboard.py", "数据看板", "📊", "dashboard"), ("pages_/reconciliation.py", "财务对账", "💰", "reconciliation"),
    ("pages_/warehouse.py", "仓库看板", "🏭", "warehouse"), ("pages_/aftersales.py", "售后", "🔁", "aftersales"),
    ("pages_/channels.py", "渠道健康", "🛰️", "channels"),
]
ADMIN_PAGES = [("pages_/users.py", "账号管理", "👥", "users"), ("pages_/audit.py", "审计日志", "📜", "audit")]

user = current_user()
if user is None:  # issue 13: nobody sees a page, or reaches the API, without signing in
    # every page's URL answers with the login form (no "Page not found"); after signing in the
    # browser comes back to the URL it asked for (console/sign_in.py)
    gate = [st.Page(login_page, title=title, **({"url_path": path} if path else {"default": True}))
            for _, title, _, path in [*PAGES, *ADMIN_PAGES, ("", "登录", "", "login")]]
    st.navigation(gate, position="hidden").run()
    st.stop()

pages = [st.Page(script, title=title, icon=icon, **({"url_path": path} if path else {"default": True}))
         for script, title, icon, path in PAGES]


def no_permission() -> None:
    """An admin page's URL for everyone else: say so, instead of Streamlit's English 'Page not found'."""
    me = current_user() or {}
    st.title("🚫 无权限")
    st.warning(f"此页面仅管理员可用; 你的角色是「{me.get('role_label') or me.get('role') or '-'}」。如需开通, 请联系管理员。")


if user["role"] == "admin":  # account management and the audit log: admins only (the API checks too)
    pages += [st.Page(script, title=title, icon=icon, url_path=path) for script, title, icon, path in ADMIN_PAGES]
else:
    pages += [st.Page(no_permission, title=title, icon="🚫", url_path=path, visibility="hidden")
              for _, title, _, path in ADMIN_PAGES]
home, timeline = pages[0], pages[3]
page = st.navigation(pages)

if page.url_path == home.url_path and st.query_params.get("order_id"):
    st.switch_page(timeline, query_params={"order_id": st.query_params["order_id"]})

with st.sidebar:
    sidebar_user()
    api = from_env()
    st.caption(f"API: `{api.base_url}`")
    try:
        api.get("/healthz")
        st.markdown(":green[● API 正常]")
    except ApiError as exc:
        st.markdown(f":red[● API 不可用] — {md_escape(str(exc))}")

page.run()
