"""This browser session's sign-in: the token and the person, in ``st.session_state`` only (never a
service key). Read by the API client on every call; written by the login page (console/auth.py)."""

from __future__ import annotations

from typing import Any

import streamlit as st

SESSION_KEY = "zs_auth"


def current_user() -> dict[str, Any] | None:
    try:
        auth = st.session_state.get(SESSION_KEY)
    except Exception:  # noqa: BLE001 - outside a Streamlit run (scripts, tests of the client)
        return None
    return auth["user"] if auth else None


def session_token() -> str | None:
    try:
        auth = st.session_state.get(SESSION_KEY)
    except Exception:  # noqa: BLE001
        return None
    return auth["token"] if auth else None


def sign_out_local() -> None:
    try:
        st.session_state.pop(SESSION_KEY, None)
    except Exception:  # noqa: BLE001
        pass


def _signed_in(body: dict[str, Any]) -> None:
    st.session_state[SESSION_KEY] = {"token": body["token"], "user": body["user"], "expires_at": body["expires_at"]}
