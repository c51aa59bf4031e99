"""Small helpers shared by the context providers: time parsing and file fingerprints."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


def to_local(value: dt.datetime | dt.date, tz: dt.tzinfo) -> dt.datetime:
    """An aware datetime in ``tz``: a date is its local midnight, a naive time is
    taken as local (floating) time."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=tz)
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value.astimezone(tz)


def parse_time(value: object, tz: dt.tzinfo) -> dt.datetime:
    """ISO-8601 text (date, naive or with offset, 'Z' accepted), epoch seconds, or a
    date/datetime, as an aware datetime in ``tz``. Raises ValueError otherwise."""
    if isinstance(value, (dt.datetime, dt.date)):
        return to_local(value, tz)
    if isinstance(value, bool):
        raise ValueError("not a time")
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), tz)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a time")
    text = value.strip()
    if len(text) == 10:
        return to_local(dt.date.fromisoformat(text), tz)
    return to_local(dt.datetime.fromisoformat(text), tz)


def iso(value: dt.datetime | dt.date) -> str:
    return value.isoformat()


def file_fingerprint(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
