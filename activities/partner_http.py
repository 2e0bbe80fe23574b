"""HTTP clients for the partners (mini-program, carriers, ERP images, settlement, technicians,
suppliers, WeCom, channels), all on one TLS context.

A client built with httpx's defaults builds its own ``ssl.SSLContext`` and loads the CA bundle into
it: ≈ 10 ms of CPU each time. Activities that open a client per call (most do: a call is short and a
client must not outlive its event loop) spent more of the worker's CPU on that than on the orders —
38 % of its samples in ``zhongshu bench pipeline``. The context is built once (httpx's own defaults:
certifi, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) and shared; an ``SSLContext`` is safe to share between
threads and clients.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx


@cache
def tls_context():
    return httpx.create_ssl_context()


def client(**kw: Any) -> httpx.Client:
    return httpx.Client(verify=tls_context(), **kw)


def async_client(**kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=tls_context(), **kw)
