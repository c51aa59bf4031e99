"""Nightly pre-generation through RunPregenNow on a real stack: dedup, new media,
the free-disk threshold, the replay of captured CreateReel options, prune_superseded
(with a stream open on the pruned reel), two passes at once, and GetLedgerStats.

One module-scoped stack on a tiny library; five renders of 10-12 s reels in all.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import grpc
import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.domain import Kind, Span
from reels_core.windows import window_for
from tests.conftest import Stack, error_reason, start_stack, stop_stack, wait_scanned
from tests.loops.helpers import (
    DAY,
    MONTH,
    PREGEN,
    RECAP,
    RETENTION,
    WEEK,
    add_photos,
    error_metadata,
    pb_date,
    pregen,
    reel_dir_listing,
    runs,
    sha256_of,
    today_utc,
    wait_until,
)

LIB = "tiny"
TODAY = today_utc()
YESTERDAY = TODAY - dt.timedelta(days=1)


def week_anchors(today: dt.date) -> tuple[dt.date, dt.date]:
    """Two different days of one ISO week, not after today, whose week reel is
    still valid today (8 days from the anchor's midnight)."""
    monday = today - dt.timedelta(days=today.weekday())
    return (monday, today) if today != monday else (monday - dt.timedelta(days=7), monday - dt.timedelta(days=6))


WEEK_A, WEEK_B = week_anchors(TODAY)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("pregen") / "library"
    week = window_for(Span.WEEK, Kind.RECAP, WEEK_A)
    month = window_for(Span.MONTH, Kind.RECAP, TODAY)
    add_photos(lib, [YESTERDAY, YESTERDAY], prefix="day", hour=9)
    add_photos(lib, [week.start + dt.timedelta(days=1), week.start + dt.timedelta(days=3)], prefix="week")
    add_photos(lib, [month.start + dt.timedelta(days=2)], prefix="month")
    return lib


@pytest.fixture(scope="module")
def stack(library: Path, tmp_path_factory):
    s = start_stack(
        tmp_path_factory.mktemp("pregen-data"),
        libraries=f"{LIB}={library}",
        REEL_TARGET_DURATION_S="10",
        PREGEN_KEEP_PER_SCOPE="2",
        REEL_STREAM_CHUNK_KIB="16",
    )
    wait_scanned(s, LIB)
    yield s
    stop_stack(s)


def rescan(stack: Stack) -> admin_pb2.RescanLibraryResponse:
    return stack.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library=LIB))


def scope_keys(stack: Stack, span: common_pb2.Span, kind: common_pb2.ReelKind = RECAP) -> set[str]:
    listed = stack.reels.ListReels(pb2.ListReelsRequest(library=LIB, span=span, kind=kind, page_size=50))
    return {r.key for r in listed.reels}


@pytest.fixture(scope="module")
def day_reels(stack: Stack, library: Path):
    """DAY RECAP anchored today: rendered, then deduped, then (a photo added to
    yesterday and the library rescanned) rendered again."""
    first = pregen(stack, TODAY)
    again = pregen(stack, TODAY)
    add_photos(library, [YESTERDAY], prefix="added", hour=15)
    scan = rescan(stack)
    after_new_media = pregen(stack, TODAY)
    return first, again, scan, after_new_media


@pytest.fixture(scope="module")
def week_pass(stack: Stack):
    """Two RunPregenNow at once: a WEEK RECAP pass runs in a thread; while it holds
    the lock, GetLedgerStats is read and a second RunPregenNow is refused."""
    result: dict[str, object] = {}

    def run() -> None:
        result["first"] = pregen(stack, WEEK_A, WEEK)

    thread = threading.Thread(target=run)
    thread.start()

    def held():
        stats = stack.admin.GetLedgerStats(admin_pb2.GetLedgerStatsRequest())
        return stats if any(lock.lock_id == "pregen" for lock in stats.locks) else None

    stats_while_held = wait_until(held, timeout=30, what="the pregen lock to be taken")
    with pytest.raises(grpc.RpcError) as refused:
        pregen(stack, WEEK_B, WEEK)
    thread.join(timeout=120)
    assert not thread.is_alive()
    second_anchor = pregen(stack, WEEK_B, WEEK)
    return result["first"], refused.value, stats_while_held, second_anchor


# --- the sweeper is off in this stack (REEL_CACHE_SWEEP_ENABLED=0) --------------


def test_sweeper_disabled_means_no_sweeper_loop(stack: Stack):
    names = {t.name for t in stack.app.threads}
    assert "loop-consolidation" in names  # loops did start...
    assert "loop-sweeper" not in names and "loop-pregen" not in names  # ...but not these two
    assert runs(stack, RETENTION) == []


# --- dedup -------------------------------------------------------------------------


def test_same_anchor_and_scope_dedups(day_reels):
    first, again, _scan, _after = day_reels
    assert first.run.status == "OK"
    [o1] = first.outcomes
    assert (o1.outcome, o1.reason) == ("RENDERED", "") and o1.reel_key
    [o2] = again.outcomes
    assert (o2.outcome, o2.reason, o2.reel_key) == ("SKIPPED", "DEDUP", o1.reel_key)
    assert again.run.status == "OK"


def test_new_media_in_the_window_renders_again(day_reels):
    first, _again, scan, after = day_reels
    assert scan.added == 1
    [o] = after.outcomes
    assert o.outcome == "RENDERED" and o.reel_key not in ("", first.outcomes[0].reel_key)


def test_week_recap_dedups_on_another_day_of_the_following_week(week_pass):
    first, _refused, _stats, second_anchor = week_pass
    assert WEEK_A != WEEK_B
    assert window_for(Span.WEEK, Kind.RECAP, WEEK_A).ranges == window_for(Span.WEEK, Kind.RECAP, WEEK_B).ranges
    [o1] = first.outcomes
    assert o1.outcome == "RENDERED"
    [o2] = second_anchor.outcomes
    assert (o2.outcome, o2.reason, o2.reel_key) == ("SKIPPED", "DEDUP", o1.reel_key)


# --- two passes at once --------------------------------------------------------------


def test_concurrent_pregen_one_runs_the_other_is_aborted_lock_held(stack: Stack, week_pass):
    first, refused, _stats, _second = week_pass
    owner = stack.settings.owner_id
    assert refused.code() == grpc.StatusCode.ABORTED
    assert error_reason(refused) == "LOCK_HELD"
    assert error_metadata(refused)["holder"] == owner and owner in refused.details()
    history = runs(stack, PREGEN)
    by_id = {r.run_id: r for r in history}
    assert by_id[first.run.run_id].status == "OK"
    skipped = [r for r in history if r.status == "SKIPPED"]
    assert len(skipped) == 1
    assert skipped[0].report["skipped"] == "LOCK_HELD" and skipped[0].report["holder"] == owner
    # The refused run started while the first was running.
    assert first.run.start_time.ToDatetime() <= skipped[0].start_time.ToDatetime() <= first.run.end_time.ToDatetime()


def test_ledger_stats_name_the_lock_holder_while_a_pass_holds_it(stack: Stack, week_pass):
    _first, _refused, stats, _second = week_pass
    [lock] = [lock for lock in stats.locks if lock.lock_id == "pregen"]
    assert lock.owner_id == stack.settings.owner_id
    assert lock.expire_time.ToDatetime() > lock.acquire_time.ToDatetime()
    # Released afterwards.
    now = stack.admin.GetLedgerStats(admin_pb2.GetLedgerStatsRequest())
    assert [lock.lock_id for lock in now.locks] == []


# --- low disk ------------------------------------------------------------------------


def test_low_disk_skips_and_writes_nothing(library: Path, tmp_path: Path):
    s = start_stack(
        tmp_path / "data",
        libraries=f"{LIB}={library}",
        with_scripter=False,
        REEL_TARGET_DURATION_S="10",
        REEL_MIN_FREE_DISK_MB=str(10**9),
    )
    try:
        wait_scanned(s, LIB)
        resp = pregen(s, TODAY)
        [o] = resp.outcomes
        assert (o.outcome, o.reason) == ("SKIPPED", "LOW_DISK")
        assert "MB free" in o.message
        assert resp.run.status == "OK"
        assert reel_dir_listing(s) == {}
        stats = s.admin.GetLedgerStats(admin_pb2.GetLedgerStatsRequest())
        assert list(stats.scopes) == []
    finally:
        stop_stack(s)


# --- prune_superseded --------------------------------------------------------------


def test_prune_keeps_the_newest_two_and_an_open_stream_finishes(stack: Stack, library: Path, day_reels):
    first, _again, _scan, after = day_reels
    oldest, newer = first.outcomes[0].reel_key, after.outcomes[0].reel_key
    assert scope_keys(stack, DAY) == {oldest, newer}
    expected = stack.reels.GetReel(pb2.GetReelRequest(key=oldest)).reel

    stream = stack.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=oldest))
    head = next(stream)
    assert head.offset == 0 and head.size_bytes == expected.size_bytes and len(head.data) < expected.size_bytes

    add_photos(library, [YESTERDAY], prefix="third", hour=17)
    assert rescan(stack).added == 1
    [o] = pregen(stack, TODAY).outcomes
    assert o.outcome == "RENDERED"

    # The ledger keeps exactly PREGEN_KEEP_PER_SCOPE rows; the oldest reel's files are gone...
    assert scope_keys(stack, DAY) == {newer, o.reel_key}
    files = reel_dir_listing(stack)
    assert not {f"{oldest}.mp4", f"{oldest}.json", f"{oldest}.jpg"} & set(files)
    assert {f"{newer}.mp4", f"{o.reel_key}.mp4", f"{o.reel_key}.json", f"{o.reel_key}.jpg"} <= set(files)
    with pytest.raises(grpc.RpcError) as gone:
        stack.reels.GetReel(pb2.GetReelRequest(key=oldest))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    # ...and the stream opened before the prune still delivers every byte.
    data = head.data + b"".join(m.data for m in stream)
    assert len(data) == expected.size_bytes
    assert sha256_of(data) == expected.sha256 == head.sha256


# --- GetLedgerStats --------------------------------------------------------------------


def test_ledger_stats_rows_bytes_cache_and_last_runs(stack: Stack, day_reels, week_pass):
    orphan = stack.settings.reel_dir / "tiny-day-recap-20000101-0badc0de.mp4"
    orphan.write_bytes(b"\0" * 1234)
    try:
        stats = stack.admin.GetLedgerStats(admin_pb2.GetLedgerStatsRequest())
        listed = stack.reels.ListReels(pb2.ListReelsRequest(library=LIB, page_size=100)).reels
        expected: dict[tuple[int, int], list[int]] = {}
        for r in listed:
            expected.setdefault((r.span, r.kind), []).append(r.size_bytes)
        got = {(s.span, s.kind): (s.reel_count, s.total_bytes) for s in stats.scopes if s.library == LIB}
        assert got == {scope: (len(sizes), sum(sizes)) for scope, sizes in expected.items()}
        assert got[(DAY, RECAP)][0] == 2 and got[(WEEK, RECAP)][0] == 1

        files = reel_dir_listing(stack)
        referenced = {f"{r.key}{ext}" for r in listed for ext in (".mp4", ".json", ".jpg")}
        cache = {name: size for name, size in files.items() if name not in referenced}
        assert orphan.name in cache
        assert stats.cache_bytes == sum(cache.values()) and stats.cache_files == len(cache)
        assert stats.ledger_bytes == sum(size for name, size in files.items() if name in referenced)

        newest_pregen = runs(stack, PREGEN)[0]
        [last] = [r for r in stats.last_runs if r.kind == PREGEN]
        assert last.run_id == newest_pregen.run_id
        assert list(stats.locks) == []
    finally:
        orphan.unlink()


# --- replay of the captured CreateReel options (last: it changes every later pass) --


def test_pregen_replays_the_options_of_the_last_create_reel(stack: Stack):
    options = common_pb2.RenderOptions(mood="calm", music_style="ambient", target_duration_seconds=12)
    job = stack.reels.CreateReel(
        pb2.CreateReelRequest(
            library=LIB, span=DAY, kind=RECAP, anchor_date=pb_date(TODAY), options=options, request_id="replay-1"
        )
    ).job
    # Only the capture matters here: cancel the on-demand render.
    stack.reels.CancelReelJob(pb2.CancelReelJobRequest(job_id=job.job_id))
    for _ in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=60):
        pass

    prefs = stack.reels.GetPreferences(pb2.GetPreferencesRequest(library=LIB))
    captured = prefs.captured_options
    assert (captured.mood, captured.music_style, captured.target_duration_seconds) == ("calm", "ambient", 12)

    [o] = pregen(stack, TODAY, MONTH).outcomes
    assert o.outcome == "RENDERED"
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=o.reel_key))
    assert (reel.script.mood, reel.script.music_style) == ("calm", "ambient")
    assert (reel.reel.mood, reel.reel.music_style) == ("calm", "ambient")
    assert reel.reel.duration_seconds == pytest.approx(12, abs=0.05)
    assert reel.options.mood == "calm" and reel.options.target_duration_seconds == 12
