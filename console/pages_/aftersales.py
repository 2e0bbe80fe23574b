"""售后 aftersales: cases by status, with the QC verdict buttons for parcels waiting in 待质检.

The API is the judge (409 "already checked", "not qc_pending" …) and whatever it answers is shown
as is; after a verdict the list is fetched again, so a case a colleague checked disappears.
"""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.auth import current_user, may
from console.ui import fmt_money, fmt_time

TIMELINE = "pages_/timeline.py"
STATUSES = {
    "": "全部", "qc_pending": "⚠️ 待质检", "awaiting_return": "待寄回", "return_in_transit": "退件运输中",
    "refunding": "退款中", "replacement_sent": "已发出换货/补发", "completed": "已完成",
    "rejected": "已驳回(质检不通过)", "cancelled": "已关闭",
}
TYPES = {"exchange": "换货", "return": "退货退款", "refund_only": "仅退款", "reissue": "补发"}


def verdict(case_id: str, passed: bool, note: str) -> None:
    try:  # the API records the signed-in person as the inspector
        result = from_env().post(f"/v1/aftersales/{case_id}/qc", {"passed": passed, "note": note})
        st.session_state.as_flash = ("success", f"已提交: {case_id} → {'合格' if passed else '不合格'} ({result.get('status_label')})")
    except ApiError as exc:
        st.session_state.as_flash = ("error", exc, f"质检 {case_id}")


def render(case: dict) -> None:
    cid = case["case_id"]
    with st.container(border=True):
        top = st.columns([1, 4, 2, 2])
        top[0].badge(TYPES.get(case["type"], case["type"]), color="violet")
        with top[1]:
            st.page_link(TIMELINE, label=case["order_id"], icon="🧭", query_params={"order_id": case["order_id"]})
        red = case["status"] == "qc_pending"
        top[2].markdown(f":{'red' if red else 'gray'}[{case.get('status_label') or case['status']}]")
        top[3].caption(fmt_time(case.get("updated_at")))
        lines = "、".join(f"{ln['sku']}×{ln['quantity']}" for ln in case.get("lines") or [])
        st.markdown(f"**商品** {md_escape(lines)} · **原因** {md_escape(case.get('reason') or '')}")
        extra = []
        if case.get("return_waybill_no"):
            extra.append(f"退货运单 {case.get('return_carrier') or ''} {case['return_waybill_no']}")
        if case.get("refund_amount") is not None:
            extra.append(f"退款 {fmt_money(case['refund_amount'])}")
        if case.get("replacement_order_id"):
            extra.append(f"换货/补发订单 {case['replacement_order_id']}")
        if case.get("qc_passed") is not None:
            extra.append(f"质检 {'合格' if case['qc_passed'] else '不合格'} · {case.get('qc_inspector') or ''}")
        st.caption(f"售后单 {md_escape(cid)}" + "".join(f" · {md_escape(x)}" for x in extra))
        if not red:
            return
        if not may("reviewer", "warehouse_lead"):
            st.caption("质检结论由审核员或仓库主管录入。")
        with st.form(f"qc-{cid}"):
            note = st.text_input("质检备注", key=f"qcnote-{cid}", placeholder="例如: 包装完好 / 已装车使用,有磨损")
            ok, bad = st.columns(2)
            if ok.form_submit_button("✅ 合格", key=f"pass-{cid}", disabled=not may("reviewer", "warehouse_lead")):
                verdict(cid, True, note)
                st.rerun()
            if bad.form_submit_button("❌ 不合格", key=f"fail-{cid}", disabled=not may("reviewer", "warehouse_lead")):
                verdict(cid, False, note)
                st.rerun()


st.title("🔁 售后")
c1, c2, c3, c4 = st.columns([2, 2, 3, 1])
_me = current_user() or {}
c1.markdown(f"质检员  \n**{md_escape(_me.get('display_name') or _me.get('username') or '-')}**")
status = c2.selectbox("状态", list(STATUSES), index=1, format_func=lambda s: STATUSES[s])
order_id = c3.text_input("订单号", key="as_order_id", placeholder="order-tmall-…")
if c4.button("刷新", icon="🔄"):
    st.rerun()

flash = st.session_state.pop("as_flash", None)
if flash and flash[0] == "error":
    show_error(flash[1], flash[2])
elif flash:
    getattr(st, flash[0])(md_escape(flash[1]))

try:
    body = from_env().get("/v1/aftersales", status=status, order_id=order_id.strip())
except ApiError as exc:
    show_error(exc, "查询售后单")
    st.stop()
cases = body["items"]
st.caption(f"共 {body['total']} 个售后单")
if not cases:
    st.info("没有待质检的售后单。" if status == "qc_pending" else "没有记录。")
for case in cases:
    render(case)
