"""The ranked choice of shots (reels_core/moments.py) that FAST and AGENTIC share."""

from __future__ import annotations

import datetime as dt

from reels_core import moments
from reels_core.domain import Candidate, FaceBox, Kind, MediaKind, Mode, Quality, ScriptRequest, Span, Window
from reels_core.fast_script import fast_script
from scripter_service.prompt import candidate_rows, ranked_candidates

T0 = dt.datetime(2024, 5, 27, 9, 0, tzinfo=dt.UTC)
SHARP = Quality(analysed=True, sharpness=0.8, mean_luma=0.5, phash="0f0f0f0f0f0f0f0f")


def cand(mid: str, minutes: float, q: Quality = SHARP, **kw) -> Candidate:
    return Candidate(mid, kw.pop("kind", MediaKind.PHOTO), T0 + dt.timedelta(minutes=minutes), quality=q, **kw)


def hashed(seed: int) -> str:
    """A 64-bit hash far from every other seed's (disjoint bit patterns)."""
    return f"{(0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF:016x}"


def q(seed: int, **kw) -> Quality:
    base = {"analysed": True, "sharpness": 0.8, "mean_luma": 0.5, "phash": hashed(seed)}
    return Quality(**{**base, **kw})


def ids(ranking: moments.Ranking) -> list[str]:
    return ranking.media_ids


def pick(ranking: moments.Ranking, media_id: str) -> moments.Pick:
    found = ranking.pick(media_id)
    assert found is not None, f"{media_id} was not picked"
    return found


def test_a_burst_collapses_to_its_sharpest_frame_and_says_so():
    burst = [cand(f"b{i}", i / 60, q(1, sharpness=0.5 + 0.05 * i)) for i in range(5)]
    other = cand("x", 10, q(2))
    r = moments.rank([*burst, other], dt.UTC, 10)
    assert ids(r) == ["b4", "x"]
    assert pick(r, "b4").scene_size == 5


def test_near_duplicates_minutes_apart_collapse_but_not_hours_apart():
    near = q(3)
    shifted = Quality(**{**near.__dict__, "phash": f"{int(near.phash, 16) ^ 0b111111:016x}"})  # 6 bits off
    same_moment = moments.rank([cand("a", 0, near), cand("b", 5, shifted)], dt.UTC, 10)
    assert len(ids(same_moment)) == 1
    far = moments.rank([cand("a", 0, near), cand("b", 300, shifted)], dt.UTC, 10)
    assert ids(far) == ["a", "b"]  # 6 bits, hours apart: another moment, another picture


def test_flagged_shots_are_left_out_unless_nothing_else_covers_their_moment():
    blurred = q(4, sharpness=0.1)
    dark = q(5, mean_luma=0.05)
    screenshot = q(6, screenshot=0.9)
    r = moments.rank(
        [
            cand("blurred", 0, blurred),
            cand("sharp", 5, q(7)),  # the same moment as "blurred"
            cand("dark-alone", 120, dark),  # a moment of its own
            cand("screen", 125, screenshot),
        ],
        dt.UTC,
        10,
    )
    assert ids(r) == ["sharp", "dark-alone"]
    assert pick(r, "dark-alone").reason == moments.PICK_ONLY_CHOICE
    assert moments.FLAG_DARK in pick(r, "dark-alone").flags
    only_screens = moments.rank([cand("s1", 0, screenshot), cand("s2", 300, q(8, screenshot=0.8))], dt.UTC, 10)
    # A window of screenshots only still makes a reel: each moment's best, as an only choice.
    assert ids(only_screens) == ["s1", "s2"]
    assert {p.reason for p in only_screens.picks} == {moments.PICK_ONLY_CHOICE}


def test_every_moment_once_before_any_twice_and_favourites_then_faces_first():
    face = (FaceBox(0.4, 0.3, 0.2, 0.2),)
    cands = [
        cand("m0-plain", 0, q(10)),
        cand("m0-face", 10, q(11, faces=face)),
        cand("m0-fav", 20, q(12, rating=5)),
        cand("m1-plain", 200, q(13, sharpness=0.6)),
        cand("m2-plain", 400, q(14, sharpness=0.7)),
    ]
    r = moments.rank(cands, dt.UTC, 4)
    assert ids(r) == ["m0-face", "m0-fav", "m1-plain", "m2-plain"]
    assert pick(r, "m0-fav").reason == moments.PICK_FAVORITE and pick(r, "m0-fav").round == 1
    assert pick(r, "m0-face").reason == moments.PICK_EXTRA
    assert moments.rank(cands, dt.UTC, 3).media_ids == ["m0-fav", "m1-plain", "m2-plain"]


def test_more_moments_than_shots_keeps_the_favourite_and_spreads_the_rest():
    cands = [cand(f"m{i}", 120 * i, q(20 + i, rating=5 if i == 4 else 0)) for i in range(9)]
    r = moments.rank(cands, dt.UTC, 3)
    assert "m4" in ids(r) and ids(r)[0] == "m0" and len(ids(r)) == 3


def test_unanalysed_media_are_never_flagged_and_keep_their_time_spread():
    plain = [cand(f"p{i:02d}", 15 * i, Quality()) for i in range(40)]  # one long moment
    r = moments.rank(plain, dt.UTC, 5)
    positions = [int(i[1:]) for i in ids(r)]
    assert positions[0] == 0 and positions[-1] == 39
    gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    assert max(gaps) - min(gaps) <= 1  # evenly spread, as before analysis existed
    assert all(not p.flags for p in r.picks)


def test_the_ranking_is_the_same_whatever_the_input_order():
    cands = [cand(f"c{i}", 7 * i, q(30 + i % 4, sharpness=0.3 + 0.1 * (i % 5))) for i in range(30)]
    assert moments.rank(cands, dt.UTC, 8) == moments.rank(list(reversed(cands)), dt.UTC, 8)


def _request(cands: list[Candidate], max_shots: int = 5) -> ScriptRequest:
    monday = dt.date(2024, 5, 27)
    window = Window(Span.WEEK, Kind.RECAP, dt.date(2024, 6, 3), ((monday, monday + dt.timedelta(days=7)),))
    return ScriptRequest("lib", window, "UTC", Mode.AGENTIC, tuple(cands), max_shots=max_shots, target_duration_s=10)


def test_fast_and_agentic_choose_from_the_same_ranked_list():
    cands = [
        cand("blurred", 0, q(40, sharpness=0.05)),
        cand("sharp", 3, q(41)),
        cand("screen", 6, q(42, screenshot=0.95)),
        cand("dup-a", 300, q(43, sharpness=0.9)),
        cand("dup-b", 300.1, q(43, sharpness=0.5)),
    ]
    req = _request(cands)
    fast = [s.media_id for s in fast_script(req).shots]
    assert fast == ["sharp", "dup-a"]
    offered = [c.media_id for c in ranked_candidates(req)]
    assert set(offered) == {"sharp", "dup-a"}  # no blurred shot, screenshot or weaker duplicate
    draft = fast_script(req)
    rows = candidate_rows(req, draft, dt.UTC)
    assert [r["media_id"] for r in rows] == ["sharp", "dup-a"]
    assert all("quality" in r for r in rows)
