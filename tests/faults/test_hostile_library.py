"""One library holding every hostile file at once (issue 14, fault suite): a clip
whose header claims 2^32-1 seconds, a 13000x13000 PNG, a link to a file outside
the library, a PSD named .jpg and a truncated HEIC, beside ordinary photos. The
scan skips what it must with its reason, with its memory bounded, and the reel of
the window renders from the other media."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
from psd_tools import PSDImage

from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from reels_core.domain import Kind, Span
from reels_core.windows import window_for
from tests.conftest import ROOT, start_stack, stop_stack, subprocess_env, wait_scanned
from tests.faults.helpers import SMALL, WEEK, sha256_of, small_library
from tests.media_fixtures import quadrants, truncate, write_absurd_duration_clip, write_heic, write_photo
from tests.pipeline.conftest import create_and_wait, stream_all

# The scan in a child process, its peak RSS in KiB on stdout: the 13000x13000 PNG
# is 169 M pixels; a decode of it would take over 160 MB at once. The peak is reset
# once the modules are imported (/proc/self/clear_refs): a child's ru_maxrss keeps
# the high-water mark of the forked parent, a test process that may be large.
SCAN_RSS = """
import json, resource, sys
from pathlib import Path
from render_service.media_index import scan_library

def peak_kib():
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    pass
result = scan_library(Path(sys.argv[1]), "UTC")
print(json.dumps({"rss_kib": peak_kib(), "skipped": dict(result.skipped), "items": [m.rel_path for m in result.items]}))
"""
SCAN_RSS_LIMIT_KIB = 160 * 1024


def hostile_library(root: Path, outside: Path) -> dict[str, str]:
    """Write the hostile files; returns the reason each gets at scan (None: indexed)."""
    monday = window_for(Span.WEEK, Kind.RECAP, clock.today("UTC")).ranges[0][0]  # the WEEK RECAP window
    taken = dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
    write_absurd_duration_clip(root / "endless.mp4", taken)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:s=13000x13000",
            "-frames:v",
            "1",
            "-pix_fmt",
            "gray",
            "-compression_level",
            "1",
            str(root / "huge.png"),
        ],
        check=True,
    )
    secret = write_photo(outside / "secret.jpg", taken.replace(tzinfo=None), size=(64, 48))
    (root / "leak.jpg").symlink_to(secret)
    heic = write_heic(root / "cut.heic", quadrants((256, 192)), taken=f"{taken:%Y:%m:%d %H:%M:%S}")
    truncate(heic, 0.5)
    PSDImage.frompil(quadrants((64, 48))).save(root / "layers.jpg")  # psd-tools: Pillow only reads PSD
    return {
        "endless.mp4": "DURATION_INVALID",
        "leak.jpg": "OUTSIDE_LIBRARY",
        "cut.heic": "UNREADABLE",
        "layers.jpg": "FORMAT_MISMATCH",
    }


@pytest.mark.slow
def test_hostile_files_are_skipped_and_the_reel_renders_from_the_rest(tmp_path):
    library = small_library(tmp_path / "lib", photos=4, clip=False)
    expected = hostile_library(library, tmp_path / "outside")

    scan = subprocess.run(
        [sys.executable, "-c", SCAN_RSS, str(library)],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(scan.stdout.strip().splitlines()[-1])
    assert {k: v for k, v in report["skipped"].items() if k in expected} == expected
    assert "huge.png" in report["items"]  # a big picture, not a broken one
    assert report["rss_kib"] < SCAN_RSS_LIMIT_KIB, report["rss_kib"]

    stack = start_stack(tmp_path / "data", libraries=f"lib={library}", with_scripter=False)
    try:
        wait_scanned(stack, "lib")
        lib = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries[0]
        assert {s.relative_path: s.reason for s in lib.skipped} == expected
        job = create_and_wait(stack, **WEEK, options=SMALL)
        assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
        reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
        data, _ = stream_all(stack, job.reel_key)
        assert sha256_of(data) == reel.reel.sha256 and len(data) == reel.reel.size_bytes
    finally:
        stop_stack(stack)
