"""A small httpx client for the Zhongshu API, plus the one way the console shows API errors.

The console must never hide what the API said: a 409 "already decided" or a 422 field list is the
reviewer's only clue, so ``ApiError`` keeps the body verbatim and ``show_error`` prints it as is.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx

from console.session import session_token, sign_out_local
from zhongshu.settings import get_settings

TIMEOUT = httpx.Timeout(20.0, connect=5.0)


@cache
def _tls():
    """One TLS context for every call of the process (httpx builds and loads one per client: ≈ 10 ms)."""
    return httpx.create_ssl_context()


@dataclass
class ApiError(Exception):
    """A non-2xx answer (or no answer at all: ``status == 0``)."""

    status: int
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: Any = None

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message

    @property
    def route_missing(self) -> bool:
        """FastAPI's own 404 for an unknown path (an endpoint not deployed yet), not 'no such order'."""
        return self.status == 404 and self.message == "Not Found"


def _error_from(resp: httpx.Response) -> ApiError:
    try:
        body = resp.json()
    except ValueError:
        return ApiError(resp.status_code, resp.text or resp.reason_phrase)
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, str):
            return ApiError(resp.status_code, detail, body=body)
        # FastAPI request validation: a list of {loc, msg, type}
        errors = detail if isinstance(detail, list) else []
        return ApiError(resp.status_code, json.dumps(detail, ensure_ascii=False), errors=errors, body=body)
    if isinstance(body, dict) and "message" in body:
        return ApiError(resp.status_code, str(body["message"]), errors=list(body.get("errors") or []), body=body)
    return ApiError(resp.status_code, json.dumps(body, ensure_ascii=False), body=body)


class ApiClient:
    """Calls the API as the signed-in person (``token``: ``Authorization: Bearer``); ``api_key`` is
    for scripts and tests only — the console itself never holds the service key (issue 13)."""

    def __init__(self, base_url: str, api_key: str | None = None, *, token: str | None = None, on_unauthorized=None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self.on_unauthorized = on_unauthorized

    @property
    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=TIMEOUT, verify=_tls()) as c:
                resp = c.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"无法连接 API {self.base_url}: {exc}") from exc
        if resp.status_code == 401 and self.token and self.on_unauthorized:
            self.on_unauthorized()  # the session expired or was ended: sign in again
        if resp.status_code >= 400:
            raise _error_from(resp)
        return resp

    def get(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v not in (None, "")}
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json_body: Any = None, **kw: Any) -> Any:
        if json_body is not None:
            kw["json"] = json_body
        resp = self.request("POST", path, **kw)
        return resp.json() if resp.content else {}

    def get_bytes(self, path: str) -> bytes:
        return self.request("GET", path).content


def api_url() -> str:
    url = os.environ.get("ZHONGSHU_CONSOLE_API_URL")
    if url:
        return url
    return get_settings().api_base_url


def from_env() -> ApiClient:
    """The API as the person signed in to this console session (console/auth.py); without a sign-in,
    a client with no credential (every /v1 call answers 401). Env first for the URL (so a deployment
    or a test can point the console anywhere), then settings."""
    return ApiClient(api_url(), token=session_token(), on_unauthorized=sign_out_local)


def md_escape(text: str) -> str:
    """Markdown-inert text: review ids hold '~' (strikethrough) and amounts '$' (LaTeX)."""
    return re.sub(r"([\\`*_~\[\]<>#|$])", r"\\\1", text)


def show_error(exc: ApiError, what: str = "") -> None:
    """The API's words, unedited, with any per-field errors as a table."""
    import streamlit as st

    prefix = f"{what}失败 — " if what else ""
    st.error(md_escape(prefix + str(exc)))
    if exc.errors:
        st.dataframe(exc.errors, hide_index=True)
