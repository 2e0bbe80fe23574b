"""Printing from the console: the API renders the PDF, the console fetches it with its own
credentials (the client helper, so a signed-in token replaces the key later) and offers it as a
download — a browser never needs the API key."""

from __future__ import annotations

import streamlit as st

from console.api_client import ApiError, from_env, md_escape


def fetch_pdf(path: str, params: list[tuple[str, str]]) -> bytes:
    return from_env().request("GET", path, params=params).content


def pdf_button(label: str, path: str, params: list[tuple[str, str]], filename: str, key: str) -> None:
    """Fetch on demand (a 'prepare' click), then a download button holding the bytes."""
    store = f"pdf-{key}"
    if st.button(f"生成{label}", key=f"make-{key}", icon="🖨️"):
        try:
            st.session_state[store] = (fetch_pdf(path, params), filename)
        except ApiError as exc:
            st.session_state.pop(store, None)
            st.error(md_escape(f"生成{label}失败 — {exc}"))
    if store in st.session_state:
        data, name = st.session_state[store]
        st.download_button(f"下载{label} ({len(data) // 1024 + 1} KB)", data, file_name=name, mime="application/pdf",
                           key=f"dl-{key}", icon="⬇️")
