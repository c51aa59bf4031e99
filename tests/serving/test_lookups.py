"""GetPrecomputedReel's cache: hits answer without the ledger; a write in this
process, a file gone, valid_until, a plugged-in version and the time to live each
end a cached answer (AnswerCache with fake clocks, then over the wire)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import grpc
import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.errors import NotFound
from render_service.lookup_cache import Answer, AnswerCache
from tests.conftest import error_reason, start_stack, stop_stack, today_utc
from tests.serving.helpers import place_reel

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clocks:
    def __init__(self) -> None:
        self.mono, self.now, self.generation, self.size = 0.0, T0, 0, 10


def _cache(c: Clocks) -> AnswerCache[str]:
    return AnswerCache(
        2.0,
        generation=lambda: c.generation,
        now=lambda: c.now,
        check_file=lambda _name: c.size,
        monotonic=lambda: c.mono,
    )


def test_answer_cache_ends_an_answer_on_each_invalidation():
    c = Clocks()
    cache = _cache(c)
    reads: list[int] = []

    async def read() -> Answer[str]:
        reads.append(1)
        return Answer(f"v{len(reads)}", None, T0 + dt.timedelta(hours=1), "f.mp4", 10)

    def get() -> str:
        return asyncio.run(cache.answer("scope", read))

    assert (get(), get()) == ("v1", "v1") and len(reads) == 1  # the second is a hit
    c.mono = 1.99
    assert get() == "v1"
    c.mono = 2.0  # time to live: a write by another replica shows
    assert get() == "v2"
    c.generation = 1  # a write in this process (or an exclusions version)
    assert get() == "v3"
    c.size = 9  # the file changed or went away
    assert get() == "v4"
    c.size, c.now = 10, T0 + dt.timedelta(hours=1)  # valid_until passed
    assert get() == "v5"
    assert cache.hits == 2 and cache.misses == 5


def test_answer_cache_keeps_errors_and_shares_one_read():
    c = Clocks()
    cache = _cache(c)
    reads: list[int] = []

    async def read() -> Answer[str]:
        reads.append(1)
        await asyncio.sleep(0)
        return Answer(None, NotFound("NO_REEL", "none"))

    async def many() -> list[BaseException | str]:
        return await asyncio.gather(*(cache.answer("s", read) for _ in range(5)), return_exceptions=True)

    results = asyncio.run(many())
    assert len(reads) == 1 and all(isinstance(r, NotFound) and r.reason == "NO_REEL" for r in results)
    with pytest.raises(NotFound):
        asyncio.run(cache.answer("s", read))
    assert len(reads) == 1


def _get(stack) -> pb2.ReelSummary:
    return stack.reels.GetPrecomputedReel(
        pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
    ).reel


def test_cached_lookup_sees_writes_and_lost_files_at_once(tmp_path: Path):
    # A long time to live: only the in-process invalidations can explain a change.
    stack = start_stack(tmp_path / "data", with_scripter=False, REEL_LOOKUP_CACHE_S="3600")
    try:
        app, today = stack.app, today_utc()
        lookups = stack.render_server.native.lookups
        with pytest.raises(grpc.RpcError) as err:
            _get(stack)
        assert error_reason(err.value) == "NO_REEL"
        first = place_reel(app.engine, app.store, tmp_path, "reel-a", 1000, today - dt.timedelta(days=1))
        assert _get(stack).key == first.key  # the NO_REEL answer ended with the write
        hits = lookups.hits
        assert _get(stack).key == first.key and lookups.hits == hits + 1  # a hit
        newer = place_reel(app.engine, app.store, tmp_path, "reel-b", 2000, today)
        assert _get(stack).key == newer.key
        (Path(stack.settings.reel_dir) / newer.video_name).unlink()
        assert _get(stack).key == first.key  # the stat on a hit saw the file gone
    finally:
        stop_stack(stack)


def test_a_reel_check_and_its_version_plug_into_the_cached_lookup(tmp_path: Path):
    """The hook for hidden media: a per-row check, and a version whose change ends
    every cached answer at once."""
    stack = start_stack(tmp_path / "data", with_scripter=False, REEL_LOOKUP_CACHE_S="3600")
    try:
        app, today = stack.app, today_utc()
        older = place_reel(app.engine, app.store, tmp_path, "reel-a", 1000, today - dt.timedelta(days=1))
        newer = place_reel(app.engine, app.store, tmp_path, "reel-b", 1000, today)
        assert _get(stack).key == newer.key
        native = stack.render_server.native
        native.reel_check = lambda row: "HIDDEN" if row.key == newer.key else ""
        assert _get(stack).key == newer.key  # cached: the version has not moved
        native.exclusions_version = lambda: 1
        assert _get(stack).key == older.key
        native.reel_check = lambda row: "HIDDEN"
        native.exclusions_version = lambda: 2
        with pytest.raises(grpc.RpcError) as err:
            _get(stack)
        assert (err.value.code(), error_reason(err.value)) == (grpc.StatusCode.NOT_FOUND, "HIDDEN")
    finally:
        stop_stack(stack)
