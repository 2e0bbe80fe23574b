"""A list filter with a value no code has is a 422 in Chinese naming the parameter and its choices,
like ``/v1/orders?status=bogus`` — never an empty 200 that reads as "nothing there". A valid value and
an empty one (``?state=``: any) keep answering 200. The same for a reversed range (``/v1/audit``), a
period that is no date (the dashboard) and the parameters whose label was wrong or missing (the
bin-label sheet's ``code``, the login's ``password``, the rules upload's ``file``)."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

from api.channel_routes import WebhookOutcome
from api.errors import request_errors
from api.schemas import WaveState
from domain import labels
from domain.aftersales import AftersalesType, CaseStatus
from domain.review import ReviewKind, ReviewState
from domain.warehouse import ExceptionKind, TaskState
from tests.api_support import api_settings, running_api

CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def api(db_url, dev_env, tmp_path):
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    with running_api(settings) as a:
        yield a


def _refused(r, field: str, said: str) -> dict:
    """The one 422 shape (api/errors.py): the field a program reads, its Chinese label, a sentence."""
    assert r.status_code == 422, r.text
    body = r.json()
    [err] = body["errors"]
    assert err["field"] == field and err["where"] == "query", err
    assert err["message"].startswith(said), err
    assert err["message"].startswith(err["label"]) and CJK.search(err["label"]), err
    assert said in body["message"] and "Input should" not in r.text, body
    return err


def _choices(enum_values, group: str) -> str:
    """How the 422 lists the choices: each code with its Chinese label, 、-joined."""
    return "、".join(f"{c}({labels.label(group, c)})" for c in enum_values)


BAD_FILTERS = [  # path, field as reported, the sentence's start, the choices it lists
    ("/v1/reviews?state=bogus", "state", "状态不是可选的值", _choices(ReviewState, "review_state")),
    ("/v1/reviews?kind=bogus", "kind", "类型不是可选的值", _choices(ReviewKind, "review_kind")),
    ("/v1/reviews/cards?kind=bogus", "kind", "类型不是可选的值", _choices(ReviewKind, "review_kind")),
    ("/v1/reviews/cards?state=bogus", "state", "状态不是可选的值", _choices(ReviewState, "review_state")),
    ("/v1/channels/webhook-attempts?outcome=bogus", "outcome", "结果不是可选的值",
     _choices(typing.get_args(WebhookOutcome), "webhook_outcome")),
    ("/v1/aftersales?type=bogus", "type", "售后类型不是可选的值", _choices(AftersalesType, "aftersales_type")),
    ("/v1/aftersales?status=bogus", "status", "状态不是可选的值", _choices(CaseStatus, "case_status")),
    ("/v1/warehouse/tasks?state=done&state=bogus", "state[1]", "状态(第2项)不是可选的值", _choices(TaskState, "task_state")),
    ("/v1/warehouse/exceptions?state=bogus", "state", "状态不是可选的值", _choices(["open", "resolved"], "exception_state")),
    ("/v1/warehouse/exceptions?kind=bogus", "kind", "类型不是可选的值", _choices(ExceptionKind, "exception_kind")),
    ("/v1/waves?state=bogus", "state", "状态不是可选的值", _choices(typing.get_args(WaveState), "wave_state")),
]


@pytest.mark.integration
@pytest.mark.parametrize(("path", "field", "said", "choices"), BAD_FILTERS, ids=[p for p, *_ in BAD_FILTERS])
def test_an_unknown_filter_value_is_a_422_naming_the_parameter_and_its_choices(api, path, field, said, choices):
    with api.http() as http:
        r = http.get(path)
    err = _refused(r, field, said)
    assert err["message"].endswith(f"可选: {choices}"), err


GOOD_FILTERS = [
    "/v1/reviews?state=open&kind=address", "/v1/reviews?state=&kind=", "/v1/reviews",
    "/v1/reviews/cards?state=decided&kind=risk", "/v1/reviews/cards?state=&kind=",
    "/v1/channels/webhook-attempts?outcome=accepted", "/v1/channels/webhook-attempts?outcome=detail_unavailable",
    "/v1/channels/webhook-attempts?outcome=",
    "/v1/aftersales?type=return&status=qc_pending", "/v1/aftersales?type=&status=",
    "/v1/warehouse/tasks?state=qc_pending&state=putaway_pending", "/v1/warehouse/tasks?state=", "/v1/warehouse/tasks",
    "/v1/warehouse/exceptions?state=open&kind=reprint_label", "/v1/warehouse/exceptions?state=resolved&kind=",
    "/v1/waves?state=picking", "/v1/waves?state=", "/v1/waves?open_only=true",
    "/v1/audit?since=2026-01-01&until=2026-12-31", "/v1/audit?since=2026-01-01T00:00:00%2B08:00&until=2026-01-01",
    "/v1/metrics/dashboard?from=2026-01-01&to=2026-01-07", "/v1/metrics/dashboard",
]


@pytest.mark.integration
def test_valid_and_empty_filter_values_still_answer(api):
    with api.http() as http:
        for path in GOOD_FILTERS:
            r = http.get(path)
            assert r.status_code == 200, (path, r.text)
        # an empty filter is no filter: the same answer as none
        assert http.get("/v1/reviews/cards?state=").json()["total"] == http.get(
            "/v1/reviews/cards?state=open").json()["total"] + http.get("/v1/reviews/cards?state=decided").json()["total"] \
            + http.get("/v1/reviews/cards?state=cancelled").json()["total"]


@pytest.mark.integration
def test_the_openapi_spec_declares_each_filters_choices(api):
    with api.http() as http:
        spec = http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def choices(path: str, name: str) -> set[str]:
        [p] = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        schema = p["schema"].get("items", p["schema"])
        for alt in schema.get("anyOf", [schema]):
            alt = schemas[alt["$ref"].rsplit("/", 1)[-1]] if "$ref" in alt else alt
            if "enum" in alt:
                return set(alt["enum"])
        raise AssertionError(f"{path} ?{name}= declares no choices: {p}")

    assert choices("/v1/reviews", "state") == choices("/v1/reviews/cards", "state") == set(ReviewState)
    assert choices("/v1/reviews", "kind") == choices("/v1/reviews/cards", "kind") == set(ReviewKind)
    assert choices("/v1/channels/webhook-attempts", "outcome") == set(typing.get_args(WebhookOutcome))
    assert choices("/v1/aftersales", "type") == set(AftersalesType)
    assert choices("/v1/aftersales", "status") == set(CaseStatus)
    assert choices("/v1/warehouse/tasks", "state") == set(TaskState)
    assert choices("/v1/warehouse/exceptions", "state") == {"open", "resolved"}
    assert choices("/v1/warehouse/exceptions", "kind") == set(ExceptionKind)
    assert choices("/v1/waves", "state") == set(typing.get_args(WaveState))


@pytest.mark.integration
def test_a_reversed_audit_range_is_a_422_naming_the_fields(api):
    with api.http() as http:
        r = http.get("/v1/audit", params={"since": "2026-12-31", "until": "2026-01-01"})
    _refused(r, "until", "结束时间不能早于开始时间")


@pytest.mark.integration
@pytest.mark.parametrize(("params", "field", "said"), [
    ({"from": "bogus"}, "from", "开始应为日期或时间, 例如 2026-11-27"),
    ({"to": "2026-13-01"}, "to", "结束应为日期或时间"),
    ({"from": "2026-01-02", "to": "2026-01-01"}, "to", "结束应晚于开始"),
    ({"from": "1999-12-31", "to": "2000-01-02"}, "from", "开始不能早于 2000-01-01"),
])
def test_a_bad_dashboard_period_is_a_422_naming_the_parameter(api, params, field, said):
    with api.http() as http:
        for path in ("/v1/metrics/dashboard", "/v1/metrics/health", "/v1/metrics/dashboard.xlsx"):
            r = http.get(path, params=params)
            assert "bad period" not in r.text and "isoformat" not in r.text, r.text
            _refused(r, field, said)


@pytest.mark.integration
def test_the_bin_label_sheets_code_is_a_bin_code(api):
    with api.http() as http:
        missing = http.get("/v1/print/bin-labels.pdf")
        bad = http.get("/v1/print/bin-labels.pdf", params=[("code", "A-03-12"), ("code", "shelf 7")])
        blank = http.get("/v1/print/bin-labels.pdf", params={"code": " "})
    err = _refused(missing, "code", "库位编码不能为空")
    assert err["label"] == "库位编码" and "轨迹状态" not in missing.text
    err = _refused(bad, "code[1]", "库位编码(第2项)应为 区-巷道-货位 格式, 例如 A-03-12")
    assert "shelf 7" in err["message"] and "轨迹状态" not in bad.text
    _refused(blank, "code", "库位编码至少需要填写一个")


@pytest.mark.integration
def test_login_and_rules_upload_name_their_fields(api):
    with api.http(key=None) as anon:
        r = anon.post("/v1/auth/login", json={"username": "someone", "password": ""})
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["field"] == "password" and err["label"] == "密码" and err["message"] == "密码不能为空, 请填写", err
    with api.http() as http:
        r = http.post("/v1/rules", files={})
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["field"] == "file" and err["message"] == "文件不能为空, 请填写", err


# ---------------------------------------------------------------- without a server


def test_a_query_parameters_own_label_is_the_one_reported():
    """``label`` reads the same table entry as ``message`` (query:code), not the body's tracking ``code``."""
    out = request_errors([{"type": "missing", "loc": ("query", "code"), "msg": "Field required", "input": None}])
    assert out["errors"][0]["label"] == "库位编码" and out["errors"][0]["message"] == "库位编码不能为空, 请填写"
    out = request_errors([{"type": "missing", "loc": ("body", "code"), "msg": "Field required", "input": None}])
    assert out["errors"][0]["label"] == "轨迹状态"


def test_an_item_of_a_repeated_parameter_is_named_with_its_parameter():
    assert labels.field_label(("query", "state", 0)) == "状态(第1项)"
    assert labels.field_label(("query", "code", 2)) == "库位编码(第3项)"
    assert labels.field_label(("body", "lines", 1)) == "第2行商品"  # as before
    assert labels.field_label(("body", "nothing_known", 0)) == "第1项"


def test_choices_are_labelled_from_the_group_of_exactly_those_codes():
    def said(field: str, codes) -> str:
        expected = ", ".join(f"'{c}'" for c in codes)
        return labels.validation_message({"type": "enum", "loc": ("query", field), "ctx": {"expected": expected}})

    assert said("state", ["open", "resolved"]) == "状态不是可选的值, 可选: open(待处理)、resolved(已处理)"
    assert said("status", list(CaseStatus)).endswith(_choices(CaseStatus, "case_status"))  # not the order statuses'
    assert said("kind", list(ReviewKind)).endswith(_choices(ReviewKind, "review_kind"))
    assert said("kind", list(ExceptionKind)).endswith(_choices(ExceptionKind, "exception_kind"))
    assert said("layout", ["sheet", "single"]).endswith("可选: sheet、single")  # no group: the codes alone


def test_the_wave_states_are_the_label_tables():
    assert set(typing.get_args(WaveState)) == set(labels.WAVE_STATES)


def test_every_outcome_the_webhooks_record_is_declared_and_labelled():
    """``WebhookOutcome`` is exactly what ``attempt(...)`` is called with in the webhook routes."""
    recorded: set[str] = set()
    for name in ("api/channel_routes.py", "api/carrier_routes.py"):
        for node in ast.walk(ast.parse((ROOT / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "attempt" and node.args:
                for sub in ast.walk(node.args[0]):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        recorded.add(sub.value)
            if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "outcome" and node.value:
                recorded |= {s.value for s in ast.walk(node.value) if isinstance(s, ast.Constant) and isinstance(s.value, str)}
    declared = set(typing.get_args(WebhookOutcome))
    assert recorded == declared, (recorded ^ declared)
    assert declared == set(labels.WEBHOOK_OUTCOMES)
