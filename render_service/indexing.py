"""Keeping the ledger's media index in step with the library folders."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Engine

from ledger import libraries as library_dao
from ledger.db import session_scope, utcnow
from ledger.models import Library
from reels_core.libraries import LibraryConfig
from render_service.analysis import analyse_library
from render_service.media_index import scan_library

log = structlog.get_logger("indexing")


@dataclass(frozen=True)
class RescanResult:
    library: Library
    added: int
    removed: int
    seconds: float
    photos: int
    videos: int


def _row_id(library: str, media_id: str) -> str:
    # Media ids are primary keys across libraries, so the library is folded in.
    return hashlib.sha1(f"{library}:{media_id}".encode()).hexdigest()[:20]


class _IndexedMedia:
    """``media_id in known`` for the media ids a library's ledger rows hold: rows are
    stored under ``_row_id(library, media_id)``, so each id is mapped, not compared."""

    def __init__(self, library: str, row_ids: set[str]) -> None:
        self.library = library
        self.row_ids = row_ids

    def __contains__(self, media_id: object) -> bool:
        return isinstance(media_id, str) and _row_id(self.library, media_id) in self.row_ids


def register_libraries(engine: Engine, libraries: dict[str, LibraryConfig]) -> None:
    """Make sure every configured library has a ledger row (no scan)."""
    with session_scope(engine) as session:
        for lib in libraries.values():
            library_dao.upsert_library(session, lib.key, str(lib.root), lib.timezone)


def rescan(engine: Engine, lib: LibraryConfig, *, analyse: bool = True) -> RescanResult:
    """Scan the folder and make the index match it. Unreadable files are counted and
    listed, never fatal; a missing folder leaves an empty index. Photos the index
    already holds unchanged (same rel_path, size and mtime) were checked when they
    were indexed and are not decoded again."""
    started = time.perf_counter()
    decoded = 0
    if lib.root.is_dir():
        with session_scope(engine) as session:
            known = _IndexedMedia(lib.key, library_dao.media_item_ids(session, lib.key))
        result = scan_library(lib.root, lib.timezone, known=known)
        items, skipped, decoded = result.items, result.skipped, result.decoded
    else:
        items, skipped = [], [("", "LIBRARY_FOLDER_MISSING")]
    rows = []
    for item in items:
        row = item.as_row()
        row["id"] = _row_id(lib.key, row.pop("media_id"))
        rows.append(row)
    with session_scope(engine) as session:
        library_dao.upsert_library(
            session,
            lib.key,
            str(lib.root),
            lib.timezone,
            skipped=[{"rel_path": p, "reason": r} for p, r in skipped],
            last_scan_at=utcnow(),
        )
        changes = library_dao.replace_media_index(session, lib.key, rows)
        library = library_dao.get_library(session, lib.key)
    if analyse:  # the new and changed media: sharpness, faces, hash... (render_service/analysis.py)
        analyse_library(engine, lib)
    seconds = time.perf_counter() - started
    photos = sum(1 for i in items if i.kind == "PHOTO")
    log.info(
        "library scanned",
        library=lib.key,
        media=len(items),
        skipped=len(skipped),
        added=changes.inserted,
        removed=changes.deleted,
        decoded=decoded,
        seconds=round(seconds, 3),
    )
    assert library is not None
    return RescanResult(library, changes.inserted, changes.deleted, seconds, photos, len(items) - photos)


def media_kind_counts(engine: Engine, key: str) -> tuple[int, int]:
    """(photos, videos) in the index."""
    with session_scope(engine) as session:
        return library_dao.media_kind_counts(session, key)


def date_source_counts(engine: Engine, key: str) -> dict[str, int]:
    with session_scope(engine) as session:
        return library_dao.date_source_counts(session, key)
