"""One way to connect to Temporal: pydantic payloads encrypted by the payload codec (issue 13), tracing
and SDK metrics when configured."""

from __future__ import annotations

from temporalio.client import Client

from zhongshu.metrics import sdk_runtime
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.settings import Settings, get_settings
from zhongshu.tracing import temporal_interceptors


async def connect(settings: Settings | None = None, service: str = "client") -> Client:
    """``service`` names the process in traces and metrics: ``worker`` and ``api`` get the SDK metrics
    runtime (zhongshu.metrics); a worker built on this client inherits its TracingInterceptor and its
    data converter (the codec encrypts what the worker sends, decrypts what it reads)."""
    s = settings or get_settings()
    return await Client.connect(
        s.temporal_address,
        namespace=s.temporal_namespace,
        data_converter=encrypted_data_converter(s.codec_keys),
        interceptors=temporal_interceptors(s, service),
        runtime=sdk_runtime(s, service),
    )
