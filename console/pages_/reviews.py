"""审核队列: open review tasks as cards a person can decide from, one at a time or in bulk.

Each card is ``GET /v1/reviews/cards``: the order (customer and their history, masked phone, address
with its resolved district, channel, amount, items), the risk features as Chinese sentences with their
numbers, and only the warehouses and carriers that can take the order (the others listed with why,
suspensions included). Tick several cards and decide them together with one note; every decision is
still its own ``POST /v1/reviews/{id}/decision`` and the API stays the judge: whatever it answers
(a 409 "already decided by …") is shown per task. After deciding, the queue is fetched again.

Keyboard (Streamlit's own button shortcuts, ignored while typing in a field): J / K move to the next /
previous card (marked 👉), X ticks it, A approves it, D rejects it (with the 快捷备注 note), Ctrl+Enter
submits the bulk decision. (R and C are Streamlit's own keys.)
"""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.auth import current_user, may
from console.ui import BadgeColour, fmt_age, fmt_money, fmt_time
from domain import labels

TIMELINE = "pages_/timeline.py"
BUTTONS = {"address": ["correct_address", "approve", "reject"], "routing": ["reroute", "reject"],
           "risk": ["approve", "reject", "reroute"], "stock": ["approve", "reroute", "reject"],
           "transit": ["approve"], "follow_up": ["approve"], "returned": ["approve", "reject"],
           "carrier": ["approve", "reroute", "reject"]}
BULK = ["approve", "reject", "reroute"]
AGES = {0: "不限", 30: "≥30分钟", 120: "≥2小时", 480: "≥8小时", 1440: "≥24小时"}
ESCALATION = {"": "全部", "escalated": "已升级", "red": "超24小时", "none": "未升级"}
KIND_COLOURS: dict[str, BadgeColour] = {"address": "blue", "routing": "violet", "risk": "red", "stock": "orange",
                                        "transit": "orange"}


def body_for(decision: str, note: str, warehouse: str | None, carrier: str | None, address: str | None) -> dict:
    body: dict[str, str | None] = {"decision": decision, "note": note}  # the API records the signed-in person as the reviewer
    if decision == "reroute":
        body["warehouse"] = warehouse
        if carrier:
            body["carrier"] = carrier
    if decision == "correct_address":
        body["address"] = (address or "").strip() or None
    return body


def send(rid: str, body: dict) -> tuple[str, str]:
    """('success'|'error', message) for one decision: the API's own words on failure."""
    try:
        result = from_env().post(f"/v1/reviews/{rid}/decision", body)
        return "success", f"已提交: {rid} → {labels.decision(body['decision'])} ({result.get('outcome') or result.get('state') or ''})"
    except ApiError as exc:
        return "error", f"{rid} {labels.decision(body['decision'])}失败 — {exc}"


def decide(rids: list[str], decision: str, note: str, warehouse: str | None = None, carrier: str | None = None,
           address: str | None = None) -> None:
    if decision == "reroute" and not warehouse:
        st.session_state.review_flash = [("warning", "改派需要选择仓库。")]
        return
    st.session_state.review_flash = [send(rid, body_for(decision, note, warehouse, carrier, address)) for rid in rids]
    for rid in rids:
        st.session_state.pop(f"pick-{rid}", None)


def stale_clicks(shown: set[str]) -> list[tuple[str, str]]:
    """Decision buttons clicked on tasks the refreshed list no longer shows (a colleague was faster).

    The rerun fetches the queue before drawing it, so such a click has no button left to land on;
    we still send it, so the reviewer reads the API's own answer (409 "already decided … by …").
    """
    clicks = []
    for key in list(st.session_state.keys()):
        decision, sep, rid = str(key).partition("-")
        if sep and decision in labels.DECISIONS and "~" in rid and rid not in shown and st.session_state.get(key) is True:
            clicks.append((decision, rid))
    return clicks


def escalation(task: dict) -> str:
    if task.get("red"):
        return ":red[🔴 超24小时]"
    if task.get("escalated"):
        return ":orange[🟠 已升级]"
    return ":gray[⚪ 未升级]"


def carrier_label(c: dict) -> str:
    money = f" {fmt_money(c['freight'])}" if c.get("freight") else ""
    return f"{c['label']}{money} · {c['sla_days']}天"


def order_block(order: dict | None) -> None:
    if not order:
        st.warning("订单详情暂不可用 (订单视图未找到)")
        return
    hist = order.get("customer_history") or {}
    d = order.get("district") or {}
    district = "".join(v for v in (d.get("province"), d.get("city"), d.get("district")) if v)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            f"**客户** {md_escape(order.get('customer_name') or '-')} · 📞 {order.get('phone_masked')} · "
            + (f"此前订单 {hist['orders']} 笔 (合计 {fmt_money(hist.get('paid_total'))})" if hist.get("orders")
             else ":orange[新客户 (此前无订单)]"))
        st.markdown(f"**地址** {md_escape(order.get('address_text') or '-')}")
        st.markdown(f"**区县** {md_escape(district) if district else ':red[未解析到区县]'}"
                    + (f" ({d.get('adcode')})" if d.get("adcode") else ""))
    with right:
        st.markdown(f"**渠道** {order.get('channel_label')} · {md_escape(order.get('channel_order_id') or '')}")
        st.markdown(f"**实付** {fmt_money(order.get('paid_amount'))} (货值 {fmt_money(order.get('goods_amount'))}"
                    f", 运费 {fmt_money(order.get('freight'))})")
        st.markdown(f"**状态** {order.get('status_label')} · 下单 {fmt_time(order.get('ordered_at'))}")
    items = [{"行": i["line_no"], "商品": i["name"], "SKU": i["sku"], "数量": i["quantity"],
              "单价": fmt_money(i["unit_price"]), "适配车型": i.get("vehicle_label") or ""} for i in order.get("items") or []]
    if items:
        st.dataframe(items, hide_index=True, width="stretch")
    hits = order.get("risk_hits") or []
    if hits:
        st.markdown("**风险特征**")
        for h in hits:
            st.markdown(f"- **{md_escape(h['label'])}** ({h['severity_label']}): {md_escape(h['sentence'])}")


KEYS = {"next": "J", "prev": "K", "pick": "X", "approve": "A", "reject": "D"}


def keyboard_bar(tasks: list[dict]) -> None:
    """J/K/X/A/D on the card under the cursor (``review_cursor``: its review id, kept across reruns)."""
    ids = [t["review_id"] for t in tasks]
    current = st.session_state.get("review_cursor")
    at = ids.index(current) if current in ids else 0
    cols = st.columns([1, 1, 1, 1, 1, 2.5])
    if cols[0].button("下一个", key="kb_next", shortcut=KEYS["next"], icon="⬇️"):
        at = min(at + 1, len(ids) - 1)
    if cols[1].button("上一个", key="kb_prev", shortcut=KEYS["prev"], icon="⬆️"):
        at = max(at - 1, 0)
    st.session_state.review_cursor = rid = ids[at]
    task = tasks[at]
    if cols[2].button("勾选", key="kb_pick", shortcut=KEYS["pick"], icon="☑️"):
        st.session_state[f"pick-{rid}"] = not st.session_state.get(f"pick-{rid}", False)
    allowed = BUTTONS.get(task["kind"], [])
    for col, decision in ((cols[3], "approve"), (cols[4], "reject")):
        if col.button(labels.decision(decision, task["kind"]), key=f"kb_{decision}", shortcut=KEYS[decision],
                      disabled=decision not in allowed or not CAN_DECIDE):
            decide([rid], decision, st.session_state.get("kb_note", ""))
            st.session_state.pop("kb_note", None)
            st.rerun()
    cols[5].text_input("快捷备注 (A / D 时使用)", key="kb_note", placeholder=f"当前: {task['order_id']}")


def render(task: dict) -> None:
    kind, rid = task["kind"], task["review_id"]
    order = task.get("order") or {}
    choices = task.get("choices") or {}
    with st.container(border=True, key=f"card-{rid}"):
        if st.session_state.get("review_cursor") == rid:
            st.markdown(f"👉 **当前任务** (J/K 移动 · X 勾选 · A {labels.decision('approve', kind)}"
                        f" · D {labels.decision('reject', kind)})")
        top = st.columns([0.5, 1.2, 4, 2, 2])
        if task.get("state") == "open":
            top[0].checkbox("选择", key=f"pick-{rid}", label_visibility="collapsed")
        top[1].badge(task.get("kind_label") or kind, color=KIND_COLOURS.get(kind, "gray"))
        with top[2]:
            st.page_link(TIMELINE, label=f"{task['order_id']} · {order.get('customer_name') or ''} · "
                         f"{fmt_money(order.get('paid_amount'))}", icon="🧭", query_params={"order_id": task["order_id"]})
        if task.get("state") == "open":
            top[3].markdown(f"⏱️ 等待 {fmt_age(task.get('age_seconds'))}")
            top[4].markdown(escalation(task))
        else:  # decided or closed: when, not a wait that keeps counting
            top[3].markdown(f"✅ {fmt_time(task.get('decided_at'))}" if task.get("decided_at") else "")
        st.markdown(f"**原因** {md_escape(task['reason'])}")
        if task.get("feature_labels") and not order.get("risk_hits"):
            st.markdown("**风险特征** " + "、".join(md_escape(f) for f in task["feature_labels"]))
        order_block(task.get("order"))
        st.caption(f"审核单 {md_escape(rid)} · 创建于 {fmt_time(task.get('created_at'))}")
        if task.get("state") != "open":
            note = f" · 备注: {md_escape(task['note'])}" if task.get("note") else ""
            st.markdown(f"**决定** {labels.decision(task.get('decision') or '-', kind)} · {md_escape(task.get('reviewer') or '')}"
                        f" · {fmt_time(task.get('decided_at'))}{note}")
            return
        with st.form(f"decide-{rid}"):
            address = st.text_input("更正后的地址", key=f"addr-{rid}") if kind == "address" else None
            warehouse = carrier = None
            if "reroute" in BUTTONS.get(kind, []):
                w, c = st.columns(2)
                whs = choices.get("warehouses") or []
                wh_names = {x["code"]: x["label"] for x in whs}
                warehouse = w.selectbox("改派到仓库", [x["code"] for x in whs], index=None, placeholder="请选择仓库",
                                        format_func=lambda k: wh_names.get(k, str(k)), key=f"wh-{rid}")
                ok = [x for x in choices.get("carriers") or [] if x["eligible"]]
                carrier_names = {x["code"]: carrier_label(x) for x in ok}
                carrier = c.selectbox("承运商 (空: 最便宜的可用承运商)", [x["code"] for x in ok], index=None,
                                      placeholder="自动选择", format_func=lambda k: carrier_names.get(k, str(k)),
                                      key=f"carrier-{rid}")
                refused = [x for x in choices.get("carriers") or [] if not x["eligible"]]
                if refused:
                    st.caption("不可用: " + "; ".join(f"{x['label']}: {md_escape(x['excluded'] or '')}" for x in refused))
            note = st.text_input("备注", key=f"note-{rid}")
            cols = st.columns(len(BUTTONS.get(kind, [])) or 1)
            for col, decision in zip(cols, BUTTONS.get(kind, []), strict=False):
                if col.form_submit_button(labels.decision(decision, kind), key=f"{decision}-{rid}", disabled=not CAN_DECIDE):
                    decide([rid], decision, note, warehouse, carrier, address)
                    st.rerun()


def bulk_bar(tasks: list[dict]) -> None:
    picked = [t for t in tasks if st.session_state.get(f"pick-{t['review_id']}")]
    with st.container(border=True):
        c0, c1 = st.columns([3, 1])
        c0.markdown(f"**批量处理** 已选 {len(picked)} 个任务 (在卡片左上角勾选)")
        if c1.button("全选本页", key="bulk_all"):
            for t in tasks:
                st.session_state[f"pick-{t['review_id']}"] = True
            st.rerun()
        kinds = {t["kind"] for t in picked}
        allowed = [d for d in BULK if all(d in BUTTONS.get(k, []) for k in kinds)] if picked else BULK
        whs = (picked[0].get("choices") or {}).get("warehouses") if picked else []
        wh_names = {x["code"]: x["label"] for x in whs or []}
        one_kind = next(iter(kinds)) if len(kinds) == 1 else None  # one kind: say what the decision means for it
        with st.form("bulk"):
            a, b, c = st.columns([2, 2, 3])
            # nothing chosen until the reviewer chooses: a default would be whatever the picked kinds
            # have in common, which for a mixed page is 拒绝 alone
            decision = a.selectbox("决定", allowed, index=None, placeholder="请选择决定",
                                   format_func=lambda d: labels.decision(d, one_kind), key="bulk_decision")
            warehouse = b.selectbox("改派到仓库 (仅改派)", [x["code"] for x in whs or []], index=None,
                                    placeholder="请选择仓库", format_func=lambda k: wh_names.get(k, str(k)),
                                    key="bulk_warehouse")
            note = c.text_input("统一备注", key="bulk_note")
            sure = st.checkbox(f"确认驳回所选 {len(picked)} 个订单 (驳回不可撤销)", key="bulk_confirm_reject")
            if st.form_submit_button("提交批量决定", type="primary", disabled=not picked or not CAN_DECIDE, shortcut="Mod+Enter"):
                if decision is None:
                    st.session_state.review_flash = [("warning", "请先选择批量决定。")]
                elif decision == "reject" and not (sure and note.strip()):
                    st.session_state.review_flash = [("warning", f"批量驳回 {len(picked)} 个订单需要写明备注, 并勾选「确认驳回」。")]
                else:
                    decide([t["review_id"] for t in picked], decision, note, warehouse)
                    st.session_state.pop("bulk_confirm_reject", None)
                st.rerun()


st.title("🧑‍⚖️ 审核队列")
CAN_DECIDE = may("reviewer")  # the API lets reviewers (and admins) decide; others read the queue
if not CAN_DECIDE:
    st.info("你的角色只能查看审核任务; 放行、驳回、改派由审核员或管理员决定。")
c1, c2, c3, c4, c5, c6 = st.columns([2, 1.5, 1.5, 1.5, 1.5, 1])
_me = current_user() or {}
c1.markdown(f"审核人  \n**{md_escape(_me.get('display_name') or _me.get('username') or '-')}**")
state = c2.selectbox("状态", ["open", "decided", "cancelled"], format_func=labels.review_state, key="reviews_state")
kind = c3.selectbox("类型", ["", *labels.REVIEW_KINDS], format_func=lambda k: labels.review_kind(k) if k else "全部",
                    key="reviews_kind")
age = c4.selectbox("等待时长", list(AGES), format_func=lambda a: AGES[a], key="reviews_age")
esc = c5.selectbox("升级", list(ESCALATION), format_func=lambda e: ESCALATION[e], key="reviews_escalation")
if c6.button("刷新", icon="🔄"):
    st.rerun()

for level, text in st.session_state.pop("review_flash", []) or []:
    getattr(st, level)(md_escape(text))

try:
    tasks = from_env().get("/v1/reviews/cards", state=state, kind=kind, min_age_minutes=age or None,
                           escalation=esc or None)["items"]
except ApiError as exc:
    show_error(exc, "查询审核任务")
    st.stop()
for decision, rid in stale_clicks({t["review_id"] for t in tasks}):
    get = st.session_state.get
    decide([rid], decision, get(f"note-{rid}", ""), get(f"wh-{rid}"), get(f"carrier-{rid}"), get(f"addr-{rid}"))
    st.rerun()
st.caption(f"共 {len(tasks)} 个任务")
if not tasks:
    st.info("没有待处理的审核任务。" if state == "open" else "没有记录。")
    st.stop()
if state == "open":
    keyboard_bar(tasks)
    bulk_bar(tasks)
for t in tasks:
    render(t)
