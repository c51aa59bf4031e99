"""A Live Photo (a HEIC still and the short MOV the phone records with it, same
stem) is one item: the still, with the clip as its motion. A longer video sharing a
photo's name, or a clip with no still, stays a video."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import imageio_ffmpeg

from reels_core.domain import MediaKind
from render_service.media_index import scan_library
from tests.media_fixtures import quadrants, write_heic, write_photo


def _clip(path: Path, seconds: float, codec: str = "libx264") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = ["-tag:v", "hvc1", "-x265-params", "log-level=error"] if codec == "libx265" else []
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=192x144:rate=30", "-t", str(seconds), "-c:v", codec, "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", *extra, "-metadata", "creation_time=2024-06-10T12:00:00Z", str(path)],
        check=True,
        capture_output=True,
    )  # fmt: skip


def test_a_still_and_its_short_clip_are_one_moment(tmp_path):
    write_heic(tmp_path / "DCIM" / "IMG_0001.HEIC", quadrants((96, 64)), taken="2024:06:10 14:00:00")
    _clip(tmp_path / "DCIM" / "IMG_0001.MOV", 2.5, "libx265")  # as an iPhone writes it: HEVC in a MOV
    write_photo(tmp_path / "DCIM" / "IMG_0002.JPG", dt.datetime(2024, 6, 10, 15))
    _clip(tmp_path / "DCIM" / "img_0002.mov", 8.0)  # a real video with the same stem
    _clip(tmp_path / "DCIM" / "IMG_0003.MOV", 2.0)  # a short clip on its own
    _clip(tmp_path / "other" / "IMG_0001.MOV", 2.2)  # same stem, another folder

    result = scan_library(tmp_path, "UTC")
    items = {m.rel_path: m for m in result.items}

    assert sorted(items) == [
        "DCIM/IMG_0001.HEIC",
        "DCIM/IMG_0002.JPG",
        "DCIM/IMG_0003.MOV",
        "DCIM/img_0002.mov",
        "other/IMG_0001.MOV",
    ]
    assert items["DCIM/IMG_0001.HEIC"].motion_rel_path == "DCIM/IMG_0001.MOV"
    assert items["DCIM/IMG_0001.HEIC"].kind == MediaKind.PHOTO
    assert items["DCIM/IMG_0002.JPG"].motion_rel_path is None
    assert items["DCIM/img_0002.mov"].kind == MediaKind.VIDEO
    assert result.skipped == []
