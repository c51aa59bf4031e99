"""The learning loop through the real servers: RateReel stores ratings, the
consolidation pass distils them into the library's preferences (a dry run changes
nothing), the distillate steers style choice while still exploring, explicit options
win, and the next pre-generated reel's script request carries the distillate.

One module-scoped stack on a tiny library; four renders."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import grpc
import pytest

from ledger import feedback as feedback_dao
from ledger.db import session_scope
from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import wire
from reels_core.domain import MOODS, MUSIC_STYLES, Candidate, Kind, MediaKind, Mode, ScriptRequest, Span
from reels_core.fast_script import choose_style, fast_script
from reels_core.windows import window_for
from render_service.feedback import COMMENT_MAX_CHARS
from tests.conftest import Stack, error_reason, start_stack, stop_stack, wait_scanned
from tests.loops.helpers import DAY, RECAP, add_photos, pb_date, pregen, today_utc

LIB = "learn"
A = ("energetic", "electronic")  # rated BAD by ten raters
B = ("calm", "piano")  # rated GOOD by ten raters
RATERS = [f"rater-{i}" for i in range(10)]
TODAY = today_utc()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("learning")
    add_photos(root / "library", [TODAY - dt.timedelta(days=1)] * 2)
    s = start_stack(root / "data", libraries=f"{LIB}={root / 'library'}", REEL_TARGET_DURATION_S="10")
    wait_scanned(s, LIB)
    yield s
    stop_stack(s)


def create_and_wait(stack: Stack, mood: str, music_style: str, request_id: str) -> pb2.ReelJob:
    options = common_pb2.RenderOptions(mood=mood, music_style=music_style, target_duration_seconds=10)
    job = stack.reels.CreateReel(
        pb2.CreateReelRequest(
            library=LIB, span=DAY, kind=RECAP, anchor_date=pb_date(TODAY), options=options, request_id=request_id
        )
    ).job
    last = job
    for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=120):
        last = item.job
    assert last.state == pb2.JOB_STATE_SUCCEEDED, (last.reason, last.message)
    return last


@pytest.fixture(scope="module")
def styled(stack: Stack) -> dict[tuple[str, str], str]:
    """Two on-demand reels in explicit styles A and B: style -> reel key."""
    return {style: create_and_wait(stack, *style, request_id=f"style-{style[0]}").reel_key for style in (A, B)}


def rate(stack: Stack, key: str, rating: pb2.Rating, rater: str, comment: str = "", reasons=()) -> pb2.RateReelResponse:
    return stack.reels.RateReel(
        pb2.RateReelRequest(key=key, rating=rating, rater=rater, comment=comment, reasons=list(reasons))
    )


def feedback_count(stack: Stack) -> int:
    return stack.reels.GetPreferences(pb2.GetPreferencesRequest(library=LIB)).feedback_count


def test_rate_reel_validates_replaces_and_caps(stack: Stack, styled):
    a = styled[A]
    with pytest.raises(grpc.RpcError) as missing:
        rate(stack, "learn-day-recap-20200101-00000000", pb2.RATING_GOOD, "rater-0")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(missing.value) == "REEL_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as unspecified:
        rate(stack, a, pb2.RATING_UNSPECIFIED, "rater-0")
    assert unspecified.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(unspecified.value) == "RATING_INVALID"

    rate(stack, a, pb2.RATING_GOOD, "rater-0")
    count = feedback_count(stack)
    second = rate(stack, a, pb2.RATING_BAD, "rater-0", reasons=["music"])
    assert second.replaced and feedback_count(stack) == count

    long = "x" * (COMMENT_MAX_CHARS * 5)
    rate(stack, a, pb2.RATING_BAD, "rater-1", comment=long)
    with session_scope(stack.app.engine) as session:
        rows = {r.rater: r for r in feedback_dao.list_feedback(session, library_key=LIB)}
        assert len(rows["rater-1"].comment) == COMMENT_MAX_CHARS
        assert (rows["rater-0"].rating, rows["rater-0"].reasons_json) == ("BAD", ["music"])
        # What the reel was is recorded with the rating (from the sidecar of an on-demand reel).
        assert (rows["rater-0"].mood, rows["rater-0"].music_style, rows["rater-0"].library_key) == (*A, LIB)


@pytest.fixture(scope="module")
def rated(stack: Stack, styled):
    for rater in RATERS:
        rate(stack, styled[A], pb2.RATING_BAD, rater)
        rate(stack, styled[B], pb2.RATING_GOOD, rater)
    assert feedback_count(stack) == 20


def stats_of(prefs: common_pb2.Preferences) -> dict[tuple[str, str], tuple[int, int]]:
    return {(s.mood, s.music_style): (s.good_count, s.bad_count) for s in prefs.style_stats}


@pytest.fixture(scope="module")
def consolidated(stack: Stack, rated):
    dry = stack.admin.RunConsolidationNow(admin_pb2.RunConsolidationNowRequest(dry_run=True))
    after_dry = stack.reels.GetPreferences(pb2.GetPreferencesRequest(library=LIB))
    real = stack.admin.RunConsolidationNow(admin_pb2.RunConsolidationNowRequest())
    after = stack.reels.GetPreferences(pb2.GetPreferencesRequest(library=LIB))
    again = stack.admin.RunConsolidationNow(admin_pb2.RunConsolidationNowRequest())
    return dry.run, after_dry, real.run, after, again.run


def test_consolidation_dry_run_changes_nothing(consolidated):
    dry, after_dry, *_ = consolidated
    assert dry.dry_run and dry.status == "OK"
    assert list(after_dry.preferences.style_stats) == [] and not after_dry.HasField("update_time")
    assert after_dry.feedback_count == 20
    # The dry run still says what would change.
    assert "style_stats" in dry.report["libraries"][LIB]["changed"]


def test_consolidation_distils_ratings_into_preferences(consolidated):
    _dry, _after_dry, real, after, again = consolidated
    assert (real.status, real.dry_run) == ("OK", False)
    assert stats_of(after.preferences) == {A: (0, 10), B: (10, 0)}
    rates = {(s.mood, s.music_style): s.success_rate for s in after.preferences.style_stats}
    assert rates == {A: 0.0, B: 1.0}
    assert list(after.preferences.favorite_moods) == [B[0]]
    assert list(after.preferences.disliked_music_styles) == [A[1]]
    assert after.feedback_count == 20 and after.HasField("update_time")
    report = real.report["libraries"][LIB]
    assert report["ratings"] == 20
    assert {"style_stats", "favorite_moods", "disliked_music_styles"} <= set(report["changed"])
    assert report["changes"]["favorite_moods"]["to"] == [B[0]]
    # Nothing new to distil: a second pass changes nothing.
    assert list(again.report["libraries"][LIB]["changed"]) == []


def test_the_distillate_steers_style_choice_and_still_explores(stack: Stack, consolidated):
    prefs = wire.preferences_from_pb(consolidated[3].preferences)
    window = window_for(Span.DAY, Kind.RECAP, TODAY)
    noon = dt.datetime.combine(window.start, dt.time(12), tzinfo=dt.UTC)
    candidates = tuple(Candidate(f"m{i}", MediaKind.PHOTO, noon + dt.timedelta(hours=i), 640, 480) for i in range(3))

    def script_style(seed: int) -> tuple[str, str]:
        req = ScriptRequest(
            library=LIB,
            window=window,
            timezone="UTC",
            mode=Mode.FAST,
            candidates=candidates,
            preferences=prefs,
            target_duration_s=10,
            seed=seed,
        )
        s = fast_script(req)
        return s.mood, s.music_style

    fifty = Counter(script_style(seed) for seed in range(50))
    assert fifty[B] >= 40, fifty
    assert A in {choose_style(prefs, seed) for seed in range(200)}  # a bad record is not locked out


def test_explicit_options_win_over_the_distillate(stack: Stack, consolidated):
    job = create_and_wait(stack, *A, request_id="explicit-a")
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert (reel.script.mood, reel.script.music_style) == A


def _sidecar(stack: Stack, key: str) -> dict:
    return json.loads((Path(stack.settings.reel_dir) / f"{key}.json").read_text())


def test_the_next_pregen_script_request_carries_the_distillate(stack: Stack, consolidated):
    [outcome] = pregen(stack, TODAY).outcomes
    assert outcome.outcome == "RENDERED"
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=outcome.reel_key))
    assert reel.reel.precomputed
    assert reel.script.mood in MOODS and reel.script.music_style in MUSIC_STYLES
    assert (reel.reel.mood, reel.reel.music_style) == (reel.script.mood, reel.script.music_style)
    carried = _sidecar(stack, outcome.reel_key)["params"]["preferences"]
    assert {(s["mood"], s["music_style"]): (s["good"], s["bad"]) for s in carried["style_stats"]} == {
        A: (0, 10),
        B: (10, 0),
    }
    assert carried["favorite_moods"] == [B[0]] and carried["disliked_music_styles"] == [A[1]]
    # Only the distillate: no raw rating reaches the script request.
    assert not {"ratings", "comment", "rater", "history"} & set(carried)
