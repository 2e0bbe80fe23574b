"""API keys with roles: service callers may do everything, reviewers decide reviews, devices report
picks, channels (OAuth2 client-credentials bearer tokens from /v1/oauth/token) submit orders.
Keys come from settings; tokens from the read model; /healthz is the only open endpoint."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, status

from store.oauth import token_role

ALL_ROLES = {"service", "reviewer", "device", "readonly", "channel"}


def caller_role(request: Request) -> str:
    keys: dict[str, str] = request.app.state.api_keys
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key: send it in the X-API-Key header")
    role = keys.get(key)
    if role is None:
        role = token_role(request.app.state.engine, key)
    if role is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong API key or expired token")
    return role


def require(*roles: str):
    allowed = set(roles) | {"service"}

    def check(role: str = Depends(caller_role)) -> str:
        if role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role!r} may not do this; needs one of {sorted(allowed)}")
        return role

    return check
