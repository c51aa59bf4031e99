"""Property-based tests of the calendar code: reel windows (local dates), local
midnights, validity, and the nightly scheduler, over any anchor from 1900-01-01 to
2200-12-31 and every zone ``zoneinfo.available_timezones()`` lists.

Uniformly drawn dates almost never land on a change of UTC offset, so most
strategies also draw dates and instants next to one: a year's offset changes in the
drawn zone are found with the public ``zoneinfo`` API (``transitions_in``). The
historical changes that break naive expectations are pinned with ``@example``.

Deterministic and stateless: ``derandomize=True`` and ``database=None``, and the
constants cache Hypothesis writes even then goes to the system's temporary
directory, so no ``.hypothesis`` directory appears in the checkout.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import os
import tempfile
import zoneinfo
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from reels_core.domain import Kind, Span
from reels_core.errors import InvalidArgument
from reels_core.windows import (
    DEFAULT_VALIDITY_HOURS,
    ON_THIS_DAY_DEFAULT_YEARS,
    TRIP_LOOKBACK_DAYS,
    TRIP_VALIDITY_HOURS,
    check_scope,
    is_supported,
    local_midnight_utc,
    local_range_to_utc,
    trip_lookback,
    trip_valid_until,
    trip_window,
    valid_until,
    window_for,
    window_to_utc,
)
from render_service.loops.scheduler import (
    missed_night,
    next_run_at,
    previous_run_at,
    secs_until_next_run_hour,
)

UTC = dt.UTC
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
US = dt.timedelta(microseconds=1)
D = dt.date

FIRST_DAY, LAST_DAY = D(1900, 1, 1), D(2200, 12, 31)
FIRST_INSTANT = dt.datetime(1900, 1, 1, tzinfo=UTC)
LAST_INSTANT = dt.datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# Every zone, none left out: each of them loads and converts over 1900-2200. The
# list is the machine's (the system tzdata first, then the tzdata package); it
# includes the aliases ("US/Samoa", "Kwajalein"), "Factory" (UTC, "-00") and
# "localtime" (the host's own zone), which all work like any other zone.
ZONES = sorted(zoneinfo.available_timezones())

# Local days that never happen: the zone moved across the date line and its clocks
# skipped the whole day. Such a day has no instant, so its "midnight" is the next
# day's, its UTC range is empty and it gets no nightly run. Anything else that
# skips a day is a new fact to look at, not to accept silently.
SKIPPED_DAYS = {
    ("Kwajalein", D(1993, 8, 21)),
    ("Pacific/Kwajalein", D(1993, 8, 21)),  # -12 -> +12
    ("Pacific/Enderbury", D(1994, 12, 31)),
    ("Pacific/Kanton", D(1994, 12, 31)),  # -11 -> +13
    ("Pacific/Kiritimati", D(1994, 12, 31)),  # -10 -> +14
    ("Pacific/Apia", D(2011, 12, 30)),  # -10 -> +14
    ("Pacific/Fakaofo", D(2011, 12, 30)),  # -11 -> +13
}

# The longest wait between two nightly runs in 1900-2200, in any zone: Kwajalein
# went from +11 back to -12 on 1969-09-30, so that day's wall clock ran twice and
# the repeated hour runs once, 24 h + 23 h after the run before. Without such a
# change two runs are 24 h minus the change of UTC offset in between apart.
LONGEST_WAIT = dt.timedelta(hours=47)

ZONE = st.sampled_from(ZONES)
HOURS = st.integers(0, 23)
SPANS = st.sampled_from(list(Span))
# Kinds with a fixed window (TRIP's comes from the trip found: trip_window).
KINDS = st.sampled_from([Kind.ON_THIS_DAY, Kind.RECAP])
ON_THIS_DAY_SPANS = st.sampled_from([s for s in Span if is_supported(s, Kind.ON_THIS_DAY)])
DATES = st.dates(FIRST_DAY, LAST_DAY)

SETTINGS = settings(deadline=None, derandomize=True, database=None)


# ``database=None`` keeps no examples, but Hypothesis still caches the constants it
# reads from local source files in ``./.hypothesis/constants`` (it fills it before
# the first test of this module runs, so a fixture would be too late). Keep that cache
# in the temporary directory instead (unless HYPOTHESIS_STORAGE_DIRECTORY says
# where), and give the default back once this module's tests are done.
_STORAGE = None if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") else Path(tempfile.gettempdir()) / "reels-hypothesis"
if _STORAGE is not None:
    set_hypothesis_home_dir(_STORAGE)


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_storage_back_to_default():
    yield
    if _STORAGE is not None:
        set_hypothesis_home_dir(None)


def offset_at(instant: dt.datetime, zone: ZoneInfo) -> dt.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return offset


def wall(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The naive local time the clock of `zone` shows at `instant`."""
    return instant.astimezone(zone).replace(tzinfo=None)


def exists(naive: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether the clock of `zone` ever shows `naive` (false in a gap)."""
    return wall(naive.replace(tzinfo=zone).astimezone(UTC), zone) == naive


@functools.cache
def transitions_in(tz: str, year: int) -> tuple[dt.datetime, ...]:
    """The instants in `year` (UTC) at which the UTC offset of `tz` changes, to the
    second (tzdata changes happen on whole seconds). Looks a day apart, so it misses a
    change undone within a day, which is fine for drawing examples."""
    zone = ZoneInfo(tz)
    out = []
    at, end = dt.datetime(year, 1, 1, tzinfo=UTC), dt.datetime(year + 1, 1, 1, tzinfo=UTC)
    before = offset_at(at, zone)
    while at < end:
        after_at = at + DAY
        after = offset_at(after_at, zone)
        if after != before:
            lo, hi = at, after_at  # offset(lo) == before != offset(hi)
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + dt.timedelta(seconds=(hi - lo).total_seconds() // 2)
                lo, hi = (mid, hi) if offset_at(mid, zone) == before else (lo, mid)
            out.append(hi)
        at, before = after_at, after
    return tuple(out)


@st.composite
def zone_change_and_instant(draw) -> tuple[str, dt.datetime | None, dt.datetime]:
    """A zone, maybe one of its offset changes, and an aware UTC instant in
    1900-2200: half the time within three days of that change (else None)."""
    tz = draw(ZONE)
    if draw(st.booleans()):
        for _ in range(3):  # many zones have years without a change: try a few
            changes = transitions_in(tz, draw(st.integers(FIRST_DAY.year, LAST_DAY.year)))
            if changes:
                break
        if changes:
            change = draw(st.sampled_from(changes))
            # Whole seconds from the change (0 is the change itself), give or take a
            # microsecond or any fraction of a second.
            seconds = draw(st.one_of(st.integers(-120, 120), st.integers(-3 * 86400, 3 * 86400)))
            micros = draw(st.one_of(st.sampled_from([0, -1, 1]), st.integers(0, 999_999)))
            near = change + dt.timedelta(seconds=seconds, microseconds=micros)
            return tz, change, min(max(near, FIRST_INSTANT), LAST_INSTANT)
    return (
        tz,
        None,
        draw(
            st.datetimes(FIRST_INSTANT.replace(tzinfo=None), LAST_INSTANT.replace(tzinfo=None), timezones=st.just(UTC))
        ),
    )


def zone_and_instant() -> st.SearchStrategy[tuple[str, dt.datetime]]:
    return zone_change_and_instant().map(lambda drawn: (drawn[0], drawn[2]))


def skipped_hours(tz: str, change: dt.datetime) -> list[int]:
    """The local hours whose :00 the clocks of `tz` skip at `change` (none when they go back)."""
    zone = ZoneInfo(tz)
    before, after = wall(change - US, zone), wall(change, zone)
    hours: set[int] = set()
    at = before.replace(minute=0, second=0, microsecond=0) + HOUR
    while at < after and len(hours) < 24:
        hours.add(at.hour)
        at += HOUR
    return sorted(hours)


@st.composite
def zone_instant_and_hour(draw) -> tuple[str, dt.datetime, int]:
    """A zone, an instant and a run hour; near an offset change that skips some hours,
    half the time one of those (the gap does not always start on the hour: Chatham
    skips 02:45-03:45, St John's skipped 00:01-01:01 until 2011)."""
    tz, change, now = draw(zone_change_and_instant())
    skipped = skipped_hours(tz, change) if change is not None else []
    hour = draw(st.sampled_from(skipped)) if skipped and draw(st.booleans()) else draw(HOURS)
    return tz, now, hour


@st.composite
def zone_and_date(draw) -> tuple[str, dt.date]:
    """A zone and a date in 1900-2200, half the time within two days of (the local date
    of) one of the zone's offset changes."""
    tz, instant = draw(zone_and_instant())
    day = instant.astimezone(ZoneInfo(tz)).date() + draw(st.integers(-2, 2)) * DAY
    return tz, min(max(day, FIRST_DAY), LAST_DAY)


def is_skipped_day(tz: str, day: dt.date) -> bool:
    return (tz, day) in SKIPPED_DAYS


# ---------------------------------------------------------------- windows


def month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@settings(SETTINGS, max_examples=400)
@given(anchor=DATES, span=SPANS, kind=KINDS)
@example(anchor=D(2024, 2, 29), span=Span.DAY, kind=Kind.ON_THIS_DAY)
@example(anchor=D(2024, 2, 29), span=Span.WEEK, kind=Kind.ON_THIS_DAY)
@example(anchor=D(2025, 12, 31), span=Span.WEEK, kind=Kind.ON_THIS_DAY)
@example(anchor=D(2026, 1, 1), span=Span.WEEK, kind=Kind.RECAP)
@example(anchor=D(2025, 1, 15), span=Span.MONTH, kind=Kind.RECAP)
@example(anchor=FIRST_DAY, span=Span.MONTH, kind=Kind.RECAP)
@example(anchor=D(2024, 1, 1), span=Span.YEAR, kind=Kind.RECAP)
@example(anchor=D(2024, 12, 31), span=Span.YEAR, kind=Kind.RECAP)
def test_windows_are_sorted_disjoint_non_empty_and_before_the_anchor(anchor, span, kind):
    assume(is_supported(span, kind))
    window = window_for(span, kind, anchor)
    assert (window.span, window.kind, window.anchor) == (span, kind, anchor)
    ranges = window.ranges
    assert ranges, window
    assert (window.start, window.end) == (ranges[0][0], ranges[-1][1])
    for start, end in ranges:
        assert start < end <= anchor, window
    for (_, end), (start, _) in pairwise(ranges):
        assert end <= start, window  # sorted and not overlapping
    # Strings and a datetime anchor give the same window.
    as_strings = window_for(span.value, kind.value, dt.datetime.combine(anchor, dt.time(23, 59)))
    assert as_strings == window

    if kind is Kind.RECAP:
        assert len(ranges) == 1
        start, end = ranges[0]
        if span is Span.DAY:
            assert (start, end) == (anchor - DAY, anchor)
        elif span is Span.WEEK:
            assert start.isoweekday() == 1 and end - start == 7 * DAY
            assert end.isoweekday() == 1 and end <= anchor < end + 7 * DAY  # the anchor's ISO week
            assert end.isocalendar()[:2] == anchor.isocalendar()[:2]
        elif span is Span.YEAR:  # the calendar year before the anchor's
            assert (start, end) == (D(anchor.year - 1, 1, 1), D(anchor.year, 1, 1))
            assert (end - start).days == (366 if calendar.isleap(anchor.year - 1) else 365)
        else:
            assert start.day == 1 and end == anchor.replace(day=1)
            assert month_index(start) == month_index(anchor) - 1
            assert (end - start).days == month_length(start.year, start.month)
        return

    years = [start.year for start, _ in ranges]
    assert years == list(range(anchor.year - ON_THIS_DAY_DEFAULT_YEARS, anchor.year))  # one per earlier year
    for start, end in ranges:
        if span is Span.MONTH:
            assert (start.month, start.day) == (anchor.month, 1)
            assert (end - start).days == month_length(start.year, anchor.month)
            continue
        if (anchor.month, anchor.day) == (2, 29) and not calendar.isleap(start.year):
            assert (start.month, start.day) == (2, 28)
        else:
            assert (start.month, start.day) == (anchor.month, anchor.day)
        assert end - start == (DAY if span is Span.DAY else 7 * DAY)


@settings(SETTINGS, max_examples=60)
@given(anchor=DATES, span=ON_THIS_DAY_SPANS, back=st.integers(-5, ON_THIS_DAY_DEFAULT_YEARS + 5))
@example(anchor=FIRST_DAY, span=Span.DAY, back=FIRST_DAY.year + 3)  # below dt.MINYEAR
def test_on_this_day_earliest_year_is_honoured_and_bounded_by_minyear(anchor, span, back):
    earliest = anchor.year - back
    if earliest >= anchor.year:
        try:
            window_for(span, Kind.ON_THIS_DAY, anchor, earliest_year=earliest)
        except ValueError as exc:
            assert "earliest_year" in str(exc)
        else:
            raise AssertionError("no earlier year must be refused")
        return
    window = window_for(span, Kind.ON_THIS_DAY, anchor, earliest_year=earliest)
    assert [start.year for start, _ in window.ranges] == list(range(max(earliest, dt.MINYEAR), anchor.year))


# ---------------------------------------------------------------- local midnights


@settings(SETTINGS, max_examples=1000)
@given(zone_and_date())
@example(("America/Toronto", D(1919, 3, 31)))  # 23:30 -05 -> 00:30 -04: midnight is skipped
@example(("America/Santiago", D(2024, 9, 8)))  # 00:00 -04 -> 01:00 -03
@example(("America/Santiago", D(2025, 4, 5)))  # 24:00 -03 -> 23:00 -04: 23:xx twice
@example(("Pacific/Apia", D(2011, 12, 30)))  # skipped whole
@example(("Pacific/Kiritimati", D(1994, 12, 31)))  # skipped whole
@example(("Pacific/Kwajalein", D(1969, 9, 30)))  # +11 -> -12: most of the day twice
@example(("Pacific/Kwajalein", D(1969, 10, 1)))
def test_local_midnight_is_the_first_instant_of_the_local_day(case):
    tz, day = case
    zone = ZoneInfo(tz)
    midnight = local_midnight_utc(day, tz)
    assert midnight.utcoffset() == dt.timedelta(0)
    assert local_midnight_utc(day, zone) == midnight
    before = (midnight - US).astimezone(zone).date()
    assert before < day, (tz, day, midnight)  # an instant earlier is an earlier day
    next_midnight = local_midnight_utc(day + DAY, tz)
    if is_skipped_day(tz, day):
        # The day has no instant: it "starts" when the next one does, and is empty.
        assert midnight.astimezone(zone).date() == day + DAY
        assert next_midnight == midnight
        return
    local = midnight.astimezone(zone)
    assert local.date() == day, (tz, day, midnight)
    assert next_midnight > midnight
    naive = dt.datetime.combine(day, dt.time(0))
    if local.time() != dt.time(0):
        # Only where midnight does not exist, and then it is the transition itself.
        assert not exists(naive, zone), (tz, day, local)
        assert offset_at(midnight - US, zone) != local.utcoffset(), (tz, day, local)
    else:
        # Where midnight happens twice, the first one.
        assert midnight <= naive.replace(tzinfo=zone, fold=1).astimezone(UTC)


@settings(SETTINGS, max_examples=150)
@given(zone_and_date(), SPANS, KINDS)
@example(("Pacific/Apia", D(2011, 12, 31)), Span.DAY, Kind.RECAP)
@example(("Pacific/Apia", D(2012, 1, 2)), Span.WEEK, Kind.RECAP)
@example(("Europe/Paris", D(2025, 3, 30)), Span.WEEK, Kind.ON_THIS_DAY)
def test_window_to_utc_bounds_are_increasing(case, span, kind):
    tz, anchor = case
    assume(is_supported(span, kind))
    window = window_for(span, kind, anchor)
    bounds = window_to_utc(window, tz)
    assert bounds == [local_range_to_utc(start, end, tz) for start, end in window.ranges]
    assert len(bounds) == len(window.ranges)
    for (lo, hi), (start, end) in zip(bounds, window.ranges, strict=True):
        assert lo.utcoffset() == hi.utcoffset() == dt.timedelta(0)
        if end - start == DAY and is_skipped_day(tz, start):
            assert lo == hi  # a day that never happened is an empty range
        else:
            assert lo < hi, (tz, start, end, lo, hi)
    for (_, hi), (lo, _) in pairwise(bounds):
        assert hi <= lo


# ---------------------------------------------------------------- validity


HOURS_VALUE = st.one_of(st.integers(0, 24 * 400), st.floats(0, 24 * 400, allow_nan=False))


@settings(SETTINGS, max_examples=200)
@given(
    zone_and_date(),
    SPANS,
    st.dictionaries(st.one_of(SPANS, SPANS.map(lambda s: s.value)), HOURS_VALUE, max_size=3),
)
@example(("Europe/Paris", D(2025, 3, 29)), Span.DAY, {})
@example(("Pacific/Apia", D(2011, 12, 30)), Span.DAY, {"DAY": 1.5})
def test_valid_until_is_local_midnight_plus_the_configured_hours(case, span, overrides):
    tz, anchor = case
    midnight = local_midnight_utc(anchor, tz)
    default = valid_until(anchor, span, tz)
    assert default.utcoffset() == dt.timedelta(0)
    expected_days = {Span.DAY: 26 / 24, Span.WEEK: 8, Span.MONTH: 32, Span.YEAR: 367}[span]
    assert default - midnight == dt.timedelta(days=expected_days)
    assert default - midnight == dt.timedelta(hours=DEFAULT_VALIDITY_HOURS[span])
    assert valid_until(anchor, span.value, tz, None) == default
    hours = dict(DEFAULT_VALIDITY_HOURS)
    for key, value in overrides.items():
        hours[Span(key)] = value
    assert valid_until(anchor, span, tz, overrides) - midnight == dt.timedelta(hours=hours[span])


@settings(SETTINGS, max_examples=60)
@given(anchor=DATES)
def test_a_year_has_no_on_this_day_window_and_trip_windows_come_from_trips(anchor):
    assert not is_supported(Span.YEAR, Kind.ON_THIS_DAY)
    with pytest.raises(InvalidArgument) as refused:
        check_scope(Span.YEAR, Kind.ON_THIS_DAY)
    assert refused.value.reason == "SPAN_KIND_UNSUPPORTED"
    with pytest.raises(ValueError, match="no window"):
        window_for(Span.YEAR, Kind.ON_THIS_DAY, anchor)
    for span in Span:
        check_scope(span, Kind.TRIP)  # every span has a TRIP form...
        with pytest.raises(ValueError, match="trip_window"):
            window_for(span, Kind.TRIP, anchor)  # ...whose window depends on the media


@settings(SETTINGS, max_examples=200)
@given(zone_and_date(), SPANS, st.integers(0, 400), st.integers(0, 30))
@example(("Europe/Paris", D(2025, 10, 26)), Span.MONTH, 3, 2)  # the trip ends on the autumn change
@example(("Pacific/Apia", D(2012, 1, 5)), Span.WEEK, 5, 3)  # its end is after the skipped 30 Dec 2011
def test_trip_lookback_window_and_validity(case, span, before, nights):
    tz, anchor = case
    start, end = trip_lookback(span, anchor)
    assert end == anchor and (end - start).days == TRIP_LOOKBACK_DAYS[span]
    assert TRIP_LOOKBACK_DAYS[Span.DAY] < TRIP_LOOKBACK_DAYS[Span.WEEK] < TRIP_LOOKBACK_DAYS[Span.MONTH]
    last = anchor - dt.timedelta(days=before + 1)
    first = last - dt.timedelta(days=nights)
    assume(first >= FIRST_DAY)
    window = trip_window(span, anchor, first, last)
    assert (window.span, window.kind, window.anchor) == (span, Kind.TRIP, anchor)
    assert window.ranges == ((first, last + DAY),) and window.end <= anchor
    # Valid 32 days after the trip ends (local midnight after its last day), in absolute time.
    until = trip_valid_until(window, tz)
    assert until.utcoffset() == dt.timedelta(0)
    assert until - local_midnight_utc(last + DAY, tz) == dt.timedelta(hours=TRIP_VALIDITY_HOURS) == 32 * DAY
    assert trip_valid_until(window, tz, 1.5) - local_midnight_utc(window.end, tz) == dt.timedelta(hours=1.5)
    with pytest.raises(ValueError):
        trip_window(span, anchor, last + DAY, last)


# ---------------------------------------------------------------- scheduler


def run_day(run: dt.datetime, hour: int, zone: ZoneInfo) -> dt.date:
    """The local day a scheduled instant is the run of, checking on the way that it
    reads `hour`:00 locally (the first time, if that happens twice) or, where that
    does not exist, is the transition that skips it. That day is the local date of
    the run, or the day before when the skip runs past midnight (Africa/Algiers,
    1916-06-14, 23:00 -> 00:00: the 23:00 run is at the first instant of the 15th)."""
    assert run.utcoffset() == dt.timedelta(0)
    local = run.astimezone(zone)
    target = dt.datetime.combine(local.date(), dt.time(hour))
    if local.replace(tzinfo=None) == target:
        assert run <= target.replace(tzinfo=zone, fold=1).astimezone(UTC)  # the first one
        return local.date()
    just_before, at = wall(run - US, zone), local.replace(tzinfo=None)
    assert offset_at(run - US, zone) != local.utcoffset(), (zone, run, local)  # a transition
    skipped = [
        day
        for day in sorted({just_before.date(), at.date()})
        if just_before < dt.datetime.combine(day, dt.time(hour)) < at
    ]
    assert len(skipped) == 1, (zone, run, local, just_before)  # that skips `hour`:00
    assert not exists(dt.datetime.combine(skipped[0], dt.time(hour)), zone)
    return skipped[0]


def check_consecutive(earlier: dt.datetime, later: dt.datetime, hour: int, tz: str) -> None:
    zone = ZoneInfo(tz)
    gap = later - earlier
    assert dt.timedelta(0) < gap <= LONGEST_WAIT, (tz, earlier, later)
    # One run per local day, and no day left out but one that never happened.
    first, second = run_day(earlier, hour, zone), run_day(later, hour, zone)
    assert second == first + DAY or (second == first + 2 * DAY and is_skipped_day(tz, first + DAY)), (
        tz,
        earlier,
        later,
    )
    # 24 h minus the change of UTC offset in between (counted from just before the
    # earlier run, in case it is itself the transition of a missing hour): 23-25 h
    # across an ordinary one-hour DST change, but 22 h in Antarctica/Troll every March
    # (+00 -> +02), 24 h across Apia 2011 (the skipped day has no run), 47 h across
    # Kwajalein 1969 (+11 -> -12) and 12 h when Antarctica/McMurdo got a zone in 1956
    # (-00 -> +12). Those are facts of the zones, not of the scheduler.
    change = offset_at(later, zone) - offset_at(earlier - US, zone)
    low, high = sorted((DAY, DAY - change))
    assert low <= gap <= high, (tz, earlier, later, change)
    if abs(change) <= HOUR:
        assert 23 * HOUR <= gap <= 25 * HOUR, (tz, earlier, later)


@settings(SETTINGS, max_examples=1000)
@given(zone_instant_and_hour(), ZONE)
# Pacific/Chatham springs forward 02:45 -> 03:45 (+12:45 -> +13:45): a 03:00 run
# is due at the transition, 14:00 UTC, not at 04:00 local.
@example(("Pacific/Chatham", dt.datetime(2025, 9, 27, 12, tzinfo=UTC), 3), "UTC")
# Antarctica/Troll springs forward +00 -> +02 at 01:00 UTC: 02:00 is skipped.
@example(("Antarctica/Troll", dt.datetime(2025, 3, 30, 0, 30, tzinfo=UTC), 2), "UTC")
# America/Goose_Bay 1988: 00:01 -> 02:01 (double summer time).
@example(("America/Goose_Bay", dt.datetime(1988, 4, 3, 3, tzinfo=UTC), 1), "America/Goose_Bay")
@example(("Europe/Paris", dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), 2), "Europe/Paris")
@example(("Europe/Paris", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 2), "Asia/Tokyo")
@example(("Pacific/Apia", dt.datetime(2011, 12, 29, 13, tzinfo=UTC), 3), "UTC")
@example(("Pacific/Apia", dt.datetime(2011, 12, 30, 11, tzinfo=UTC), 3), "Pacific/Apia")
@example(("Pacific/Kiritimati", dt.datetime(1994, 12, 30, 12, tzinfo=UTC), 23), "UTC")
@example(("Africa/Algiers", dt.datetime(1916, 6, 14, 12, tzinfo=UTC), 23), "UTC")
@example(("Antarctica/McMurdo", dt.datetime(1955, 12, 31, 12, tzinfo=UTC), 0), "UTC")
@example(("Pacific/Kwajalein", dt.datetime(1969, 9, 29, 16, tzinfo=UTC), 3), "UTC")
@example(("Pacific/Kwajalein", dt.datetime(1969, 9, 30, 15, tzinfo=UTC), 3), "UTC")
@example(("America/Santiago", dt.datetime(2024, 9, 8, 3, tzinfo=UTC), 0), "UTC")
@example(("Australia/Lord_Howe", dt.datetime(2026, 10, 3, 15, 29, tzinfo=UTC), 2), "UTC")
def test_nightly_runs_at_the_local_hour_once_a_day(case, shown_in):
    tz, now_utc, hour = case
    zone = ZoneInfo(tz)
    now = now_utc.astimezone(ZoneInfo(shown_in))  # any aware `now` will do
    run = next_run_at(now, hour, tz)
    last = previous_run_at(now, hour, tz)
    assert last <= now < run
    assert run - now <= LONGEST_WAIT
    assert secs_until_next_run_hour(now, hour, tz) == (run - now).total_seconds()
    # Consecutive: nothing is scheduled between the last run and the next one.
    assert next_run_at(last, hour, tz) == run
    assert previous_run_at(run, hour, tz) == run
    assert previous_run_at(run - US, hour, tz) == last
    check_consecutive(last, run, hour, tz)
    following = next_run_at(run, hour, tz)
    check_consecutive(run, following, hour, tz)
    # A repeated hour runs once: not at its second occurrence.
    target = dt.datetime.combine(run_day(run, hour, zone), dt.time(hour))
    second = target.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second > run:
        assert following > second
    # Catch-up after a restart.
    assert missed_night(now, hour, tz, last) is False
    assert missed_night(now, hour, tz, now) is False
    assert missed_night(now, hour, tz, None) is True
    assert missed_night(now, hour, tz, last - US) is True


# ---------------------------------------------------------------- every zone, today's rules

SWEEP_YEARS = (2025, 2026)  # the rules in force, which the zones keep applying to 2200


def test_every_zone_runs_skipped_hours_and_starts_skipped_midnights_at_the_transition():
    """Not drawn: every zone's offset changes of SWEEP_YEARS, each hour they skip, so
    that a rare zone (Pacific/Chatham skips 02:45-03:45, Antarctica/Troll 01:00-03:00)
    cannot slip through the sampling above."""
    checked = 0
    for tz in ZONES:
        zone = ZoneInfo(tz)
        for year in SWEEP_YEARS:
            for change in transitions_in(tz, year):
                for hour in skipped_hours(tz, change):
                    run = next_run_at(change - dt.timedelta(seconds=1), hour, tz)
                    assert run == change, (tz, change, hour, run.astimezone(zone))
                    assert previous_run_at(change, hour, tz) == change
                    checked += 1
                before, after = wall(change - US, zone), wall(change, zone)
                if after.date() > before.date():  # the change skips a midnight
                    midnight = local_midnight_utc(after.date(), tz)
                    assert midnight == change, (tz, change, midnight.astimezone(zone))
    assert checked > 100  # there are DST changes in this world
