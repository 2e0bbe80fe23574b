"""The whole stack a fulfilment test needs, over real HTTP: the dev server (the caller's), our worker
and API on a fresh PostgreSQL database, the shipped fake carriers and mini-program, and stock of the
brake pads in the three warehouses. Tests differ only in the settings they override (wave size,
cut-offs, auto-pack …)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities import warehouse as wh
from fakes import carriers as fake_carriers
from fakes import miniprogram as fake_miniprogram
from fakes.serve import serve_in_thread
from store.db import engine_for, migrate
from tests.support import ThreadedServer, ThreadedWorker, free_port, fresh_pg_database, pg_available, terminate_waves

SERVICE, DEVICE, REVIEWER = "e2e-service-key", "e2e-device-key", "e2e-reviewer-key"
WAREHOUSES = ("HZ-DIRECT", "HZ-CLOUD", "GZ-CLOUD")


class FulfilmentStack:
    def __init__(self, api_url: str, db_url: str, carriers_url: str, mini_url: str):
        self.api_url, self.db_url, self.carriers_url, self.mini_url = api_url, db_url, carriers_url, mini_url

    def http(self, key: str = SERVICE) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": key}, timeout=30)


@asynccontextmanager
async def fulfilment_stack(dev_env: Any, var_dir: Path, fake_wecom: Any, *, name: str, database_url: str | None = None,
                           stock: int = 500, **overrides: Any) -> AsyncIterator[FulfilmentStack]:
    """``database_url``: default a fresh PostgreSQL database; ``overrides``: settings over the
    defaults (one order per wave, auto-packed, no cut-offs)."""
    from api.app import create_app
    from zhongshu.settings import Settings

    if database_url is None and not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    carriers = serve_in_thread(fake_carriers.create_app(webhook_base=api_url))
    mini = serve_in_thread(fake_miniprogram.create_app())
    with (nullcontext(database_url) if database_url else fresh_pg_database(f"zs_{name}")) as url:
        migrate(url)
        engine = engine_for(url)
        for w in WAREHOUSES:
            wh.import_stock(engine, [dict(warehouse=w, bin="A-03-12", sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)",
                                          quantity=stock, barcode="6901234567890", notes="易碎品轻拿")])
        settings = Settings(**{
            "database_url": url, "temporal_address": dev_env.client.service_client.config.target_host,
            "task_queue": f"{name}-{uuid.uuid4().hex[:6]}", "api_key": SERVICE, "api_port": api_port,
            "public_base_url": api_url, "extra_api_keys": f"{DEVICE}:device,{REVIEWER}:reviewer",
            "var_dir": var_dir, "wecom_webhook_url": fake_wecom.webhook_url,
            "wave_size": 1, "wave_auto_pack": True, "wave_cutoffs": "", "carrier_url": carriers.url,
            "carrier_app_key": fake_carriers.APP_KEY, "carrier_app_secret": fake_carriers.SECRET,
            "miniprogram_url": mini.url, "confirm_secret": f"{name}-confirm-secret", **overrides})
        await terminate_waves(dev_env.client)  # another stack's wave-HZ-CLOUD would take these orders elsewhere
        try:
            with ThreadedWorker(settings, url):
                with ThreadedServer(create_app(settings), port=api_port):
                    yield FulfilmentStack(api_url, url, carriers.url, mini.url)
        finally:
            await terminate_waves(dev_env.client)
            carriers.stop()
            mini.stop()
            engine.dispose()


def wait_for(what: str, fn, timeout: float = 60, logs: Iterable[Path] = ()):
    """``fn()`` until it is truthy; on timeout the error shows its last value and the tails of ``logs``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:] for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}; last: {last}\n{tails}")
