"""仓库看板: open waves with their progress, tasks waiting for QC (red gear ⚠️) or put-away (blue
shelf 📦) — the two states temporary staff used to mix up — the lead's open exception tasks (short
picks, reprint-label requests) and mis-scans per picker. Everything comes from the API."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape, show_error
from console.printing import pdf_button
from console.ui import fmt_time
from domain import labels
from domain.warehouse import TASK_LOOK, TaskState

EXC_KINDS = {"short_pick": "⛔ 缺货异常", "reprint_label": "🏷️ 补打标签", "qc_failed": "⚙️ 质检不合格"}
WAVE_STATES = {"picking": "🛒 拣货中", "packing": "📦 待打包", "done": "✅ 已完成", "open": "🕒 组波中"}


def state_label(state: str) -> str:
    look = TASK_LOOK.get(TaskState(state)) if state in TaskState._value2member_map_ else None
    return f"{look.icon} {look.label}" if look else state


api = from_env()
st.title("🏭 仓库看板")
warehouse = st.text_input("仓库", key="wh_warehouse", placeholder="全部仓库, 或如 HZ-DIRECT").strip() or None

st.markdown(
    f":red-background[{TASK_LOOK[TaskState.QC_PENDING].icon} 待质检 = 红色齿轮,送质检区] "
    f":blue-background[{TASK_LOOK[TaskState.PUTAWAY_PENDING].icon} 待上架 = 蓝色货架,放回库位]"
)

try:
    waves = api.get("/v1/waves", warehouse=warehouse, open_only="true")["items"]
    held = api.get("/v1/warehouse/tasks", warehouse=warehouse, state=["qc_pending", "putaway_pending"])["items"]
    exceptions = api.get("/v1/warehouse/exceptions", warehouse=warehouse, state="open")["items"]
    pickers = api.get("/v1/warehouse/pickers", warehouse=warehouse)["items"]
except ApiError as exc:
    show_error(exc, "读取仓库数据")
    st.stop()

c = st.columns(4)
c[0].metric("进行中波次", len(waves))
c[1].metric("⚙️⚠️ 待质检", sum(1 for t in held if t["state"] == "qc_pending"))
c[2].metric("📦 待上架", sum(1 for t in held if t["state"] == "putaway_pending"))
c[3].metric("未处理异常", len(exceptions))

st.subheader("进行中的波次")
if not waves:
    st.info("没有进行中的波次。")
for w in waves:
    with st.container(border=True):
        top = st.columns([2, 2, 2, 3])
        top[0].markdown(f"**波次 {md_escape(w['wave_no'])}** · {md_escape(w['warehouse'])}")
        top[1].markdown(f"承运商 {md_escape(w['carrier'])} · {len(w['order_ids'])} 单")
        top[2].markdown(WAVE_STATES.get(w["state"], w["state"]))
        top[3].caption(f"{md_escape(w['wave_id'])} · 截单 {fmt_time(w.get('closed_at'))} ({labels.label('close_reason', w.get('close_reason')) or '-'})")
        done = w["done_count"] + w["short_count"]
        st.progress(w["progress"], text=f"{done}/{w['task_count']} 行已拣 · 缺货 {w['short_count']} · "
                                        f"⚙️⚠️ 待质检 {w['qc_pending_count']} · 📦 待上架 {w['putaway_pending_count']}")
        pdf_button("拣货单", "/v1/print/picklists.pdf", [("wave_id", w["wave_id"])], f"picklist-{w['wave_id']}.pdf",
                   f"wave-{w['wave_id']}")
for wh_code in sorted({w["warehouse"] for w in waves if w["state"] == "open"}):
    if st.button(f"{labels.warehouse(wh_code)}: 立即截单 (关闭组波中的波次)", key=f"close-{wh_code}"):
        try:
            api.post(f"/v1/warehouse/{wh_code}/close-waves", {})
            st.success(f"{labels.warehouse(wh_code)} 截单已提交")
        except ApiError as exc:
            show_error(exc, "截单")

st.subheader("待质检 / 待上架")
if held:
    st.dataframe(
        [{"状态": state_label(t["state"]), "库位": t["bin"], "SKU": t["sku"], "品名": t["name"], "数量": t["picked_qty"] or t["quantity"],
          "波次": t["wave_id"], "拣货员": t["picker"] or "-"} for t in held],
        hide_index=True, use_container_width=True,
    )
else:
    st.caption("没有等待质检或上架的任务。")

st.subheader("拣货异常任务")
if exceptions:
    st.dataframe(
        [{"类型": EXC_KINDS.get(e["kind"], e["kind"]), "库位": e["bin"] or "-", "SKU": e["sku"] or "-",
          "拣货员": e["picker"] or "-", "设备": e["device_id"] or "-", "原因": e["reason"], "时间": fmt_time(e["created_at"]),
          "编号": e["exception_id"]} for e in exceptions],
        hide_index=True, use_container_width=True,
    )
    for e in exceptions:
        with st.container(border=True):
            c1, c2, c3 = st.columns([4, 2, 2])
            c1.markdown(f"{EXC_KINDS.get(e['kind'], labels.exception_kind(e['kind']))} · 库位 {md_escape(e['bin'] or '-')} · "
                        f"{md_escape(e['reason'] or '')}")
            if e["kind"] == "reprint_label" and e.get("bin"):
                with c2:
                    pdf_button("库位标签", "/v1/print/bin-labels.pdf",
                               [("code", e["bin"]), ("warehouse", e.get("warehouse") or ""), ("layout", "single")],
                               f"bin-label-{e['bin']}.pdf", f"reprint-{e['exception_id']}")
            if c3.button("标记已处理", key=f"resolve-{e['exception_id']}"):
                try:
                    api.post(f"/v1/warehouse/exceptions/{e['exception_id']}/resolve", {})
                    st.rerun()
                except ApiError as exc:
                    show_error(exc, "处理异常")
else:
    st.caption("没有未处理的异常。")

st.subheader("拣货员误扫统计")
if pickers:
    st.dataframe(
        [{"拣货员": p["picker"], "已拣行": p["picks"], "误扫": p["mis_scans"], "商品错误": p.get("wrong_item", 0),
          "库位错误": p.get("wrong_bin", 0), "无法识别": p.get("unreadable", 0), "数量错误": p.get("wrong_quantity", 0)}
         for p in pickers],
        hide_index=True, use_container_width=True,
    )
else:
    st.caption("暂无扫描记录。")
