"""Signing the console in for AppTest (issue 13): the console calls the API only as a signed-in
person, so a test makes (or reuses) an account with the hub's service key, signs in over HTTP and
hands AppTest the session exactly as the login form would keep it."""

from __future__ import annotations

import uuid

import httpx

PASSWORD = "console-test-password"
SESSION_KEY = "zs_auth"  # console/auth.py


def console_session(api_url: str, service_key: str, role: str = "reviewer", user: str | None = None) -> dict:
    user = user or f"{role}-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=api_url, headers={"X-API-Key": service_key}, timeout=30) as http:
        r = http.post("/v1/users", json={"username": user, "role": role, "password": PASSWORD, "display_name": user})
        assert r.status_code in (201, 409), r.text
    r = httpx.post(f"{api_url}/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    return {"token": body["token"], "user": body["user"], "expires_at": body["expires_at"]}
