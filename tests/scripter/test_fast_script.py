"""FAST scripting: selection, durations, titles, captions, narration, determinism."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from reels_core.domain import (
    CAPTION_MAX_CHARS,
    MOTIONS,
    TRANSITIONS,
    Candidate,
    Kind,
    MediaKind,
    Mode,
    Preferences,
    ScriptRequest,
    Span,
    Window,
)
from reels_core.fast_script import (
    MIN_SHOT_S,
    allocate_durations,
    fast_script,
    target_duration_s,
)

PARIS = ZoneInfo("Europe/Paris")
NICE = (43.7031, 7.2661)
PARIS_GPS = (48.8534, 2.3488)
SAT = dt.date(2026, 11, 28)  # a Saturday


def day_window(day: dt.date = SAT) -> Window:
    return Window(Span.DAY, Kind.RECAP, day + dt.timedelta(days=1), ((day, day + dt.timedelta(days=1)),))


def week_window() -> Window:
    monday = dt.date(2026, 11, 23)
    return Window(Span.WEEK, Kind.RECAP, dt.date(2026, 11, 30), ((monday, monday + dt.timedelta(days=7)),))


def photo(i: int, when: dt.datetime, gps=NICE, kind=MediaKind.PHOTO, duration=0.0) -> Candidate:
    return Candidate(
        media_id=f"m{i:03d}",
        kind=kind,
        taken_at=when.astimezone(dt.UTC),
        lat=gps[0] if gps else None,
        lon=gps[1] if gps else None,
        duration_s=duration,
    )


def day_of_photos(n: int, start_hour: int = 8, step_min: int = 20) -> list[Candidate]:
    t0 = dt.datetime(2026, 11, 28, start_hour, 0, tzinfo=PARIS)
    return [photo(i, t0 + dt.timedelta(minutes=step_min * i)) for i in range(n)]


def request(cands, window=None, **kw) -> ScriptRequest:
    return ScriptRequest(
        library="lib",
        window=window or day_window(),
        timezone=kw.pop("timezone", "Europe/Paris"),
        mode=Mode.FAST,
        candidates=tuple(cands),
        **kw,
    )


def test_same_request_gives_identical_script_and_seed_changes_motion_offset():
    cands = day_of_photos(30)
    a = fast_script(request(cands, seed=7))
    b = fast_script(request(list(reversed(cands)), seed=7))  # input order must not matter
    assert a == b
    offsets = {fast_script(request(cands, seed=s)).shots[0].motion for s in range(12)}
    assert len(offsets) > 1  # the seed is actually used


def test_shot_count_is_capped_and_spread_keeps_first_and_last():
    cands = day_of_photos(60, start_hour=6, step_min=15)  # 06:00 .. 20:45, evenly
    script = fast_script(request(cands, max_shots=12, seed=1))
    ids = [s.media_id for s in script.shots]
    assert len(ids) == 12
    assert ids[0] == "m000" and ids[-1] == "m059"
    picked = [int(i[1:]) for i in ids]
    gaps = [b - a for a, b in pairwise(picked)]
    assert max(gaps) - min(gaps) <= 1  # evenly spread over the day


def test_spread_is_by_time_so_a_burst_does_not_crowd_out_the_day():
    t0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=PARIS)
    burst = [photo(i, t0 + dt.timedelta(hours=4, seconds=5 * i)) for i in range(100)]
    sparse = [photo(200 + h, t0 + dt.timedelta(hours=h)) for h in range(0, 13) if h != 4]
    script = fast_script(request(burst + sparse, max_shots=15))
    ids = {s.media_id for s in script.shots}
    assert {c.media_id for c in sparse} <= ids  # every hour of the day is represented
    assert sum(1 for i in ids if int(i[1:]) < 100) == 15 - len(sparse)


def test_too_many_shots_for_the_target_drops_shots_rather_than_shortening_them():
    script = fast_script(request(day_of_photos(40), max_shots=40, target_duration_s=12))
    assert len(script.shots) == int(12 / MIN_SHOT_S)
    assert min(s.duration_s for s in script.shots) >= MIN_SHOT_S
    assert len(fast_script(request(day_of_photos(40), max_shots=0)).shots) == 20  # 0: the default


@pytest.mark.parametrize(
    ("prefs", "req_target", "expected"),
    [
        (Preferences(target_duration_s=45), 30, 45.0),
        (Preferences(preferred_duration_s=25), 30, 25.0),
        (Preferences(target_duration_s=40, preferred_duration_s=25), 30, 40.0),
        (Preferences(), 33.333, 33.33),
        (Preferences(), 500, 120.0),
        (Preferences(target_duration_s=3), 30, 10.0),
    ],
)
def test_durations_sum_exactly_to_the_target(prefs, req_target, expected):
    req = request(day_of_photos(7), preferences=prefs, target_duration_s=req_target)
    assert target_duration_s(req) == expected
    script = fast_script(req)
    assert round(sum(s.duration_s for s in script.shots), 2) == expected
    assert all(round(s.duration_s, 2) == s.duration_s for s in script.shots)


def test_videos_never_exceed_their_clip_and_photos_take_the_rest():
    t0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=PARIS)
    cands = [
        photo(0, t0),
        photo(1, t0 + dt.timedelta(minutes=5), kind=MediaKind.VIDEO, duration=2.0),
        photo(2, t0 + dt.timedelta(minutes=10)),
        photo(3, t0 + dt.timedelta(minutes=15), kind=MediaKind.VIDEO, duration=60.0),
        photo(4, t0 + dt.timedelta(minutes=20), kind=MediaKind.VIDEO, duration=0.5),  # too short
    ]
    script = fast_script(request(cands, target_duration_s=30))
    by_id = {s.media_id: s for s in script.shots}
    assert "m004" not in by_id
    assert by_id["m001"].duration_s == 2.0
    assert by_id["m003"].duration_s <= 60.0
    assert round(script.duration_s, 2) == 30.0
    assert by_id["m000"].duration_s == pytest.approx((30 - 2) / 3, abs=0.011)
    assert by_id["m001"].motion == "static" and by_id["m003"].motion == "static"
    assert by_id["m000"].motion in MOTIONS and by_id["m000"].motion != "static"


def test_only_short_videos_make_a_shorter_reel_never_a_longer_clip():
    t0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=PARIS)
    cands = [photo(i, t0 + dt.timedelta(minutes=i), kind=MediaKind.VIDEO, duration=3.0) for i in range(3)]
    assert allocate_durations(cands, 30.0) == [3.0, 3.0, 3.0]


def test_shots_are_chronological():
    cands = day_of_photos(15)
    shuffled = cands[7:] + cands[:7]
    script = fast_script(request(shuffled))
    assert [s.media_id for s in script.shots] == [c.media_id for c in cands]


def test_captions_use_the_library_time_zone():
    # 23:30 UTC on Friday is 00:30 on Saturday in Paris.
    when = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)
    cands = [photo(0, when), photo(1, when + dt.timedelta(hours=2), gps=PARIS_GPS)]
    paris = fast_script(request(cands))
    assert [s.caption for s in paris.shots] == ["Sat 00:30 · Nice", "Sat 02:30 · Paris"]
    utc = fast_script(request(cands, timezone="UTC", window=day_window(dt.date(2026, 11, 27))))
    assert utc.shots[0].caption == "Fri 23:30 · Nice"


def test_day_recap_title_and_grounding():
    cands = day_of_photos(10) + [photo(50, dt.datetime(2026, 11, 28, 21, 0, tzinfo=PARIS), gps=PARIS_GPS)]
    script = fast_script(request(cands))
    assert (script.title, script.subtitle) == ("Saturday in Nice", "28 November 2026")
    assert script.mode_used == Mode.FAST and script.fallback_reason == ""
    labels = {g.label: g.supports_shots for g in script.grounding}
    assert labels["Nice, France"] == list(range(10)) and labels["Paris, France"] == [10]


def test_week_recap_title_lists_places_and_fades_between_days():
    t0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
    cands = [photo(i, t0 + dt.timedelta(days=i // 2, hours=i % 2), gps=NICE if i < 8 else PARIS_GPS) for i in range(12)]
    script = fast_script(request(cands, window=week_window()))
    assert script.title == "Your week"
    assert script.subtitle == "23–29 November 2026 · Nice, Paris"
    transitions = [s.transition for s in script.shots]
    assert set(transitions) <= set(TRANSITIONS)
    assert transitions.count("crossfade") > transitions.count("fade_black") > 0
    assert transitions[2] == "fade_black" and transitions[1] == "crossfade"  # new day at shot 2


def test_on_this_day_title_lists_years():
    ranges = tuple((dt.date(y, 11, 30), dt.date(y, 12, 1)) for y in (2023, 2024, 2025))
    window = Window(Span.DAY, Kind.ON_THIS_DAY, dt.date(2026, 11, 30), ranges)
    cands = [photo(i, dt.datetime(y, 11, 30, 12, i, tzinfo=PARIS)) for i, y in enumerate((2023, 2024, 2024))]
    script = fast_script(request(cands, window=window))
    assert (script.title, script.subtitle) == ("On this day", "30 November · 2023, 2024")
    assert script.shots[0].caption == "3 years ago · Thu 30 Nov 2023 · Nice"
    assert script.shots[1].caption == "2 years ago · Sat 30 Nov 2024 · Nice"
    assert [n.text for n in script.narration] == ["3 years ago in Nice", "2 years ago in Nice"]


def test_on_this_day_says_one_year_ago_in_the_singular():
    window = Window(Span.DAY, Kind.ON_THIS_DAY, dt.date(2026, 11, 30), ((dt.date(2025, 11, 30), dt.date(2025, 12, 1)),))
    script = fast_script(request([photo(0, dt.datetime(2025, 11, 30, 12, tzinfo=PARIS))], window=window))
    assert script.shots[0].caption.startswith("1 year ago · Sun 30 Nov 2025")


def test_trip_is_titled_with_the_place_and_narrated_by_day():
    window = Window(Span.MONTH, Kind.TRIP, dt.date(2026, 12, 1), ((dt.date(2026, 11, 20), dt.date(2026, 11, 23)),))
    cands = [photo(i, dt.datetime(2026, 11, 20 + i // 2, 10 + i, tzinfo=PARIS), gps=PARIS_GPS) for i in range(6)]
    script = fast_script(request(cands, window=window))
    assert (script.title, script.subtitle) == ("Trip to Paris", "20–22 November 2026 · 2 nights")
    assert script.shots[0].caption == "Fri 20 Nov 10:00 · Paris"
    assert [n.text for n in script.narration] == ["Day 1 in Paris", "Day 2 in Paris", "Day 3 in Paris"]


def test_year_recap_is_titled_with_the_year_and_narrated_by_month():
    window = Window(Span.YEAR, Kind.RECAP, dt.date(2026, 3, 2), ((dt.date(2025, 1, 1), dt.date(2026, 1, 1)),))
    cands = [photo(i, dt.datetime(2025, 1 + 3 * i, 15, 12, tzinfo=PARIS)) for i in range(4)]
    script = fast_script(request(cands, window=window))
    assert (script.title, script.subtitle) == ("Your 2025", "Nice")
    assert [n.text for n in script.narration] == ["January in Nice", "April in Nice", "July in Nice", "October in Nice"]
    assert [s.transition for s in script.shots][1:] == ["fade_black"] * 3  # a new month each time


def test_month_recap_title():
    window = Window(Span.MONTH, Kind.RECAP, dt.date(2026, 12, 1), ((dt.date(2026, 11, 1), dt.date(2026, 12, 1)),))
    cands = [photo(i, dt.datetime(2026, 11, 1 + i, 12, tzinfo=PARIS)) for i in range(20)]
    script = fast_script(request(cands, window=window))
    assert script.title == "November 2026"


def test_narration_lines_fall_inside_the_reel_in_order():
    t0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
    cands = [photo(i, t0 + dt.timedelta(hours=9 * i)) for i in range(18)]  # ~7 days
    script = fast_script(request(cands, window=week_window(), target_duration_s=40))
    lines = script.narration
    assert 2 <= len(lines) <= 6
    total = script.duration_s
    for line in lines:
        assert 0 <= line.start_s < line.end_s <= total + 1e-9
        assert line.text and len(line.text) <= CAPTION_MAX_CHARS
        assert line.source_ids == ["place:nice-fr"]
    assert all(a.end_s <= b.start_s for a, b in pairwise(lines))


def test_captions_are_bounded_and_missing_gps_gives_time_only():
    cands = [photo(0, dt.datetime(2026, 11, 28, 9, 5, tzinfo=PARIS), gps=None)]
    script = fast_script(request(cands))
    assert script.shots[0].caption == "Sat 09:05"
    assert script.title == "Your Saturday"
    assert script.grounding == []


def test_empty_candidates_give_an_empty_script():
    script = fast_script(request([]))
    assert script.shots == [] and script.narration == [] and script.title


def test_explicit_style_wins_over_learned_stats():
    from reels_core.domain import StyleStat

    prefs = Preferences(
        mood="Calm",
        music_style="orchestral",
        style_stats=(StyleStat("energetic", "electronic", good=50),),
    )
    for seed in range(20):
        script = fast_script(replace(request(day_of_photos(3)), preferences=prefs, seed=seed))
        assert (script.mood, script.music_style) == ("calm", "orchestral")
