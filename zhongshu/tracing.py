"""OpenTelemetry tracing from the API through the workflow into activities.

The API's request span is propagated by Temporal's TracingInterceptor into workflow and activity
spans, so one trace shows an order from HTTP to the read-model write. Exporter by setting:
``none`` (default), ``console`` (stdout) or ``file`` (JSON lines in var/logs/traces-<service>.jsonl).
"""

from __future__ import annotations

from functools import lru_cache

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from zhongshu.settings import Settings


@lru_cache(maxsize=1)
def setup_tracing(service: str, exporter: str, var_dir: str) -> bool:
    """Install a tracer provider once per process; returns whether tracing is on."""
    if exporter == "none":
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": f"zhongshu-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "file":
        from pathlib import Path

        path = Path(var_dir) / "logs" / f"traces-{service}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        provider.add_span_processor(
            BatchSpanProcessor(ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n"))
        )
    else:
        raise ValueError(f"unknown ZHONGSHU_OTEL_EXPORTER {exporter!r}: use none, console or file")
    trace.set_tracer_provider(provider)
    return True


def temporal_interceptors(settings: Settings, service: str) -> list:
    if not setup_tracing(service, settings.otel_exporter, str(settings.var_dir)):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument_fastapi(app, settings: Settings) -> None:
    if not setup_tracing("api", settings.otel_exporter, str(settings.var_dir)):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz")
