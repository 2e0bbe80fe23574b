"""One trace from the caller through the workflow into its activities (OpenTelemetry)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from store.db import engine_for
from tests.support import order_payload
from tests.workflow_helpers import start_order
from workers.order_worker import build_worker
from zhongshu.payload_codec import encrypted_data_converter


async def test_api_span_propagates_into_workflow_and_activities(ts_env, task_queue, sqlite_session_url):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    client = Client(
        ts_env.client.service_client,
        namespace=ts_env.client.namespace,
        data_converter=encrypted_data_converter(""),
        interceptors=[TracingInterceptor(tracer)],
    )
    async with build_worker(client, task_queue, engine_for(sqlite_session_url)):
        with tracer.start_as_current_span("POST /v1/orders") as root:
            handle = await start_order(client, task_queue, order_payload())
        await handle.result()
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    assert "StartWorkflow:Order" in names and "RunWorkflow:Order" in names
    assert "RunActivity:intake_order" in names and "RunActivity:project" in names
    trace_ids = {s.context.trace_id for s in spans}
    assert trace_ids == {root.get_span_context().trace_id}, "every span belongs to the caller's trace"


def test_tracing_is_off_unless_configured(tmp_path):
    from zhongshu.settings import Settings
    from zhongshu.tracing import temporal_interceptors

    assert temporal_interceptors(Settings(var_dir=tmp_path), "worker") == []
    with pytest.raises(ValueError, match="unknown ZHONGSHU_OTEL_EXPORTER"):
        temporal_interceptors(Settings(var_dir=tmp_path, otel_exporter="zipkin?"), "worker")
    assert trace.get_tracer_provider() is not None


def test_trace_files_rotate_by_size(tmp_path):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from zhongshu.tracing import RotatingFileSpanExporter

    exporter = RotatingFileSpanExporter(tmp_path / "logs" / "traces-worker.jsonl", max_bytes=4_000, backups=3)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for i in range(60):
        with tracer.start_as_current_span(f"RunActivity:step-{i}"):
            pass
    provider.shutdown()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["traces-worker.jsonl", *(f"traces-worker.jsonl.{n}" for n in (1, 2, 3))], files
    import json

    newest = [json.loads(line) for line in (tmp_path / "logs" / "traces-worker.jsonl").read_text().splitlines()]
    assert newest[-1]["name"] == "RunActivity:step-59", "one span per line, the newest in the live file"


def test_file_exporter_by_setting_writes_under_the_var_dir(tmp_path):
    from zhongshu import tracing
    from zhongshu.settings import Settings
    from zhongshu.tracing import RotatingFileSpanExporter, tracer_provider

    s = Settings(var_dir=tmp_path, otel_exporter="file", otel_file_max_bytes=1234, otel_file_backups=2)
    try:
        provider = tracer_provider(s, "worker")
        assert provider is tracer_provider(s, "worker"), "one provider per process and configuration"
        exporter = provider._active_span_processor._span_processors[0].span_exporter
        assert isinstance(exporter, RotatingFileSpanExporter) and exporter.path == tmp_path / "logs" / "traces-worker.jsonl"
    finally:
        tracing.shutdown()


def test_untraced_user_agents_drop_the_request_and_what_it_causes():
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
    from opentelemetry.trace import SpanKind

    from zhongshu.tracing import SkipUserAgents

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=SkipUserAgents(ParentBased(ALWAYS_ON), ["zhongshu-floor-sim"]))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for agent in ("zhongshu-floor-sim/1.0", "Mozilla/5.0"):
        with tracer.start_as_current_span("POST /v1/warehouse/{warehouse}/claim", kind=SpanKind.SERVER,
                                          attributes={"http.user_agent": agent}):
            with tracer.start_as_current_span("SELECT zhongshu", kind=SpanKind.CLIENT):
                pass
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 and {s.attributes.get("http.user_agent") for s in spans} == {"Mozilla/5.0", None}


def test_otlp_exporter_by_protocol():
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    from zhongshu.tracing import otlp_exporter

    http = otlp_exporter("http://otel-collector:4318", "http/protobuf", "authorization=Bearer abc")
    assert isinstance(http, HttpExporter) and http._endpoint == "http://otel-collector:4318/v1/traces"
    from zhongshu.tracing import _headers

    assert _headers("authorization=Bearer abc, x-tenant=zs") == {"authorization": "Bearer abc", "x-tenant": "zs"}
    assert otlp_exporter("http://c:4318/v1/traces", "http/protobuf")._endpoint == "http://c:4318/v1/traces"
    grpc = otlp_exporter("http://otel-collector:4317", "grpc")
    assert isinstance(grpc, GrpcExporter)
    grpc.shutdown()
    with pytest.raises(ValueError, match="unknown ZHONGSHU_OTEL_PROTOCOL"):
        otlp_exporter("", "thrift")
