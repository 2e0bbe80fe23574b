"""Who acts, and who sees, on the real stack (issue 13): a readonly key sees the order's phone masked
(the device key's 403 on orders is in test_authz_matrix.py), and a signed-in reviewer's decision is
recorded under their own name — a claimed name is refused and leaves the review open."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import order_payload, random_mobile

pytestmark = pytest.mark.integration
PASSWORD = "stack-auth-password"


def wait_for(fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
    return value


def test_readonly_sees_masked_phones_and_reviewer_is_the_signed_in_person(stack):
    phone = random_mobile()
    payload = order_payload()
    payload["customer"]["phone"] = phone
    payload["address"] = {"raw": "火星基地一号"}  # unresolvable: an address review opens
    with stack.http() as svc:
        oid = svc.post("/v1/orders", json=payload).json()["order_id"]
        review = wait_for(lambda: (r := svc.get("/v1/reviews", params={"order_id": oid, "state": "open"}).json()["items"])
                          and r[0])
        assert phone in svc.get(f"/v1/orders/{oid}").text
        r = svc.post("/v1/users", json={"username": "stack-rev", "role": "reviewer", "password": PASSWORD})
        assert r.status_code in (201, 409)

    ro = httpx.get(f"{stack.api_url}/v1/orders/{oid}", headers={"X-API-Key": "test-readonly-key"}, timeout=30)
    assert ro.status_code == 200 and phone not in ro.text and phone[-4:] in ro.text and "****" in ro.text
    listed = httpx.get(f"{stack.api_url}/v1/orders", params={"customer_id": payload["customer"]["id"]},
                       headers={"X-API-Key": "test-readonly-key"}, timeout=30)
    assert phone not in listed.text

    token = httpx.post(f"{stack.api_url}/v1/auth/login", json={"username": "stack-rev", "password": PASSWORD},
                       timeout=30).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    url = f"{stack.api_url}/v1/reviews/{review['review_id']}/decision"
    claimed = httpx.post(url, json={"decision": "approve", "reviewer": "小王"}, headers=bearer, timeout=30)
    assert claimed.status_code == 403
    with stack.http() as svc:
        assert svc.get("/v1/reviews", params={"order_id": oid, "state": "open"}).json()["total"] == 1
    ok = httpx.post(url, json={"decision": "approve", "note": "签入审核"}, headers=bearer, timeout=30)
    assert ok.status_code in (200, 202), ok.text
    with stack.http() as svc:
        decided = wait_for(lambda: (r := svc.get("/v1/reviews", params={"order_id": oid, "state": "decided"}).json()["items"])
                           and r[0])
        assert decided["reviewer"] == "stack-rev"
        audit = svc.get("/v1/audit", params={"actor": "stack-rev", "action": "decision"}).json()["items"]
        assert [a["status"] for a in audit[:2]] == [ok.status_code, 403]
