"""Console entry point: `streamlit run console/app.py`.

Only navigation and the sidebar live here; each page is its own module in ``pages_/``. WeCom
messages link to ``{console_url}/?order_id=…``, i.e. the default page, so a root URL carrying an
order id is forwarded to the timeline page.
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

if current_user() is None:  # issue 13: nobody sees a page, or reaches the API, without signing in
    st.navigation([st.Page(login_page, title="登录", icon="🔐", url_path="login")]).run()
    st.stop()

home = st.Page("pages_/home.py", title="工作台", icon="🏠", default=True)
orders = st.Page("pages_/orders.py", title="订单列表", icon="📋", url_path="orders")
search = st.Page("pages_/search.py", title="查找订单", icon="🔎", url_path="search")
printing = st.Page("pages_/printing.py", title="打印中心", icon="🖨️", url_path="print")
timeline = st.Page("pages_/timeline.py", title="订单轨迹", icon="🧭", url_path="timeline")
reviews = st.Page("pages_/reviews.py", title="审核队列", icon="🧑‍⚖️", url_path="reviews")
rejections = st.Page("pages_/rejections.py", title="拒收记录", icon="📮", url_path="rejections")
rules = st.Page("pages_/rules.py", title="规则", icon="📐", url_path="rules")
dashboard = st.Page("pages_/dashboard.py", title="数据看板", icon="📊", url_path="dashboard")
reconciliation = st.Page("pages_/reconciliation.py", title="财务对账", icon="💰", url_path="reconciliation")
warehouse = st.Page("pages_/warehouse.py", title="仓库看板", icon="🏭", url_path="warehouse")
aftersales = st.Page("pages_/aftersales.py", title="售后", icon="🔁", url_path="aftersales")
channels = st.Page("pages_/channels.py", title="渠道健康", icon="🛰️", url_path="channels")

pages = [home, orders, search, timeline, reviews, printing, rejections, rules, dashboard, reconciliation, warehouse, aftersales,
         channels]
if current_user()["role"] == "admin":  # account management and the audit log: admins only (the API checks too)
    pages += [st.Page("pages_/users.py", title="账号管理", icon="👥", url_path="users"),
              st.Page("pages_/audit.py", title="审计日志", icon="📜", url_path="audit")]
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
