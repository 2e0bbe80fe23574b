"""Every 503 tells the caller when to come back.

A 503 from this API means "a part of the system (Temporal, a worker, a partner API) cannot answer
now; nothing of yours was lost", and a well-behaved client — Douyin's and the carriers' push
retries, our console, a partner's integration — backs off by ``Retry-After``. Routes that know a
better delay set their own; this pure ASGI middleware adds the default to any 503 that has none, so
no route can forget it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_SECONDS = 5


class RetryAfterOn503:
    def __init__(self, app: ASGIApp, *, seconds: int = DEFAULT_SECONDS) -> None:
        self.app = app
        self.header = (b"retry-after", str(seconds).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)
