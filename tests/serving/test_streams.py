"""StreamReelVideo and the watches on the aio server: no thread held per stream,
limits per server and per peer with their reasons, the idle timeout, ranges, and a
cancelled stream freeing its file at once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reels.v1 import reel_service_pb2 as pb2
from reels_core.domain import Kind, Mode, Span
from render_service.jobs import JobRequest
from render_service.sidecar import RenderChoice
from tests.conftest import Stack, error_reason, start_stack, stop_stack, today_utc
from tests.serving.helpers import PlacedReel, place_reel

SIZE = 1 << 20
# Larger than a connection's flow-control windows (they grow to several MB on
# loopback), so a stream whose reader pauses is still open after its first message.
BIG = 32 << 20


def _stack(tmp_path: Path, size: int = BIG, **env: str) -> tuple[Stack, PlacedReel]:
    stack = start_stack(tmp_path / "data", with_scripter=False, REEL_STREAM_CHUNK_KIB="64", **env)
    reel = place_reel(stack.app.engine, stack.app.store, tmp_path, "t-reel", size, today_utc())
    return stack, reel


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Stack, PlacedReel]]:
    stack, reel = _stack(tmp_path, SIZE)
    yield stack, reel
    stop_stack(stack)


def _fds_on(path: Path) -> int:
    """How many of this process's descriptors are open on `path`."""
    target = str(path.resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


def _poll(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _read(stack: Stack, key: str, offset: int = 0, limit: int = 0) -> bytes:
    msgs = list(stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key, read_offset=offset, read_limit=limit)))
    return b"".join(m.data for m in msgs)


def test_ranges_over_the_wire(served):
    stack, reel = served
    assert _read(stack, reel.key) == reel.data  # limit 0: to the end
    assert _read(stack, reel.key, offset=1000, limit=70_000) == reel.data[1000:71_000]
    assert _read(stack, reel.key, offset=SIZE) == b""
    first = next(iter(stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key))))
    assert (first.size_bytes, first.sha256, first.content_type) == (SIZE, reel.sha256, "video/mp4")
    cases = [
        ({"read_offset": SIZE + 1}, grpc.StatusCode.OUT_OF_RANGE, "READ_OFFSET_PAST_END"),
        ({"read_offset": -1}, grpc.StatusCode.INVALID_ARGUMENT, "READ_OFFSET_INVALID"),
        ({"read_limit": -5}, grpc.StatusCode.INVALID_ARGUMENT, "READ_LIMIT_INVALID"),
    ]
    for fields, code, reason in cases:
        with pytest.raises(grpc.RpcError) as err:
            list(stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key, **fields)))
        assert (err.value.code(), error_reason(err.value)) == (code, reason)


def test_a_thousand_cancelled_streams_leave_no_open_file(served):
    stack, _small = served
    reel = place_reel(stack.app.engine, stack.app.store, Path(), "t-big", BIG, today_utc())
    path = Path(stack.settings.reel_dir) / reel.video_name
    held = stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key))
    next(held)
    assert _fds_on(path) == 1  # an open stream holds its file: the check below can fail
    held.cancel()
    for _ in range(1000):
        call = stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key))
        next(call)
        call.cancel()
    limits = stack.render_server.running.limits
    assert _poll(lambda: _fds_on(path) == 0 and limits.open_count("streams") == 0), (
        f"{_fds_on(path)} descriptors and {limits.open_count('streams')} streams left open"
    )


def test_streams_hold_no_thread(tmp_path):
    """40 streams stay open (their readers paused) on a server with 8 blocking
    threads, and every one got its first chunk: a thread-per-stream server could
    not; health still answers."""
    stack, reel = _stack(tmp_path, REEL_GRPC_MAX_WORKERS="8")
    try:
        calls = [stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key)) for _ in range(40)]
        firsts = [next(call) for call in calls]
        assert all(m.size_bytes == BIG for m in firsts)
        assert stack.render_server.running.limits.open_count("streams") == 40
        health = health_pb2_grpc.HealthStub(stack.channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
        assert b"".join(m.data for m in calls[0]) == reel.data[len(firsts[0].data) :]  # still streaming
        for call in calls:
            call.cancel()
    finally:
        stop_stack(stack)


def test_stream_limits_per_peer_and_per_server(tmp_path):
    stack, reel = _stack(tmp_path, REEL_MAX_STREAMS_PER_PEER="2", REEL_MAX_STREAMS="3")
    try:
        held = [stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key)) for _ in range(2)]
        for call in held:
            next(call)
        with pytest.raises(grpc.RpcError) as err:
            next(stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key)))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(err.value) == "STREAMS_PER_PEER_EXCEEDED"
        held[0].cancel()
        limits = stack.render_server.running.limits
        assert _poll(lambda: limits.open_count("streams") == 1)
        assert _read(stack, reel.key) == reel.data  # a slot is free again
    finally:
        stop_stack(stack)
    # Per server: the limit counts every peer (here the one peer, under its own limit).
    stack, reel = _stack(tmp_path / "b", REEL_MAX_STREAMS="1")
    try:
        held_one = stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key))
        next(held_one)
        with pytest.raises(grpc.RpcError) as err:
            next(stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key)))
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "STREAMS_EXCEEDED")
        held_one.cancel()
    finally:
        stop_stack(stack)


def test_health_watches_are_limited_without_a_token(tmp_path):
    """Health needs no token, so its watches count against the watch limits."""
    stack, _reel = _stack(tmp_path, SIZE, REEL_MAX_WATCHES_PER_PEER="2", REEL_AUTH_TOKEN="s3cret")
    try:
        health = health_pb2_grpc.HealthStub(stack.channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(2)]
        assert all(next(w).status == health_pb2.HealthCheckResponse.SERVING for w in watches)
        with pytest.raises(grpc.RpcError) as err:
            next(health.Watch(health_pb2.HealthCheckRequest()))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(err.value) == "WATCHES_PER_PEER_EXCEEDED"
        assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
        for w in watches:
            w.cancel()
    finally:
        stop_stack(stack)


def test_a_reader_that_stops_reading_is_cut_after_the_idle_timeout(tmp_path):
    """32 MB, more than the connection's flow-control windows: the server's writes
    block, and after REEL_STREAM_IDLE_TIMEOUT_S the call ends with its reason and
    frees its slot and file while the client still holds it."""
    stack = start_stack(
        tmp_path / "data", with_scripter=False, REEL_STREAM_CHUNK_KIB="64", REEL_STREAM_IDLE_TIMEOUT_S="0.3"
    )
    try:
        reel = place_reel(stack.app.engine, stack.app.store, tmp_path, "big", 32 << 20, today_utc())
        path = Path(stack.settings.reel_dir) / reel.video_name
        call = stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=reel.key))
        next(call)
        limits = stack.render_server.running.limits
        assert _poll(lambda: limits.open_count("streams") == 0 and _fds_on(path) == 0)
        with pytest.raises(grpc.RpcError) as err:
            for _msg in call:
                pass
        assert (err.value.code(), error_reason(err.value)) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "STREAM_IDLE_TIMEOUT",
        )
    finally:
        stop_stack(stack)


def test_watch_of_a_queued_job_holds_no_thread_and_ends_on_cancel(tmp_path):
    """WatchReelJob replays the stored event, then waits on the loop (no worker
    runs in this stack's job: it stays queued); CancelReelJob ends it."""
    stack, _reel = _stack(tmp_path, SIZE, REEL_GRPC_MAX_WORKERS="8")
    try:
        stack.app.runner.stop(0)  # no worker: the job stays QUEUED until cancelled
        request = JobRequest("sample", Span.DAY, Kind.RECAP, today_utc(), Mode.FAST, RenderChoice())
        job, _created = stack.app.runner.submit(request)
        watches = [stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.id)) for _ in range(20)]
        firsts = [next(w) for w in watches]
        assert all(f.event.state == pb2.JOB_STATE_QUEUED for f in firsts)
        assert stack.render_server.running.limits.open_count("watches") == 20
        done = threading.Event()
        ends: list[int] = []

        def drain() -> None:
            ends.extend(m.event.state for m in watches[0])
            done.set()

        threading.Thread(target=drain, daemon=True).start()
        stack.reels.CancelReelJob(pb2.CancelReelJobRequest(job_id=job.id))
        assert done.wait(10) and ends[-1] == pb2.JOB_STATE_CANCELLED
        for w in watches:
            w.cancel()
    finally:
        stop_stack(stack)
