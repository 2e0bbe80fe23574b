"""The small teams' registration form in a real browser on a phone: Playwright driving Debian's
``/usr/bin/chromium`` (nothing downloaded) at a phone's viewport, against the real API, worker, dev
server and PostgreSQL. Sign in, get a field's error next to it in Chinese, fix it, submit, see the
order number — and the WeCom notice at the fake robot. Screenshots go to ``var/screenshots/team-*.png``
(git-ignored) for a person to look at."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from store import users
from store.db import engine_for, migrate
from tests.api_support import api_settings, running_api
from tests.support import fresh_pg_database, pg_available

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "var" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def team_stack(dev_env, tmp_path_factory, fake_wecom):
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    with fresh_pg_database("zs_team") as url:
        migrate(url)
        users.add_user(engine_for(url), "xiaoli", "customer_service", PASSWORD, display_name="小李")
        settings = api_settings(url, dev_env.client.service_client.config.target_host, tmp_path_factory.mktemp("team"),
                                wecom_webhook_url=fake_wecom.webhook_url)
        with running_api(settings, worker=True) as api:
            yield api
        engine_for(url).dispose()


@pytest.fixture(scope="module")
def phone():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/system-packages.sh installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            ctx = browser.new_context(**PHONE)
            yield ctx.new_page()
        finally:
            browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"team-{name}.png"), full_page=True)


def test_a_phone_registers_an_order_and_the_team_hears_of_it(team_stack, phone, fake_wecom):
    page = phone
    page.goto(f"{team_stack.url}/team")
    shot(page, "sign-in")
    page.fill("#username", "xiaoli")
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#order")
    assert "小李" in page.inner_text("body")

    page.fill("#customer-name", "王建国")
    page.fill("#customer-phone", "12")  # too short: its error shows next to it
    page.fill("#address", "浙江省杭州市萧山区北干街道金城路188号")
    page.fill("#lines-0-name", "博世刹车片(前)")
    page.fill("#lines-0-sku", "BOSCH-BP-COROLLA18")
    page.select_option("#lines-0-category", "刹车片")
    page.select_option("#lines-0-vehicle_model", "TOYOTA_COROLLA_2018")
    page.fill("#lines-0-quantity", "2")
    page.fill("#lines-0-unit_price", "268.00")
    page.click("#submit")
    err = page.locator('.ferr[data-for="customer.phone"]')
    err.wait_for()
    page.wait_for_function("document.querySelector('.ferr[data-for=\"customer.phone\"]').textContent.length > 0")
    assert err.inner_text().startswith("收货人电话")
    assert page.locator('[data-field="customer.phone"].bad').count() == 1
    shot(page, "field-error")

    page.fill("#customer-phone", "138 0013 8000")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])")
    order_no = page.inner_text("#order-no")
    order_id = page.inner_text("#order-id")
    assert order_no.startswith("T") and order_id == f"order-team-{order_no}"
    shot(page, "done")

    deadline = time.monotonic() + 30
    while not (found := [m for m in fake_wecom.messages(order_id) if "小微团队新订单" in m["content"]]):
        assert time.monotonic() < deadline, f"no WeCom notice for {order_id}: {fake_wecom.messages(order_id)}"
        time.sleep(0.2)
    assert "登记人 xiaoli" in found[0]["content"]
