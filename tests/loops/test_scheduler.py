"""When the nightly pass runs: `REEL_PREGEN_HOUR` in the library's zone, right
across DST (a missing hour runs at the transition, a repeated hour runs once, at its
first occurrence), and whether a night was missed while the service was down."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from render_service.loops.scheduler import missed_night, next_run_at, previous_run_at, secs_until_next_run_hour

UTC = dt.UTC
PARIS = "Europe/Paris"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def runs_between(start: dt.datetime, end: dt.datetime, hour: int, tz: str) -> list[dt.datetime]:
    """The instants a scheduler that always sleeps until `next_run_at` would run at."""
    out, now = [], start
    while (at := next_run_at(now, hour, tz)) < end:
        out.append(at)
        now = at
    return out


def test_normal_day():
    now = utc(2026, 6, 15, 10, 0)  # 12:00 CEST
    assert next_run_at(now, 3, PARIS) == utc(2026, 6, 16, 1, 0)  # 03:00 CEST tomorrow
    assert secs_until_next_run_hour(now, 3, PARIS) == 15 * 3600
    before = utc(2026, 6, 15, 0, 30)  # 02:30 CEST: today's 03:00 is still ahead
    assert next_run_at(before, 3, PARIS) == utc(2026, 6, 15, 1, 0)


def test_at_the_exact_instant_the_next_run_is_tomorrow():
    at = utc(2026, 6, 15, 1, 0)
    assert next_run_at(at, 3, PARIS) == utc(2026, 6, 16, 1, 0)


def test_spring_forward_missing_hour_runs_at_the_transition():
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:xx never happens.
    assert next_run_at(utc(2026, 3, 28, 12, 0), 2, PARIS) == utc(2026, 3, 29, 1, 0)
    assert secs_until_next_run_hour(utc(2026, 3, 29, 0, 59, 59), 2, PARIS) == 1
    # Once it has run, the next is 02:00 CEST the day after.
    assert next_run_at(utc(2026, 3, 29, 1, 0), 2, PARIS) == utc(2026, 3, 30, 0, 0)
    runs = runs_between(utc(2026, 3, 27, 12), utc(2026, 3, 31, 12), 2, PARIS)
    assert runs == [utc(2026, 3, 28, 1, 0), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0), utc(2026, 3, 31, 0, 0)]


def test_spring_forward_counts_real_seconds():
    # 01:00 CET to 03:00 CEST is one real hour, not two.
    assert secs_until_next_run_hour(utc(2026, 3, 29, 0, 0), 3, PARIS) == 3600


def test_fall_back_repeated_hour_runs_once_at_its_first_occurrence():
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:xx happens twice
    # (00:00-01:00 UTC at +02:00, then 01:00-02:00 UTC at +01:00).
    first = utc(2026, 10, 25, 0, 0)
    assert next_run_at(utc(2026, 10, 24, 12), 2, PARIS) == first
    assert dt.datetime(2026, 10, 25, 2, tzinfo=ZoneInfo(PARIS)).astimezone(UTC) == first
    # Not again at the second 02:00 (01:00 UTC), neither just after the run nor during it.
    assert next_run_at(utc(2026, 10, 25, 0, 0, 1), 2, PARIS) == utc(2026, 10, 26, 1, 0)
    assert next_run_at(utc(2026, 10, 25, 1, 30), 2, PARIS) == utc(2026, 10, 26, 1, 0)
    runs = runs_between(utc(2026, 10, 23, 12), utc(2026, 10, 27, 12), 2, PARIS)
    local_days = [r.astimezone(ZoneInfo(PARIS)).date() for r in runs]
    assert local_days == [dt.date(2026, 10, d) for d in (24, 25, 26, 27)]
    assert runs[1] == first


def wall_time_exists(day: dt.date, hour: int, zone: ZoneInfo) -> bool:
    naive = dt.datetime.combine(day, dt.time(hour))
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


@pytest.mark.parametrize(
    ("tz", "hour"), [(PARIS, 2), ("America/Santiago", 0), ("Australia/Lord_Howe", 2), ("America/Sao_Paulo", 3)]
)
def test_a_whole_year_runs_exactly_once_per_local_day(tz: str, hour: int):
    zone = ZoneInfo(tz)
    runs = runs_between(utc(2026, 1, 1), utc(2027, 1, 1), hour, tz)
    days = [r.astimezone(zone).date() for r in runs]
    assert len(days) == len(set(days)) == (days[-1] - days[0]).days + 1  # once a day, no day skipped
    for run, day in zip(runs, days, strict=True):
        local = run.astimezone(zone)
        if wall_time_exists(day, hour, zone):
            assert (local.hour, local.minute) == (hour, 0), run
        else:  # the hour was skipped: run at the transition itself
            assert (run - dt.timedelta(seconds=1)).astimezone(zone).utcoffset() != local.utcoffset(), run


def test_other_zones_with_gaps():
    # Chile springs forward at midnight: 2026-09-06 00:00 -04 becomes 01:00 -03.
    assert next_run_at(utc(2026, 9, 5, 12), 0, "America/Santiago") == utc(2026, 9, 6, 4, 0)
    # Lord Howe moves by 30 minutes: 02:00 +10:30 becomes 02:30 +11:00.
    assert next_run_at(utc(2026, 10, 3, 1), 2, "Australia/Lord_Howe") == utc(2026, 10, 3, 15, 30)
    # Sao Paulo has had no DST since 2019: 03:00 -03 every day.
    assert next_run_at(utc(2026, 11, 1, 12), 3, "America/Sao_Paulo") == utc(2026, 11, 2, 6, 0)


@pytest.mark.parametrize(
    ("now", "last_run", "missed"),
    [
        (utc(2026, 6, 15, 10), None, True),  # never ran
        (utc(2026, 6, 15, 10), utc(2026, 6, 14, 1, 0, 5), True),  # down at 03:00 today
        (utc(2026, 6, 15, 10), utc(2026, 6, 15, 1, 0, 5), False),  # ran today
        (utc(2026, 6, 15, 0, 30), utc(2026, 6, 14, 1, 0, 5), False),  # today's 03:00 not yet due
        (utc(2026, 3, 29, 8), utc(2026, 3, 28, 1, 0, 5), True),  # the gap day's run was missed
        (utc(2026, 3, 29, 8), utc(2026, 3, 29, 1, 0, 5), False),
    ],
)
def test_missed_night(now, last_run, missed):
    assert missed_night(now, 3 if now.month == 6 else 2, PARIS, last_run) is missed


def test_missed_night_on_the_fall_back_day_ignores_the_second_occurrence():
    ran = utc(2026, 10, 25, 0, 0, 2)
    assert previous_run_at(utc(2026, 10, 25, 1, 30), 2, PARIS) == utc(2026, 10, 25, 0, 0)
    assert missed_night(utc(2026, 10, 25, 1, 30), 2, PARIS, ran) is False
    assert missed_night(utc(2026, 10, 25, 9, 0), 2, PARIS, utc(2026, 10, 24, 0, 0, 2)) is True
