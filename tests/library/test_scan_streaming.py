"""Scans stream through the ledger: unchanged files are not opened again (videos
included), rows are written in batches with a commit each, readers and writers get
in between batches, and a scan stopped half way leaves a consistent index."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from ledger import libraries as library_dao
from ledger import readonly
from ledger import reels as reel_dao
from ledger.db import make_engine, migrate, session_scope
from ledger.models import MediaItem
from reels_core.libraries import LibraryConfig
from render_service import indexing, media_index
from render_service.indexing import rescan
from tests.media_fixtures import write_clip, write_photo

T0 = dt.datetime(2024, 5, 1, 9, 0)


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(None, tmp_path / "data")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """rel_paths handed to ``media_index.scan_file`` (the one place a file is read)."""
    calls: list[str] = []
    real = media_index.scan_file

    def counting(path, rel_path, *args, **kwargs):
        calls.append(rel_path)
        return real(path, rel_path, *args, **kwargs)

    monkeypatch.setattr(media_index, "scan_file", counting)
    return calls


def _library(tmp_path: Path, photos: int = 6) -> LibraryConfig:
    root = tmp_path / "lib"
    for i in range(photos):
        write_photo(root / f"d{i % 2}" / f"p{i}.jpg", T0 + dt.timedelta(hours=i), size=(64, 48))
    return LibraryConfig("lib", root, "UTC")


def _register(engine, lib: LibraryConfig) -> None:
    with session_scope(engine) as session:
        library_dao.upsert_library(session, lib.key, str(lib.root), lib.timezone)


def _rows(engine, key: str = "lib") -> dict[str, str]:
    with session_scope(engine) as session:
        stmt = sa.select(col(MediaItem.rel_path), col(MediaItem.id)).where(col(MediaItem.library_key) == key)
        return {p: i for p, i in session.execute(stmt)}


def test_a_rescan_opens_only_new_and_changed_files(tmp_path, engine, opened):
    lib = _library(tmp_path)
    write_clip(lib.root / "d0" / "clip.mp4", dt.datetime(2024, 5, 2, 10, tzinfo=dt.UTC), seconds=1.0, size="64x36")
    _register(engine, lib)
    first = rescan(engine, lib)
    assert (first.added, first.photos, first.videos) == (7, 6, 1)
    assert len(opened) == 7

    opened.clear()
    again = rescan(engine, lib)
    assert opened == []  # not one file read, the video included
    assert (again.added, again.updated, again.removed, again.unchanged, again.probed) == (0, 0, 0, 7, 0)

    # Two changed in place, one new, one gone: only the first three are read.
    write_photo(lib.root / "d0" / "p0.jpg", T0 - dt.timedelta(days=1), size=(64, 48))
    (lib.root / "d1" / "p1.jpg").write_bytes((lib.root / "d1" / "p1.jpg").read_bytes() + b"\0")
    os.utime(lib.root / "d1" / "p1.jpg", ns=(1, 1_700_000_000_000_000_000))
    write_photo(lib.root / "d2" / "new.jpg", T0, size=(64, 48), color=(10, 200, 30))
    (lib.root / "d1" / "p3.jpg").unlink()
    before = _rows(engine)
    opened.clear()
    third = rescan(engine, lib)
    assert sorted(opened) == ["d0/p0.jpg", "d1/p1.jpg", "d2/new.jpg"]
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 2, 1, 4)
    after = _rows(engine)
    assert "d1/p3.jpg" not in after and "d2/new.jpg" in after
    assert after["d0/p0.jpg"] != before["d0/p0.jpg"]
    assert {p: i for p, i in after.items() if p in before and p not in ("d0/p0.jpg", "d1/p1.jpg")} == {
        p: i for p, i in before.items() if p not in ("d0/p0.jpg", "d1/p1.jpg", "d1/p3.jpg")
    }


def test_rows_indexed_before_the_check_are_read_once_more(tmp_path, engine, opened):
    """A row with ``verified`` False (written before the scan-time check existed) is
    not trusted: the next scan reads and checks the file, then trusts it."""
    lib = _library(tmp_path, photos=3)
    _register(engine, lib)
    rescan(engine, lib)
    with session_scope(engine) as session:
        session.execute(sa.update(MediaItem).where(col(MediaItem.rel_path) == "d1/p1.jpg").values(verified=False))
    opened.clear()
    assert rescan(engine, lib).probed == 1
    assert opened == ["d1/p1.jpg"]
    opened.clear()
    rescan(engine, lib)
    assert opened == []


def test_readers_and_writers_get_in_between_batches(tmp_path, engine):
    """A scan held after its first batch (an event, no sleep): ListLibraries' reads,
    GetPrecomputedReel's lookup and a write transaction all answer meanwhile, and
    see the first batch committed."""
    lib = _library(tmp_path, photos=6)
    _register(engine, lib)
    with session_scope(engine) as session:
        reel_dao.record_reel(
            session,
            key="lib-day-1",
            library_key="lib",
            span="DAY",
            kind="RECAP",
            anchor_date=dt.date(2024, 5, 2),
            window_start=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
            window_end=dt.datetime(2024, 5, 2, tzinfo=dt.UTC),
            valid_until=dt.datetime(2024, 5, 3, tzinfo=dt.UTC),
            video_path="lib-day-1.mp4",
            sidecar_path="lib-day-1.json",
            poster_path="lib-day-1.jpg",
        )
    held, release = threading.Event(), threading.Event()

    def hold(batch: int) -> None:
        if batch == 1:
            held.set()
            assert release.wait(30), "the test never released the scan"

    outcome: list[object] = []
    scan = threading.Thread(target=lambda: outcome.append(rescan(engine, lib, batch_size=2, after_batch=hold)))
    scan.start()
    try:
        assert held.wait(30)
        # ListLibraries: the library row and its counts.
        with readonly.read_session(engine) as session:
            [row] = library_dao.list_libraries_page(session, keys=["lib"])[0]
        assert row.media_count == 2
        assert indexing.media_kind_counts(engine, "lib") == (2, 0)
        # GetPrecomputedReel's lookup.
        with readonly.scan_newest_for_scope(engine, "lib", "DAY", "RECAP", 5) as found:
            assert [r.key for r in found] == ["lib-day-1"]
        # A writer (SQLite: BEGIN IMMEDIATE) is not blocked by the scan either.
        with session_scope(engine) as session:
            library_dao.upsert_library(session, "other", str(tmp_path), "UTC")
        assert scan.is_alive()
    finally:
        release.set()
        scan.join(30)
    [result] = outcome
    assert isinstance(result, indexing.RescanResult)
    assert (result.added, result.batches) == (6, 3)
    assert len(_rows(engine)) == 6


class _Crash(Exception):
    pass


def test_a_scan_stopped_half_way_leaves_a_consistent_index(tmp_path, engine, monkeypatch):
    """A crash between batches, or inside one (its transaction rolls back): every row
    left is a whole row of a file as it was, nothing is removed before the walk is
    complete, media_count matches the rows, and the next scan finishes the job."""
    lib = _library(tmp_path, photos=6)
    _register(engine, lib)
    rescan(engine, lib)
    old = _rows(engine)
    # Changes: two gone, two changed in place, three new.
    for name in ("d0/p0.jpg", "d1/p5.jpg"):
        (lib.root / name).unlink()
    for k, name in enumerate(("d0/p2.jpg", "d1/p3.jpg")):
        write_photo(lib.root / name, T0 - dt.timedelta(days=3 + k), size=(64, 48), color=(1, 2, 3))
    for k in range(3):
        write_photo(lib.root / "d3" / f"n{k}.jpg", T0 + dt.timedelta(days=k), size=(64, 48))

    def crash_after(batch: int) -> None:
        if batch == 2:
            raise _Crash

    with pytest.raises(_Crash):
        rescan(engine, lib, batch_size=1, after_batch=crash_after)
    partial = _rows(engine)
    assert set(partial) == set(old)  # nothing removed yet (the walk did not complete), nothing new yet
    assert [p for p in sorted(old) if partial[p] != old[p]] == ["d0/p2.jpg", "d1/p3.jpg"]  # the two batches
    with session_scope(engine) as session:
        library = library_dao.get_library(session, "lib")
        assert library is not None and library.media_count == len(partial)

    # A crash inside a batch: that batch's transaction rolls back whole.
    real = library_dao.write_media_rows

    def write_then_crash(session, key, items):
        real(session, key, items)
        raise _Crash

    monkeypatch.setattr(library_dao, "write_media_rows", write_then_crash)
    with pytest.raises(_Crash):
        rescan(engine, lib, batch_size=1)
    assert _rows(engine) == partial
    monkeypatch.setattr(library_dao, "write_media_rows", real)

    done = rescan(engine, lib)
    fresh_engine = make_engine(None, tmp_path / "fresh")
    migrate(fresh_engine)
    try:
        _register(fresh_engine, lib)
        rescan(fresh_engine, lib)
        assert _rows(engine) == _rows(fresh_engine)  # the same index as a scan from scratch
    finally:
        fresh_engine.dispose()
    assert done.removed == 2 and done.library.media_count == 7


def test_a_live_photo_pair_is_not_read_again_and_stays_paired(tmp_path, engine, opened):
    lib = _library(tmp_path, photos=2)
    write_clip(lib.root / "d0" / "p0.mov", dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC), seconds=1.0, size="64x36")
    _register(engine, lib)
    first = rescan(engine, lib)
    assert (first.photos, first.videos) == (2, 0)
    opened.clear()
    assert rescan(engine, lib).probed == 0 and opened == []
    # The still changes: its stem (the clip too) is read again, and pairs again.
    write_photo(lib.root / "d0" / "p0.jpg", T0 - dt.timedelta(hours=5), size=(64, 48))
    opened.clear()
    rescan(engine, lib)
    assert sorted(opened) == ["d0/p0.jpg", "d0/p0.mov"]
    with session_scope(engine) as session:
        motion = session.execute(
            sa.select(col(MediaItem.motion_rel_path)).where(col(MediaItem.rel_path) == "d0/p0.jpg")
        )
        assert motion.scalar_one() == "d0/p0.mov"


def test_heif_and_avif_are_checked_by_their_box_sizes_not_decoded(tmp_path, monkeypatch):
    """A HEIC or AVIF cut after its header is UNREADABLE at scan time; an intact one
    is indexed without its pixels being decoded."""
    from PIL import Image

    from tests.media_fixtures import quadrants, write_heic

    root = tmp_path / "lib"
    write_heic(root / "ok.heic", quadrants((128, 96)), taken="2024:06:10 14:30:00")
    quadrants((128, 96)).save(root / "ok.avif", format="AVIF")
    for name in ("ok.heic", "ok.avif"):
        data = (root / name).read_bytes()
        (root / f"cut_{name}").write_bytes(data[: len(data) - 40])
    from pillow_heif.as_plugin import HeifImageFile

    loads: list[str] = []
    for cls in (HeifImageFile, Image.open(root / "ok.avif").__class__):
        real_load = cls.load

        def counting_load(img, real_load=real_load):
            loads.append(img.format)
            return real_load(img)

        monkeypatch.setattr(cls, "load", counting_load)
    from render_service.media_index import UNREADABLE, scan_library

    result = scan_library(root, "UTC")
    assert sorted(m.rel_path for m in result.items) == ["ok.avif", "ok.heic"]
    assert dict(result.skipped) == {"cut_ok.avif": UNREADABLE, "cut_ok.heic": UNREADABLE}
    assert result.decoded == 4
    assert loads == []  # neither decoded (Pillow's AVIF opener already refuses the cut one)


def test_a_new_copy_is_a_duplicate_and_a_copy_that_sorts_first_takes_over(tmp_path, engine, opened):
    lib = _library(tmp_path, photos=4)
    _register(engine, lib)
    rescan(engine, lib)
    original = (lib.root / "d1" / "p1.jpg").read_bytes()
    (lib.root / "e").mkdir()
    (lib.root / "e" / "copy.jpg").write_bytes(original)
    second = rescan(engine, lib)
    assert ("e/copy.jpg", "DUPLICATE") in [(s["rel_path"], s["reason"]) for s in second.library.skipped_json]
    assert "e/copy.jpg" not in _rows(engine) and "d1/p1.jpg" in _rows(engine)
    # A copy whose path sorts before the indexed file: it becomes the item, the other a DUPLICATE.
    (lib.root / "a").mkdir()
    (lib.root / "a" / "first.jpg").write_bytes(original)
    third = rescan(engine, lib)
    rows = _rows(engine)
    assert "a/first.jpg" in rows and "d1/p1.jpg" not in rows and third.removed == 1
    skipped = {s["rel_path"]: s["reason"] for s in third.library.skipped_json}
    assert skipped == {"d1/p1.jpg": "DUPLICATE", "e/copy.jpg": "DUPLICATE"}
