"""The console's sign-in over plain HTTP, so it survives a reload and a new tab.

A Streamlit script cannot set a cookie (it talks to the browser over a websocket), so these few
routes sit beside the console on the same server (``console/server.py``, ``st.App``):

* ``POST /session/login`` — the login form (``console/auth.py``) posts here; we sign in at the API
  (``POST /v1/auth/login``) and answer 303 back to the page asked for, with the cookie
  ``zhongshu_session`` = the API's session token: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``,
  expiring with the session (``Secure`` when the console is reached over https). A refusal goes back
  to the login page with the reason (``?login_error=wrong|locked|disabled``), never the password.
* ``POST /session/logout`` — revokes the session at the API and clears the cookie.
* ``GET /session/wecom`` — WeCom (企业微信) OAuth comes back here with ``?code=``; the same cookie.

A form posted from another site is refused (its ``Origin`` is not this console), so no other page can
sign a browser in as someone else or force a sign-out. The token stays opaque: the API validates it on every call (``Authorization: Bearer``), and the
console reads it from ``st.context.cookies`` (``console/session.py``). Cookies belong to a host, not a
port, so with ``make up`` (console :8501, API :8000 on 127.0.0.1) the API and the codec server see
the same cookie; behind a proxy the console and the API share one origin anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console.api_client import TIMEOUT, api_url
from zhongshu.auth_settings import get_auth_settings
from zhongshu.settings import get_settings

COOKIE = "zhongshu_session"  # also read by the codec server (api/): keep the name, the value is the token
LOGIN_PAGE = "/login"
REASONS = {"wrong", "locked", "disabled", "unknown", "unavailable", "missing", "wecom", "origin"}


def safe_next(target: str | None) -> str:
    """Only a path on this console (no scheme, no host, no ``//``): never an open redirect."""
    target = (target or "/").strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if parts.path.rstrip("/") in (LOGIN_PAGE, "/session/login", "/session/logout"):
        return "/"
    return target


def _secure(request: Request) -> bool:
    """``Secure`` when the browser reached us over https (directly, or as the TLS proxy says)."""
    setting = get_auth_settings().session_cookie_secure
    if setting is not None:
        return setting
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip().lower()
    return proto == "https"


def _same_origin(request: Request) -> bool:
    """A form posted from another site (login CSRF, a forced sign-out) is refused: the browser's
    ``Origin`` must be this console (its host as the browser or the proxy saw it, or the configured URL)."""
    origin = request.headers.get("origin")
    if not origin:  # not sent by older browsers for same-origin posts; SameSite=Lax still applies
        return True
    ours = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "").split(",")[0].strip(),
            urlsplit(get_settings().console_url).netloc}
    return urlsplit(origin).netloc in ours - {""}


def _refused(reason: str, target: str) -> RedirectResponse:
    reason = reason if reason in REASONS else "wrong"
    query = urlencode({"login_error": reason, "next": target})
    return RedirectResponse(f"{LOGIN_PAGE}?{query}", status_code=303, headers={"Cache-Control": "no-store"})


def _signed_in(request: Request, body: dict, target: str) -> RedirectResponse:
    resp = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    expires = datetime.fromisoformat(body["expires_at"])
    max_age = max(int((expires - datetime.now(UTC)).total_seconds()), 0)
    resp.set_cookie(COOKIE, body["token"], max_age=max_age, expires=expires, path="/", httponly=True,
                    samesite="lax", secure=_secure(request))
    return resp


async def _api_post(path: str, **kw) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT) as c:
            return await c.post(path, **kw)
    except httpx.HTTPError:
        return None


def _forwarded(request: Request) -> dict[str, str]:
    """The person's address for the API's audit log and lock-out (the console is a proxy here)."""
    ip = request.client.host if request.client else ""
    prior = request.headers.get("x-forwarded-for")
    return {"X-Forwarded-For": f"{prior}, {ip}" if prior else ip} if ip else {}


async def login(request: Request) -> Response:
    form = await request.form()
    target = safe_next(str(form.get("next") or "/"))
    if not _same_origin(request):
        return _refused("origin", target)
    username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    if not username or not password:
        return _refused("missing", target)
    r = await _api_post("/v1/auth/login", json={"username": username[:64], "password": password[:200]},
                        headers=_forwarded(request))
    if r is None or r.status_code >= 500:
        return _refused("unavailable", target)
    if r.status_code != 200:
        try:
            reason = str(r.json().get("reason") or "wrong")
        except ValueError:
            reason = "wrong"
        return _refused(reason, target)
    return _signed_in(request, r.json(), target)


async def logout(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if token and _same_origin(request):  # the session ends at the API too, not only in this browser
        await _api_post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    resp = RedirectResponse(LOGIN_PAGE, status_code=303, headers={"Cache-Control": "no-store"})
    resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return resp


async def wecom(request: Request) -> Response:
    code = request.query_params.get("code", "")
    if not code:
        return _refused("wecom", "/")
    r = await _api_post("/v1/auth/wecom/callback", json={"code": code[:512], "state": request.query_params.get("state", "")[:128]},
                        headers=_forwarded(request))
    if r is None or r.status_code != 200:
        try:
            reason = str(r.json().get("reason") or "wecom") if r is not None else "unavailable"
        except ValueError:
            reason = "wecom"
        return _refused(reason, "/")
    return _signed_in(request, r.json(), "/")


def routes() -> list[Route]:
    return [Route("/session/login", login, methods=["POST"]), Route("/session/logout", logout, methods=["POST"]),
            Route("/session/wecom", wecom, methods=["GET"])]
