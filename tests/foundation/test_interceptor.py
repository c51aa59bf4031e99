"""The interceptor on a bare server: any exception becomes a canonical status with
one ErrorInfo, never UNKNOWN, never a traceback."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from service_kit.errors import FailedPrecondition
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
