"""One bad shot never fails a reel: a clip that opens (its header is whole) but
whose frames do not decode is dropped while rendering, the reel is rendered from the
rest with the time shared out, and GetReel says which media was dropped and why.
Only when no shot is left does the job fail, with NO_USABLE_MEDIA."""

from __future__ import annotations

import datetime as dt

import av
import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import ReelRequest, Stack, start_stack, stop_stack, today_utc, wait_scanned
from tests.media_fixtures import cut_clip_after_header, write_clip, write_photo
from tests.pipeline.conftest import create_and_wait, stream_all

DAY_RECAP = ReelRequest(
    library="lib",
    span=common_pb2.SPAN_DAY,
    kind=common_pb2.REEL_KIND_RECAP,
    options=common_pb2.RenderOptions(target_duration_seconds=10),
)


def _yesterday(hour: int) -> dt.datetime:
    return dt.datetime.combine(today_utc() - dt.timedelta(days=1), dt.time(hour))


@pytest.fixture
def lib_stack(tmp_path):
    stacks: list[Stack] = []

    def start(folder):
        stack = start_stack(tmp_path / f"data{len(stacks)}", libraries=f"lib={folder}")
        stacks.append(stack)
        wait_scanned(stack, "lib")
        return stack

    yield start
    for stack in stacks:
        stop_stack(stack)


def test_a_clip_that_does_not_decode_is_dropped_and_the_reel_renders(tmp_path, lib_stack):
    folder = tmp_path / "lib"
    write_photo(folder / "a.jpg", _yesterday(9), color=(200, 60, 60))
    broken = write_clip(folder / "b.mp4", _yesterday(11).replace(tzinfo=dt.UTC))
    cut_clip_after_header(broken)
    write_photo(folder / "c.jpg", _yesterday(15), color=(60, 60, 200))
    stack = lib_stack(folder)
    [lib] = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
    assert lib.video_count == 1 and lib.photo_count == 2  # the header is fine: the scan keeps it

    job = create_and_wait(stack, **DAY_RECAP)
    assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    [dropped] = reel.stats.dropped_media
    assert dropped.relative_path == "b.mp4" and dropped.reason == "SHOT_FAILED"
    assert "cannot prepare shot" in dropped.detail or "decode" in dropped.detail
    assert [m.relative_path for m in reel.media] == ["a.jpg", "c.jpg"]
    assert abs(sum(s.duration_seconds for s in reel.script.shots) - 10.0) < 0.01  # time shared out again

    data, _ = stream_all(stack, job.reel_key)
    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert container.duration is not None  # the muxer wrote one
        assert abs(container.duration / av.time_base - 10.0) < 0.5
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == reel.stats.frames == 300


def test_nothing_usable_fails_the_job_with_no_usable_media(tmp_path, lib_stack):
    folder = tmp_path / "lib"
    for n in range(2):
        cut_clip_after_header(write_clip(folder / f"v{n}.mp4", _yesterday(10 + n).replace(tzinfo=dt.UTC)))
    stack = lib_stack(folder)
    job = create_and_wait(stack, **DAY_RECAP)
    assert job.state == pb2.JOB_STATE_FAILED
    assert job.reason == "NO_USABLE_MEDIA"
