"""The reel still renders when the scripter is down or late; cancel stops a render
and removes its temporaries; kill -9 mid-render leaves no visible partial file and
no job stuck RUNNING after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent import futures

import grpc

from reels.v1 import common_pb2, reel_service_pb2_grpc, scripter_service_pb2_grpc
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import ROOT, ReelScope, free_port, start_stack, stop_stack, subprocess_env, wait_scanned
from tests.pipeline.conftest import create_and_wait, reel_files, wait_until

WEEK = ReelScope(library="sample", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP)


def test_scripter_down_falls_back_to_fast_script(tmp_path, sample_library):
    stack = start_stack(tmp_path / "d", libraries=f"sample={sample_library}", with_scripter=False)
    try:
        wait_scanned(stack, "sample")
        job = create_and_wait(stack, **WEEK)
        assert job.state == pb2.JOB_STATE_SUCCEEDED
        assert job.reason == "SCRIPTER_UNAVAILABLE"
        reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
        assert (
            reel.script.fallback_reason == "SCRIPTER_UNAVAILABLE"
            and reel.reel.fallback_reason == "SCRIPTER_UNAVAILABLE"
        )
        assert reel.script.shots
    finally:
        stop_stack(stack)


class _StuckScripter(scripter_service_pb2_grpc.ScripterServiceServicer):
    """Answers nothing until released: the render service must not wait for it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.called = threading.Event()

    def GenerateScript(self, request, context):  # noqa: N802 (gRPC name)
        self.called.set()
        self.release.wait(30)
        context.abort(grpc.StatusCode.UNAVAILABLE, "released")


def test_scripter_late_falls_back_with_timeout_reason(tmp_path, sample_library):
    stuck = _StuckScripter()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    scripter_service_pb2_grpc.add_ScripterServiceServicer_to_server(stuck, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stack = start_stack(
        tmp_path / "d",
        libraries=f"sample={sample_library}",
        with_scripter=False,
        REEL_SCRIPTER_ADDR=f"127.0.0.1:{port}",
        REEL_SCRIPTER_TIMEOUT_S="1",
    )
    try:
        wait_scanned(stack, "sample")
        job = create_and_wait(stack, **WEEK)
        assert stuck.called.is_set()
        assert job.state == pb2.JOB_STATE_SUCCEEDED and job.reason == "SCRIPTER_TIMEOUT"
    finally:
        stuck.release.set()
        stop_stack(stack)
        server.stop(0)


def test_cancel_stops_render_and_removes_temporaries(tmp_path, sample_library):
    data = tmp_path / "d"
    stack = start_stack(data, libraries=f"sample={sample_library}")
    try:
        wait_scanned(stack, "sample")
        job = stack.reels.CreateReel(
            pb2.CreateReelRequest(**WEEK, options=common_pb2.RenderOptions(target_duration_seconds=60))
        ).job
        for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id)):
            if item.event.stage == "render" and item.event.progress > 0.25:
                break
        assert any(name.endswith(".tmp") for name in reel_files(data))  # mid-render
        cancelled = stack.reels.CancelReelJob(pb2.CancelReelJobRequest(job_id=job.job_id)).job
        assert cancelled.state == pb2.JOB_STATE_CANCELLED
        events = [i.event for i in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id))]
        assert events[-1].state == pb2.JOB_STATE_CANCELLED
        wait_until(lambda: not any(n.endswith(".tmp") for n in reel_files(data)), 30, "temporaries removed")
        assert not any(n.endswith(".mp4") for n in reel_files(data))
        final = stack.reels.GetReelJob(pb2.GetReelJobRequest(job_id=job.job_id)).job
        assert final.state == pb2.JOB_STATE_CANCELLED and not final.reel_key
    finally:
        stop_stack(stack)


def _start_render(env, log_path):
    return subprocess.Popen(
        [sys.executable, "-m", "render_service"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "a"),
        stderr=subprocess.STDOUT,
    )


def test_kill_9_mid_render_leaves_no_partial_file_and_no_running_job(tmp_path, sample_library):
    data = tmp_path / "d"
    port = free_port()
    env = subprocess_env(
        REEL_DATA_DIR=str(data),
        REEL_LIBRARIES=f"sample={sample_library}",
        REEL_RENDER_ADDR=f"127.0.0.1:{port}",
        REEL_SCRIPTER_ADDR=f"127.0.0.1:{free_port()}",
        REEL_CACHE_SWEEP_ENABLED="0",
    )
    proc = _start_render(env, tmp_path / "render.log")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = reel_service_pb2_grpc.ReelServiceStub(channel)
    try:
        grpc.channel_ready_future(channel).result(timeout=60)
        job = wait_until(lambda: _try_create(stub), 60, "library scanned")
        for item in stub.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id)):
            if item.event.stage == "render" and item.event.progress > 0.3:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        names = reel_files(data)
        assert not any(n.endswith(".mp4") for n in names), names  # only *.tmp, never a visible mp4
        proc = _start_render(env, tmp_path / "render.log")
        after = stub.GetReelJob(pb2.GetReelJobRequest(job_id=job.job_id), timeout=60, wait_for_ready=True).job
        assert after.state == pb2.JOB_STATE_FAILED and after.reason == "INTERRUPTED"
    finally:
        channel.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def _try_create(stub):
    try:
        return stub.CreateReel(
            pb2.CreateReelRequest(**WEEK, options=common_pb2.RenderOptions(target_duration_seconds=60)), timeout=10
        ).job
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.FAILED_PRECONDITION:  # not scanned yet
            return None
        raise


def test_graceful_stop_mid_render_requeues_and_restart_finishes(tmp_path, sample_library):
    data = tmp_path / "d"
    stack = start_stack(data, libraries=f"sample={sample_library}")
    wait_scanned(stack, "sample")
    job = stack.reels.CreateReel(
        pb2.CreateReelRequest(**WEEK, options=common_pb2.RenderOptions(target_duration_seconds=30))
    ).job
    for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id)):
        if item.event.stage == "render" and item.event.progress > 0.2:
            break
    stop_stack(stack)  # SIGTERM path: health NOT_SERVING, grace, workers stop
    assert not any(n.endswith(".mp4") or n.endswith(".tmp") for n in reel_files(data))
    again = start_stack(data, libraries=f"sample={sample_library}")
    try:
        final = None
        for item in again.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=240):
            final = item
        stages = [i.event.stage for i in again.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id))]
        assert "requeued" in stages
        assert final is not None  # the watch sent at least one message
        assert final.job.state == pb2.JOB_STATE_SUCCEEDED and final.job.reel_key
    finally:
        stop_stack(again)
