"""Which libraries this process has indexed, and which it is scanning now.

Before a library's first scan completes its index may be empty, and an empty index
must never be answered as "no media" (never wrong while starting): callers that
find nothing ask ``indexed`` and wait (``wait_indexed``) within their
deadline, or answer UNAVAILABLE with ``LIBRARY_SCANNING``. Scans of one library are
serialised, so a RescanLibrary during the start-up scan waits for it rather than
racing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)  # a scan has finished in this process
    running: int = 0


class LibraryScans(Generic[R]):
    """``scan(key)`` runs ``scan_fn(key)`` under the library's lock and records its state."""

    def __init__(self, scan_fn: Callable[[str], R]) -> None:
        self._scan_fn = scan_fn
        self._states: dict[str, _State] = {}
        self._guard = threading.Lock()

    def _state(self, key: str) -> _State:
        with self._guard:
            return self._states.setdefault(key, _State())

    def scan(self, key: str) -> R:
        state = self._state(key)
        with self._guard:
            state.running += 1
        try:
            with state.lock:
                return self._scan_fn(key)
        finally:
            with self._guard:
                state.running -= 1
            state.done.set()  # a failed scan too: the index is what it is, and says so

    def scanning(self, key: str) -> bool:
        """A scan of ``key`` is running or waiting for the one that runs."""
        return self._state(key).running > 0

    def indexed(self, key: str) -> bool:
        return self._state(key).done.is_set()

    def wait_indexed(self, key: str, timeout_s: float) -> bool:
        return self._state(key).done.wait(max(0.0, timeout_s))
