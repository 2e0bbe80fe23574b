"""The console in a real browser: Playwright driving Debian's ``/usr/bin/chromium`` (installed by
``scripts/system-packages.sh`` from ``make install`` and ``.ci/run``; nothing is downloaded — no
``playwright install``) against the real Streamlit console, the real API, worker, dev server and
PostgreSQL, with fulfilment on (waves, the fake carrier's waybills).

What a person does in a day, through the pages: sign in (the ``zhongshu_session`` cookie, so a reload
and a new tab stay signed in), decide two reviews in bulk, find an order by its waybill, cancel one,
print a pick list and read the PDF's text and barcodes back, sign out (the cookie is gone and the
session is revoked at the API). A screenshot of every page goes to ``var/screenshots/`` (git-ignored)
for a person to look at.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from domain import geo
from tests.support import free_port, order_payload
from tests.test_fulfilment_e2e import DEVICE, SERVICE, fstack, status_is, wait_for  # noqa: F401 - fstack is a fixture

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "var" / "screenshots"
PAGES = ["", "orders", "search", "timeline", "reviews", "print", "rejections", "rules", "dashboard", "reconciliation",
         "warehouse", "aftersales", "channels"]


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (scripts/system-packages.sh installs it: apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def console_url(fstack):  # noqa: F811 - the fixture imported above
    """The real Streamlit console on a free port, run from the project root (its .streamlit/config.toml)."""
    port = free_port()
    env = os.environ | {"ZHONGSHU_CONSOLE_API_URL": fstack.api_url, "ZHONGSHU_CONSOLE_API_KEY": SERVICE}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "console" / "server.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--client.toolbarMode", "viewer"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the console", lambda: _up(url), timeout=90)
        with httpx.Client(base_url=fstack.api_url, headers={"X-API-Key": SERVICE}, timeout=30) as http:
            r = http.post("/v1/users", json={"username": USER, "role": "reviewer", "password": PASSWORD,
                                             "display_name": "小李"})
            assert r.status_code in (201, 409), r.text
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser():
    why = _chromium_missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN", accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        ctx.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # Streamlit finishes drawing after its last message
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


USER, PASSWORD = "xiaoli", "browser-test-password"
COOKIE = "zhongshu_session"  # console/sign_in.py; the codec server reads the same cookie


def goto(page, url: str) -> None:
    page.goto(url)
    ready(page)


def sign_in(page, console_url: str, path: str = "/reviews") -> None:
    """The login form every URL shows to a visitor; it posts to the console's /session/login, which
    sets the cookie and sends the browser back to the page it asked for."""
    goto(page, f"{console_url}{path}")
    page.get_by_label("用户名").fill(USER)
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    ready(page)
    page.get_by_text("用户名或密码错误").wait_for()
    shot(page, "login-refused")
    page.get_by_label("用户名").fill(USER)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{console_url}{path}")
    ready(page)
    signed_in_as(page)


def signed_in_as(page) -> None:
    page.get_by_role("button", name="退出登录").wait_for()
    page.get_by_text("小李").first.wait_for()
    assert page.get_by_label("密码").count() == 0


def ready(page) -> None:
    """The script run is over: Streamlit shows its 'running' widget while a run is in flight."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(400)  # a rerun's status widget appears a moment after the click
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def shipped_order(fstack) -> tuple[str, str, str]:  # noqa: F811
    """An order picked by a device, confirmed by the customer and waybilled: (order id, waybill, wave id)."""
    api, device = fstack.http(), fstack.http(DEVICE)
    r = api.post("/v1/orders", json=order_payload(ordered_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
    assert r.status_code in (201, 202), r.text
    oid = r.json()["order_id"]
    row = wait_for("picking", status_is(api, oid, "picking"))
    warehouse = row["warehouse"]
    task = wait_for("a task", lambda: (c := device.post(f"/v1/warehouse/{warehouse}/claim",
                                                        json={"device_id": "MC33-WEB", "picker": "小张"})).status_code == 200
                    and c.json())
    r = device.post(f"/v1/warehouse/{warehouse}/tasks/{task['task_id']}/confirm",
                    json={"picked_qty": task["quantity"], "device_id": "MC33-WEB", "picker": "小张"})
    assert r.status_code == 200, r.text
    wait_for("packed", status_is(api, oid, "packed"))
    cards = wait_for("a card", lambda: httpx.get(f"{fstack.mini_url}/_control/cards", params={"order_id": oid}).json()["items"])
    c = geo.centroid(api.get(f"/v1/orders/{oid}").json()["address"]["adcode"])
    ok = httpx.post(cards[-1]["url"] + "/confirm", json={"lat": c.lat + 0.01, "lng": c.lng - 0.01}, timeout=30)
    assert ok.status_code == 200 and ok.json()["accepted"] is True, ok.text
    row = wait_for("shipped", status_is(api, oid, "shipped"))
    waves = api.get("/v1/waves", params={"warehouse": warehouse}).json()["items"]
    wave = next(w for w in waves if oid in (w.get("order_ids") or []))
    return oid, row["waybill_no"], wave["wave_id"]


def held_for_risk(api) -> str:
    """A ¥12,800 first order from a new customer: held for risk review."""
    p = order_payload()
    p["customer"]["id"] = f"WEB-{uuid.uuid4().hex[:8]}"
    p["lines"][0].update(quantity=2, unit_price="6400.00")
    p["paid_amount"] = "12800.00"
    r = api.post("/v1/orders", json=p)
    assert r.status_code in (200, 202), r.text
    oid = r.json()["order_id"]
    wait_for("a risk review", lambda: any(t["order_id"] == oid for t in api.get(
        "/v1/reviews", params={"state": "open", "kind": "risk"}).json()["items"]))
    return oid


def test_a_day_at_the_console(fstack, console_url, page):  # noqa: F811
    api = fstack.http()

    # 0. sign in; a reload and a new tab stay signed in (the cookie, not the Streamlit session)
    sign_in(page, console_url)
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/" and cookie["expires"] > 0
    assert cookie["value"].startswith("zsus-")  # the API's own session token, validated by the API
    me = httpx.get(f"{fstack.api_url}/v1/auth/me", headers={"Authorization": f"Bearer {cookie['value']}"}, timeout=30)
    assert me.status_code == 200 and me.json()["name"] == USER
    page.reload()
    ready(page)
    signed_in_as(page)
    shot(page, "signed-in-after-reload")
    tab = page.context.new_page()
    goto(tab, f"{console_url}/search")
    signed_in_as(tab)
    tab.close()

    # 1. find an order by its waybill, and print its wave's pick list
    oid, waybill, wave_id = shipped_order(fstack)
    goto(page, f"{console_url}/search")
    page.get_by_label("运单号").fill(waybill)
    page.get_by_role("button", name="查找").click()
    page.get_by_text("共 1 条").wait_for()
    ready(page)
    shot(page, "search-by-waybill")
    page.get_by_role("button", name="打开", exact=True).click()
    page.get_by_role("heading", name=oid).wait_for()
    ready(page)
    shot(page, "order-page")

    goto(page, f"{console_url}/print?wave_id={wave_id}")
    page.get_by_role("button", name="生成拣货单").click()
    ready(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name="下载拣货单").click()
    pdf = Path(dl.value.path()).read_bytes()
    wave = api.get(f"/v1/waves/{wave_id}").json()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "拣货单" in text and wave["wave_no"] in text and "A-03-12" in text
    img = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    codes = {r.text for r in zxingcpp.read_barcodes(img)}
    assert wave["wave_no"] in codes and "A-03-12" in codes, codes
    shot(page, "print-pick-list")

    # 1c. an admin page's URL, for a reviewer: 无权限 in Chinese, not Streamlit's "Page not found"
    goto(page, f"{console_url}/users")
    page.get_by_role("heading", name="🚫 无权限").wait_for()
    assert "Page not found" not in page.content() and "仅管理员可用" in page.content()

    # 2. two identical ¥12,800 holds, decided together with one note
    held = [held_for_risk(api), held_for_risk(api)]
    goto(page, f"{console_url}/reviews")
    for oid_ in held:
        page.get_by_text(oid_).first.wait_for()
    page.get_by_text("新客户大额订单").first.wait_for()
    shot(page, "reviews-two-holds")
    page.get_by_role("button", name="全选本页").click()
    ready(page)
    page.get_by_text("已选 2 个任务").wait_for()
    page.get_by_label("统一备注").fill("老客户介绍, 电话核实")
    page.get_by_role("button", name="提交批量决定").click()  # no decision is preselected: nothing is sent
    ready(page)
    page.get_by_text("请先选择批量决定").wait_for()
    assert all(t["state"] == "open" for oid_ in held for t in api.get("/v1/reviews", params={"order_id": oid_}).json()["items"])
    page.get_by_text("已选 2 个任务").wait_for()
    choose = page.get_by_role("combobox", name="决定")
    choose.click()
    choose.fill("放行")  # both are risk holds: the decision says what it means for them
    choose.press("Enter")
    ready(page)
    page.get_by_label("统一备注").fill("老客户介绍, 电话核实")
    page.get_by_role("button", name="提交批量决定").click()
    ready(page)
    page.get_by_text("已提交").first.wait_for()
    for oid_ in held:
        task = wait_for("decided", lambda oid_=oid_: next((t for t in api.get("/v1/reviews", params={"order_id": oid_}).json()["items"]
                                                 if t["state"] == "decided"), None))
        assert task["decision"] == "approve" and task["reviewer"] == USER and task["note"] == "老客户介绍, 电话核实"

    # 2b. the keyboard: the queue's cursor is on the one open card, A approves it with its note
    by_key = held_for_risk(api)
    goto(page, f"{console_url}/reviews")
    page.get_by_text(by_key).first.wait_for()
    page.get_by_text("当前任务").wait_for()
    page.get_by_label("快捷备注 (A / D 时使用)").fill("键盘通过")
    page.get_by_label("快捷备注 (A / D 时使用)").press("Enter")
    ready(page)
    page.evaluate("document.activeElement.blur()")  # out of the field: shortcuts are off while typing
    page.keyboard.press("a")
    ready(page)
    task = wait_for("decided by key", lambda: next((t for t in api.get("/v1/reviews", params={"order_id": by_key}).json()["items"]
                                                    if t["state"] == "decided"), None))
    assert task["decision"] == "approve" and task["reviewer"] == USER and task["note"] == "键盘通过"

    # 3. cancel an order from its page
    doomed = held_for_risk(api)
    goto(page, f"{console_url}/timeline?order_id={doomed}")
    page.get_by_role("tab", name="取消订单").click()
    page.get_by_label("取消原因").fill("客户来电取消")
    page.get_by_role("button", name="取消订单").click()
    ready(page)
    page.get_by_text("取消订单已提交").wait_for()
    wait_for("cancelled", status_is(api, doomed, "cancelled"))
    shot(page, "order-cancelled")

    # 4. every page answers at its own URL, in Chinese, without Streamlit's Deploy menu
    for name in PAGES:
        goto(page, f"{console_url}/{name}" + (f"?order_id={oid}" if name == "timeline" else ""))
        body = page.inner_text("body")
        assert "Page not found" not in body and "Traceback" not in body, (name, body[:500])
        assert page.get_by_role("button", name="Deploy").count() == 0
        shot(page, name or "home")

    # 5. sign out: the cookie is gone, the session is revoked at the API, every URL asks to sign in
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{console_url}/login")
    ready(page)
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    gone = httpx.get(f"{fstack.api_url}/v1/auth/me", headers={"Authorization": f"Bearer {cookie['value']}"}, timeout=30)
    assert gone.status_code == 401
    goto(page, f"{console_url}/reviews")
    page.get_by_label("密码").wait_for()
    shot(page, "signed-out")
