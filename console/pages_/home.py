"""工作台: the console's front page (``/``) — today's work at a glance and a way into every page.

Every other page has its own URL (``/orders``, ``/reviews`` …): the front page is a page of its own,
because Streamlit serves the default page only at ``/`` and a link to its url_path would not resolve.
"""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env

st.title("📦 订单中枢 · 工作台")
try:
    api = from_env()
    open_reviews = api.get("/v1/reviews", state="open")["total"]
    held = api.get("/v1/orders", status="held", limit=1)["total"]
    today = api.get("/v1/orders", limit=1)["total"]
except ApiError as exc:
    st.error(f"API 不可用 — {exc}")
    open_reviews = held = today = None
c1, c2, c3 = st.columns(3)
c1.metric("待处理审核", "-" if open_reviews is None else open_reviews)
c2.metric("待审核订单", "-" if held is None else held)
c3.metric("订单总数", "-" if today is None else today)

st.markdown("#### 常用")
l1, l2, l3, l4 = st.columns(4)
l1.page_link("pages_/reviews.py", label="审核队列 (批量审核)", icon="🧑‍⚖️")
l2.page_link("pages_/search.py", label="查找订单 (电话/运单/渠道单号)", icon="🔎")
l3.page_link("pages_/printing.py", label="打印中心 (拣货单/发货单/库位标签)", icon="🖨️")
l4.page_link("pages_/orders.py", label="订单列表", icon="📋")
