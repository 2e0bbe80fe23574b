"""The audit middleware (issue 13): for every state-changing request (and every sign-in attempt),
one audit_log row — who (the Caller api.auth resolved, or "anonymous"), role, when, which operation,
which concrete path, from which address, the status answered. The row is written before the answer's
last byte goes out, so a caller that reads the audit log right after its answer finds its own call.
A failure to write it is logged and never turns the caller's answer into a 5xx."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store import audit

log = logging.getLogger("zhongshu.audit")
READS = {"GET", "HEAD", "OPTIONS"}
# sensitive reads that are audited too
AUDITED_READS = ("/v1/audit", "/v1/users")
# signed partner pushes have their own ledger (webhook_attempts) and are the intake hot path
UNAUDITED = ("/v1/webhooks/",)


def client_ip(scope: Scope) -> str | None:
    """The peer address; behind a proxy also the X-Forwarded-For client it names ("1.2.3.4 via
    10.0.0.5") — the header alone is the caller's word, so the peer is always kept."""
    client = scope.get("client")
    peer = client[0] if client else None
    for name, value in scope.get("headers") or []:
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1").split(",")[0].strip()
            return f"{forwarded} via {peer}"[:64] if peer else forwarded[:64]
    return peer


class AuditLog:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        audited = (path.startswith("/v1/") and not path.startswith(UNAUDITED)
                   and (method not in READS or path.startswith(AUDITED_READS)))
        if not audited:
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        recorded = False

        async def capture(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not recorded:
                recorded = True  # the answer is complete: record it before the caller can read it
                await self._record(scope, method, path, status["code"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not recorded:  # no complete answer went out (the app raised, the client went away)
                await self._record(scope, method, path, status["code"])

    async def _record(self, scope: Scope, method: str, path: str, code: int) -> None:
        app = scope.get("app")
        engine = getattr(getattr(app, "state", None), "engine", None)
        if engine is None:
            return
        state = scope.get("state") or {}
        caller = state.get("caller")
        route = scope.get("route")
        template = getattr(route, "path", None) or path
        detail = state.get("audit_detail")
        actor = caller.name if caller else state.get("audit_actor", "anonymous")
        try:
            await asyncio.to_thread(
                audit.record, engine, actor=actor, role=caller.role if caller else state.get("audit_role", "-"),
                kind=caller.kind if caller else ("user" if "audit_role" in state else "anonymous"), action=f"{method} {template}", target=path,
                client_ip=client_ip(scope), status=code, detail=detail)
        except Exception:
            log.exception("could not write the audit log for %s %s", method, path)
