"""When the background passes run: the nightly pre-generation hour (in the library
time zone, right across DST) and the retention/consolidation intervals."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def next_run_at(now: dt.datetime, hour: int, tz: str) -> dt.datetime:
    """The next instant (UTC, strictly after `now`) at which the local clock of `tz`
    reads `hour`:00. On the day the clocks spring forward past that hour, the run
    happens at the transition (the first instant after the missing hour begins);
    when the hour happens twice, only its first occurrence counts."""
    zone = ZoneInfo(tz)
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        day = local_day + dt.timedelta(days=offset)
        # fold=0: for a repeated hour, the first occurrence; for a missing hour,
        # the offset before the transition, which maps onto the transition instant.
        candidate = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.timezone.utc)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a local hour occurs at least once in three days")


def secs_until_next_run_hour(now: dt.datetime, hour: int, tz: str) -> float:
    return (next_run_at(now, hour, tz) - now).total_seconds()


def previous_run_at(now: dt.datetime, hour: int, tz: str) -> dt.datetime:
    """The most recent scheduled instant at or before `now` (for catch-up)."""
    zone = ZoneInfo(tz)
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        day = local_day - dt.timedelta(days=offset)
        candidate = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.timezone.utc)
        if candidate <= now:
            return candidate
    raise AssertionError("unreachable")


def missed_night(now: dt.datetime, hour: int, tz: str, last_run: dt.datetime | None) -> bool:
    """True when the latest scheduled time has passed with no pass since (the
    service was down then): catch it up at start-up."""
    return last_run is None or last_run < previous_run_at(now, hour, tz)
