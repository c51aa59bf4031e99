"""Health, reflection, the interceptor's statuses and log lines, through real servers."""

from __future__ import annotations

import json
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from reels.v1 import common_pb2, reel_admin_service_pb2 as admin_pb2, reel_service_pb2 as pb2
from tests.conftest import error_reason


def test_health_overall_and_per_service(stack):
    health = health_pb2_grpc.HealthStub(stack.channel)
    for service in ("", "reels.v1.ReelService", "reels.v1.ReelAdminService"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    scripter_channel = grpc.insecure_channel(f"127.0.0.1:{stack.scripter_port}")
    resp = health_pb2_grpc.HealthStub(scripter_channel).Check(
        health_pb2.HealthCheckRequest(service="reels.v1.ScripterService")
    )
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as err:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_services(stack):
    stub = reflection_pb2_grpc.ServerReflectionStub(stack.channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"reels.v1.ReelService", "reels.v1.ReelAdminService", "grpc.health.v1.Health"} <= names


def test_health_goes_not_serving_on_stop(tmp_path, sample_library):
    from tests.conftest import start_stack

    s = start_stack(tmp_path / "d", libraries=f"sample={sample_library}")
    health = health_pb2_grpc.HealthStub(s.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    stopper = threading.Thread(target=s.render_server.stop, args=(2,))
    stopper.start()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    stopper.join()
    s.scripter_server.stop(0)


@pytest.mark.parametrize(
    "library, code, reason",
    [
        ("Bad Key!", grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("x" * 65, grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("", grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("nosuchlib", grpc.StatusCode.NOT_FOUND, "LIBRARY_NOT_FOUND"),
    ],
)
def test_library_key_errors(stack, library, code, reason):
    with pytest.raises(grpc.RpcError) as err:
        stack.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library=library))
    assert err.value.code() == code
    assert error_reason(err.value) == reason


def test_library_key_is_normalised(stack):
    resp = stack.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library="  SAMPLE "))
    assert resp.library.key == "sample"


def test_unspecified_enum_is_invalid_argument(stack):
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library="sample", kind=common_pb2.REEL_KIND_RECAP))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "SPAN_INVALID"
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY))
    assert error_reason(err.value) == "KIND_INVALID"


def test_page_size_negative_and_huge(stack):
    with pytest.raises(grpc.RpcError) as err:
        stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=-1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "PAGE_SIZE_INVALID"
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.ListReels(pb2.ListReelsRequest(page_size=-5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    resp = stack.reels.ListReels(pb2.ListReelsRequest(page_size=2_000_000_000))
    assert resp.next_page_token == ""
    libs = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=2_000_000_000))
    assert [lib.key for lib in libs.libraries] == ["sample"]


def test_bad_page_token(stack):
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.ListReels(pb2.ListReelsRequest(page_token="garbage"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "PAGE_TOKEN_INVALID"


def test_one_json_log_line_per_call(stack, capsys):
    capsys.readouterr()
    stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest(), metadata=(("x-request-id", "req-123"),))
    with pytest.raises(grpc.RpcError):
        stack.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library="nosuchlib"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    calls = [entry for entry in lines if entry.get("event") == "rpc"]
    ok = [c for c in calls if c["rpc"] == "/reels.v1.ReelAdminService/ListLibraries"]
    assert ok and ok[-1]["request_id"] == "req-123" and ok[-1]["code"] == "OK"
    assert "duration_ms" in ok[-1] and ok[-1]["peer"]
    failed = [c for c in calls if c["rpc"] == "/reels.v1.ReelAdminService/RescanLibrary"]
    assert failed[-1]["code"] == "NOT_FOUND" and failed[-1]["reason"] == "LIBRARY_NOT_FOUND"
    assert failed[-1]["request_id"]  # generated when not sent
