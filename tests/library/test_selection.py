import datetime as dt
from dataclasses import dataclass

import pytest

from reels_core.domain import Kind, Span
from reels_core.windows import (
    local_range_to_utc,
    valid_until,
    window_for,
)
from tests.library.helpers import select_in_window

D = dt.date
UTC = dt.UTC


def recap(span, anchor):
    window = window_for(span, Kind.RECAP, anchor)
    assert len(window.ranges) == 1
    return window.ranges[0]


# ---------------------------------------------------------------- RECAP


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        (D(2025, 6, 11), (D(2025, 6, 10), D(2025, 6, 11))),
        (D(2024, 3, 1), (D(2024, 2, 29), D(2024, 3, 1))),
        (D(2025, 1, 1), (D(2024, 12, 31), D(2025, 1, 1))),
    ],
)
def test_recap_day_is_the_day_before(anchor, expected):
    assert recap(Span.DAY, anchor) == expected


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        # Wednesday: the Monday-Sunday before this week.
        (D(2025, 6, 11), (D(2025, 6, 2), D(2025, 6, 9))),
        # Monday and Sunday of the same ISO week give the same window.
        (D(2025, 6, 9), (D(2025, 6, 2), D(2025, 6, 9))),
        (D(2025, 6, 15), (D(2025, 6, 2), D(2025, 6, 9))),
        # Across the year boundary: ISO week 1 of 2026 starts on 29 Dec 2025.
        (D(2026, 1, 5), (D(2025, 12, 29), D(2026, 1, 5))),
        (D(2026, 1, 1), (D(2025, 12, 22), D(2025, 12, 29))),
    ],
)
def test_recap_week_is_the_iso_week_before(anchor, expected):
    start, end = recap(Span.WEEK, anchor)
    assert (start, end) == expected
    assert start.isoweekday() == 1 and end - start == dt.timedelta(days=7)
    assert start.isocalendar().week != anchor.isocalendar().week


def test_recap_week_across_new_year_is_iso_week_one():
    start, _ = recap(Span.WEEK, D(2026, 1, 7))
    assert start.isocalendar()[:2] == (2026, 1)
    assert start.year == 2025


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        (D(2025, 6, 11), (D(2025, 5, 1), D(2025, 6, 1))),
        (D(2025, 1, 15), (D(2024, 12, 1), D(2025, 1, 1))),  # before January
        (D(2024, 3, 31), (D(2024, 2, 1), D(2024, 3, 1))),
        (D(2025, 3, 1), (D(2025, 2, 1), D(2025, 3, 1))),
    ],
)
def test_recap_month_is_the_calendar_month_before(anchor, expected):
    assert recap(Span.MONTH, anchor) == expected


# ---------------------------------------------------------------- ON_THIS_DAY


def test_on_this_day_day_covers_every_earlier_year_oldest_first():
    window = window_for(Span.DAY, Kind.ON_THIS_DAY, D(2025, 6, 11), earliest_year=2022)
    assert window.ranges == (
        (D(2022, 6, 11), D(2022, 6, 12)),
        (D(2023, 6, 11), D(2023, 6, 12)),
        (D(2024, 6, 11), D(2024, 6, 12)),
    )
    assert (window.start, window.end) == (D(2022, 6, 11), D(2024, 6, 12))


def test_on_this_day_defaults_to_thirty_years():
    window = window_for(Span.DAY, Kind.ON_THIS_DAY, D(2025, 6, 11))
    assert len(window.ranges) == 30
    assert window.ranges[0][0] == D(1995, 6, 11)
    assert window.ranges[-1][0] == D(2024, 6, 11)


def test_on_this_day_29_february_falls_back_to_28_february():
    window = window_for(Span.DAY, Kind.ON_THIS_DAY, D(2024, 2, 29), earliest_year=2019)
    assert [start for start, _ in window.ranges] == [
        D(2019, 2, 28),
        D(2020, 2, 29),
        D(2021, 2, 28),
        D(2022, 2, 28),
        D(2023, 2, 28),
    ]
    assert all(end - start == dt.timedelta(days=1) for start, end in window.ranges)
    week = window_for(Span.WEEK, Kind.ON_THIS_DAY, D(2024, 2, 29), earliest_year=2023)
    assert week.ranges == ((D(2023, 2, 28), D(2023, 3, 7)),)


def test_on_this_day_week_is_seven_days_from_the_month_day_even_across_new_year():
    window = window_for(Span.WEEK, Kind.ON_THIS_DAY, D(2025, 12, 28), earliest_year=2023)
    assert window.ranges == (
        (D(2023, 12, 28), D(2024, 1, 4)),
        (D(2024, 12, 28), D(2025, 1, 4)),
    )


def test_on_this_day_month_is_the_anchor_month_in_each_year():
    window = window_for(Span.MONTH, Kind.ON_THIS_DAY, D(2025, 2, 10), earliest_year=2023)
    assert window.ranges == ((D(2023, 2, 1), D(2023, 3, 1)), (D(2024, 2, 1), D(2024, 3, 1)))
    december = window_for(Span.MONTH, Kind.ON_THIS_DAY, D(2025, 12, 31), earliest_year=2024)
    assert december.ranges == ((D(2024, 12, 1), D(2025, 1, 1)),)


def test_on_this_day_needs_an_earlier_year():
    with pytest.raises(ValueError, match="earliest_year"):
        window_for(Span.DAY, Kind.ON_THIS_DAY, D(2025, 6, 11), earliest_year=2025)


def test_window_accepts_strings_and_keeps_the_anchor():
    window = window_for("WEEK", "RECAP", D(2025, 6, 11))
    assert (window.span, window.kind, window.anchor) == (Span.WEEK, Kind.RECAP, D(2025, 6, 11))
    with pytest.raises(ValueError):
        window_for("FORTNIGHT", "RECAP", D(2025, 6, 11))


# ---------------------------------------------------------------- local dates to UTC


def test_local_range_to_utc_spring_forward_day_is_23_hours():
    start, end = local_range_to_utc(D(2025, 3, 30), D(2025, 3, 31), "Europe/Paris")
    assert start == dt.datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
    assert end == dt.datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
    assert end - start == dt.timedelta(hours=23)


def test_local_range_to_utc_fall_back_day_is_25_hours():
    start, end = local_range_to_utc(D(2025, 10, 26), D(2025, 10, 27), "Europe/Paris")
    assert start == dt.datetime(2025, 10, 25, 22, 0, tzinfo=UTC)
    assert end - start == dt.timedelta(hours=25)
    assert start.tzinfo is not None and start.utcoffset() == dt.timedelta(0)


def test_local_range_to_utc_month_across_dst():
    start, end = local_range_to_utc(D(2025, 3, 1), D(2025, 4, 1), "Europe/Paris")
    assert end - start == dt.timedelta(days=31, hours=-1)


def test_midnight_in_a_dst_gap_starts_the_day_at_its_first_instant():
    # Chile skips 00:00-01:00 on 8 Sep 2024: the day starts at 01:00 -03 = 04:00 UTC.
    start, end = local_range_to_utc(D(2024, 9, 7), D(2024, 9, 8), "America/Santiago")
    assert start == dt.datetime(2024, 9, 7, 4, 0, tzinfo=UTC)
    assert end == dt.datetime(2024, 9, 8, 4, 0, tzinfo=UTC)


@dataclass
class Item:
    name: str
    taken_at_utc: dt.datetime


def test_a_photo_at_0030_local_belongs_to_that_local_day_whatever_utc_says():
    just_after_midnight = Item("a", dt.datetime(2025, 6, 9, 22, 30, tzinfo=UTC))  # 00:30 CEST on the 10th
    evening = Item("b", dt.datetime(2025, 6, 10, 21, 59, tzinfo=UTC))  # 23:59 CEST on the 10th
    next_day = Item("c", dt.datetime(2025, 6, 10, 22, 0, tzinfo=UTC))  # 00:00 CEST on the 11th
    window = window_for(Span.DAY, Kind.RECAP, D(2025, 6, 11))
    assert select_in_window([next_day, evening, just_after_midnight], window, "Europe/Paris") == [
        just_after_midnight,
        evening,
    ]
    assert select_in_window([next_day, evening, just_after_midnight], window, "UTC") == [evening, next_day]


def test_select_in_window_uses_every_year_of_on_this_day():
    items = [Item(str(y), dt.datetime(y, 6, 11, 12, tzinfo=UTC)) for y in (2019, 2021, 2023, 2025)]
    window = window_for(Span.DAY, Kind.ON_THIS_DAY, D(2025, 6, 11), earliest_year=2020)
    assert [i.name for i in select_in_window(items, window, "UTC")] == ["2021", "2023"]


# ---------------------------------------------------------------- valid_until


def test_valid_until_defaults_counted_from_local_midnight_in_absolute_time():
    # Local midnight of 29 Mar 2025 in Paris is 23:00 UTC the day before; DST starts
    # that night, so 26 h later is 03:00 local, not 02:00.
    midnight = dt.datetime(2025, 3, 28, 23, 0, tzinfo=UTC)
    day = valid_until(D(2025, 3, 29), Span.DAY, "Europe/Paris")
    assert day == midnight + dt.timedelta(hours=26)
    assert day.tzinfo is not None and day.utcoffset() == dt.timedelta(0)
    assert valid_until(D(2025, 3, 29), Span.WEEK, "Europe/Paris") == midnight + dt.timedelta(days=8)
    assert valid_until(D(2025, 3, 29), Span.MONTH, "Europe/Paris") == midnight + dt.timedelta(days=32)


def test_valid_until_hours_are_configurable_per_span():
    anchor = D(2025, 6, 11)
    assert valid_until(anchor, "DAY", "UTC", {"DAY": 30}) == dt.datetime(2025, 6, 12, 6, tzinfo=UTC)
    # Spans that are not overridden keep their default.
    assert valid_until(anchor, Span.WEEK, "UTC", {Span.DAY: 30}) == dt.datetime(2025, 6, 19, tzinfo=UTC)
