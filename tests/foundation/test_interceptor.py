"""The interceptor on a bare server: any exception becomes a canonical status with
one ErrorInfo, never UNKNOWN, never a traceback; and the in-process harness
(tests/inprocess.py) answers exactly what a client of the real server sees."""

from __future__ import annotations

from collections.abc import MutableMapping
from concurrent import futures
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from reels.v1 import reel_service_pb2, reel_service_pb2_grpc
from reels_core.errors import FailedPrecondition, ResourceExhausted
from service_kit.interceptor import ServerInterceptor
from tests.conftest import error_reason
from tests.inprocess import InProcessStub, serve_in_process


def _server(behaviour):
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ServerInterceptor()])
    handler = grpc.method_handlers_generic_handler(
        "t.T",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(behaviour),
            "Stream": grpc.unary_stream_rpc_method_handler(lambda req, ctx: iter([b"a", behaviour(req, ctx)])),
            "Midstream": grpc.unary_stream_rpc_method_handler(lambda req, ctx: _one_then(behaviour, req, ctx)),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, grpc.insecure_channel(f"127.0.0.1:{port}")


def _one_then(behaviour, request, context):
    yield b"a"
    behaviour(request, context)


def _secret_bug(request, context):
    raise ValueError("Grandma's secret note: the traceback must not leak")


def _domain_error(request, context):
    raise FailedPrecondition("NO_MEDIA_IN_WINDOW", "nothing to render")


@pytest.mark.parametrize("method", ["/t.T/Unary", "/t.T/Stream"])
def test_unexpected_exception_is_internal_without_traceback(method):
    server, channel = _server(_secret_bug)
    try:
        call = channel.unary_unary(method) if method.endswith("Unary") else channel.unary_stream(method)
        with pytest.raises(grpc.RpcError) as err:
            result = call(b"x")
            if not isinstance(result, bytes):
                list(result)
        assert err.value.code() == grpc.StatusCode.INTERNAL
        details = err.value.details() or ""
        assert "secret" not in details and "Traceback" not in details
        assert error_reason(err.value) == "INTERNAL"
    finally:
        server.stop(0)


def test_domain_error_maps_to_its_code_and_reason():
    server, channel = _server(_domain_error)
    try:
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary("/t.T/Unary")(b"x")
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(err.value) == "NO_MEDIA_IN_WINDOW"
        assert err.value.details() == "nothing to render"
    finally:
        server.stop(0)


def _echo_stream(request_iterator, context):
    import threading

    yield next(request_iterator)
    ended = threading.Event()
    if context.add_callback(ended.set):  # False: the call has already ended
        ended.wait(10)  # until the client cancels
    yield from request_iterator  # the call is over: this raises RpcError


def _wait_for_line(lines: list[MutableMapping[str, Any]], timeout: float = 10.0) -> MutableMapping[str, Any]:
    """The call's one log line (capture_logs drops the bound contextvars, so the
    test server's single call is found by its event name), polled with a deadline."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in lines if e.get("event") == "rpc"]
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError("no rpc log line")


def test_client_cancel_is_logged_as_cancelled_at_info():
    import threading

    import structlog

    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ServerInterceptor()])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("t.T", {"Echo": grpc.stream_stream_rpc_method_handler(_echo_stream)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    more = threading.Event()

    def requests():
        yield b"first"
        more.wait(10)  # the client stays open until it cancels (like grpcurl's reflection stream)

    try:
        with structlog.testing.capture_logs() as lines:
            call: Any = channel.stream_stream("/t.T/Echo")(requests())
            assert next(call) == b"first"
            call.cancel()
            line = _wait_for_line(lines)
        assert line["code"] == "CANCELLED" and line["log_level"] == "info"
        assert "exc_info" not in line
    finally:
        more.set()
        channel.close()
        server.stop(0)


def test_deadline_expiry_is_logged_with_its_code():
    import threading

    import structlog

    ended = threading.Event()

    def slow(request, context):
        context.add_callback(ended.set)
        ended.wait(10)  # until the caller's deadline ends the call
        raise ValueError("a downstream call failed because the call was over")

    server, channel = _server(slow)
    try:
        with structlog.testing.capture_logs() as lines:
            with pytest.raises(grpc.RpcError) as err:
                channel.unary_unary("/t.T/Unary")(b"x", timeout=0.3)
            line = _wait_for_line(lines)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert line["code"] == "DEADLINE_EXCEEDED" and line["log_level"] == "info"
        assert "exc_info" not in line
    finally:
        server.stop(0)


def _busy_with_metadata(request, context):
    raise ResourceExhausted("DISK_FULL", "no space left for reels", free_mb=12)


def _seen(err: grpc.RpcError) -> tuple:
    """Everything a client can read of a failed call's status."""
    status = rpc_status.from_call(cast(grpc.Call, err))
    assert status is not None
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        assert detail.Unpack(info)
        infos.append((info.reason, info.domain, dict(info.metadata)))
    return err.code(), err.details(), infos


@pytest.mark.parametrize("behaviour", [_domain_error, _secret_bug, _busy_with_metadata])
def test_in_process_calls_see_what_a_client_of_the_server_sees(behaviour):
    server, channel = _server(behaviour)
    try:
        with pytest.raises(grpc.RpcError) as unary_wire:
            channel.unary_unary("/t.T/Unary")(b"x")
        stream_wire = channel.unary_stream("/t.T/Midstream")(b"x")
        assert next(stream_wire) == b"a"
        with pytest.raises(grpc.RpcError) as streamed_wire:
            next(stream_wire)
    finally:
        server.stop(0)

    class Servicer(reel_service_pb2_grpc.ReelServiceServicer):
        def ListReels(self, request, context):  # noqa: N802 (gRPC name)
            return behaviour(request, context)

        def StreamReelVideo(self, request, context):  # noqa: N802 (gRPC name)
            yield reel_service_pb2.StreamReelVideoResponse(data=b"a")
            behaviour(request, context)

    service = reel_service_pb2.DESCRIPTOR.services_by_name["ReelService"]
    stub = InProcessStub(serve_in_process({service: Servicer()}), service)
    with pytest.raises(grpc.RpcError) as unary_in_process:
        stub.ListReels(reel_service_pb2.ListReelsRequest())
    stream_in_process = stub.StreamReelVideo(reel_service_pb2.StreamReelVideoRequest(key="k"))
    assert next(stream_in_process).data == b"a"
    with pytest.raises(grpc.RpcError) as streamed_in_process:
        next(stream_in_process)

    assert _seen(unary_in_process.value) == _seen(unary_wire.value)
    assert _seen(streamed_in_process.value) == _seen(streamed_wire.value)
    assert _seen(unary_wire.value)[0] != grpc.StatusCode.UNKNOWN
