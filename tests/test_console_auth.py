"""Console sign-in through the console itself against the real stack (issues 13, 14): nobody sees a
page without signing in; the sign-in routes beside the pages (``console/sign_in.py``, served over real
HTTP) set the ``zhongshu_session`` cookie — the API's own token, HttpOnly, SameSite=Lax — answer a
wrong password on the form, never redirect off the console, and sign out by revoking the session and
clearing the cookie; the admin pages are for admins only, and an admin adds a person on 账号管理.
A real browser walks the same sign-in in tests/test_console_browser.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from streamlit.testing.v1 import AppTest

from console.sign_in import COOKIE, routes, safe_next
from tests.support import ThreadedServer
from tests.test_console import PASSWORD, signed_in

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parent.parent / "console" / "app.py")


@pytest.fixture
def api(stack, monkeypatch):
    monkeypatch.setenv("ZHONGSHU_CONSOLE_API_URL", stack.api_url)
    monkeypatch.delenv("ZHONGSHU_CONSOLE_API_KEY", raising=False)
    with stack.http() as http:
        yield http


@pytest.fixture
def console(api):
    """The console's sign-in routes over HTTP (no redirects followed: we read each answer)."""
    with ThreadedServer(Starlette(routes=routes())) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def fresh(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def me(stack, token: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_nothing_but_the_login_form_without_signing_in(api):
    at = fresh()
    assert at.title[0].value.startswith("🔐 登录")
    assert not at.dataframe and "zs_auth" not in at.session_state
    form = at.get("html")[0].proto.body
    assert 'action="/session/login"' in form and 'method="post"' in form and 'name="password"' in form
    refused = fresh(login_error="locked")
    assert "账号已锁定" in refused.error[0].value


def test_sign_in_sets_the_session_cookie_and_sign_out_revokes_it(stack, console):
    user = f"rev-{uuid.uuid4().hex[:6]}"
    signed_in(user, "reviewer")  # creates the account

    wrong = console.post("/session/login", data={"username": user, "password": "not-the-password", "next": "/reviews"})
    assert wrong.status_code == 303 and wrong.headers["location"] == "/login?login_error=wrong&next=%2Freviews"
    assert COOKIE not in wrong.cookies and "set-cookie" not in wrong.headers

    ok = console.post("/session/login", data={"username": user, "password": PASSWORD, "next": "/reviews?kind=risk"})
    assert ok.status_code == 303 and ok.headers["location"] == "/reviews?kind=risk"
    cookie = ok.headers["set-cookie"]
    token = ok.cookies[COOKIE]
    assert token.startswith("zsus-") and cookie.startswith(f"{COOKIE}={token};")
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "expires", "samesite"} <= attrs and "secure" not in attrs
    assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()
    assert 11 * 3600 < int(cookie.lower().split("max-age=")[1].split(";")[0]) <= 12 * 3600  # the session's own lifetime
    assert me(stack, token).json()["name"] == user  # the API validates the very value

    out = console.post("/session/logout")  # the browser sends the cookie back
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "max-age=0" in out.headers["set-cookie"].lower()
    assert me(stack, token).status_code == 401  # revoked at the API, not only forgotten by this browser


def test_behind_a_tls_proxy_the_cookie_is_secure_and_redirects_stay_on_the_console(console):
    user = f"rev-{uuid.uuid4().hex[:6]}"
    signed_in(user, "reviewer")
    r = console.post("/session/login", data={"username": user, "password": PASSWORD, "next": "https://evil.example/x"},
                     headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 303 and r.headers["location"] == "/" and "secure" in r.headers["set-cookie"].lower()
    for target in ("//evil.example", "https://evil.example", "evil", "/\\evil.example", "/session/logout", ""):
        assert safe_next(target) == "/", target
    assert safe_next("/timeline?order_id=order-x") == "/timeline?order_id=order-x"
    forged = console.post("/session/login", data={"username": user, "password": PASSWORD},
                          headers={"Origin": "https://evil.example"})  # login CSRF from another site
    assert forged.headers["location"].startswith("/login?login_error=origin") and "set-cookie" not in forged.headers
    mine = console.post("/session/login", data={"username": user, "password": PASSWORD},
                        headers={"Origin": console.base_url.scheme + "://" + console.base_url.netloc.decode()})
    assert mine.status_code == 303 and mine.headers["location"] == "/" and COOKIE in mine.cookies
    empty = console.post("/session/login", data={"username": "", "password": ""})
    assert empty.headers["location"].startswith("/login?login_error=missing")


def test_admin_pages_are_for_admins_and_add_a_person(api):
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["zs_auth"] = signed_in(f"rev-{uuid.uuid4().hex[:6]}", "reviewer")
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # no such page for a reviewer
        at.switch_page("pages_/users.py")

    admin = AppTest.from_file(APP, default_timeout=30)
    admin.session_state["zs_auth"] = signed_in(f"adm-{uuid.uuid4().hex[:6]}", "admin")
    admin.run()
    admin.switch_page("pages_/users.py").run()
    assert not admin.exception and admin.title[0].value.startswith("👥")
    new = f"kf-{uuid.uuid4().hex[:6]}"
    admin.text_input(key="new_username").set_value(new)
    admin.text_input(key="new_display_name").set_value("客服小周")
    admin.selectbox(key="new_role").set_value("customer_service")
    admin.text_input(key="new_password").set_value("kefu-password-1")
    next(b for b in admin.button if b.label == "新增").click().run()
    assert not admin.exception and not admin.error, [e.value for e in admin.error]
    people = {u["username"]: u for u in api.get("/v1/users").json()["items"]}
    assert people[new]["role"] == "customer_service" and people[new]["display_name"] == "客服小周"

    admin.switch_page("pages_/audit.py").run()
    assert not admin.exception
    log = next(d.value for d in admin.dataframe if "操作人" in d.value.columns)
    assert ((log["操作"] == "POST /v1/users") & (log["结果"] == 201)).any()


@pytest.fixture
def wecom_api(tmp_path, fake_wecom, monkeypatch):
    """An API with WeCom sign-in on (the shipped fake WeCom) and one person linked to WeCom user LiWei."""
    from temporalio.client import Client

    from api.app import create_app
    from tests.api_support import SERVICE_KEY, api_settings
    from zhongshu.auth_settings import get_auth_settings

    base = fake_wecom.webhook_url.split("/cgi-bin")[0]
    for k, v in {"ZHONGSHU_WECOM_OAUTH": "true", "ZHONGSHU_WECOM_CORP_ID": "corp1", "ZHONGSHU_WECOM_CORP_SECRET": "s",
                 "ZHONGSHU_WECOM_API_URL": base, "ZHONGSHU_WECOM_AUTHORIZE_URL": f"{base}/connect/oauth2/authorize"}.items():
        monkeypatch.setenv(k, v)
    get_auth_settings.cache_clear()

    class NoTemporal(Client):  # sign-in never reaches Temporal; the lifespan just needs a client
        def __init__(self):
            pass

    settings = api_settings(f"sqlite:///{tmp_path / 'api.db'}", "127.0.0.1:1", tmp_path)
    with ThreadedServer(create_app(settings, client=NoTemporal())) as server:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as svc:
            assert svc.post("/v1/users", json={"username": "xiaoli", "role": "reviewer", "wecom_userid": "LiWei",
                                                "display_name": "小李"}).status_code == 201
        monkeypatch.setenv("ZHONGSHU_CONSOLE_API_URL", server.url)
        yield server.url, base
    get_auth_settings.cache_clear()


def test_wecom_comes_back_to_the_console_and_gets_the_same_cookie(wecom_api):
    api_url, wecom = wecom_api
    with ThreadedServer(Starlette(routes=routes())) as server, httpx.Client(base_url=server.url, timeout=30) as console:
        code = httpx.post(f"{wecom}/_control/oauth_code", params={"userid": "LiWei"}).json()["code"]
        r = console.get("/session/wecom", params={"code": code})
        assert r.status_code == 303 and r.headers["location"] == "/"
        token = r.cookies[COOKIE]
        assert "httponly" in r.headers["set-cookie"].lower()
        assert httpx.get(f"{api_url}/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "xiaoli"
        again = console.get("/session/wecom", params={"code": code})  # a code is good once
        assert again.status_code == 303 and again.headers["location"].startswith("/login?login_error=")
