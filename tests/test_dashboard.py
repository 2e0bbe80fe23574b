"""Dashboard and reconciliation pages (AppTest) and the metrics API, on a seeded read model served
by the real API over HTTP (no Temporal needed to read).

Every seeded date derives from the clock at seeding (the real one, or the one ZHONGSHU_TEST_TODAY
moves to): the health fixture's orders are 'yesterday', the reconciliation fixture's day is a week
ago, so its order Z (completed the day after) falls on the first day of the default 7-day window
and the other nine the day before it — the window's edge is pinned on both sides, whatever the date.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from store.db import engine_for, migrate
from tests.support import ThreadedServer

APP = str(Path(__file__).resolve().parent.parent / "console" / "app.py")
ENV = ("ZHONGSHU_CONSOLE_API_URL",)
KEY = "dash-test-key"
CN = timezone(timedelta(hours=8))


@dataclass
class Seeded:
    url: str
    today: date  # Beijing date when the read model was seeded
    recon_day: date  # the reconciliation fixture's day: one day before the default window

    @property
    def week(self) -> dict[str, str]:
        """The dashboard's default period spelled out: the last 7 Beijing days including today."""
        return {"from": (self.today - timedelta(days=6)).isoformat(), "to": self.today.isoformat()}


@pytest.fixture
def seeded_api(tmp_path_factory):
    """A fresh read model per test: the enquiry test adds enquiries, which the page test counts."""
    from activities.finance import FinanceActivities
    from api.app import create_app
    from fakes.serve import serve_in_thread
    from fakes.settlement import create_app as settlement_app
    from tests import test_health, test_reconciliation
    from tests.test_reconciliation import _prime_fake, _run
    from zhongshu.settings import Settings

    tmp = tmp_path_factory.mktemp("dash")
    url = f"sqlite:///{tmp / 'dash.db'}"
    migrate(url)
    engine = engine_for(url)
    now = datetime.now(UTC)
    today = now.astimezone(CN).date()
    recon_day = today - timedelta(days=7)
    test_health._seed(engine, now)
    test_reconciliation._seed(engine, recon_day)
    with serve_in_thread(settlement_app()) as fake:
        _prime_fake(fake.url, recon_day)
        _run(FinanceActivities(engine, fake.url), day=recon_day)
    settings = Settings(database_url=url, api_key=KEY, var_dir=tmp, extra_api_keys="ro-key:readonly")
    saved = {k: os.environ.get(k) for k in ENV}
    with ThreadedServer(create_app(settings, client=object())) as api:
        os.environ.update(ZHONGSHU_CONSOLE_API_URL=api.url)
        try:
            yield Seeded(api.url, today, recon_day)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def console(page: str) -> AppTest:
    from tests.console_support import SESSION_KEY, console_session

    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[SESSION_KEY] = console_session(os.environ["ZHONGSHU_CONSOLE_API_URL"], KEY, "finance")
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_dashboard_page_renders_seeded_numbers(seeded_api):
    at = console("pages_/dashboard.py")
    assert any("数据看板" in t.value for t in at.title)
    metrics = {m.label: m.value for m in at.metric}
    # the health fixture's o1–o3 plus order Z of the reconciliation fixture (ordered 6 days ago, the
    # window's first day; its other nine orders a day earlier are outside): o1 and o2 shipped (1 on time, 1 signed ≤ 48 h), exceptions 1 of 2 answered in 15 min
    assert metrics["时效"] == "50.0"
    assert metrics["体验: 每百单查询 (越低越好)"] == "50.00"  # 2 enquiries / 4 orders × 100
    assert len(at.get("vega_lite_chart")) >= 3, "charts are drawn"
    assert any("售后" in i.value for i in at.info)  # no aftersales stage yet: said so, not an error
    assert at.get("download_button")

    # a period with no orders: every index says 'no data', nothing divides by zero
    at.date_input(key="dash_from").set_value(datetime(2020, 1, 1).date()).run()
    at.date_input(key="dash_to").set_value(datetime(2020, 1, 2).date()).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["健康度 (基线 80)"] == "无数据"


def test_reconciliation_page_shows_the_report(seeded_api):
    at = console("pages_/reconciliation.py")  # opens on the newest day with a report, not an empty yesterday
    assert at.date_input(key="recon_day").value == seeded_api.recon_day
    assert not at.exception
    # the totals may net out, but single orders differ: never green then (issue 14)
    assert not at.success and any("未轧平" in e.value and "运费未收" in e.value for e in at.error)
    assert {m.label: m.value for m in at.metric}["已完成订单"] == "9"
    tabs = [t.label for t in at.tabs]
    assert any(t.startswith("运费未收") for t in tabs) and any(t.startswith("优惠券重复核销") for t in tabs)


def test_metrics_api_and_enquiries(seeded_api):
    http = httpx.Client(base_url=seeded_api.url, headers={"X-API-Key": KEY}, timeout=30)
    week = seeded_api.week
    h = http.get("/v1/metrics/health", params=week).json()
    assert h["counts"]["orders"] == 4 and h["timeliness"]["score"] == 50.0 and h["baseline"] == 80
    assert http.get("/v1/metrics/health").json()["counts"] == h["counts"]  # the default period is that week
    assert http.get("/v1/metrics/health", params={**week, "channel": "douyin"}).json()["counts"]["orders"] == 1
    # one day more: the reconciliation day's nine orders join (the edge of the window, from the other side)
    wider = {**week, "from": seeded_api.recon_day.isoformat()}
    assert http.get("/v1/metrics/health", params=wider).json()["counts"]["orders"] == 4 + 9
    assert http.get("/v1/metrics/health", params={"from": "2026-01-02", "to": "2026-01-01"}).status_code == 422

    # each status enquiry is counted: experience moves from 2/4×100 to 3/4×100
    ro = httpx.Client(base_url=seeded_api.url, headers={"X-API-Key": "ro-key"}, timeout=30)
    st = ro.get("/v1/orders/o3/status")
    assert st.status_code == 200 and st.json()["status"] == "held"
    assert ro.get(f"/v1/orders/nope-{uuid.uuid4().hex[:4]}/status").status_code == 404
    h2 = http.get("/v1/metrics/health", params=week).json()
    assert h2["experience"]["value"] == 75.0

    x = http.get("/v1/metrics/dashboard.xlsx", params=week)
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames[0] == "健康度 health" and "售后原因 aftersales" in wb.sheetnames

    run = http.get(f"/v1/reconciliation/runs/{seeded_api.recon_day}").json()
    assert run["summary"]["differences"] == 8 and run["report_url"].endswith("report.xlsx")
    assert http.get(run["report_url"]).headers["content-type"].startswith("application/vnd.openxml")
    assert http.get("/v1/reconciliation/runs/2001-01-01").status_code == 404
    runs = http.get("/v1/reconciliation/runs").json()
    assert runs["total"] == len(runs["items"]) >= 1 and str(seeded_api.recon_day) in [str(r["day"]) for r in runs["items"]]
    assert http.get("/v1/metrics/health").status_code == 200
    assert httpx.get(f"{seeded_api.url}/v1/metrics/health").status_code == 401
