"""The in-process cache of GetPrecomputedReel's answers, one per scope.

An answer (the response, or the NOT_FOUND it raised) is kept until the first of:

- a ledger write to `precomputed_reels` committed in this process (the
  `generation` moves: `ledger.changes.TableWrites`), or a change of any other
  version plugged into `generation` (e.g. an exclusions version: a hidden item
  stops being served at once);
- its reel's `valid_until` passes (domain clock);
- `ttl_s` (REEL_LOOKUP_CACHE_S) has passed since it was read from the ledger: the
  bound on how long a write by another replica can go unseen;
- its file is gone or has another size: a hit still costs one `stat` on a local
  store (`check_file`); on S3 the ledger is trusted for `ttl_s` (a HEAD request per
  call would cost more than the lookup it saves).

Concurrent misses of one scope share one ledger read. Everything here runs on the
server's event loop (one thread); the read itself runs in the blocking pool.

Measured (docs/BENCHMARKS.md, bench:precomputed): a hit costs a dict lookup, a
clock read and a stat, about 5 us, against 40-700 us for the ledger read and the
mapping it replaces (SQLite / PostgreSQL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A cached answer: `value`, or the `error` to raise again."""

    value: T | None
    error: Exception | None
    valid_until: dt.datetime | None = None  # the reel's; None: no expiry but the ttl
    file_name: str = ""  # the reel's video, stat'ed on every hit when check_file is set
    file_size: int = 0


@dataclass
class _Entry(Generic[T]):
    answer: Answer[T]
    read_at: float
    generation: Hashable


class AnswerCache(Generic[T]):
    def __init__(
        self,
        ttl_s: float,
        generation: Callable[[], Hashable],
        now: Callable[[], dt.datetime],
        check_file: Callable[[str], int | None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self._generation = generation
        self._now = now
        self._check_file = check_file
        self._monotonic = monotonic
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._filling: dict[Hashable, asyncio.Future[Answer[T]]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Answer[T] | None:
        """The cached answer if it still holds, else None (and it is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        answer = entry.answer
        if (
            self._monotonic() - entry.read_at >= self.ttl_s
            or entry.generation != self._generation()
            or (answer.valid_until is not None and self._now() >= answer.valid_until)
            or (answer.file_name and self._check_file and self._check_file(answer.file_name) != answer.file_size)
        ):
            del self._entries[key]
            return None
        return answer

    async def answer(self, key: Hashable, read: Callable[[], Awaitable[Answer[T]]]) -> T:
        """The value for `key`, from the cache or from `read()` (one read at a time
        per key); raises the cached error."""
        cached = self.get(key)
        if cached is None:
            self.misses += 1
            cached = await self._fill(key, read)
        else:
            self.hits += 1
        if cached.error is not None:
            raise cached.error.with_traceback(None)  # the same instance each time: no growing traceback
        assert cached.value is not None
        return cached.value

    async def _fill(self, key: Hashable, read: Callable[[], Awaitable[Answer[T]]]) -> Answer[T]:
        # The read is a task of its own: a caller that goes away (cancelled) does
        # not cancel it for the others waiting on the same scope.
        task = self._filling.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read_and_store(key, read))
            task.add_done_callback(_retrieve)
            self._filling[key] = task
        return await asyncio.shield(task)

    async def _read_and_store(self, key: Hashable, read: Callable[[], Awaitable[Answer[T]]]) -> Answer[T]:
        generation, read_at = self._generation(), self._monotonic()
        try:
            answer = await read()
        finally:
            del self._filling[key]
        if self.ttl_s > 0:
            # Stored with the generation seen before the read: a write committed
            # during the read makes the entry stale at once.
            self._entries[key] = _Entry(answer, read_at, generation)
        return answer


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a failed read's exception as seen (its waiters re-raise it; when all
    of them went away, nobody else needs it)."""
    if not task.cancelled():
        task.exception()
