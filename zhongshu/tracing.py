"""OpenTelemetry tracing from the API through the workflows into activities, their HTTP and their SQL.

The API's request span (FastAPI instrumentation) is carried by Temporal's ``TracingInterceptor`` into
workflow and activity spans; inside an activity, outgoing HTTP (httpx) and SQL (SQLAlchemy) get spans
of their own, so one trace shows an order from the HTTP call to the read-model write. Nothing here
names a workflow or activity type.

Exporter by setting (``ZHONGSHU_OTEL_EXPORTER``): ``none`` (default), ``console`` (stdout), ``file``
(JSON lines in var/logs/traces-<service>.jsonl, rotated by size) or ``otlp`` (to a collector:
``ZHONGSHU_OTEL_ENDPOINT``, ``ZHONGSHU_OTEL_PROTOCOL`` = ``http/protobuf`` | ``grpc``).

Requests whose User-Agent is listed in ``ZHONGSHU_OTEL_UNTRACED_USER_AGENTS`` (the demo's floor
simulator polls the device API every 2 s) are not traced, nor is anything they cause.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from zhongshu.logging_setup import mask_secrets
from zhongshu.settings import Settings

EXPORTERS = ("none", "console", "file", "otlp")
PROTOCOLS = ("http/protobuf", "grpc")
TRACER_NAME = "zhongshu"


@dataclass(frozen=True)
class TraceConfig:
    """What makes one tracer provider: a process has one per service (worker, api) and config."""

    service: str
    exporter: str
    var_dir: str
    endpoint: str = ""
    protocol: str = "http/protobuf"
    headers: str = ""
    file_max_bytes: int = 20 * 1024 * 1024
    file_backups: int = 5
    sample_ratio: float = 1.0
    untraced_user_agents: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings, service: str) -> TraceConfig:
        return cls(
            service=service,
            exporter=settings.otel_exporter,
            var_dir=str(settings.var_dir),
            endpoint=settings.otel_endpoint,
            protocol=settings.otel_protocol,
            headers=settings.otel_headers,
            file_max_bytes=settings.otel_file_max_bytes,
            file_backups=settings.otel_file_backups,
            sample_ratio=settings.otel_sample_ratio,
            untraced_user_agents=tuple(_csv(settings.otel_untraced_user_agents)),
        )


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


# ------------------------------------------------------------------ exporters


class RotatingFileSpanExporter(SpanExporter):
    """Spans as JSON lines in a file that rotates by size, keeping ``backups`` old files."""

    def __init__(self, path: Path, max_bytes: int, backups: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            record = logging.LogRecord("zhongshu.traces", logging.INFO, __file__, 0, span.to_json(indent=None), None, None)
            self._handler.handle(record)  # the handler's lock and size check: rotation is safe across threads
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._handler.close()


def _headers(text: str) -> dict[str, str] | None:
    pairs = [p.split("=", 1) for p in _csv(text) if "=" in p]
    return {k.strip(): v.strip() for k, v in pairs} or None


def otlp_exporter(endpoint: str, protocol: str, headers: str = "") -> SpanExporter:
    """An OTLP span exporter. ``endpoint`` is the collector's base address (as OTEL_EXPORTER_OTLP_ENDPOINT:
    http://collector:4318 for http/protobuf, http://collector:4317 for grpc); empty leaves it to the
    standard OTEL_EXPORTER_OTLP_* variables and their defaults."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        insecure = endpoint.startswith("http://") if endpoint else None
        return GrpcExporter(endpoint=endpoint or None, insecure=insecure, headers=_headers(headers))
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        url = endpoint.rstrip("/")
        if url and not url.endswith("/v1/traces"):
            url += "/v1/traces"
        return HttpExporter(endpoint=url or None, headers=_headers(headers))
    raise ValueError(f"unknown ZHONGSHU_OTEL_PROTOCOL {protocol!r}: use {' or '.join(PROTOCOLS)}")


def _exporter(cfg: TraceConfig) -> SpanExporter:
    if cfg.exporter == "console":
        return ConsoleSpanExporter()
    if cfg.exporter == "file":
        return RotatingFileSpanExporter(Path(cfg.var_dir) / "logs" / f"traces-{cfg.service}.jsonl",
                                        cfg.file_max_bytes, cfg.file_backups)
    if cfg.exporter == "otlp":
        return otlp_exporter(cfg.endpoint, cfg.protocol, cfg.headers)
    raise ValueError(f"unknown ZHONGSHU_OTEL_EXPORTER {cfg.exporter!r}: use {', '.join(EXPORTERS)}")


# ------------------------------------------------------------------ sampling


class SkipUserAgents(Sampler):
    """Drops server spans of requests from the listed user agents; their children follow (parent-based),
    so a poller's SQL and Temporal calls stay out of the traces too."""

    KEYS = ("user_agent.original", "http.user_agent")

    def __init__(self, delegate: Sampler, agents: Sequence[str]):
        self.delegate = delegate
        self.agents = tuple(a.lower() for a in agents)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if self.agents and kind == SpanKind.SERVER and attributes:
            agent = next((str(attributes[k]) for k in self.KEYS if attributes.get(k)), "").lower()
            if agent and any(a in agent for a in self.agents):
                return SamplingResult(Decision.DROP, None, None)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"SkipUserAgents({','.join(self.agents)}){{{self.delegate.get_description()}}}"


# ------------------------------------------------------------------ providers

_lock = threading.Lock()
_providers: dict[TraceConfig, TracerProvider] = {}
_httpx_provider: TracerProvider | None = None
_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tracer_provider(settings: Settings, service: str) -> TracerProvider | None:
    """The service's tracer provider (made once per process and configuration); None when tracing is off.

    The first one made also becomes the global provider. HTTP-client spans (httpx, instrumented
    process-wide) go to the latest one."""
    cfg = TraceConfig.of(settings, service)
    if cfg.exporter == "none":
        return None
    with _lock:
        provider = _providers.get(cfg)
        if provider is not None:
            return provider
        exporter = _exporter(cfg)  # raises on a bad exporter / protocol before anything is installed
        sampler = SkipUserAgents(ParentBased(TraceIdRatioBased(cfg.sample_ratio)), cfg.untraced_user_agents)
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"zhongshu-{service}", "service.namespace": "zhongshu"}),
            sampler=sampler,
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _providers[cfg] = provider
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(provider)
        _instrument_httpx(provider)
        return provider


def _instrument_httpx(provider: TracerProvider) -> None:
    global _httpx_provider
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if _httpx_provider is provider:
        return
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider, request_hook=_redact_url, async_request_hook=_aredact_url)
    _httpx_provider = provider


_URL_KEYS = ("http.url", "url.full")


def _redact_url(span, request) -> None:
    """Secrets in query strings (the WeCom robot's ``key``, signatures, tokens) stay out of traces."""
    if span is None or not span.is_recording():
        return
    url = request.url
    if isinstance(url, tuple):  # the raw form: (scheme, host, port, target) as bytes
        scheme, host, port, target = url
        url = f"{scheme.decode()}://{host.decode()}{f':{port}' if port else ''}{target.decode()}"
    url = str(url)
    redacted = mask_secrets(url)
    if redacted != url:
        attributes = getattr(span, "attributes", None) or {}
        for key in _URL_KEYS:
            if key in attributes:
                span.set_attribute(key, redacted)


async def _aredact_url(span, request) -> None:
    _redact_url(span, request)


def instrument_engine(engine, settings: Settings, service: str) -> bool:
    """SQL spans for one engine (once per engine); returns whether tracing is on."""
    provider = tracer_provider(settings, service)
    if provider is None:
        return False
    with _lock:
        if engine in _engines:
            return True
        # the engine's listeners directly (what SQLAlchemyInstrumentor().instrument(engine=…) does),
        # without its process-wide create_engine patches (they import sqlalchemy's asyncio, which
        # needs greenlet) and its version gate (it declares < 2.1; the engine events are unchanged;
        # tests/test_telemetry_traces.py checks the SQL spans arrive)
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import get_meter

        usage = get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
            "db.client.connections.usage", unit="connections")
        EngineTracer(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)
        _engines[engine] = provider
        return True


def temporal_interceptors(settings: Settings, service: str) -> list:
    """Temporal's TracingInterceptor on the service's provider (client and worker side alike)."""
    provider = tracer_provider(settings, service)
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(provider.get_tracer("temporalio"))]


def trace_api(app, settings: Settings) -> bool:
    """Server spans for the FastAPI app, except the probe and scrape endpoints and untraced agents."""
    provider = tracer_provider(settings, "api")
    if provider is None:
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=settings.otel_excluded_urls,
                                       exclude_spans=["receive", "send"])  # the request, not each ASGI message
    return True


def shutdown() -> None:
    """Flush and close every provider this process made and take httpx's instrumentation off (tests;
    at exit the providers shut down by themselves). The global provider, once set, stays set."""
    global _httpx_provider
    with _lock:
        providers = list(_providers.values())
        _providers.clear()
        _engines.clear()
        if _httpx_provider is not None:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor().uninstrument()
            _httpx_provider = None
    for provider in providers:
        provider.shutdown()


def flush(timeout_ms: int = 10_000) -> None:
    """Export every finished span now (tests, and before a process exits)."""
    for provider in list(_providers.values()):
        provider.force_flush(timeout_ms)
