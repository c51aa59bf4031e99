"""Window selection through CreateReel on a tiny library in Europe/Paris: the
library's time zone decides the day, 29 February falls back, and a photo that no
longer decodes is dropped while the reel still renders."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.type import date_pb2

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from tests.conftest import error_reason, start_stack, stop_stack, wait_scanned
from tests.media_fixtures import truncate, write_photo
from tests.pipeline.conftest import create_and_wait


def d(day: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


@pytest.fixture(scope="module")
def paris(tmp_path_factory):
    root = tmp_path_factory.mktemp("paris")
    lib = root / "lib"
    # 00:30 in Paris on 14 June is 22:30 UTC on 13 June.
    write_photo(lib / "night.jpg", dt.datetime(2025, 6, 14, 0, 30), offset="+02:00", color=(30, 40, 90))
    write_photo(lib / "evening.jpg", dt.datetime(2025, 6, 13, 20, 0), offset="+02:00", color=(200, 120, 40))
    write_photo(lib / "noon.jpg", dt.datetime(2025, 6, 14, 12, 0), offset="+02:00", color=(60, 160, 60))
    # 28 Feb of a year without 29 Feb, for an anchor on 29 Feb.
    write_photo(lib / "feb.jpg", dt.datetime(2023, 2, 28, 15, 0), color=(150, 150, 220))
    # A photo indexed fine, then truncated: it fails only at decode time.
    write_photo(lib / "broken.jpg", dt.datetime(2025, 6, 14, 18, 0), offset="+02:00", size=(1600, 1200))
    # The anchors below are fixed dates: the services' clock is pinned after them.
    with clock.pinned(dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)):
        stack = start_stack(root / "data", libraries=f"paris={lib}", REEL_TIMEZONE="Europe/Paris")
        wait_scanned(stack, "paris")
        truncate(lib / "broken.jpg")
        yield stack
        stop_stack(stack)


def media_of(stack, job) -> list[str]:
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    return [m.relative_path for m in reel.media]


def test_photo_at_0030_local_belongs_to_that_local_day(paris):
    job = create_and_wait(
        paris,
        library="paris",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        anchor_date=d(dt.date(2025, 6, 15)),
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED, job.message
    used = media_of(paris, job)
    assert "night.jpg" in used and "noon.jpg" in used and "evening.jpg" not in used
    # The undecodable photo was dropped and counted; the reel rendered anyway.
    assert "broken.jpg" not in used
    assert paris.reels.GetReel(pb2.GetReelRequest(key=job.reel_key)).stats.skipped_media >= 1


def test_the_day_before_excludes_it_and_9_16_is_portrait(paris):
    job = create_and_wait(
        paris,
        library="paris",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        anchor_date=d(dt.date(2025, 6, 14)),
        options=common_pb2.RenderOptions(target_duration_seconds=10, aspect="9:16"),
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED
    assert media_of(paris, job) == ["evening.jpg"]
    stats = paris.reels.GetReel(pb2.GetReelRequest(key=job.reel_key)).stats
    assert (stats.width, stats.height) == (720, 1280)


def test_on_this_day_29_february_falls_back_to_28(paris):
    job = create_and_wait(
        paris,
        library="paris",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_ON_THIS_DAY,
        anchor_date=d(dt.date(2024, 2, 29)),
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED
    assert media_of(paris, job) == ["feb.jpg"]


def test_window_without_media_is_failed_precondition(paris):
    with pytest.raises(grpc.RpcError) as err:
        paris.reels.CreateReel(
            pb2.CreateReelRequest(
                library="paris",
                span=common_pb2.SPAN_DAY,
                kind=common_pb2.REEL_KIND_RECAP,
                anchor_date=d(dt.date(2025, 6, 20)),
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "NO_MEDIA_IN_WINDOW"
