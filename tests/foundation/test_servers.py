"""Health, reflection, graceful stop and the interceptor's log line, through real servers
(validation, error mapping and paging of the servicers: test_servicers_inprocess.py)."""

from __future__ import annotations

import json
import threading
from typing import cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from reels.v1 import reel_admin_service_pb2 as admin_pb2


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
    # The generated stub assigns channel.stream_stream(...) to the method; the
    # types-grpcio-reflection stub types it as binascii.Incomplete, an exception class.
    info = cast(
        "grpc.StreamStreamMultiCallable["
        "reflection_pb2.ServerReflectionRequest, reflection_pb2.ServerReflectionResponse]",
        stub.ServerReflectionInfo,
    )
    responses = info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
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
    assert s.scripter_server is not None  # started with its scripter
    s.scripter_server.stop(0)


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
