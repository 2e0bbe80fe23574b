"""打印中心: pick lists (波次拣货单), packing slips (发货单) and bin labels (库位标签) as PDF, one or a
batch. The API renders them (``/v1/print/…``); the console fetches them with its own credentials and
hands them over as downloads, so the floor's browser never needs the API key."""

from __future__ import annotations

import re

import streamlit as st

from console.api_client import ApiError, from_env, show_error
from console.printing import pdf_button
from console.ui import fmt_time
from domain import labels


def split(text: str) -> list[str]:
    return [x for x in re.split(r"[\s,，、;；]+", text or "") if x]


st.title("🖨️ 打印中心")
pick, slip, bins = st.tabs(["波次拣货单", "发货单", "库位标签"])

with pick:
    try:
        waves = from_env().get("/v1/waves", limit=200)["items"]
    except ApiError as exc:
        show_error(exc, "查询波次")
        waves = []
    if not waves:
        st.info("还没有波次。")
    else:
        names = {w["wave_id"]: f"{w.get('wave_no') or w['wave_id']} · {labels.warehouse(w.get('warehouse'))} · "
                               f"{labels.wave_state(w.get('state'))} · {w.get('task_count', 0)} 个任务 · {fmt_time(w.get('opened_at'))}"
                 for w in waves}
        if "print_waves" not in st.session_state:  # /print?wave_id=…: a link from elsewhere preselects waves
            st.session_state.print_waves = [w for w in st.query_params.get_all("wave_id") if w in names]
        chosen = st.multiselect("选择波次 (可多选, 合并为一个PDF)", list(names), format_func=lambda w: names[w], key="print_waves")
        if chosen:
            pdf_button("拣货单", "/v1/print/picklists.pdf", [("wave_id", w) for w in chosen],
                       f"picklist-{len(chosen)}-waves.pdf" if len(chosen) > 1 else f"picklist-{chosen[0]}.pdf",
                       "picklists-" + "-".join(chosen)[:120])

with slip:
    text = st.text_area("订单号 (每行一个, 或用逗号分隔)", key="print_orders", value=st.query_params.get("order_id", ""))
    size = st.radio("纸张", ["A4", "A5"], horizontal=True, key="print_slip_size")
    ids = split(text)
    if ids:
        pdf_button("发货单", "/v1/print/packing-slips.pdf", [("order_id", i) for i in ids] + [("page_size", size)],
                   f"packing-slips-{len(ids)}.pdf", "slips-" + "-".join(ids)[:120] + size)

with bins:
    codes = split(st.text_area("库位编码 (如 A-03-12, 每行一个)", key="print_bins"))
    b1, b2 = st.columns(2)
    wh = b1.selectbox("仓库", ["", *labels.WAREHOUSES], format_func=lambda w: labels.warehouse(w) if w else "不印仓库名",
                      key="print_bin_wh")
    layout = b2.radio("版式", ["sheet", "single"], format_func={"sheet": "A4 每页21张", "single": "热敏单张 60×40mm"}.get,
                      horizontal=True, key="print_bin_layout")
    if codes:
        pdf_button("库位标签", "/v1/print/bin-labels.pdf",
                   [("code", c) for c in codes] + [("warehouse", wh), ("layout", layout)],
                   f"bin-labels-{len(codes)}.pdf", "bins-" + "-".join(codes)[:120] + wh + layout)
