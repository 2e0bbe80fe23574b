"""This browser's sign-in: the API's session token from the ``zhongshu_session`` cookie (set by
``console/sign_in.py`` on the console's own origin), checked once per Streamlit session against
``GET /v1/auth/me`` and kept in ``st.session_state`` for the session's reruns. A reload or a new tab
is a new Streamlit session that reads the same cookie, so the person stays signed in until the
session expires or they sign out (which revokes it at the API and clears the cookie).

Tests built on Streamlit's AppTest (which cannot send cookies) put the same ``{token, user}`` into
``st.session_state`` directly. Never a service key."""

from __future__ import annotations

import os
from typing import Any

import httpx
import streamlit as st

from zhongshu.settings import get_settings

SESSION_KEY = "zs_auth"
COOKIE = "zhongshu_session"  # console/sign_in.py sets it; the codec server reads it too


def _api_url() -> str:
    return os.environ.get("ZHONGSHU_CONSOLE_API_URL") or get_settings().api_base_url


def _state() -> Any:
    try:
        return st.session_state
    except Exception:  # noqa: BLE001 - outside a Streamlit run (scripts, tests of the client)
        return None


def _cookie_token() -> str | None:
    try:
        return st.context.cookies.get(COOKIE) or None
    except Exception:  # noqa: BLE001 - outside a Streamlit run
        return None


def _from_cookie(token: str) -> dict[str, Any] | None:
    """The person behind the cookie's token, as the API says (None: expired, revoked, unknown)."""
    try:
        r = httpx.get(f"{_api_url().rstrip('/')}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    me = r.json()
    if me.get("kind") != "user":
        return None
    return {"token": token, "user": {"username": me["name"], "role": me["role"], "display_name": me.get("display_name") or "",
                                     "role_label": me.get("role_label") or me["role"]}}


def _auth() -> dict[str, Any] | None:
    state = _state()
    if state is None:
        return None
    auth = state.get(SESSION_KEY)
    token = _cookie_token()
    if auth is None and token and state.get("zs_cookie_refused") != token:
        auth = _from_cookie(token)
        if auth is None:
            state["zs_cookie_refused"] = token  # ask once per session, not on every rerun
        else:
            state[SESSION_KEY] = auth
    return auth


def current_user() -> dict[str, Any] | None:
    auth = _auth()
    return auth["user"] if auth else None


def session_token() -> str | None:
    auth = _auth()
    return auth["token"] if auth else None


def stale_cookie() -> bool:
    """A cookie is there but the API refused its token (expired or revoked): sign in again."""
    state = _state()
    return bool(state is not None and _cookie_token() and state.get("zs_cookie_refused") == _cookie_token())


def sign_out_local() -> None:
    """The API answered 401 for this session's token: forget it here (the cookie is then stale)."""
    state = _state()
    if state is None:
        return
    auth = state.pop(SESSION_KEY, None)
    if auth and auth.get("token") == _cookie_token():
        state["zs_cookie_refused"] = auth["token"]
