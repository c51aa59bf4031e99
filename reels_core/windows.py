"""Which dates a reel covers, and which media fall inside them.

Windows are ranges of *local* dates in the library's time zone, ``[start, end)``,
oldest first:

=========  ================================  ============================================
span       RECAP                             ON_THIS_DAY (one range per earlier year)
=========  ================================  ============================================
DAY        the day before the anchor         the anchor's month-day
WEEK       the ISO week (Mon-Sun) before     the 7 days starting on the anchor's month-day
           the anchor's week
MONTH      the calendar month before the     the anchor's calendar month
           anchor's month
YEAR       the calendar year before the      not offered (SPAN_KIND_UNSUPPORTED): a whole
           anchor's year                     year "on this day" is every photo of every
                                             earlier year, not a memory of a day
=========  ================================  ============================================

TRIP (a stay far from home, ``reels_core/trips.py``) has no fixed window: its one
range is the days of the most recent trip whose last day falls in the span's
*lookback*, the ``TRIP_LOOKBACK_DAYS[span]`` days before the anchor
(``trip_lookback``). Its window is ``trip_window(span, anchor, first, last)``, and it
stays valid ``TRIP_VALIDITY_HOURS`` (32 days) after the trip ends, whatever the span
(``trip_valid_until``).

29 February falls back to 28 February in a year without one. Dates become UTC
instants only at the edge (``local_range_to_utc``), from local midnights, so a
photo taken at 00:30 local time belongs to that local day whatever UTC says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from reels_core.domain import Kind, Span, Window
from reels_core.errors import InvalidArgument

ON_THIS_DAY_DEFAULT_YEARS = 30

# How long a pre-generated reel stays valid, counted from local midnight of its anchor.
DEFAULT_VALIDITY_HOURS: dict[Span, float] = {
    Span.DAY: 26,
    Span.WEEK: 8 * 24,
    Span.MONTH: 32 * 24,
    Span.YEAR: 367 * 24,  # like the others: the longest next period (366 days) plus one
}

# A trip reel stays valid this long after the trip ends (local midnight after its
# last day), whatever its span.
TRIP_VALIDITY_HOURS = 32 * 24

# TRIP x span: how many days before the anchor the trip's last day may fall.
TRIP_LOOKBACK_DAYS: dict[Span, int] = {Span.DAY: 1, Span.WEEK: 7, Span.MONTH: 31, Span.YEAR: 366}

# (span, kind) pairs that have no meaning (see the table above).
UNSUPPORTED_SCOPES = frozenset({(Span.YEAR, Kind.ON_THIS_DAY)})

_ONE_DAY = dt.timedelta(days=1)
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def is_supported(span: Span | str, kind: Kind | str) -> bool:
    """False for the pairs that have no meaning (YEAR x ON_THIS_DAY)."""
    return (Span(span), Kind(kind)) not in UNSUPPORTED_SCOPES


def check_scope(span: Span | str, kind: Kind | str) -> None:
    """INVALID_ARGUMENT (SPAN_KIND_UNSUPPORTED) for a pair that has no meaning."""
    if not is_supported(span, kind):
        raise InvalidArgument(
            "SPAN_KIND_UNSUPPORTED",
            f"{Span(span).value} x {Kind(kind).value} is not offered: use RECAP (or TRIP) for a year",
        )


def window_for(span: Span | str, kind: Kind | str, anchor: dt.date, earliest_year: int | None = None) -> Window:
    """The window of ``span`` x ``kind`` anchored on ``anchor`` (a local date).

    ``earliest_year`` bounds ON_THIS_DAY (default: 30 years back); it must be
    before ``anchor.year``. It is ignored for RECAP. TRIP windows depend on the
    media (``trip_window``): asking for one here is a ValueError, and so is an
    unsupported pair (``check_scope`` says so to a caller first).
    """
    span, kind = Span(span), Kind(kind)
    if isinstance(anchor, dt.datetime):  # a datetime is a date too; keep only the date
        anchor = anchor.date()
    if kind is Kind.TRIP:
        raise ValueError("a TRIP window comes from the trip found: use trip_window")
    if not is_supported(span, kind):
        raise ValueError(f"{span.value} x {kind.value} has no window")
    ranges: tuple[tuple[dt.date, dt.date], ...]
    if kind is Kind.RECAP:
        ranges = (_recap_range(span, anchor),)
    else:
        first = anchor.year - ON_THIS_DAY_DEFAULT_YEARS if earliest_year is None else earliest_year
        first = max(first, dt.MINYEAR)
        if first >= anchor.year:
            raise ValueError(f"earliest_year {first} leaves no year before {anchor.year} for ON_THIS_DAY")
        ranges = tuple(_on_this_day_range(span, anchor, year) for year in range(first, anchor.year))
    return Window(span=span, kind=kind, anchor=anchor, ranges=ranges)


def _recap_range(span: Span, anchor: dt.date) -> tuple[dt.date, dt.date]:
    if span is Span.DAY:
        return anchor - _ONE_DAY, anchor
    if span is Span.WEEK:
        this_monday = anchor - dt.timedelta(days=anchor.weekday())
        return this_monday - dt.timedelta(days=7), this_monday
    if span is Span.YEAR:
        return dt.date(anchor.year - 1, 1, 1), dt.date(anchor.year, 1, 1)
    first_of_month = anchor.replace(day=1)
    return (first_of_month - _ONE_DAY).replace(day=1), first_of_month


def _on_this_day_range(span: Span, anchor: dt.date, year: int) -> tuple[dt.date, dt.date]:
    if span is Span.MONTH:
        start = dt.date(year, anchor.month, 1)
        return start, _first_of_next_month(start)
    day = same_month_day(anchor, year)
    return day, day + dt.timedelta(days=1 if span is Span.DAY else 7)


def trip_lookback(span: Span | str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """``[start, end)``: the local dates a trip's last day may fall on for a TRIP reel
    of ``span`` anchored on ``anchor``: the ``TRIP_LOOKBACK_DAYS[span]`` days before it."""
    return anchor - dt.timedelta(days=TRIP_LOOKBACK_DAYS[Span(span)]), anchor


def trip_window(span: Span | str, anchor: dt.date, first_day: dt.date, last_day: dt.date) -> Window:
    """The window of a TRIP reel: the trip's days, ``[first_day, last_day + 1)``."""
    if last_day < first_day:
        raise ValueError("a trip ends on or after the day it starts")
    return Window(span=Span(span), kind=Kind.TRIP, anchor=anchor, ranges=((first_day, last_day + _ONE_DAY),))


def trip_valid_until(window: Window, tz: str, hours: float = TRIP_VALIDITY_HOURS) -> dt.datetime:
    """When a TRIP reel stops being served: ``hours`` (32 days) after local midnight
    at the end of the trip (``window.end``), in absolute time. Aware UTC."""
    return local_midnight_utc(window.end, tz) + dt.timedelta(hours=hours)


def same_month_day(anchor: dt.date, year: int) -> dt.date:
    """``anchor``'s month and day in ``year``; 29 February becomes 28 February
    in a year without one."""
    try:
        return anchor.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def _first_of_next_month(day: dt.date) -> dt.date:
    if day.month == 12:
        return dt.date(day.year + 1, 1, 1)
    return dt.date(day.year, day.month + 1, 1)


def local_midnight_utc(day: dt.date, tz: str | ZoneInfo) -> dt.datetime:
    """The UTC instant at which ``day`` starts in ``tz``.

    Where midnight does not exist (a DST gap at 00:00) this is the first instant of
    the day; where it happens twice, the first one.
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return first_instant_at(dt.datetime.combine(day, dt.time(0)), zone)


def first_instant_at(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first UTC instant at which the clock of ``zone`` reads the naive local time
    ``wall``: its first occurrence if it happens twice; if it never happens (a gap),
    the transition that skips it, the first instant whose local time is past it."""
    at = wall.replace(tzinfo=zone).astimezone(dt.UTC)  # fold=0
    if at.astimezone(zone).replace(tzinfo=None) == wall:
        return at
    # In a gap fold=0 reads ``wall`` with the offset before it, which lands
    # ``wall - gap start`` after the transition: the transition only when the gap
    # starts exactly at ``wall`` (it does not in e.g. Toronto 1919-03-31, 23:30 ->
    # 00:30, or Pacific/Chatham, 02:45 -> 03:45). fold=1 reads it with the offset
    # after, which lands before the transition: bisect between the two.
    lo, hi = wall.replace(tzinfo=zone, fold=1).astimezone(dt.UTC), at
    while hi - lo > _ONE_MICROSECOND:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def local_range_to_utc(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """Aware UTC bounds ``[start, end)`` of the local dates ``[start, end)`` in ``tz``."""
    zone = ZoneInfo(tz)
    return local_midnight_utc(start, zone), local_midnight_utc(end, zone)


def window_to_utc(window: Window, tz: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every range of ``window`` as aware UTC bounds, oldest first."""
    return [local_range_to_utc(start, end, tz) for start, end in window.ranges]


def valid_until(
    anchor: dt.date,
    span: Span | str,
    tz: str,
    hours_by_span: Mapping[Span, float] | Mapping[str, float] | None = None,
) -> dt.datetime:
    """When a reel anchored on ``anchor`` stops being served: local midnight of the
    anchor plus 26 h (DAY), 8 days (WEEK), 32 days (MONTH) or 367 days (YEAR), or the hours given in
    ``hours_by_span``. Added in absolute time, so a DST change in between does not
    stretch or shrink the validity. Returns an aware UTC datetime."""
    span = Span(span)
    hours = dict(DEFAULT_VALIDITY_HOURS)
    for key, value in (hours_by_span or {}).items():
        hours[Span(key)] = value
    return local_midnight_utc(anchor, tz) + dt.timedelta(hours=hours[span])
