"""The domain clock: the one place that says what "now" and "today" are.

Everything that decides by the date (the default anchor, ``ANCHOR_IN_FUTURE``,
the validity gate, the nightly schedule, ledger timestamps) reads ``now()`` or
``today(tz)`` from here, never ``datetime.now``. Durations the process measures for
itself (timeouts, ``time.monotonic``, gRPC deadlines, file ages from ``st_mtime``)
stay on the real clocks, which is why a date can be pinned here without the
side effects of ``faketime`` (which also moves gRPC's timers and thread waits).

Two ways to pin it:

* ``REEL_TODAY=YYYY-MM-DD`` (read by the settings, applied with ``set_today``): the
  clock is shifted by whole days so that the UTC date is that day, at the real time
  of day. Every process given the same value agrees on the shift, so a test run,
  the sample builder and the services it starts all live on the same date.
* ``REEL_CLOCK_SHIFT_S`` (the test suite): a fixed shift in seconds, applied with
  ``set_shift``, which wins over ``REEL_TODAY``. The suite computes it once, so that
  its run starts at noon UTC of the day it tests, and hands it to every process it
  starts: they all read the same instant, and a run that starts near midnight does
  not cross into the next day halfway through.
* ``pinned(instant)`` (tests, in-process): the clock reads ``instant`` now and runs
  on from it at the real pace, so leases and timeouts still elapse.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

_lock = threading.Lock()
_day_shift = dt.timedelta(0)
_pin: tuple[dt.datetime, float] | None = None  # (instant, time.monotonic() when pinned)


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The domain's current instant, aware UTC."""
    pin = _pin
    if pin is not None:
        instant, at = pin
        return instant + dt.timedelta(seconds=time.monotonic() - at)
    return real_now() + _day_shift


def today(tz: str | ZoneInfo) -> dt.date:
    """The current local date in ``tz``."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return now().astimezone(zone).date()


def set_today(day: dt.date | None) -> None:
    """Shift the clock by whole days so that the UTC date is ``day`` (None: the real
    date). Idempotent; the services call it with ``REEL_TODAY`` at start."""
    global _day_shift
    with _lock:
        _day_shift = dt.timedelta(0) if day is None else dt.timedelta(days=(day - real_now().date()).days)


def set_shift(seconds: int) -> None:
    """Shift the clock by a fixed number of seconds (see ``REEL_CLOCK_SHIFT_S``)."""
    global _day_shift
    with _lock:
        _day_shift = dt.timedelta(seconds=seconds)


def configure(today: dt.date | None, shift_s: int | None) -> None:
    """Apply the settings' clock pins: ``REEL_CLOCK_SHIFT_S`` if set, else ``REEL_TODAY``."""
    if shift_s is not None:
        set_shift(shift_s)
    else:
        set_today(today)


def shift_to_noon(day: dt.date) -> int:
    """The shift (seconds) that makes the clock read noon UTC of ``day`` now."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return round((noon - real_now()).total_seconds())


@contextmanager
def pinned(instant: dt.datetime) -> Iterator[None]:
    """Within the block, the clock starts at ``instant`` (aware) and runs on in real time."""
    global _pin
    if instant.tzinfo is None:
        raise ValueError("pinned() needs an aware datetime")
    with _lock:
        previous, _pin = _pin, (instant.astimezone(dt.UTC), time.monotonic())
    try:
        yield
    finally:
        with _lock:
            _pin = previous
