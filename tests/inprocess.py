"""Servicers called in this process with grpc_testing: no socket, no server, no
serialisation; request protos in, response protos or the caller's status out.

grpc_testing runs no server interceptors, so each servicer method is wrapped with
the interceptor's own error mapping (`service_kit.interceptor.canonical_errors`):
a test sees the status code, details and ErrorInfo a client would. What the
interceptor does besides (tokens, the log line) and what only a real channel shows
(bytes on the wire, deadlines, cancellation, health, reflection) stay in the
end-to-end tests.

The render service serves on grpc.aio, where every method but three runs these
same plain servicer methods in a thread pool (`service_kit.aio_adapt`); the three
coroutines (StreamReelVideo, WatchReelJob, the cached GetPrecomputedReel) are
tested through a real aio server on port 0 (tests/serving/).

    stub = InProcessStub(serve_in_process({DESCRIPTOR: servicer}), DESCRIPTOR)
    with pytest.raises(grpc.RpcError) as err:
        stub.ListReels(pb2.ListReelsRequest(page_size=-1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "PAGE_SIZE_INVALID"  # tests.conftest, as end to end
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc
import grpc_testing
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from service_kit.interceptor import canonical_errors


class _StatusSet(Exception):
    """The call's status is set on the context; the wrapper ends the call with it."""


class _Context:
    """grpc_testing's servicer context with `abort_with_status` as a real server has
    it: the status's trailing metadata (the ErrorInfo), code and details, then the
    call ends. (grpc_testing's own raises NotImplementedError, and its `abort`
    drops trailing metadata, so the call is ended by returning instead.)"""

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context

    def abort_with_status(self, status: grpc.Status) -> None:
        self._context.set_trailing_metadata(status.trailing_metadata)
        self.abort(status.code, status.details)

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._context.set_code(code)
        self._context.set_details(details)
        raise _StatusSet

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _mapped(behaviour: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
    mapped = canonical_errors(behaviour, streaming=streaming)
    if streaming:

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from mapped(request, _Context(context))
            except _StatusSet:
                return

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return mapped(request, _Context(context))
        except _StatusSet:
            return None

    return unary


class _MappedServicer:
    """The servicer's methods of `service`, each wrapped as the interceptor wraps it."""

    def __init__(self, service: ServiceDescriptor, servicer: object) -> None:
        for method in service.methods:
            setattr(self, method.name, _mapped(getattr(servicer, method.name), method.server_streaming))


def serve_in_process(services: Mapping[ServiceDescriptor, object]) -> Any:
    """A grpc_testing server for `{service descriptor: servicer}`."""
    mapped = {service: _MappedServicer(service, servicer) for service, servicer in services.items()}
    return grpc_testing.server_from_dictionary(mapped, grpc_testing.strict_real_time())


def _replay(responses: list[Any], error: CallError | None) -> Iterator[Any]:
    """What a client iterating the stream sees: the responses sent, then the error."""
    yield from responses
    if error is not None:
        raise error


class CallError(grpc.RpcError):
    """A failed call as a client sees it: `code()`, `details()` and
    `trailing_metadata()` (so `tests.conftest.error_reason` reads its ErrorInfo)."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[Any, ...]) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details, self._trailing = code, details, trailing_metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[Any, ...]:
        return self._trailing


class InProcessStub:
    """Called like the generated stub of `service`: a unary method returns its
    response or raises `CallError`; a server-streaming one returns an iterator of
    the responses sent, then raises `CallError` if the call failed. A stream is
    run to its end before it is returned, so one that only ends when the client
    goes away (a watch of a live job) belongs in an end-to-end test."""

    def __init__(self, server: Any, service: ServiceDescriptor) -> None:
        self._server = server
        self._service = service

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            method = self._service.methods_by_name[name]
        except KeyError:
            raise AttributeError(f"{self._service.full_name} has no method {name}") from None
        if method.client_streaming:
            raise NotImplementedError("client-streaming methods are not needed by these services")
        call = self._stream if method.server_streaming else self._unary

        def invoke(request: Any, timeout: float | None = None, metadata: tuple[Any, ...] = ()) -> Any:
            return call(method, request, timeout, metadata)

        return invoke

    def _unary(self, method: MethodDescriptor, request: Any, timeout: float | None, metadata: tuple[Any, ...]) -> Any:
        rpc = self._server.invoke_unary_unary(method, metadata, request, timeout)
        response, trailing, code, details = rpc.termination()
        if code != grpc.StatusCode.OK:
            raise CallError(code, details, trailing)
        return response

    def _stream(
        self, method: MethodDescriptor, request: Any, timeout: float | None, metadata: tuple[Any, ...]
    ) -> Iterator[Any]:
        rpc = self._server.invoke_unary_stream(method, metadata, request, timeout)
        trailing, code, details = rpc.termination()
        responses = []
        while True:
            try:
                responses.append(rpc.take_response())
            except ValueError:  # grpc_testing: no more responses after the end of the call
                break
        return _replay(responses, None if code == grpc.StatusCode.OK else CallError(code, details, trailing))
