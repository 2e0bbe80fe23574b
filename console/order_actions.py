"""What a person can do to one order from its page, each through the API: cancel, change the address
(before dispatch), open an aftersales case, remark / flag (备注/旗帜), mark urgent, print its packing
slip, and split an order that de-duplication merged into another back out (拆分订单). The API's answer
(a 409 "already shipped") is shown as it is."""

from __future__ import annotations

from typing import Any

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.auth import current_user
from console.printing import pdf_button
from domain import labels

FLAG_COLOURS = ["red", "yellow", "green", "blue", "purple"]
DISPATCHED = {"shipped", "delivered", "completed"}
CLOSED = {"completed", "rejected", "cancelled", "merged"}


def actor() -> str:
    return (st.session_state.get("reviewer") or st.session_state.get("operator") or "").strip()


def _flash(*entry: Any) -> None:
    """One line per action of the last save (a remark, a flag and 加急 saved together say all three)."""
    st.session_state.setdefault("order_flash", []).append(entry)


def _post(what: str, path: str, body: dict[str, Any]) -> None:
    try:
        answer = from_env().post(path, body)
        done = "未变 (本来就是这样)" if isinstance(answer, dict) and answer.get("unchanged") else "已提交"
        _flash("success", f"{what}{done}" + _expedited(answer))
    except ApiError as exc:
        _flash("error", exc, what)


def _expedited(answer: Any) -> str:
    """What marking 加急 did in the warehouse (the API's ``waves_told`` / ``waves_not_told``)."""
    if not isinstance(answer, dict) or "waves_told" not in answer:
        return ""
    told = [labels.warehouse(w) for w in answer["waves_told"]]
    missed = [f"{labels.warehouse(m['warehouse'])}: {m['reason']}" for m in answer.get("waves_not_told", [])]
    if not told and not missed:
        return "; 当前没有在拣货中的包裹 (之后入波次时立即截单并优先拣货)"
    return (f"; 已通知 {'、'.join(told)} 立即截单并优先拣货" if told else "") + (f"; 未通知 {'; '.join(missed)}" if missed else "")


def show_flash() -> None:
    for flash in st.session_state.pop("order_flash", None) or []:
        if flash[0] == "error":
            show_error(flash[1], flash[2])
        else:
            getattr(st, flash[0])(md_escape(flash[1]))


def marks_line(order_id: str) -> None:
    try:
        m = from_env().get(f"/v1/orders/{order_id}/marks")
    except ApiError:
        return
    bits = []
    if m.get("urgent"):
        bits.append(":red[⚡ 加急]")
    if m.get("flag"):
        bits.append(f"🚩 {labels.flag(m['flag'])}")
    if bits:
        st.markdown(" · ".join(bits))
    for r in m.get("remarks") or []:
        st.caption(f"📝 {md_escape(r['actor'])}: {md_escape(r['text'])}")


def render(o: dict[str, Any]) -> None:
    oid, status = o["order_id"], o["status"]
    st.markdown("#### 操作")
    show_flash()
    marks_line(oid)
    me = current_user() or {}
    who = me.get("username") or ""  # the API records the signed-in person; shown, never typed
    st.caption(f"操作人: {me.get('display_name') or who or '-'}")
    if status == "merged" and o.get("merged_into"):
        unmerge_form(oid, o["merged_into"])
    tabs = st.tabs(["备注 / 旗帜 / 加急", "取消订单", "修改地址", "发起售后", "打印发货单"])
    with tabs[0], st.form("order_mark"):
        text = st.text_input("备注", key="mark_text")
        flag = st.selectbox("旗帜", ["", *FLAG_COLOURS], format_func=lambda c: labels.flag(c) if c else "不改", key="mark_flag")
        urgent = st.selectbox("加急", ["", "yes", "no"], format_func=lambda u: {"": "不改", "yes": "标记加急", "no": "取消加急"}[u],
                              key="mark_urgent")
        if st.form_submit_button("保存"):
            if not who:
                _flash("warning", "请先登录。")
            if not (text.strip() or flag or urgent):
                _flash("warning", "没有要保存的内容: 请填写备注, 或选择旗帜/加急。")
            if who and text.strip():
                _post("备注", f"/v1/orders/{oid}/marks", {"kind": "remark", "text": text})
            if who and flag:
                _post("旗帜", f"/v1/orders/{oid}/marks", {"kind": "flag", "flag": flag})
            if who and urgent:
                _post("加急", f"/v1/orders/{oid}/marks", {"kind": "urgent", "urgent": urgent == "yes"})
            for key in ("mark_text", "mark_flag", "mark_urgent"):  # saved: the next save starts empty
                st.session_state.pop(key, None)
            st.rerun()
    with tabs[1], st.form("order_cancel"):
        if status in DISPATCHED | CLOSED:
            st.caption(f"订单{labels.order_status(status)}, 不能取消 (已发货请发起售后)。")
        reason = st.text_input("取消原因", key="cancel_reason")
        if st.form_submit_button("取消订单", type="primary", disabled=status in DISPATCHED | CLOSED):
            if not (who and reason.strip()):
                _flash("warning", "请填写取消原因。")
            else:
                _post("取消订单", f"/v1/orders/{oid}/cancel", {"reason": reason.strip()})
            st.rerun()
    with tabs[2], st.form("order_address"):
        if status in DISPATCHED | CLOSED:
            st.caption("订单已发货或已结束, 不能修改地址。")
        address = st.text_input("新地址 (省市区 + 详细地址)", key="new_address")
        name = st.text_input("收件人 (可选)", key="new_name")
        phone = st.text_input("电话 (可选)", key="new_phone")
        if st.form_submit_button("修改地址", disabled=status in DISPATCHED | CLOSED):
            _post("修改地址", f"/v1/orders/{oid}/address",
                  {"address": address.strip(), "name": name.strip() or None, "phone": phone.strip() or None,
                   "requested_by": who or None})
            st.rerun()
    with tabs[3], st.form("order_aftersales"):
        kind = st.selectbox("类型", list(labels.AFTERSALES_TYPES), format_func=labels.aftersales_type, key="as_type")
        lines = o.get("lines") or []
        qty = {ln["sku"]: st.number_input(f"{ln['name']} ({ln['sku']}) 数量", 0, int(ln["quantity"]), 0, key=f"as-{ln['sku']}")
               for ln in lines}
        why = st.text_input("原因 (客户原话)", key="as_reason")
        if st.form_submit_button("发起售后"):
            _post("发起售后", f"/v1/orders/{oid}/aftersales",
                  {"type": kind, "reason": why.strip(), "requested_by": who or None,
                   "lines": [{"sku": s, "quantity": q} for s, q in qty.items() if q]})
            st.rerun()
    with tabs[4]:
        pdf_button("发货单", "/v1/print/packing-slips.pdf", [("order_id", oid)], f"packing-slip-{oid}.pdf", f"slip-{oid}")


def unmerge_form(oid: str, anchor: str) -> None:
    """A merged duplicate that is really a second order (another car, the customer confirmed): split it
    back out; it then runs as an order of its own (``POST /v1/orders/{id}/unmerge``)."""
    with st.form("order_unmerge", border=True):
        st.markdown(f"本单因重复被合并到 **{md_escape(anchor)}**。如确认是两笔独立订单, 可拆分回来重新处理。")
        note = st.text_input("拆分原因", key="unmerge_note", placeholder="例如: 不同车辆, 客户来电确认两单")
        if st.form_submit_button("拆分订单", type="primary"):
            try:
                r = from_env().post(f"/v1/orders/{oid}/unmerge", {"note": note.strip()})
                _flash("success", r.get("message") or "拆分订单已提交")
            except ApiError as exc:
                _flash("error", exc, "拆分订单")
            st.rerun()
