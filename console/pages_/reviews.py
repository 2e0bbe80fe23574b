"""审核队列: open review tasks, oldest first, each with the decisions its kind allows.

The allowed decisions per kind mirror ``domain.review.ALLOWED_DECISIONS``; the API stays the judge
(409 with its reason), and whatever it answers is shown to the reviewer as is. After any decision
the list is fetched again, so a task decided by a colleague disappears instead of lingering.
"""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.auth import current_user
from console.ui import DECISIONS, KINDS, WAREHOUSES, fmt_age, fmt_time

TIMELINE = "pages_/timeline.py"
BUTTONS = {"address": ["correct_address", "approve", "reject"], "routing": ["reroute", "reject"],
           "risk": ["approve", "reject", "reroute"], "stock": ["approve", "reroute", "reject"],
           "transit": ["approve"], "follow_up": ["approve"], "returned": ["approve", "reject"],
           "carrier": ["approve", "reroute", "reject"]}


def decide(task: dict, decision: str, note: str, warehouse: str | None, address: str | None,
           carrier: str | None = None) -> None:
    """POST the decision; remember the outcome for the next run, which refreshes the queue."""
    rid = task["review_id"]
    body = {"decision": decision, "note": note}  # the API records the signed-in person as the reviewer
    if decision == "reroute":
        body["warehouse"] = warehouse
        if (carrier or "").strip():
            body["carrier"] = carrier.strip()
    if decision == "correct_address":
        body["address"] = (address or "").strip() or None
    try:
        result = from_env().post(f"/v1/reviews/{rid}/decision", body)
        st.session_state.review_flash = ("success", f"已提交: {rid} → {DECISIONS[decision]} ({result.get('state')})")
    except ApiError as exc:
        st.session_state.review_flash = ("error", exc, f"审核 {rid} {DECISIONS[decision]}")


def stale_clicks(shown: set[str]) -> list[tuple[str, str]]:
    """Decision buttons clicked on tasks the refreshed list no longer shows (a colleague was faster).

    The rerun fetches the queue before drawing it, so such a click has no button left to land on;
    we still send it, so the reviewer reads the API's own answer (409 "already decided … by …").
    """
    clicks = []
    for key in list(st.session_state.keys()):
        decision, sep, rid = str(key).partition("-")
        if sep and decision in DECISIONS and "~" in rid and rid not in shown and st.session_state.get(key) is True:
            clicks.append((decision, rid))
    return clicks


def escalation(task: dict) -> str:
    if task.get("red"):
        return ":red[🔴 超24小时]"
    if task.get("escalated"):
        return ":orange[🟠 已升级]"
    return ":gray[⚪ 未升级]"


def render(task: dict) -> None:
    kind, rid = task["kind"], task["review_id"]
    with st.container(border=True):
        top = st.columns([1, 4, 2, 2])
        top[0].badge(KINDS.get(kind, kind), color={"address": "blue", "routing": "violet", "risk": "red", "stock": "orange", "transit": "orange"}.get(kind, "gray"))
        with top[1]:
            st.page_link(TIMELINE, label=task["order_id"], icon="🧭", query_params={"order_id": task["order_id"]})
        top[2].markdown(f"⏱️ 等待 {fmt_age(task.get('age_seconds'))}")
        top[3].markdown(escalation(task))
        st.markdown(f"**原因** {md_escape(task['reason'])}")
        if task.get("features"):
            st.markdown("**风险特征** " + " ".join(f"`{f}`" for f in task["features"]))
        st.caption(f"审核单 {md_escape(rid)} · 创建于 {fmt_time(task.get('created_at'))}")
        if task.get("state") != "open":
            st.markdown(f"**决定** {DECISIONS.get(task.get('decision') or '', '-')} · {task.get('reviewer') or ''}")
            return
        with st.form(f"decide-{rid}"):
            address = st.text_input("更正后的地址", key=f"addr-{rid}") if kind == "address" else None
            warehouse = carrier = None
            if "reroute" in BUTTONS.get(kind, []):
                w, c = st.columns(2)
                warehouse = w.selectbox("改派到仓库", WAREHOUSES, key=f"wh-{rid}")
                carrier = c.text_input("承运商 (可选，默认最便宜的可用承运商)", key=f"carrier-{rid}")
            note = st.text_input("备注", key=f"note-{rid}")
            cols = st.columns(len(BUTTONS.get(kind, [])) or 1)
            for col, decision in zip(cols, BUTTONS.get(kind, [])):
                if col.form_submit_button(DECISIONS[decision], key=f"{decision}-{rid}"):
                    decide(task, decision, note, warehouse, address, carrier)
                    st.rerun()


st.title("🧑‍⚖️ 审核队列")
c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
_me = current_user() or {}
c1.markdown(f"审核人  \n**{md_escape(_me.get('display_name') or _me.get('username') or '-')}**")
state = c2.selectbox("状态", ["open", "decided", "cancelled"], format_func={"open": "待处理", "decided": "已决定", "cancelled": "已取消"}.get)
kind = c3.selectbox("类型", ["", *KINDS], format_func=lambda k: KINDS.get(k, "全部"))
if c4.button("刷新", icon="🔄"):
    st.rerun()

flash = st.session_state.pop("review_flash", None)
if flash and flash[0] == "error":
    show_error(flash[1], flash[2])
elif flash:
    getattr(st, flash[0])(md_escape(flash[1]))

try:
    tasks = from_env().get("/v1/reviews", state=state, kind=kind)["items"]
except ApiError as exc:
    show_error(exc, "查询审核任务")
    st.stop()
for decision, rid in stale_clicks({t["review_id"] for t in tasks}):
    get = st.session_state.get
    decide({"review_id": rid}, decision, get(f"note-{rid}", ""), get(f"wh-{rid}"), get(f"addr-{rid}"), get(f"carrier-{rid}"))
    st.rerun()
st.caption(f"共 {len(tasks)} 个任务")
if not tasks:
    st.info("没有待处理的审核任务。" if state == "open" else "没有记录。")
for t in tasks:
    render(t)
