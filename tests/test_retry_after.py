"""Every 503 of the API carries Retry-After (api/retry_after.py): the routes' own delay is kept, the
default is added where a route gave none, other statuses are left alone."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.retry_after import DEFAULT_SECONDS, RetryAfterOn503


def _app() -> Starlette:
    async def bare(_request):
        return JSONResponse({"message": "抖店订单详情暂时取不到"}, status_code=503)

    async def own(_request):
        return JSONResponse({"message": "busy"}, status_code=503, headers={"Retry-After": "30"})

    async def fine(_request):
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/bare", bare), Route("/own", own), Route("/fine", fine)])
    app.add_middleware(RetryAfterOn503)
    return app


async def test_a_503_without_retry_after_gets_the_default_and_one_with_it_keeps_its_own():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://api") as http:
        bare = await http.get("/bare")
        assert bare.status_code == 503 and bare.headers["Retry-After"] == str(DEFAULT_SECONDS)
        assert bare.json() == {"message": "抖店订单详情暂时取不到"}
        own = await http.get("/own")
        assert own.headers.get_list("Retry-After") == ["30"]
        assert "Retry-After" not in (await http.get("/fine")).headers
