"""The calendar sweep: the sample library, built for an anchor on a date that breaks
things, renders every span x kind window on that day, and the validity gate serves
each reel, with the services' clock pinned there (``reels_core.clock.pinned``) and
the library in that zone.

Anchors: 1 Jan, 29 Feb 2028, 1 Mar (first days of a month), 31 Dec, both DST-change
days of Europe/Paris, the day after America/Santiago skipped midnight, and
Pacific/Kiritimati (UTC+14). A window may only fail with a documented reason; the
sample is laid out so that none does.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from tests.conftest import ROOT, start_stack, stop_stack, wait_scanned
from tests.pipeline.conftest import create_and_wait

pytestmark = pytest.mark.slow

ANCHORS = [
    ("new-year", dt.date(2027, 1, 1), "UTC"),
    ("leap-day", dt.date(2028, 2, 29), "UTC"),
    ("first-of-march", dt.date(2027, 3, 1), "Europe/Paris"),
    ("new-years-eve", dt.date(2026, 12, 31), "UTC"),
    ("paris-spring-forward", dt.date(2027, 3, 28), "Europe/Paris"),
    ("paris-fall-back", dt.date(2027, 10, 31), "Europe/Paris"),
    ("santiago-no-midnight", dt.date(2026, 9, 7), "America/Santiago"),  # 6 Sep 2026 began at 01:00
    ("kiritimati", dt.date(2027, 1, 1), "Pacific/Kiritimati"),
]
SPANS = [common_pb2.SPAN_DAY, common_pb2.SPAN_WEEK, common_pb2.SPAN_MONTH]
KINDS = [common_pb2.REEL_KIND_RECAP, common_pb2.REEL_KIND_ON_THIS_DAY]
SCOPES = [(span, kind) for span in SPANS for kind in KINDS]
# What a scope of the sample may end with on any date; anything else fails the test.
DOCUMENTED = {"RENDERED"}
PREVIEW = common_pb2.RenderOptions(resolution="360p", target_duration_seconds=10)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[dt.date, Path]:
    """One sample library per anchor date, built side by side (4 s each)."""
    root = tmp_path_factory.mktemp("sweep")
    days = sorted({day for _, day, _ in ANCHORS})
    procs = {
        day: subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_sample.py"),
                "--data-dir",
                str(root / day.isoformat()),
                "--today",
                day.isoformat(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for day in days
    }
    for proc in procs.values():
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()[-2000:]
    return {day: root / day.isoformat() / "sample-library" for day in days}


@pytest.mark.parametrize("name, anchor, zone", ANCHORS, ids=[a[0] for a in ANCHORS])
def test_every_window_renders_and_is_served(name, anchor, zone, samples, tmp_path):
    noon = dt.datetime.combine(anchor, dt.time(12), tzinfo=ZoneInfo(zone))
    with clock.pinned(noon):
        assert clock.today(zone) == anchor
        stack = start_stack(tmp_path / "data", libraries=f"sample={samples[anchor]}", REEL_TIMEZONE=zone)
        try:
            wait_scanned(stack, "sample")
            # An on-demand reel with no anchor is today's; its options are captured and
            # replayed by the pre-generation below.
            job = create_and_wait(
                stack, library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP, options=PREVIEW
            )
            assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
            assert (job.anchor_date.year, job.anchor_date.month, job.anchor_date.day) == (
                anchor.year,
                anchor.month,
                anchor.day,
            )

            resp = stack.admin.RunPregenNow(admin_pb2.RunPregenNowRequest(spans=SPANS, kinds=KINDS), timeout=600)
            outcomes = {(o.span, o.kind): o for o in resp.outcomes}
            assert set(outcomes) == set(SCOPES)
            bad = {
                common_pb2.Span.Name(s) + "/" + common_pb2.ReelKind.Name(k): (o.outcome, o.reason, o.message)
                for (s, k), o in outcomes.items()
                if o.outcome not in DOCUMENTED
            }
            assert not bad, f"{name}: {bad}"

            for (span, kind), outcome in outcomes.items():
                reel = stack.reels.GetPrecomputedReel(
                    pb2.GetPrecomputedReelRequest(library="sample", span=span, kind=kind)
                ).reel
                assert reel.key == outcome.reel_key
                assert reel.valid_until.ToDatetime(tzinfo=dt.UTC) > clock.now()
                info = stack.reels.GetReel(pb2.GetReelRequest(key=reel.key))
                assert info.stats.width == 640 and info.stats.frames == 300
                assert not info.stats.dropped_media
                assert info.media, "a reel of no media"
                for m in info.media:  # every shot lies in the window, in the library's zone
                    local = m.taken_at.ToDatetime(tzinfo=dt.UTC).astimezone(ZoneInfo(zone)).date()
                    assert any(_date(r.start_date) <= local < _date(r.end_date) for r in reel.window.ranges), (
                        name,
                        common_pb2.Span.Name(span),
                        common_pb2.ReelKind.Name(kind),
                        m.relative_path,
                        local,
                    )
        finally:
            stop_stack(stack)


def _date(d) -> dt.date:
    return dt.date(d.year, d.month, d.day)
