"""Keeping the ledger's media index in step with the library folders: ``rescan``
streams a walk of the folder into the ledger in batches."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import structlog
from sqlalchemy.engine import Engine

from ledger import libraries as library_dao
from ledger.db import session_scope, utcnow
from ledger.models import Library
from ledger.readonly import read_session
from reels_core.libraries import LibraryConfig
from render_service.analysis import analyse_library
from render_service.media_index import ScannedMedia, index_library

log = structlog.get_logger("indexing")


SCAN_BATCH = 500  # media rows per ledger transaction while a scan streams


@dataclass(frozen=True)
class RescanResult:
    library: Library
    added: int  # rows for rel_paths the index did not hold
    removed: int  # rows of files gone, or no item any more
    seconds: float
    photos: int  # in the index after the scan
    videos: int
    updated: int = 0  # rows rewritten for files changed in place (or read again)
    unchanged: int = 0  # files the index held as they are: not opened
    probed: int = 0  # files opened (new, changed, or not indexed before)
    hashed: int = 0  # files read in full to tell same-size files apart
    batches: int = 0  # ledger transactions that wrote rows


def _row_id(library: str, media_id: str) -> str:
    # Media ids are primary keys across libraries, so the library is folded in.
    return hashlib.sha1(f"{library}:{media_id}".encode()).hexdigest()[:20]


def register_libraries(engine: Engine, libraries: dict[str, LibraryConfig]) -> None:
    """Make sure every configured library has a ledger row (no scan)."""
    with session_scope(engine) as session:
        for lib in libraries.values():
            library_dao.upsert_library(session, lib.key, str(lib.root), lib.timezone)


class _BatchWriter:
    """Rows of new and changed items, written ``batch_size`` at a time, one short
    transaction each, so that readers (and the SQLite write lock's other users) get
    in between batches. ``add`` is where every new or changed item of a scan
    arrives, after ``media_index.scan_file`` read it and before it is written."""

    def __init__(
        self,
        engine: Engine,
        lib: LibraryConfig,
        indexed: Mapping[str, object],
        batch_size: int,
        after_batch: Callable[[int], None] | None,
    ) -> None:
        self.engine, self.lib, self.indexed = engine, lib, indexed
        self.batch_size = max(1, batch_size)
        self.after_batch = after_batch
        self.pending: list[dict[str, object]] = []
        self.added = self.updated = self.batches = 0

    def add(self, item: ScannedMedia) -> None:
        row = item.as_row()
        row["id"] = _row_id(self.lib.key, row.pop("media_id"))
        row["verified"] = True  # scan_file read it just now, and checked it unless it was verified before
        if item.rel_path in self.indexed:
            self.updated += 1
        else:
            self.added += 1
        self.pending.append(row)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with session_scope(self.engine) as session:
            library_dao.write_media_rows(session, self.lib.key, self.pending)
        self.pending = []
        self.batches += 1
        if self.after_batch is not None:
            self.after_batch(self.batches)


def rescan(
    engine: Engine,
    lib: LibraryConfig,
    *,
    batch_size: int = SCAN_BATCH,
    after_batch: Callable[[int], None] | None = None,
    analyse: bool = True,
) -> RescanResult:
    """Scan the folder and make the index match it, streaming: new and changed items
    are written ``batch_size`` rows per transaction as the walk finds them
    (``media_index.index_library``), and rows of files that are gone are removed
    only once the walk is complete. Files the index holds unchanged (same rel_path,
    size and mtime) and verified are not opened. Unreadable files are counted and
    listed, never fatal; a missing folder leaves an empty index.

    A scan that stops half way (an error, a crash) leaves an index whose every row
    was true of its file when written: the batches written so far, and the rows
    from before for the rest; the next scan finishes the job. ``after_batch(n)`` is
    called after the n-th batch is committed (tests hold a scan there)."""
    started = time.perf_counter()
    if not lib.root.is_dir():
        with session_scope(engine) as session:
            library_dao.upsert_library(
                session,
                lib.key,
                str(lib.root),
                lib.timezone,
                skipped=[{"rel_path": "", "reason": "LIBRARY_FOLDER_MISSING"}],
                last_scan_at=utcnow(),
            )
            changes = library_dao.replace_media_index(session, lib.key, [])
            library = library_dao.get_library(session, lib.key)
        assert library is not None
        return RescanResult(library, 0, changes.deleted, time.perf_counter() - started, 0, 0)

    with session_scope(engine) as session:
        library_dao.upsert_library(session, lib.key, str(lib.root), lib.timezone)
    with read_session(engine) as session:
        indexed = library_dao.indexed_rows(session, lib.key)
    writer = _BatchWriter(engine, lib, indexed, batch_size, after_batch)
    report = index_library(lib.root, lib.timezone, indexed, writer.add, row_id=partial(_row_id, lib.key))
    writer.flush()
    with session_scope(engine) as session:
        removed = library_dao.delete_media_paths(session, lib.key, report.stale)
        library_dao.upsert_library(
            session,
            lib.key,
            str(lib.root),
            lib.timezone,
            skipped=[{"rel_path": p, "reason": r} for p, r in report.skipped],
            last_scan_at=utcnow(),
        )
        photos, videos = library_dao.media_kind_counts(session, lib.key)
        library = library_dao.get_library(session, lib.key)
    if analyse:  # the new and changed media: sharpness, faces, hash... (render_service/analysis.py)
        analyse_library(engine, lib)
    seconds = time.perf_counter() - started
    log.info(
        "library scanned",
        library=lib.key,
        media=photos + videos,
        skipped=len(report.skipped),
        added=writer.added,
        updated=writer.updated,
        removed=removed,
        unchanged=report.unchanged,
        probed=report.probed,
        decoded=report.decoded,
        hashed=report.hashed,
        batches=writer.batches,
        seconds=round(seconds, 3),
    )
    assert library is not None
    return RescanResult(
        library,
        added=writer.added,
        removed=removed,
        seconds=seconds,
        photos=photos,
        videos=videos,
        updated=writer.updated,
        unchanged=report.unchanged,
        probed=report.probed,
        hashed=report.hashed,
        batches=writer.batches,
    )


def media_kind_counts(engine: Engine, key: str) -> tuple[int, int]:
    """(photos, videos) in the index."""
    with read_session(engine) as session:
        return library_dao.media_kind_counts(session, key)


def date_source_counts(engine: Engine, key: str) -> dict[str, int]:
    with read_session(engine) as session:
        return library_dao.date_source_counts(session, key)
