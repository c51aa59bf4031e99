"""OpenTelemetry traces of both services: off by default, exported by OTLP/gRPC when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set.

One trace follows a reel: the CreateReel server span (render service), the job that
renders it (its context travels in the job row, `reel_jobs.trace_context_json`, from
the RPC's thread to the worker that claims it, or to another replica), the render
stages (`reel.select`, `reel.script`, `reel.render`, `reel.publish`,
`reel.record`), the GenerateScript client span and, through the `traceparent`
metadata, the scripter's server span.

The gRPC spans come from opentelemetry-instrumentation-grpc, whose interceptors
exist for grpc and grpc.aio servers alike (`server_interceptors(aio=...)`); health
checks and reflection are left out. What goes into attributes: method names, status
codes, peers, job ids, library keys, spans and kinds, counts. Never a caption,
title, message, note or path: the stage spans record an exception by its type and
ReelError reason only, not its text (`traced`).

Off (no provider installed), every function here is a no-op: no interceptor is added
and the spans are OpenTelemetry's non-recording ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from reels_core.errors import ReelError
from service_kit.settings import Settings

_TRACER = "reels"
F = TypeVar("F", bound=Callable[..., Any])


# The provider this process's spans go to (None: tracing off). Kept here rather than
# read from OpenTelemetry's global, which can be set only once per process: tests
# install an in-memory one and remove it again.
_provider: TracerProvider | None = None


def setup_tracing(service_name: str, settings: Settings) -> TracerProvider | None:
    """When OTEL_EXPORTER_OTLP_ENDPOINT is set, export this process's spans there by
    OTLP/gRPC (batched) and return the provider; else None (tracing off). A provider
    installed before (a test's) is kept."""
    if _provider is not None or not settings.otlp_endpoint:
        return _provider
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # The endpoint, headers and TLS come from the OTEL_EXPORTER_OTLP_* variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    trace.set_tracer_provider(provider)  # for libraries that trace through the global
    return provider


def install(provider: TracerProvider | None) -> None:
    """Send spans to `provider` (None: tracing off). Servers built afterwards get the
    interceptors; tests install one with an in-memory exporter."""
    global _provider
    _provider = provider


def enabled() -> bool:
    return _provider is not None


def shutdown() -> None:
    """Export what is still buffered (at server stop)."""
    if _provider is not None:
        _provider.force_flush()


def _tracer() -> trace.Tracer:
    return (_provider or trace.NoOpTracerProvider()).get_tracer(_TRACER)


def _rpc_filter(*extra: Any) -> Any:
    from opentelemetry.instrumentation.grpc import filters

    return filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection"), *extra))


def server_interceptors(aio: bool = False) -> list[Any]:
    """The OpenTelemetry server interceptor (grpc or grpc.aio) when tracing is on,
    else none; put it first, so its span covers the rest."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor, server_interceptor

    make = aio_server_interceptor if aio else server_interceptor
    return [make(tracer_provider=_provider, filter_=_rpc_filter())]


def aio_server_interceptors(streaming: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """(outer, inner) OpenTelemetry interceptors for a grpc.aio server whose own
    interceptor writes server streams itself (`context.write`, a coroutine): the
    instrumentation iterates a streaming handler with `async for`, so for the
    `streaming` methods (full names) it must sit inside that interceptor; for the
    others it sits outside, so a span sees the status the interceptor aborts with.
    Both empty when tracing is off."""
    if _provider is None:
        return [], []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

    streams = filters.any_of(*(filters.full_method_name(m) for m in streaming))
    outer = aio_server_interceptor(tracer_provider=_provider, filter_=_rpc_filter(streams))
    inner = aio_server_interceptor(tracer_provider=_provider, filter_=filters.all_of(_rpc_filter(), streams))
    return [outer], [inner]


def traced_channel(channel: grpc.Channel) -> grpc.Channel:
    """`channel` with client spans and `traceparent` metadata when tracing is on."""
    if _provider is None:
        return channel
    from opentelemetry.instrumentation.grpc import client_interceptor
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    return intercept_channel(channel, client_interceptor(tracer_provider=_provider))


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`), to store in a row;
    empty when there is none."""
    headers: dict[str, str] = {}
    if _provider is not None:
        propagate.inject(headers)
    return headers


@contextmanager
def job_span(stored: Mapping[str, str] | None, **attributes: str | int | float | bool) -> Iterator[Span]:
    """A `reel.job` span continuing the trace stored with the job (`carrier`)."""
    parent = propagate.extract(dict(stored or {}))
    with _tracer().start_as_current_span(
        "reel.job", context=parent, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except BaseException as exc:
            _mark_failed(span, exc)
            raise


def traced(name: str) -> Callable[[F], F]:
    """Run the decorated function in a span `name` (a render stage)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with _tracer().start_as_current_span(name, record_exception=False, set_status_on_exception=False) as span:
                try:
                    return fn(*args, **kwargs)
                except BaseException as exc:
                    _mark_failed(span, exc)
                    raise

        return call  # type: ignore[return-value]  # same signature as fn

    return wrap


def _mark_failed(span: Span, exc: BaseException) -> None:
    """An error by its type and stable reason, never its message (which may quote a
    path or a decoder's words)."""
    span.set_attribute("error.type", type(exc).__name__)
    if isinstance(exc, ReelError):
        span.set_attribute("reels.reason", exc.reason)
    span.set_status(Status(StatusCode.ERROR, exc.reason if isinstance(exc, ReelError) else type(exc).__name__))
