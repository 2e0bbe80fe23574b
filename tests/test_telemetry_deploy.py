"""deploy/: the Grafana dashboard and the Prometheus alert rules ask for metrics that exist, in PromQL
that parses; where promtool is installed, the rules' own unit tests (alerts.test.yml) run too."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "zhongshu.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

_METRIC = re.compile(r"\b((?:zhongshu|temporal)_[a-z0-9_]+)")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def ours() -> set[str]:
    """Every zhongshu_* family zhongshu/metrics.py defines, with the sample suffixes a histogram has."""
    text = (ROOT / "zhongshu" / "metrics.py").read_text()
    names = set(re.findall(r'"(zhongshu_[a-z0-9_]+)"', text))
    return names | {n + s for n in names for s in _SUFFIXES}


def dashboard_exprs() -> list[tuple[str, str]]:
    d = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in d["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def _check(expr: str, where: str) -> None:
    promql_parser.parse(expr)  # raises on a syntax error
    for name in _METRIC.findall(expr):
        if name.startswith("zhongshu_"):
            assert name in ours(), f"{where}: {name} is not a metric zhongshu/metrics.py exposes"
        else:
            assert name.startswith("temporal_"), name  # the SDK's (and the server's) own


def test_dashboard_queries_parse_and_name_real_metrics():
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    for title, expr in exprs:
        _check(expr, f"panel {title!r}")


def test_dashboard_is_grafana_shaped():
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for p in d["panels"]:
        gp = p["gridPos"]
        assert 0 <= gp["x"] and gp["x"] + gp["w"] <= 24 and gp["h"] > 0, p["title"]
    shown = " ".join(e for _, e in dashboard_exprs())
    for wanted in ("zhongshu_orders", "zhongshu_reviews_open", "zhongshu_holds_open", "zhongshu_stuck_orders",
                   "zhongshu_channel_sync_lag_seconds", "zhongshu_waves", "zhongshu_api_request_duration_seconds_bucket",
                   "temporal_workflow_task_schedule_to_start_latency_bucket", "temporal_worker_task_slots_available"):
        assert wanted in shown, f"the dashboard shows {wanted}"


def test_alert_rules_parse_name_real_metrics_and_cover_the_issue():
    rules = alert_rules()
    for r in rules:
        _check(r["expr"], f"alert {r['alert']}")
        assert r["labels"]["severity"] in ("page", "warning") and r["annotations"]["summary"]
    names = {r["alert"] for r in rules}
    assert {"ZhongshuOrdersStuck", "ZhongshuChannelSyncStalled", "ZhongshuReviewBeyondEscalation", "ZhongshuApi5xx"} <= names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (apt-get install prometheus)")
def test_promtool_checks_and_unit_tests_the_rules():
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run(["promtool", *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
