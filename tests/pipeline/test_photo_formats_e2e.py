"""A day of HEIC, AVIF and JPEG photos renders through the real RPCs: the scan counts
them as photos, the reel uses each, and a PSD-or-EPS-named-.jpg is skipped with
FORMAT_MISMATCH in ListLibraries rather than reaching the renderer."""

from __future__ import annotations

import datetime as dt

import av
import pytest
from PIL import ExifTags, Image

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import start_stack, stop_stack, today_utc, wait_scanned
from tests.media_fixtures import quadrants, write_clip, write_heic, write_photo
from tests.pipeline.conftest import create_and_wait, stream_all


@pytest.fixture
def stack(tmp_path):
    day = today_utc() - dt.timedelta(days=1)
    folder = tmp_path / "lib"
    write_heic(folder / "IMG_0001.HEIC", quadrants((400, 300)), taken=f"{day:%Y:%m:%d} 09:00:00", orientation=6)
    write_photo(folder / "b.jpg", dt.datetime.combine(day, dt.time(12)), color=(60, 160, 60))
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"{day:%Y:%m:%d} 15:00:00"  # DateTimeOriginal
    quadrants((400, 300)).save(folder / "c.avif", quality=60, exif=exif.tobytes())
    quadrants((40, 30)).save(folder / "d.jpg", format="EPS")
    write_clip(folder / "IMG_0001.MOV", dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))  # its Live Photo clip
    s = start_stack(tmp_path / "data", libraries=f"lib={folder}", REEL_TIMEZONE="UTC")
    wait_scanned(s, "lib")
    yield s
    stop_stack(s)


def test_heic_and_avif_photos_make_a_reel(stack, tmp_path):
    [lib] = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
    assert (lib.photo_count, lib.video_count) == (3, 0)  # the Live Photo's clip is part of its still
    assert [(s.relative_path, s.reason) for s in lib.skipped] == [("d.jpg", "FORMAT_MISMATCH")]

    job = create_and_wait(
        stack,
        library="lib",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        options=common_pb2.RenderOptions(target_duration_seconds=10, resolution="360p"),
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert sorted(m.relative_path for m in reel.media) == ["IMG_0001.HEIC", "b.jpg", "c.avif"]
    assert list(reel.stats.dropped_media) == []
    sources = {m.relative_path: (m.date_source, m.date_from_mtime) for m in reel.media}
    assert sources == {"IMG_0001.HEIC": ("EXIF", False), "b.jpg": ("EXIF", False), "c.avif": ("EXIF", False)}
    assert dict(lib.date_sources) == {"EXIF": 3}

    data, _ = stream_all(stack, job.reel_key)
    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == reel.stats.frames > 0
