from __future__ import annotations

import time
from pathlib import Path

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import Stack

SHORT = common_pb2.RenderOptions(target_duration_seconds=10)


def create_and_wait(stack: Stack, timeout: float = 240, **fields) -> pb2.ReelJob:
    """CreateReel, then follow WatchReelJob to the terminal event."""
    fields.setdefault("options", SHORT)
    job = stack.reels.CreateReel(pb2.CreateReelRequest(**fields)).job
    last = job
    for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=timeout):
        last = item.job
    return last


def stream_all(stack: Stack, key: str, offset: int = 0, limit: int = 0) -> tuple[bytes, list]:
    messages = list(
        stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key, read_offset=offset, read_limit=limit))
    )
    return b"".join(m.data for m in messages), messages


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def reel_files(data_dir: Path) -> list[str]:
    d = data_dir / "reels"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []
