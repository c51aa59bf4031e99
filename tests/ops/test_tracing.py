"""One trace follows a reel across both services: CreateReel, the job (its context
stored in the job row), the render stages, GenerateScript on both sides; and no
personal text reaches a span. Checked with the SDK's in-memory exporter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ledger.db import session_scope
from ledger.jobs import get_job
from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from service_kit import tracing
from service_kit.settings import load_settings
from tests.conftest import Stack, start_stack, stop_stack, wait_scanned

STAGES = ("reel.select", "reel.script", "reel.render", "reel.publish")
CREATE = "/reels.v1.ReelService/CreateReel"
GENERATE = "/reels.v1.ScripterService/GenerateScript"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.install(provider)
    try:
        yield memory
    finally:
        tracing.install(None)
        provider.shutdown()


@pytest.fixture
def traced_stack(exporter: InMemorySpanExporter, tmp_path: Path, sample_library: Path) -> Iterator[Stack]:
    stack = start_stack(tmp_path / "data", libraries=f"sample={sample_library}", REEL_TARGET_DURATION_S="10")
    try:
        wait_scanned(stack, "sample")
        yield stack
    finally:
        stop_stack(stack)


def _wait_done(stack: Stack, job_id: str, timeout: float = 120.0) -> pb2.ReelJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stack.reels.GetReelJob(pb2.GetReelJobRequest(job_id=job_id)).job
        if job.state in (pb2.JOB_STATE_SUCCEEDED, pb2.JOB_STATE_FAILED, pb2.JOB_STATE_CANCELLED):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def _one(spans: list[ReadableSpan], name: str, kind: SpanKind | None = None) -> ReadableSpan:
    found = [s for s in spans if s.name == name and (kind is None or s.kind == kind)]
    assert len(found) == 1, (name, kind, [s.name for s in spans])
    return found[0]


def _texts(span: ReadableSpan) -> list[str]:
    values: list[object] = [*(span.attributes or {}).values(), span.status.description or ""]
    for event in span.events:
        values.extend((event.attributes or {}).values())
    return [str(v) for v in values]


def test_one_trace_covers_create_reel_the_job_both_services_and_the_stages(
    traced_stack: Stack, exporter: InMemorySpanExporter
) -> None:
    stack = traced_stack
    with pytest.raises(grpc.RpcError):
        stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_RECAP)
        )
    created = stack.reels.CreateReel(
        pb2.CreateReelRequest(
            library="sample",
            span=common_pb2.SPAN_WEEK,
            kind=common_pb2.REEL_KIND_RECAP,
            options=common_pb2.RenderOptions(resolution="360p"),
            request_id="trace-1",
        )
    ).job
    job = _wait_done(stack, created.job_id)
    assert job.state == pb2.JOB_STATE_SUCCEEDED, job.reason
    with session_scope(stack.app.engine) as session:
        row = get_job(session, created.job_id)
    assert row is not None and "traceparent" in row.trace_context_json  # the context travels in the row

    spans = list(exporter.get_finished_spans())
    not_found = _one(spans, "/reels.v1.ReelService/GetPrecomputedReel", SpanKind.SERVER)
    # A failed call's span carries its code (NOT_FOUND is the caller's error, so by
    # OpenTelemetry's conventions the server span's status stays unset).
    assert not_found.attributes is not None and not_found.attributes["rpc.grpc.status_code"] == 5
    create = _one(spans, CREATE, SpanKind.SERVER)
    trace_id = create.context.trace_id
    job_span = _one(spans, "reel.job")
    assert job_span.parent is not None and job_span.parent.span_id == create.context.span_id
    assert job_span.attributes is not None and job_span.attributes["job_id"] == created.job_id
    stages = {name: _one(spans, name) for name in STAGES}
    for stage in stages.values():
        assert stage.parent is not None and stage.parent.span_id == job_span.context.span_id
        assert stage.status.status_code != StatusCode.ERROR
    client = _one(spans, GENERATE, SpanKind.CLIENT)  # render service -> scripter
    server = _one(spans, GENERATE, SpanKind.SERVER)  # scripter, from the traceparent metadata
    assert client.parent is not None and client.parent.span_id == stages["reel.script"].context.span_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    for span in (job_span, *stages.values(), client, server):
        assert span.context.trace_id == trace_id, span.name
    # health checks and reflection are not traced
    assert not [s for s in spans if s.name.startswith(("/grpc.health", "/grpc.reflection"))]

    # No personal text in any attribute, event or status: the script's words.
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    script = reel.script
    words = [script.title, script.subtitle, *(s.caption for s in script.shots), *(n.text for n in script.narration)]
    words = [w for w in words if len(w) >= 4]
    assert words, "the script has text to look for"
    texts = [t for span in spans for t in _texts(span)]
    assert not [(w, t) for w in words for t in texts if w in t]


def test_a_failed_stage_names_its_reason_not_its_message(exporter: InMemorySpanExporter) -> None:
    @tracing.traced("reel.test")
    def fails() -> None:
        from reels_core.errors import FailedPrecondition

        raise FailedPrecondition("NO_USABLE_MEDIA", "photo /home/anna/secret-trip.jpg would not decode")

    with pytest.raises(Exception, match="secret"):
        fails()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None and span.attributes["reels.reason"] == "NO_USABLE_MEDIA"
    assert not [t for t in _texts(span) if "secret" in t]
    assert not span.events  # no exception event carrying the message


def test_tracing_is_off_by_default_and_otlp_when_the_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracing.setup_tracing("render_service", load_settings({})) is None
    assert tracing.server_interceptors() == [] and tracing.carrier() == {}
    monkeypatch.setattr(tracing.trace, "set_tracer_provider", lambda provider: None)  # leave the global alone
    provider = tracing.setup_tracing(
        "render_service", load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"})
    )
    try:
        assert provider is not None and provider.resource.attributes["service.name"] == "render_service"
        processors = provider._active_span_processor._span_processors  # which exporter is wired
        exporters = [type(p._batch_processor._exporter).__name__ for p in processors]  # type: ignore[attr-defined]
        assert exporters == ["OTLPSpanExporter"]
        assert len(tracing.server_interceptors()) == 1 and len(tracing.server_interceptors(aio=True)) == 1
    finally:
        tracing.install(None)
        if provider is not None:
            provider.shutdown()
