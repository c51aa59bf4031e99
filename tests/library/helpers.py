"""Test helpers over the window maths (the service selects in SQL, ``ledger.libraries``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol, TypeVar

from reels_core.domain import Window
from reels_core.windows import window_to_utc


class _Dated(Protocol):
    taken_at_utc: dt.datetime


_D = TypeVar("_D", bound=_Dated)


def select_in_window(items: Iterable[_D], window: Window, tz: str) -> list[_D]:
    """The items whose ``taken_at_utc`` falls in ``window`` (local dates in ``tz``),
    sorted chronologically."""
    bounds = window_to_utc(window, tz)
    chosen = [item for item in items if any(lo <= item.taken_at_utc < hi for lo, hi in bounds)]
    chosen.sort(key=lambda item: item.taken_at_utc)
    return chosen
