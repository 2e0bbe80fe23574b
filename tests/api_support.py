"""An API over real HTTP on a database of the test's choosing, with or without a worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support import ThreadedServer, ThreadedWorker

SERVICE_KEY = "door-service-key"
REVIEWER_KEY = "door-reviewer-key"


def api_settings(db_url: str, temporal_address: str, tmp_path, **overrides: Any):
    from zhongshu.settings import Settings

    values: dict[str, Any] = dict(
        database_url=db_url,
        temporal_address=temporal_address,
        task_queue=f"door-{uuid.uuid4().hex[:8]}",
        api_key=SERVICE_KEY,
        extra_api_keys=f"{REVIEWER_KEY}:reviewer",
        var_dir=tmp_path,
        fulfilment=False,
    )
    values.update(overrides)
    return Settings(**values)


class Api:
    def __init__(self, url: str, settings):
        self.url = url
        self.settings = settings

    def http(self, key: str | None = SERVICE_KEY, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=timeout)


@contextmanager
def running_api(settings, *, worker: bool = False) -> Iterator[Api]:
    from api.app import create_app

    if worker:
        with ThreadedWorker(settings, settings.database_url), ThreadedServer(create_app(settings)) as server:
            yield Api(server.url, settings)
    else:
        with ThreadedServer(create_app(settings)) as server:
            yield Api(server.url, settings)
