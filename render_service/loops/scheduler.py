"""When the background passes run: the nightly pre-generation hour (in the library
time zone, right across DST) and the retention/consolidation intervals."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from reels_core.windows import first_instant_at


def _run_on(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime | None:
    """The scheduled instant (UTC) of local day `day`: `hour`:00, its first occurrence
    if it happens twice, the transition if it is skipped; None if the clocks skipped
    all of `day` (Pacific/Apia, 2011-12-30): a day that never happens has no run."""
    if first_instant_at(dt.datetime.combine(day, dt.time(0)), zone).astimezone(zone).date() != day:
        return None
    return first_instant_at(dt.datetime.combine(day, dt.time(hour)), zone)


def next_run_at(now: dt.datetime, hour: int, tz: str) -> dt.datetime:
    """The next instant (UTC, strictly after `now`) at which the local clock of `tz`
    reads `hour`:00. On the day the clocks spring forward past that hour, the run
    happens at the transition (the first instant after the missing hour begins);
    when the hour happens twice, only its first occurrence counts; a day the clocks
    skip whole (a move across the date line) has no run."""
    zone = ZoneInfo(tz)
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        candidate = _run_on(local_day + dt.timedelta(days=offset), hour, zone)
        if candidate is not None and candidate > now:
            return candidate
    raise AssertionError("unreachable: a local hour occurs at least once in three days")


def secs_until_next_run_hour(now: dt.datetime, hour: int, tz: str) -> float:
    return (next_run_at(now, hour, tz) - now).total_seconds()


def previous_run_at(now: dt.datetime, hour: int, tz: str) -> dt.datetime:
    """The most recent scheduled instant at or before `now` (for catch-up)."""
    zone = ZoneInfo(tz)
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        candidate = _run_on(local_day - dt.timedelta(days=offset), hour, zone)
        if candidate is not None and candidate <= now:
            return candidate
    raise AssertionError("unreachable")


def missed_night(now: dt.datetime, hour: int, tz: str, last_run: dt.datetime | None) -> bool:
    """True when the latest scheduled time has passed with no pass since (the
    service was down then): catch it up at start-up."""
    return last_run is None or last_run < previous_run_at(now, hour, tz)
