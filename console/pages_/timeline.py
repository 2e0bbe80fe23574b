"""订单轨迹: one order from GET /v1/orders/{id} — header facts, then every event with who and why.

The API answers with one shape (``OrderView``): from the live workflow (``source: workflow``) with
its parts' and parcels' events, or from the read model once the workflow has closed.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from console import order_actions
from console.api_client import ApiError, from_env, md_escape, show_error
from console.ui import CHANNELS, flags_text, fmt_money, fmt_time, region, status_badge, status_text
from domain import labels

TIMELINE = "pages_/timeline.py"


def view(d: dict[str, Any]) -> dict[str, Any]:
    """The API's one order view (``OrderView``), with the parcel facts of its first part on top."""
    first: dict[str, Any] = next((s for s in d.get("shipments") or [] if s.get("direction") == "outbound"), {})
    return d | {"shipment": {"waybill": {"carrier": first.get("carrier"), "waybill_no": first.get("waybill_no")},
                             "shipped_at": first.get("shipped_at"), "delivered_at": first.get("delivered_at")} if first else {}}


def link(order_id: str) -> None:
    st.page_link(TIMELINE, label=order_id, icon="🧭", query_params={"order_id": order_id})


st.title("🧭 订单轨迹")
current = st.query_params.get("order_id", "")
with st.form("timeline_lookup", border=False):
    entered = st.text_input("订单号", value=current, placeholder="order-tmall-…")
    if st.form_submit_button("查询") and entered.strip() != current:
        st.query_params["order_id"] = entered.strip()
        st.rerun()
if not current:
    st.info("输入订单号，或从订单列表 / 审核队列打开一个订单。")
    st.stop()

try:
    o = view(from_env().get(f"/v1/orders/{current}"))
except ApiError as exc:
    show_error(exc, "查询订单")
    st.stop()

label, colour = status_badge(o["status"])
st.subheader(md_escape(o["order_id"]))
st.badge(label, color=colour)
if st.button("刷新", icon="🔄"):
    st.rerun()

c1, c2, c3 = st.columns(3)
c1.markdown(f"**渠道** {CHANNELS.get(o['channel'], o['channel'])} · `{o['channel_order_id']}`  \n"
            f"**下单时间** {fmt_time(o.get('ordered_at'))}")
c1.markdown(f"**客户** {md_escape(o.get('customer_name') or '')} ({md_escape(o['customer_id'])})  \n"
            f"**电话** {md_escape(o.get('phone') or '-')}")
a = o.get("address")
if a:
    c2.markdown(f"**地址** {region(a.get('province'), a.get('city'), a.get('district'))}  \n"
                f"**行政区划码** `{a.get('adcode')}`  \n{md_escape(a.get('text') or '')}")
else:
    c2.markdown(f"**地址** :orange[未解析到区县] — {md_escape(o.get('address_raw') or '-')}")
c3.markdown(f"**商品金额** {fmt_money(o.get('goods_amount'))} · **运费** {fmt_money(o.get('freight'))}  \n"
            f"**优惠券** {md_escape(o.get('coupon_code') or '-')} {fmt_money(o.get('coupon_amount')) if o.get('coupon_code') else ''}  \n"
            f"**实付** {fmt_money(o.get('paid_amount'))}")
c3.markdown(f"**仓库** {labels.warehouse(o['warehouse']) if o.get('warehouse') else '-'} · "
            f"**承运商** {labels.carrier(o['carrier']) if o.get('carrier') else '-'}  \n"
            f"**风险等级** {labels.risk_level(o.get('risk_level') or 'none')} · **规则版本** {o.get('rule_version') or '-'}")
if o.get("flags"):
    st.warning(f"标记: {flags_text(o['flags'])}")
if o.get("merged_into"):
    st.markdown("**已并入订单**")
    link(o["merged_into"])
if o.get("merged_duplicates"):
    st.markdown("**并入本单的重复订单**")
    for dup in o["merged_duplicates"]:
        link(dup)
if o.get("risk_hits"):
    st.markdown("#### 风险命中")
    st.dataframe([{"特征": labels.risk_feature(h.get("code")), "级别": labels.severity(h.get("severity")), "原因": h.get("reason")}
     for h in o["risk_hits"]],
                 hide_index=True)
for e in o.get("errors") or []:
    st.error(md_escape(f"{e.get('field')}: {e.get('message')}"))

st.markdown("#### 商品")
st.dataframe(
    [{"行": ln.get("line_no", i + 1), "SKU": ln["sku"], "名称": ln["name"], "品类": ln["category"],
      "数量": ln["quantity"], "单价": fmt_money(ln["unit_price"]), "适配车型": labels.vehicle_model(ln["vehicle_model"]) if ln.get("vehicle_model") else ""}
     for i, ln in enumerate(o.get("lines") or [])],
    hide_index=True,
)

fulfilment = any(o.get(k) for k in ("wave_no", "shipment", "confirm_round", "appointment", "reservations", "aftersales",
                                     "waybill_no"))
if fulfilment:
    st.markdown("#### 履约")
    f1, f2, f3 = st.columns(3)
    sh = o.get("shipment") or {}
    wb = sh.get("waybill") or {}
    f1.markdown(f"**波次** {o.get('wave_no') or '-'}  \n"
                f"**运单** {labels.carrier(wb.get('carrier') or o.get('carrier') or '')} `{wb.get('waybill_no') or o.get('waybill_no') or '-'}`"
                + (f" · [面单]({wb['label_url']})" if wb.get("label_url") else "") + "  \n"
                f"**发货** {fmt_time(sh.get('shipped_at') or o.get('shipped_at'))} · "
                f"**签收** {fmt_time(sh.get('delivered_at') or o.get('delivered_at'))}")
    point = o.get("delivery_point")
    f2.markdown(f"**地址确认** 第{o.get('confirm_round') or 0}轮 · "
                + (f":green[已确认 {fmt_time(o['address_confirmed_at'])}]" if o.get("address_confirmed_at") else "未确认")
                + (f"  \n**送货位置** {point['lat']:.4f}, {point['lng']:.4f}" if point else ""))
    appt = o.get("appointment")
    if appt:
        f3.markdown(f"**安装** {md_escape(appt['technician_name'])} {md_escape(appt['technician_phone'])}  \n"
                    f"{fmt_time(appt['slot_start'])} – {fmt_time(appt['slot_end'])} · 工单 `{appt['work_order_no']}`")
    for r in o.get("reservations") or []:
        f3.markdown(f"**供应商预留** {r['supplier_warehouse']} `{r['reservation_no']}` · 预计到货 {fmt_time(r['expected_arrival'])}")
    events = sh.get("events") or []
    if not events and o.get("shipments"):
        try:
            events = from_env().get(f"/v1/orders/{o['order_id']}/tracking").get("events") or []
        except ApiError:
            events = []
    if events:
        st.dataframe([{"时间": fmt_time(e["at"]), "轨迹": labels.tracking(e["code"]), "地点": e.get("location") or "",
                       "说明": e.get("description") or ""} for e in events], hide_index=True)
    for case in o.get("aftersales") or []:
        st.markdown(f"**售后** `{case['case_id']}` · {labels.aftersales_type(case['type'])} · "
                    + "、".join(f"{ln['sku']}×{ln['quantity']}" for ln in case["lines"]))

if o.get("reviews"):
    st.markdown("#### 审核任务")
    st.dataframe(
        [{"审核单": r["review_id"], "类型": labels.review_kind(r["kind"]), "状态": labels.review_state(r["state"]),
          "原因": r["reason"], "风险特征": "、".join(labels.risk_feature(f) for f in r.get("features") or []),
          "创建": fmt_time(r["created_at"]),
          "决定": labels.decision(r["decision"], r["kind"]) if r.get("decision") else "", "审核人": r.get("reviewer") or "",
          "备注": r.get("note") or ""} for r in o["reviews"]],
        hide_index=True,
    )
elif o.get("source") != "workflow":
    st.caption("订单已结束，审核任务详情见下方轨迹中的审核事件。")

order_actions.render(o)

st.markdown("#### 轨迹")
st.dataframe(
    [{"时间": fmt_time(e["at"]), "事件": labels.event(e["event"]), "状态": status_text(e["status"]),
      "操作人": e["actor"], "原因": e.get("reason") or ""} for e in o.get("timeline") or []],
    hide_index=True,
)
st.caption(f"数据来源: {'工作流实时状态' if o.get('source') == 'workflow' else '读模型'}")
