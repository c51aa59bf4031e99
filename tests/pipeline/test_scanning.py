"""Never wrong while starting: before a library's first scan is over, an empty
window is not answered NO_MEDIA_IN_WINDOW. The request waits for the scan within its
deadline, or answers UNAVAILABLE (LIBRARY_SCANNING); ListLibraries says a scan runs."""

from __future__ import annotations

import threading
from concurrent import futures

import grpc
import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from render_service import indexing
from tests.conftest import ReelRequest, error_reason, start_stack, stop_stack, wait_scanned
from tests.pipeline.conftest import SHORT, wait_until

WEEK = ReelRequest(library="sample", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP, options=SHORT)


@pytest.fixture
def held_scan(monkeypatch):
    """The start-up scan blocks until `release` is set (a slow NAS, a 100k-file folder)."""
    release, started = threading.Event(), threading.Event()
    real = indexing.index_library

    def slow_scan(*args, **kwargs):
        started.set()
        assert release.wait(60), "the test never released the scan"
        return real(*args, **kwargs)

    monkeypatch.setattr(indexing, "index_library", slow_scan)
    yield started, release
    release.set()


def _library(stack) -> admin_pb2.Library:
    [lib] = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
    return lib


def test_requests_during_the_first_scan_wait_or_say_scanning(tmp_path, sample_library, held_scan):
    started, release = held_scan
    stack = start_stack(tmp_path / "data", libraries=f"sample={sample_library}")
    try:
        assert started.wait(30)
        lib = _library(stack)
        assert lib.scanning and not lib.indexed and lib.media_count == 0

        # A short deadline: told to retry, never "no media".
        with pytest.raises(grpc.RpcError) as err:
            stack.reels.CreateReel(pb2.CreateReelRequest(**WEEK), timeout=1.0)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_reason(err.value) == "LIBRARY_SCANNING"

        # RunPregenNow records the scope as waiting for the scan, not as empty.
        resp = stack.admin.RunPregenNow(
            admin_pb2.RunPregenNowRequest(
                spans=[common_pb2.SPAN_WEEK], kinds=[common_pb2.REEL_KIND_RECAP], dry_run=True
            )
        )
        assert [o.reason for o in resp.outcomes] == ["LIBRARY_SCANNING"]

        # A longer deadline: the call waits for the scan and then succeeds.
        with futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(stack.reels.CreateReel, pb2.CreateReelRequest(**WEEK), timeout=30)
            wait_until(lambda: _library(stack).scanning, what="scan still running")
            assert not pending.done()
            release.set()
            job = pending.result(timeout=30).job
        assert job.job_id and job.state in (pb2.JOB_STATE_QUEUED, pb2.JOB_STATE_RUNNING, pb2.JOB_STATE_SUCCEEDED)
        wait_scanned(stack, "sample")
        lib = _library(stack)
        assert lib.indexed and not lib.scanning and lib.media_count > 0
    finally:
        release.set()
        stop_stack(stack)


def test_an_empty_window_after_the_scan_is_no_media(stack):
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.CreateReel(
            pb2.CreateReelRequest(
                library="sample",
                span=common_pb2.SPAN_DAY,
                kind=common_pb2.REEL_KIND_RECAP,
                anchor_date={"year": 1990, "month": 1, "day": 1},
            ),
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "NO_MEDIA_IN_WINDOW"
