"""Calendar events from a context pack's ``calendar.ics`` (read-only).

Parsed with ``icalendar``; recurring events (RRULE, RDATE, EXDATE, moved instances)
are expanded with ``recurring-ical-events``, which also honours ``X-WR-TIMEZONE``.
Times are reported in the library time zone: a zoned or UTC event is converted, a
floating one is taken as local, and an all-day event covers its local dates.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events

from scripter_service.tools.common import file_fingerprint, read_context_file, to_local

FILE_NAME = "calendar.ics"


class CalendarProvider:
    """Events of ``<context_dir>/calendar.ics``; a missing file means no events."""

    def __init__(self, context_dir: str | Path, tz: dt.tzinfo) -> None:
        self.path = Path(context_dir) / FILE_NAME
        self.tz = tz
        self._lock = threading.Lock()
        self._loaded: tuple[tuple[int, int] | None, icalendar.Calendar | None] = (None, None)

    def events(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """Occurrences overlapping ``[start, end)``, in start order.

        Each is ``{uid, summary, start, end, all_day, location}``; ``start``/``end``
        are ISO dates for all-day events (end exclusive) and ISO datetimes with the
        library offset otherwise.
        """
        cal = self._calendar()
        if cal is None:
            return []
        start, end = to_local(start, self.tz), to_local(end, self.tz)
        if end <= start:
            return []
        # Ask the library for a wider range, then decide overlap in local time here,
        # so that all-day and floating events are judged in the library time zone.
        margin = dt.timedelta(days=2)
        query = recurring_ical_events.of(cal, skip_bad_series=True)
        found = []
        # A lazy walk in start order, stopped at the range's end and at
        # MAX_OCCURRENCES: `between` would expand every occurrence first.
        for n, event in enumerate(query.after(start - margin)):
            if n >= MAX_OCCURRENCES:
                break
            item = self._as_dict(event)
            if item is not None and item["_start"] >= end + margin:
                break
            if item is None:
                continue
            ev_start, ev_end = item.pop("_start"), item.pop("_end")
            if ev_start < end and (ev_end > start or (ev_end == ev_start and ev_start >= start)):
                found.append((ev_start, item["uid"], item))
        found.sort(key=lambda row: (row[0], row[1]))
        return [item for _, _, item in found]

    def _as_dict(self, event: icalendar.Event) -> dict[str, Any] | None:
        try:
            raw_start = event.decoded("DTSTART")
        except KeyError:
            return None
        all_day = not isinstance(raw_start, dt.datetime)
        if "DTEND" in event:
            raw_end = event.decoded("DTEND")
        elif "DURATION" in event:
            raw_end = raw_start + event.decoded("DURATION")
        else:
            raw_end = raw_start + (dt.timedelta(days=1) if all_day else dt.timedelta(0))
        local_start, local_end = to_local(raw_start, self.tz), to_local(raw_end, self.tz)
        if all_day:
            shown_start: str = raw_start.isoformat()
            shown_end: str = (raw_end if not isinstance(raw_end, dt.datetime) else raw_end.date()).isoformat()
        else:
            shown_start, shown_end = local_start.isoformat(), local_end.isoformat()
        return {
            "uid": str(event.get("UID", "")),
            "summary": str(event.get("SUMMARY", "")),
            "start": shown_start,
            "end": shown_end,
            "all_day": all_day,
            "location": str(event.get("LOCATION", "")),
            "_start": local_start,
            "_end": local_end,
        }

    def _calendar(self) -> icalendar.Calendar | None:
        fingerprint = file_fingerprint(self.path)
        with self._lock:
            if fingerprint is None:
                return None
            if self._loaded[0] != fingerprint:
                data = read_context_file(self.path, self.path.parent)
                cal = None if data is None else _without_dense_series(icalendar.Calendar.from_ical(data))
                self._loaded = (fingerprint, cal)
            return self._loaded[1]


# Occurrences looked at per query at most, and the recurrences dropped before any
# expansion: an event repeating every second or minute (FREQ=SECONDLY over a month
# is 2.6 million occurrences) is not something a reel's caption can use.
MAX_OCCURRENCES = 2000
DENSE_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY"})


def _without_dense_series(cal: icalendar.Calendar) -> icalendar.Calendar:
    kept = []
    for component in cal.subcomponents:
        rules = component.get("RRULE")
        rules = rules if isinstance(rules, list) else [rules] if rules is not None else []
        if any(str(freq).upper() in DENSE_FREQUENCIES for rule in rules for freq in rule.get("FREQ", [])):
            continue
        kept.append(component)
    cal.subcomponents = kept
    return cal
