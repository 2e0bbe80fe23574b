"""One trace from the caller through the workflow into its activities (OpenTelemetry)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter

from store.db import engine_for
from tests.support import order_payload
from tests.workflow_helpers import start_order
from workers.order_worker import build_worker


async def test_api_span_propagates_into_workflow_and_activities(ts_env, task_queue, sqlite_session_url):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    client = Client(
        ts_env.client.service_client,
        namespace=ts_env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor(tracer)],
    )
    async with build_worker(client, task_queue, engine_for(sqlite_session_url)):
        with tracer.start_as_current_span("POST /v1/orders") as root:
            handle = await start_order(client, task_queue, order_payload())
        await handle.result()
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    assert "StartWorkflow:OrderWorkflow" in names and "RunWorkflow:OrderWorkflow" in names
    assert "RunActivity:cleanse_order" in names and "RunActivity:project_order" in names
    trace_ids = {s.context.trace_id for s in spans}
    assert trace_ids == {root.get_span_context().trace_id}, "every span belongs to the caller's trace"


def test_tracing_is_off_unless_configured(tmp_path):
    from zhongshu.settings import Settings
    from zhongshu.tracing import temporal_interceptors

    assert temporal_interceptors(Settings(var_dir=tmp_path), "worker") == []
    with pytest.raises(ValueError, match="unknown ZHONGSHU_OTEL_EXPORTER"):
        temporal_interceptors(Settings(var_dir=tmp_path, otel_exporter="zipkin?"), "worker")
    assert trace.get_tracer_provider() is not None
