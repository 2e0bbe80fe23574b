"""The date-sensitive suites, once more with the clock moved to a month-end, a year-end and 春节.

CI went red once because a test counted a fixture order inside "the last 7 days" — true on the day
it was written, false a week later. Here those suites run in their own pytest processes with
``--today`` (tests/conftest.py: time-machine moves the Python clock, which keeps ticking), so a
fixture date that is not derived from the test's ``now``, or code that mixes Beijing and UTC days,
fails on one of these dates instead of on some future morning:

* month-end — the last day of November, 10:00 Beijing;
* year-end — 23:30 UTC on 31 December, which is already 07:30 on New Year's Day in Beijing (the
  Beijing and UTC dates differ, and the 7-day window spans two years);
* 春节 — Spring Festival 2027 (正月初一, 6 February), 10:00 Beijing.

The Temporal servers run in separate processes and keep real time, so tests on them are skipped in
these runs (conftest); what is covered is the code that reads the clock in Python: dashboard and
health periods, reconciliation days, wave cut-offs and wave numbers, aftersales windows, dedupe and
risk windows, the console's "untouched for 24 h", transit alerts, delivery and arrival estimates.

One date by hand: ``pytest --today=2027-02-06 tests/test_dashboard.py`` (or ZHONGSHU_TEST_TODAY).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATES = {
    "month-end": "2026-11-30T10:00:00+08:00",
    "year-end": "2026-12-31T23:30:00+00:00",
    "spring-festival": "2027-02-06T10:00:00+08:00",
}
SUITES = [
    "tests/test_dashboard.py",  # the default 7-day window, console and API
    "tests/test_health.py",  # health periods, Beijing days
    "tests/test_reconciliation.py",  # reconciliation days, completed today
    "tests/test_reconciliation_workflow.py",  # (its workflow test needs the dev server: skipped)
    "tests/test_warehouse.py",  # wave cut-offs, wave numbers per Beijing day
    "tests/test_warehouse_store.py",
    "tests/test_aftersales_domain.py",  # aftersales windows
    "tests/test_aftersales_store.py",  # refunds per day
    "tests/test_console.py",  # orders untouched for 24 h turn red
    "tests/test_routing.py",  # suspensions with a validity period
    "tests/test_dedupe.py",  # 5-minute duplicate window
    "tests/test_risk_data.py",  # 30-minute burst window, 90-day history
    "tests/test_order_model.py",  # ordered_at parsing and bounds
    "tests/test_logistics.py",  # transit alerts, signed within 48 h
    "tests/test_installation.py",  # delivery estimates, appointment slots
    "tests/test_supplier.py",  # expected arrival
]


def _inner_args(config, basetemp: Path, when: str) -> list[str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}", f"--today={when}"]
    if config.pluginmanager.hasplugin("randomly"):
        args += ["-p", "randomly", f"--randomly-seed={config.getoption('randomly_seed')}"]
    else:
        args += ["-p", "no:randomly"]
    # SQLite only: the Python side is the same on both backends, and the one clock in SQL (the server
    # default of timeline_events.recorded_at) is the database's own real clock on both
    return args + ["-k", "not postgresql", *SUITES]


@pytest.mark.timeout(900)
def test_date_sensitive_suites_pass_at_month_end_year_end_and_spring_festival(request, tmp_path):
    if request.config.getoption("--today"):
        pytest.skip("the clock is moved already")
    env = {k: v for k, v in os.environ.items() if k != "ZHONGSHU_TEST_TODAY"}
    runs = {}
    for name, when in DATES.items():  # at the same time: each mostly waits on PostgreSQL and its servers
        log = open(tmp_path / f"{name}.log", "w+", encoding="utf-8")
        proc = subprocess.Popen(_inner_args(request.config, tmp_path / name, when), cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        runs[name] = (when, proc, log)
    failed = {}
    try:
        t0 = time.monotonic()
        for name, (when, proc, log) in runs.items():
            proc.wait(timeout=max(1.0, 840 - (time.monotonic() - t0)))
            log.seek(0)
            out = log.read()
            summary = out.strip().splitlines()[-1] if out.strip() else "(no output)"
            print(f"{name} ({when}): {summary}")
            if proc.returncode != 0:
                failed[name] = f"--today={when} exited {proc.returncode}:\n{out[-6000:]}"
    finally:
        for _, proc, log in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            log.close()
    assert not failed, "\n\n".join(failed.values())
