"""Console sign-in through the console itself (Streamlit AppTest) against the real stack (issue 13):
nobody sees a page without signing in, a wrong password is answered in the form, the admin pages are
for admins only, and an admin adds a person on the 账号管理 page."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_console import PASSWORD, signed_in

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parent.parent / "console" / "app.py")


@pytest.fixture
def api(stack, monkeypatch):
    monkeypatch.setenv("ZHONGSHU_CONSOLE_API_URL", stack.api_url)
    monkeypatch.delenv("ZHONGSHU_CONSOLE_API_KEY", raising=False)
    with stack.http() as http:
        yield http


def fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def submit_login(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_username").set_value(user)
    at.text_input(key="login_password").set_value(password)
    next(b for b in at.button if b.label == "登录").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_nothing_but_the_login_form_without_signing_in(api):
    at = fresh()
    assert at.title[0].value.startswith("🔐 登录")
    assert not at.dataframe and "zs_auth" not in at.session_state


def test_wrong_password_then_sign_in(api):
    user = f"rev-{uuid.uuid4().hex[:6]}"
    signed_in(user, "reviewer")  # creates the account
    at = submit_login(fresh(), user, "not-the-password")
    assert "用户名或密码错误" in at.error[0].value and "zs_auth" not in at.session_state
    at = submit_login(at, user, PASSWORD)
    assert at.session_state["zs_auth"]["user"]["username"] == user
    assert any(user in m.value for m in at.sidebar.markdown)
    assert not any("🔐 登录" in t.value for t in at.title)


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
