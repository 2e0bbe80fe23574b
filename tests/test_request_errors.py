"""A query string, path or body the API itself refuses is a 422 in Chinese from the label table,
naming the field (issue 14): ``GET /v1/orders/search?offset=-1`` → 起始位置不能小于 0, not pydantic's
English. Every query and path parameter of /openapi.json has a label, so a new one gets one too."""

from __future__ import annotations

import re

import pytest

from api.errors import request_errors
from domain import labels
from tests.api_support import api_settings, running_api

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def api(db_url, dev_env, tmp_path):
    settings = api_settings(db_url, dev_env.client.service_client.config.target_host, tmp_path)
    with running_api(settings) as a:
        yield a


@pytest.mark.integration
@pytest.mark.parametrize(("path", "field", "said"), [
    ("/v1/orders/search?offset=-1", "offset", "起始位置不能小于 0"),
    ("/v1/orders/search?limit=0", "limit", "条数不能小于 1"),
    ("/v1/orders/search?date_from=yesterday", "date_from", "开始日期不是有效的日期"),
    ("/v1/orders?offset=abc", "offset", "起始位置应为整数"),
    ("/v1/rejections/0", "rejection_id", "拒收记录编号不能小于 1"),
    ("/v1/reviews/cards?min_age_minutes=-5", "min_age_minutes", "等待时长(分钟)不能小于 0"),
])
def test_query_and_path_errors_are_chinese_naming_the_field(api, path, field, said):
    with api.http() as http:
        r = http.get(path)
    assert r.status_code == 422, r.text
    body = r.json()
    [err] = body["errors"]
    assert err["field"] == field and err["message"].startswith(said), err
    assert err["where"] in ("query", "path") and err["label"] == labels.field_label(field)
    assert said in body["message"] and CJK.search(body["message"]) and "Input should" not in r.text


@pytest.mark.integration
def test_a_body_the_route_refuses_is_chinese_too(api):
    with api.http() as http:
        r = http.post("/v1/reviews/order-x~R1/decision", json={"decision": "maybe", "note": "x" * 600})
    assert r.status_code == 422
    errs = {e["field"]: e for e in r.json()["errors"]}
    assert errs["decision"]["message"].startswith("处理决定不是可选的值") and errs["decision"]["where"] == "body"
    assert errs["note"]["message"] == "备注最多 500 个字符"
    assert r.json()["message"].endswith("等 2 处")


def test_request_errors_shape():
    out = request_errors([{"type": "greater_than_equal", "loc": ("query", "offset"), "msg": "Input should be ≥ 0",
                           "input": "-1", "ctx": {"ge": 0}}])
    assert out == {"message": "请求参数有误 (查询参数): 起始位置不能小于 0",
                   "errors": [{"field": "offset", "label": "起始位置", "message": "起始位置不能小于 0", "where": "query"}]}


@pytest.mark.integration
def test_every_query_and_path_parameter_has_a_label(api):
    with api.http() as http:
        spec = http.get("/openapi.json").json()
    names = {p["name"] for ops in spec["paths"].values() for op in ops.values() if isinstance(op, dict)
             for p in op.get("parameters", []) if p["in"] in ("query", "path")}
    unlabelled = sorted(n for n in names if labels.field_label(n) == n)
    assert not unlabelled, f"add these to domain.labels.FIELDS: {unlabelled}"
