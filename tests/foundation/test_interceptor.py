"""The interceptor on a bare server: any exception becomes a canonical status with
one ErrorInfo, never UNKNOWN, never a traceback."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from reels_core.errors import FailedPrecondition
from service_kit.interceptor import ServerInterceptor
from tests.conftest import error_reason


def _server(behaviour):
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ServerInterceptor()])
    handler = grpc.method_handlers_generic_handler(
        "t.T",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(behaviour),
            "Stream": grpc.unary_stream_rpc_method_handler(lambda req, ctx: iter([b"a", behaviour(req, ctx)])),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, grpc.insecure_channel(f"127.0.0.1:{port}")


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
        assert "secret" not in err.value.details() and "Traceback" not in err.value.details()
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
    for request in request_iterator:  # the call is over: this raises RpcError
        yield request


def _wait_for_line(lines: list[dict], timeout: float = 10.0) -> dict:
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
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "t.T", {"Echo": grpc.stream_stream_rpc_method_handler(_echo_stream)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    more = threading.Event()

    def requests():
        yield b"first"
        more.wait(10)  # the client stays open until it cancels (like grpcurl's reflection stream)

    try:
        with structlog.testing.capture_logs() as lines:
            call = channel.stream_stream("/t.T/Echo")(requests())
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
