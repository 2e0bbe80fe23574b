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


ENGLISH = re.compile(r"Input should|String should|field required|Field required|Value error|not a valid|unknown category")


@pytest.mark.integration
def test_an_order_the_door_refuses_names_each_field_in_chinese(api):
    """``POST /v1/orders``: the structural checks (pydantic) and the cleansing (phone, category,
    vehicle) both answer in Chinese from the label table; the field path stays for programs."""
    from tests.support import order_payload

    short = order_payload(channel_order_id="T1")
    short["lines"][0].update(quantity=200000)
    short["customer"].pop("phone")
    bad_data = order_payload()
    bad_data["customer"]["phone"] = "12345"
    bad_data["lines"][0].update(category="不存在的品类", vehicle_model="火星车2099款")
    with api.http() as http:
        structural, cleansing = (http.post("/v1/orders", json=p) for p in (short, bad_data))
    for r in (structural, cleansing):
        assert r.status_code == 422, r.text
        assert r.json()["rejection_id"] and not ENGLISH.search(r.text), r.text
        for e in r.json()["errors"]:
            assert CJK.search(e["message"]) and e["message"].startswith(labels.field_label(e["field"])), e
    said = {e["field"]: e["message"] for e in structural.json()["errors"]}
    assert said["customer.phone"] == "收货人电话不能为空, 请填写"
    assert said["lines[0].quantity"] == "第1行数量不能大于 100000"
    said = {e["field"]: e["message"] for e in cleansing.json()["errors"]}
    assert said["customer.phone"] == "收货人电话不正确: '12345' 不是有效的手机或固话号码"
    assert said["lines[0].category"].startswith("第1行品类不正确: 未知品类 '不存在的品类', 可选: ")
    assert said["lines[0].vehicle_model"].startswith("第1行适配车型不正确: 车型 '火星车2099款' 不在适配车型库中")


def test_every_operation_has_its_own_id():
    """Client generators key their methods on operationId: two operations sharing one (GET and HEAD
    on one route did) break them, and FastAPI only warns."""
    import warnings

    from api.app import create_app
    from zhongshu.settings import Settings

    app = create_app(Settings(dev_mode=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate id is a UserWarning while the spec is built
        spec = app.openapi()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values() if isinstance(op, dict)]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert {"get", "head"} <= set(spec["paths"]["/healthz"])  # a load balancer's HEAD probe stays declared
