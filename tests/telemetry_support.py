"""Telemetry test plumbing: an in-process OTLP/HTTP receiver and the real stack with telemetry on.

The receiver speaks the OTLP trace service over HTTP (protobuf), so spans reach it through the very
exporter production uses. :class:`TelemetryStack` is tests/conftest.py's ``stack`` (dev server,
worker, API over HTTP, PostgreSQL) with settings of the test's choosing, the worker connected as
``worker`` (SDK metrics runtime, tracing) and its metrics endpoint up, the API instrumented.
"""

from __future__ import annotations

import gzip
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import LoopThread, ThreadedServer, free_port, fresh_pg_database

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(v) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


class OtlpReceiver:
    """POST /v1/traces (application/x-protobuf, optionally gzip) → spans kept in memory."""

    def __init__(self):
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceRequest,
                    ExportTraceServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                receiver._add(req)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _add(self, req) -> None:
        with self._lock:
            self.requests += 1
            for rs in req.resource_spans:
                res = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        self.spans.append(ReceivedSpan(
                            service=res.get("service.name", ""), trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(), name=s.name, kind=KINDS.get(s.kind, str(s.kind)),
                            attributes={a.key: _value(a.value) for a in s.attributes},
                        ))

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class TelemetryWorker(LoopThread):
    """The real worker in a thread, wired as workers/run.py wires it (minus signals and logging)."""

    ready_seconds = 90

    def __init__(self, settings):
        super().__init__()
        self.settings = settings
        self.metrics_server = None

    async def serve(self) -> None:
        from store import risk_data, rules
        from store.db import engine_for
        from workers.order_worker import build_worker
        from workers.temporal_client import connect
        from zhongshu.metrics import start_worker_metrics
        from zhongshu.tracing import instrument_engine

        s = self.settings
        try:
            engine = engine_for(s.db_url)
            instrument_engine(engine, s, "worker")
            risk_data.seed_defaults(engine)
            rules.ensure_default(engine)
            client = await connect(s, service="worker")
            async with build_worker(client, s.task_queue, engine, wecom_webhook_url=s.wecom_webhook_url, settings=s):
                self.metrics_server = start_worker_metrics(s, engine)
                self.ready()
                await self.stopped()
        finally:
            if self.metrics_server is not None:
                self.metrics_server.shutdown()


class TelemetryStack:
    """Dev server + worker + API over HTTP + a fresh PostgreSQL database, telemetry configured."""

    def __init__(self, dev_env, tmp_path, fake_wecom, **settings: Any):
        self.dev_env = dev_env
        self.tmp_path = tmp_path
        self.fake_wecom = fake_wecom
        self.overrides = settings
        self.api_key = "test-service-key"

    def __enter__(self) -> TelemetryStack:
        from contextlib import ExitStack

        from api.app import create_app
        from store.db import engine_for, migrate
        from zhongshu.settings import Settings
        from zhongshu.telemetry import instrument_api

        self._exit = ExitStack()
        self.db_url = self._exit.enter_context(fresh_pg_database("zs_telemetry"))
        migrate(self.db_url)
        self._exit.callback(lambda: engine_for(self.db_url).dispose())  # before the database is dropped
        self.settings = Settings(**{
            "database_url": self.db_url,
            "temporal_address": self.dev_env.client.service_client.config.target_host,
            "task_queue": f"orders-{uuid.uuid4().hex[:6]}",
            "api_key": self.api_key,
            "extra_api_keys": "test-reviewer-key:reviewer,test-readonly-key:readonly",
            "var_dir": self.tmp_path / "var",
            "wecom_webhook_url": self.fake_wecom.webhook_url,
            "fulfilment": False,
            "worker_metrics_port": free_port(),
            **self.overrides,
        })
        self.worker = self._exit.enter_context(TelemetryWorker(self.settings))
        app = create_app(self.settings)
        instrument_api(app, self.settings)  # what api/app.py's create_app is to call (a no-op if it did)
        self.api = self._exit.enter_context(ThreadedServer(app))
        return self

    @property
    def api_url(self) -> str:
        return self.api.url

    @property
    def worker_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.worker_metrics_port}/metrics"

    def http(self, **headers: str):
        import httpx

        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": self.api_key, **headers}, timeout=30)

    def __exit__(self, *exc) -> None:
        self._exit.close()
