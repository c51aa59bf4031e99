"""S3 errors during upload and stream (issue 14, fault suite): the reel store is
moto's S3 server (tests/s3_fixtures.py) behind a loopback proxy that can drop
every connection. An upload that fails after botocore's retries fails the job
cleanly (STORE_UNAVAILABLE, no video visible); a stream that fails answers
UNAVAILABLE and resumes from its offset, with the reel's sha256 in the end."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import grpc
import pytest

from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import error_reason, start_stack, stop_stack, wait_scanned
from tests.faults.helpers import SMALL, WEEK, sha256_of, small_library
from tests.pipeline.conftest import create_and_wait, stream_all
from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401  # fixtures, used by name


class DroppingProxy:
    """TCP proxy to ``upstream``; while ``dropping``, every connection (new and
    open) is reset."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit("//", 1)[-1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.dropping = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self, on: bool) -> None:
        self.dropping = on
        if on:
            with self._lock:
                for sock in list(self._open):
                    _reset(sock)
                self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.dropping:
                _reset(client)
                continue
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        self.drop(True)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees a connection reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


@pytest.fixture
def proxy(s3_env: str) -> Iterator[DroppingProxy]:  # noqa: F811  # the fixture
    p = DroppingProxy(s3_env)
    yield p
    p.close()


@pytest.mark.slow
def test_s3_dropped_during_upload_and_stream(tmp_path, s3_bucket, proxy):  # noqa: F811
    library = small_library(tmp_path / "lib", photos=4, clip=False)
    stack = start_stack(
        tmp_path / "data",
        libraries=f"lib={library}",
        with_scripter=False,
        REEL_BLOB_URL=s3_bucket.url(),
        REEL_S3_ENDPOINT_URL=proxy.url,
    )
    try:
        wait_scanned(stack, "lib")
        job = create_and_wait(stack, **WEEK, options=SMALL)
        assert job.state == pb2.JOB_STATE_SUCCEEDED
        reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key)).reel

        # A stream: the first half, then the store drops, then resume from the offset.
        half = reel.size_bytes // 2
        first, _ = stream_all(stack, job.reel_key, 0, half)
        proxy.drop(True)
        with pytest.raises(grpc.RpcError) as err:
            stream_all(stack, job.reel_key, half)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_reason(err.value) == "STORE_UNAVAILABLE"
        proxy.drop(False)
        rest, _ = stream_all(stack, job.reel_key, half)
        assert sha256_of(first + rest) == reel.sha256

        # An upload: the store drops from the render on; the job fails cleanly.
        second = stack.reels.CreateReel(pb2.CreateReelRequest(**WEEK, options=SMALL)).job
        for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=second.job_id), timeout=120):
            if item.event.stage == "render":
                proxy.drop(True)
            last = item.job
        proxy.drop(False)
        assert (last.state, last.reason) == (pb2.JOB_STATE_FAILED, "STORE_UNAVAILABLE")
        assert "s3" not in last.message.lower()
        assert not [k for k in s3_bucket.keys() if k.endswith(".mp4") and job.reel_key not in k]
    finally:
        proxy.drop(False)
        stop_stack(stack)
