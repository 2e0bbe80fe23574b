"""Every operation of /openapi.json × no key, a wrong key, each role, a foreign channel (issue 13).

``POLICY`` is the authorisation decision for each operation: who may call it (service and admin
always may), ``ANY`` (any valid credential) or ``OPEN`` (no credential: the caller proves itself
another way — a webhook signature, a customer's link token, a password). An operation missing from
the table fails the test, so a new route cannot ship without a decision. Allowed callers must not get
401/403 (their dummy input earns 404/409/422…); everyone else gets 403; no key and a wrong key 401."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api_support import REVIEWER_KEY, SERVICE_KEY, api_settings, running_api

pytestmark = pytest.mark.integration

OPEN, ANY = "open", "any"
READ = {"reviewer", "readonly", "customer_service", "warehouse_lead", "finance"}
DEVICE = {"device"}
POLICY: dict[tuple[str, str], object] = {
    ("GET", "/healthz"): OPEN, ("GET", "/readyz"): OPEN,
    # sign-in and accounts
    ("POST", "/v1/auth/login"): OPEN, ("GET", "/v1/auth/wecom"): OPEN, ("POST", "/v1/auth/wecom/callback"): OPEN,
    ("POST", "/v1/auth/logout"): ANY, ("GET", "/v1/auth/me"): ANY,
    ("GET", "/v1/users"): set(), ("POST", "/v1/users"): set(), ("POST", "/v1/users/{username}/disable"): set(),
    ("POST", "/v1/users/{username}/enable"): set(), ("POST", "/v1/users/{username}/password"): set(),
    ("GET", "/v1/audit"): set(),
    # orders, reviews, rejections
    ("POST", "/v1/orders"): {"channel"}, ("GET", "/v1/orders"): READ, ("GET", "/v1/orders/{order_id}"): READ,
    ("POST", "/v1/orders/{order_id}/cancel"): {"customer_service", "reviewer"},
    ("POST", "/v1/orders/{order_id}/unmerge"): {"customer_service", "reviewer"},
    ("POST", "/v1/orders/{order_id}/address"): {"customer_service", "reviewer"},
    ("GET", "/v1/orders/{order_id}/status"): READ,
    ("GET", "/v1/orders/{order_id}/tracking"): READ | DEVICE | {"channel"},
    ("GET", "/v1/orders/search"): READ, ("GET", "/v1/orders/{order_id}/marks"): READ,
    ("POST", "/v1/orders/{order_id}/marks"): {"reviewer", "customer_service", "warehouse_lead"},
    ("POST", "/v1/team/orders"): {"customer_service", "reviewer", "warehouse_lead"},  # the small teams' form
    ("GET", "/v1/reviews/cards"): READ,
    ("GET", "/v1/print/picklists.pdf"): READ | DEVICE, ("GET", "/v1/print/packing-slips.pdf"): READ | DEVICE,
    ("GET", "/v1/print/bin-labels.pdf"): READ | DEVICE,
    ("GET", "/v1/reviews"): READ, ("POST", "/v1/reviews/{review_id}/decision"): {"reviewer"},
    ("GET", "/v1/rejections"): READ, ("GET", "/v1/rejections/{rejection_id}"): READ,
    ("POST", "/v1/rejections/{rejection_id}/replay"): {"reviewer", "customer_service"},
    # rules
    ("GET", "/v1/rules"): READ, ("POST", "/v1/rules"): set(), ("POST", "/v1/rules/{version}/activate"): set(),
    ("GET", "/v1/rules/diff"): READ, ("GET", "/v1/rules/{version}"): READ, ("GET", "/v1/rules/{version}/export"): READ,
    ("GET", "/v1/risk/features"): READ,
    # channels
    ("POST", "/v1/oauth/token"): OPEN, ("POST", "/v1/webhooks/douyin"): OPEN,
    ("POST", "/v1/webhooks/carriers/{carrier}"): OPEN,
    ("GET", "/v1/channels/webhook-attempts"): READ, ("POST", "/v1/channels/miniprogram/orders"): {"channel"},
    ("POST", "/v1/channels/rejections/{rejection_id}/replay"): {"reviewer", "customer_service"},
    ("GET", "/v1/channels/health"): READ,
    # metrics and finance
    ("GET", "/v1/metrics/health"): READ, ("GET", "/v1/metrics/dashboard"): READ,
    ("GET", "/v1/metrics/dashboard.xlsx"): READ,
    ("GET", "/v1/reconciliation/runs"): READ, ("POST", "/v1/reconciliation/runs"): {"finance"},
    ("GET", "/v1/reconciliation/runs/{day}"): READ, ("GET", "/v1/reconciliation/runs/{day}/report.xlsx"): READ,
    # warehouse
    ("POST", "/v1/warehouse/{warehouse}/claim"): DEVICE,
    ("POST", "/v1/warehouse/{warehouse}/tasks/{task_id}/confirm"): DEVICE,
    ("POST", "/v1/warehouse/{warehouse}/tasks/{task_id}/qc"): DEVICE,
    ("POST", "/v1/warehouse/{warehouse}/misscans"): DEVICE, ("POST", "/v1/warehouse/{warehouse}/exceptions"): DEVICE,
    ("GET", "/v1/warehouse/exceptions"): READ | DEVICE,
    ("POST", "/v1/warehouse/exceptions/{exception_id}/resolve"): {"reviewer", "warehouse_lead"},
    ("GET", "/v1/warehouse/pickers"): READ, ("GET", "/v1/warehouse/tasks"): READ | DEVICE,
    ("GET", "/v1/waves"): READ | DEVICE, ("GET", "/v1/waves/{wave_id}"): READ | DEVICE,
    ("GET", "/v1/waves/{wave_id}/picklist.json"): READ | DEVICE, ("GET", "/v1/waves/{wave_id}/picklist.html"): READ | DEVICE,
    ("POST", "/v1/waves/{wave_id}/pack"): DEVICE, ("POST", "/v1/warehouse/{warehouse}/close-waves"): DEVICE,
    # the customer's confirmation page (the link's signed token is the credential)
    ("POST", "/c/{token}/confirm"): OPEN, ("POST", "/c/{token}/address"): OPEN,
    # aftersales
    ("POST", "/v1/orders/{order_id}/aftersales"): {"customer_service"},
    ("GET", "/v1/aftersales"): READ | DEVICE, ("GET", "/v1/aftersales/{case_id}"): READ | DEVICE,
    ("POST", "/v1/aftersales/{case_id}/qc"): {"reviewer", "warehouse_lead", "device"},
    ("POST", "/v1/aftersales/{case_id}/received"): {"reviewer", "warehouse_lead", "device"},
    # the Temporal UI's codec server: whoever reads personal data unmasked (never readonly, device, channel)
    ("POST", "/v1/codec/decode"): READ - {"readonly"}, ("POST", "/v1/codec/encode"): READ - {"readonly"},
}

KEYS = {SERVICE_KEY: "service", REVIEWER_KEY: "reviewer", "matrix-readonly": "readonly", "matrix-device": "device",
        "matrix-channel": "channel"}
PEOPLE = {"m-admin": "admin", "m-reviewer": "reviewer", "m-cs": "customer_service", "m-lead": "warehouse_lead",
          "m-finance": "finance"}
PASSWORD = "matrix-password-1"
PARAMS = {"order_id": "order-miniprogram-matrix-1", "review_id": "order-miniprogram-matrix-1~address-1",
          "rejection_id": "999999", "version": "1", "day": "2026-01-01", "warehouse": "HZ-DIRECT", "task_id": "t-1",
          "exception_id": "999999", "wave_id": "w-none", "case_id": "order-miniprogram-matrix-1~AS1",
          "username": "nobody-here", "token": "not-a-token", "carrier": "sf"}
QUERY = {("GET", "/v1/rules/diff"): {"from": 1, "to": 1}}


@pytest.fixture(scope="module")
def api(dev_env, tmp_path_factory):
    extra = f"{REVIEWER_KEY}:reviewer,matrix-readonly:readonly,matrix-device:device,matrix-channel:channel:miniprogram," \
            "matrix-douyin:channel:douyin"
    var = tmp_path_factory.mktemp("matrix")
    settings = api_settings(f"sqlite:///{var / 'matrix.db'}", dev_env.client.service_client.config.target_host, var,
                            extra_api_keys=extra)
    with running_api(settings) as a:
        with httpx.Client(base_url=a.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as http:
            for user, role in PEOPLE.items():
                r = http.post("/v1/users", json={"username": user, "role": role, "password": PASSWORD})
                assert r.status_code in (201, 409), r.text
        yield a


def login(api, user: str) -> str:
    r = httpx.post(f"{api.url}/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def operations(api) -> list[tuple[str, str]]:
    spec = httpx.get(f"{api.url}/openapi.json", timeout=30).json()
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in item
            if m in ("get", "post", "put", "patch", "delete")]


def call(api, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "x"), path)
    kw = {"params": QUERY.get((method, path))}
    if method != "GET":
        kw["json"] = {"channel": "miniprogram"}
    r = httpx.request(method, f"{api.url}{url}", headers=headers, timeout=60, **kw)
    return r.status_code


def test_every_operation_has_an_authorisation_decision(api):
    ops = operations(api)
    missing = [op for op in ops if op not in POLICY]
    assert not missing, f"routes without an authorisation decision in POLICY: {missing}"
    stale = [op for op in POLICY if op not in ops]
    assert not stale, f"POLICY names routes the API no longer has: {stale}"


def test_no_key_and_a_wrong_key_are_401(api):
    for method, path in operations(api):
        if POLICY.get((method, path)) == OPEN:
            continue
        for headers in ({}, {"X-API-Key": "wrong-key"}, {"Authorization": "Bearer zsus-not-a-session"}):
            status = call(api, method, path, headers)
            assert status == 401, (method, path, headers, status)


@pytest.mark.parametrize("credential", [*KEYS, *PEOPLE])
def test_each_role_gets_exactly_what_the_policy_says(api, credential):
    person = credential in PEOPLE
    role = PEOPLE[credential] if person else KEYS[credential]
    token = login(api, credential) if person else None
    wrong = []
    for method, path in operations(api):
        policy = POLICY[(method, path)]
        if policy == OPEN:
            continue
        if person and path == "/v1/auth/logout":  # would end the session the rest of this walk uses
            headers = {"Authorization": f"Bearer {login(api, credential)}"}
        else:
            headers = {"Authorization": f"Bearer {token}"} if person else {"X-API-Key": credential}
        allowed = policy == ANY or role in ("service", "admin") or role in policy  # type: ignore[operator]
        status = call(api, method, path, headers)
        if allowed and status in (401, 403) or not allowed and status != 403:
            wrong.append((method, path, "allowed" if allowed else "forbidden", status))
    assert not wrong, f"{credential} ({role}): {wrong}"


def test_a_foreign_channel_is_403_and_nothing_changes(api):
    foreign = {"X-API-Key": "matrix-douyin"}  # a douyin credential, acting on miniprogram orders
    with httpx.Client(base_url=api.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as http:
        before = http.get("/v1/rejections").json()["total"]
        orders_before = http.get("/v1/orders", params={"channel": "miniprogram"}).json()["total"]
    from tests.support import order_payload

    payload = order_payload()
    payload["channel"] = "miniprogram"
    r = httpx.post(f"{api.url}/v1/orders", json=payload, headers=foreign, timeout=30)
    assert r.status_code == 403 and "miniprogram" in r.json()["detail"], r.text
    r = httpx.post(f"{api.url}/v1/channels/miniprogram/orders", json={"out_trade_no": "X1"}, headers=foreign, timeout=30)
    assert r.status_code == 403, r.text
    r = httpx.get(f"{api.url}/v1/orders/{PARAMS['order_id']}/tracking", headers=foreign, timeout=30)
    assert r.status_code == 403, r.text
    with httpx.Client(base_url=api.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as http:
        assert http.get("/v1/rejections").json()["total"] == before
        assert http.get("/v1/orders", params={"channel": "miniprogram"}).json()["total"] == orders_before


def test_the_device_role_gets_what_a_picker_needs_and_no_personal_data():
    from domain.warehouse import PickTask

    fields = set(PickTask.model_fields)
    assert {"bin", "sku", "name", "quantity", "image_url", "notes"} <= fields
    assert not {f for f in fields if "phone" in f or "address" in f or "customer" in f}
