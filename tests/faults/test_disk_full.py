"""Disk full during a render (issue 14, fault suite): the reel store on a tiny
tmpfs the test mounts (root only; skipped with the reason otherwise). The job
fails with LOW_DISK, nothing half-written is left, and with the free-space floor
set, CreateReel answers RESOURCE_EXHAUSTED (LOW_DISK) up front."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import error_reason, start_stack, stop_stack, wait_scanned
from tests.faults.helpers import SMALL, WEEK, small_library
from tests.pipeline.conftest import create_and_wait


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB tmpfs: room for a poster, not for a video."""
    mount = tmp_path / "data" / "reels"
    mount.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_disk_full_mid_render_fails_low_disk_and_leaves_nothing(tmp_path, tiny_disk):
    library = small_library(tmp_path / "lib", photos=4, clip=False)
    stack = start_stack(tmp_path / "data", libraries=f"lib={library}", with_scripter=False, REEL_MIN_FREE_DISK_MB="0")
    try:
        wait_scanned(stack, "lib")
        job = create_and_wait(stack, **WEEK, options=SMALL)
        assert (job.state, job.reason) == (pb2.JOB_STATE_FAILED, "LOW_DISK")
        assert sorted(p.name for p in tiny_disk.iterdir()) == []  # no .tmp, .part or half video
    finally:
        stop_stack(stack)
    stack = start_stack(tmp_path / "data", libraries=f"lib={library}", with_scripter=False, REEL_MIN_FREE_DISK_MB="1")
    try:
        wait_scanned(stack, "lib")
        with pytest.raises(grpc.RpcError) as err:
            stack.reels.CreateReel(pb2.CreateReelRequest(**WEEK, options=SMALL))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(err.value) == "LOW_DISK"
    finally:
        stop_stack(stack)
