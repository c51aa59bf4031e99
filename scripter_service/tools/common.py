"""Small helpers shared by the context providers: time parsing, file fingerprints,
and the bounded, no-escape read of a context file."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import structlog

log = structlog.get_logger("context")

# The largest context file read (messages.json, calendar.ics, locations.*): a
# pack's files are a few MB; a bigger one is ignored whole rather than parsed,
# since the parsers (json, icalendar, gpxpy) hold all of it, several times over.
MAX_CONTEXT_FILE_BYTES = 32 << 20


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


def inside(base: Path, path: Path) -> bool:
    """Whether ``path``, links resolved, is a file under ``base`` (links resolved
    too): a link out of the context pack or the library is never followed."""
    try:
        return Path(path).resolve(strict=True).is_relative_to(Path(base).resolve())
    except (OSError, RuntimeError):
        return False


def read_context_file(path: Path, base: Path, limit: int = MAX_CONTEXT_FILE_BYTES) -> bytes | None:
    """The bytes of a context file, or None (treated as absent, with a log line
    naming the reason, never the contents) when it is missing, larger than
    ``limit``, or a link leading outside ``base``."""
    path = Path(path)
    if not path.exists():
        return None
    if not inside(base, path):
        log.warning("context file ignored", file=path.name, reason="OUTSIDE_CONTEXT")
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        log.warning("context file ignored", file=path.name, reason="UNREADABLE")
        return None
    if len(data) > limit:
        log.warning("context file ignored", file=path.name, reason="TOO_LARGE", limit_bytes=limit)
        return None
    return data
