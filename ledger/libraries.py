"""Libraries and their media index."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ledger.db import dialect_insert, rowcount
from ledger.models import MAX_SKIPPED_LISTED, Library, MediaItem
from ledger.pagination import clamp_page_size, decode_key_page_token, encode_page_token

_MEDIA_FIELDS = (
    "id",
    "rel_path",
    "kind",
    "taken_at_utc",
    "tz_offset_min",
    "lat",
    "lon",
    "orientation",
    "width",
    "height",
    "size_bytes",
    "mtime",
    "duration_s",
    "date_source",
    "motion_rel_path",
    "verified",
)
_MEDIA_DEFAULTS: dict[str, Any] = {
    "tz_offset_min": None,
    "lat": None,
    "lon": None,
    "orientation": 1,
    "width": None,
    "height": None,
    "size_bytes": 0,
    "mtime": 0.0,
    "duration_s": None,
    "date_source": "",
    "motion_rel_path": None,
    "verified": False,
}
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class IndexChanges:
    inserted: int
    updated: int
    deleted: int
    unchanged: int


def upsert_library(
    session: Session,
    key: str,
    root_path: str,
    timezone: str | None = None,
    *,
    media_count: int | None = None,
    skipped: Sequence[Mapping[str, str]] | None = None,
    skipped_count: int | None = None,
    last_scan_at: dt.datetime | None = None,
) -> Library:
    """Create or update a library. Arguments left as None keep their stored value.

    ``skipped`` is the list of ``{"rel_path", "reason"}`` the last scan could not read;
    only the first ``MAX_SKIPPED_LISTED`` are kept, while ``skipped_count`` (default:
    the length of ``skipped``) records them all."""
    library = session.get(Library, key)
    if library is None:
        # Replicas starting together register the same libraries: the row is created
        # with ON CONFLICT DO NOTHING, so the one that loses the race reads the
        # winner's row instead of failing start-up with a unique violation.
        session.execute(
            dialect_insert(session, Library)
            .values(key=key, root_path=root_path, timezone=timezone or "UTC")
            .on_conflict_do_nothing(index_elements=["key"])
        )
        library = session.get(Library, key, populate_existing=True)
        assert library is not None  # inserted, or inserted by another transaction
    library.root_path = root_path
    if timezone is not None:
        library.timezone = timezone
    if media_count is not None:
        library.media_count = media_count
    if skipped is not None:
        library.skipped_json = [
            {"rel_path": str(s["rel_path"]), "reason": str(s["reason"])} for s in skipped[:MAX_SKIPPED_LISTED]
        ]
        library.skipped_count = len(skipped) if skipped_count is None else skipped_count
    elif skipped_count is not None:
        library.skipped_count = skipped_count
    if last_scan_at is not None:
        library.last_scan_at = last_scan_at
    session.flush()
    return library


def get_library(session: Session, key: str) -> Library | None:
    return session.get(Library, key)


def list_libraries(session: Session) -> list[Library]:
    return list(session.exec(select(Library).order_by(col(Library.key))))


def _media_row(item: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(item) - set(_MEDIA_FIELDS) - {"library_key"}
    if unknown:
        raise ValueError(f"unknown media fields: {sorted(unknown)}")
    row = {**_MEDIA_DEFAULTS, **{k: v for k, v in item.items() if k != "library_key"}}
    missing = [f for f in ("id", "rel_path", "kind", "taken_at_utc") if row.get(f) is None]
    if missing:
        raise ValueError(f"media item {item.get('rel_path')!r} lacks {missing}")
    if isinstance(row["kind"], enum.Enum):
        row["kind"] = row["kind"].value
    taken = row["taken_at_utc"]
    if not isinstance(taken, dt.datetime) or taken.utcoffset() is None:
        raise ValueError(f"media item {row['rel_path']!r}: taken_at_utc must be a timezone-aware datetime")
    row["taken_at_utc"] = taken.astimezone(dt.UTC)
    return row


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def replace_media_index(session: Session, library_key: str, items: Sequence[Mapping[str, Any]]) -> IndexChanges:
    """Make the library's media rows exactly ``items``: insert new rel_paths, update
    changed ones, delete rows whose rel_path is gone. Also sets the library's
    ``media_count``. The library row must exist.

    Each item is a dict with the ``MediaItem`` fields (``id``, ``rel_path``, ``kind``,
    aware ``taken_at_utc`` required). Ids are primary keys: they must be unique
    across libraries (e.g. derived from the library key and rel_path). A rel_path
    whose id changed is replaced."""
    library = session.get(Library, library_key)
    if library is None:
        raise LookupError(f"library {library_key!r} is not in the ledger; upsert_library first")

    incoming: dict[str, dict[str, Any]] = {}
    for item in items:
        row = _media_row(item)
        if row["rel_path"] in incoming:
            raise ValueError(f"duplicate rel_path in media index: {row['rel_path']!r}")
        incoming[row["rel_path"]] = row

    columns = [getattr(MediaItem, f) for f in _MEDIA_FIELDS]
    existing = {
        r["rel_path"]: dict(r)
        for r in session.execute(sa.select(*columns).where(col(MediaItem.library_key) == library_key)).mappings()
    }

    delete_ids: list[str] = []  # vanished rel_paths, and rel_paths whose id changed
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    inserted = updated = unchanged = 0
    for rel_path, stored in existing.items():
        wanted = incoming.get(rel_path)
        if wanted is None or wanted["id"] != stored["id"]:
            delete_ids.append(stored["id"])
    for rel_path, new in incoming.items():
        old = existing.get(rel_path)
        if old is None:
            inserts.append({**new, "library_key": library_key})
            inserted += 1
        elif old["id"] != new["id"]:
            inserts.append({**new, "library_key": library_key})
            updated += 1
        elif old != new:
            updates.append(new)
            updated += 1
        else:
            unchanged += 1

    # Deletes go first so that a moved file (same id, new rel_path) can be re-inserted.
    for chunk in _chunks(delete_ids):
        session.execute(sa.delete(MediaItem).where(col(MediaItem.id).in_(chunk)))
    if inserts:
        session.execute(sa.insert(MediaItem), inserts)
    if updates:
        session.execute(sa.update(MediaItem), updates)

    library.media_count = len(incoming)
    session.flush()
    deleted = len(existing.keys() - incoming.keys())
    return IndexChanges(inserted=inserted, updated=updated, deleted=deleted, unchanged=unchanged)


@dataclass(frozen=True, slots=True)
class IndexedRow:
    """What a scan needs of a stored media row to tell whether its file changed."""

    id: str
    verified: bool
    motion_rel_path: str | None


def indexed_rows(session: Session, library_key: str) -> dict[str, IndexedRow]:
    """rel_path -> ``IndexedRow`` for every media row of the library (three narrow
    columns: about 25 MB for 100k rows)."""
    stmt = sa.select(
        col(MediaItem.rel_path), col(MediaItem.id), col(MediaItem.verified), col(MediaItem.motion_rel_path)
    )
    stmt = stmt.where(col(MediaItem.library_key) == library_key)
    return {
        rel_path: IndexedRow(row_id, bool(verified), motion)
        for rel_path, row_id, verified, motion in session.execute(stmt)
    }


def write_media_rows(session: Session, library_key: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``items`` (as for ``replace_media_index``), replacing the library's rows
    of the same rel_paths or ids; other rows are left as they are. One batch of a
    streamed scan: ``media_count`` is brought up to date with it. The library row
    must exist."""
    library = session.get(Library, library_key)
    if library is None:
        raise LookupError(f"library {library_key!r} is not in the ledger; upsert_library first")
    rows = [{**_media_row(item), "library_key": library_key} for item in items]
    if not rows:
        return
    for chunk in _chunks([r["rel_path"] for r in rows]):
        session.execute(
            sa.delete(MediaItem)
            .where(col(MediaItem.library_key) == library_key)
            .where(col(MediaItem.rel_path).in_(chunk))
        )
    for chunk in _chunks([r["id"] for r in rows]):
        session.execute(sa.delete(MediaItem).where(col(MediaItem.id).in_(chunk)))
    session.execute(sa.insert(MediaItem), rows)
    library.media_count = count_media(session, library_key)
    session.flush()


def delete_media_paths(session: Session, library_key: str, rel_paths: Sequence[str]) -> int:
    """Delete the library's rows of ``rel_paths`` and bring ``media_count`` up to date;
    how many rows went."""
    library = session.get(Library, library_key)
    if library is None:
        raise LookupError(f"library {library_key!r} is not in the ledger; upsert_library first")
    deleted = 0
    for chunk in _chunks(list(rel_paths)):
        result = session.execute(
            sa.delete(MediaItem)
            .where(col(MediaItem.library_key) == library_key)
            .where(col(MediaItem.rel_path).in_(chunk))
        )
        deleted += rowcount(result)
    library.media_count = count_media(session, library_key)
    session.flush()
    return deleted


def media_in_range(session: Session, library_key: str, start_utc: dt.datetime, end_utc: dt.datetime) -> list[MediaItem]:
    """Media taken in ``[start_utc, end_utc)``, oldest first."""
    stmt = (
        select(MediaItem)
        .where(col(MediaItem.library_key) == library_key)
        .where(col(MediaItem.taken_at_utc) >= start_utc)
        .where(col(MediaItem.taken_at_utc) < end_utc)
        .order_by(col(MediaItem.taken_at_utc), col(MediaItem.id))
    )
    return list(session.exec(stmt))


def count_media_in_range(session: Session, library_key: str, start_utc: dt.datetime, end_utc: dt.datetime) -> int:
    """How many media were taken in ``[start_utc, end_utc)``."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(MediaItem)
        .where(col(MediaItem.library_key) == library_key)
        .where(col(MediaItem.taken_at_utc) >= start_utc)
        .where(col(MediaItem.taken_at_utc) < end_utc)
    )
    return int(session.execute(stmt).scalar_one())


def media_item_ids(session: Session, library_key: str) -> set[str]:
    """The ids of the library's media rows (the indexer's ids, as stored)."""
    stmt = sa.select(col(MediaItem.id)).where(col(MediaItem.library_key) == library_key)
    return set(session.execute(stmt).scalars())


def count_media(session: Session, library_key: str) -> int:
    stmt = sa.select(sa.func.count()).select_from(MediaItem).where(col(MediaItem.library_key) == library_key)
    return int(session.execute(stmt).scalar_one())


def date_source_counts(session: Session, library_key: str) -> dict[str, int]:
    """Media rows per ``date_source`` (rows indexed before it was recorded: "")."""
    stmt = (
        sa.select(col(MediaItem.date_source), sa.func.count())
        .where(col(MediaItem.library_key) == library_key)
        .group_by(col(MediaItem.date_source))
    )
    return {str(source): int(n) for source, n in session.execute(stmt).all()}


def media_kind_counts(session: Session, library_key: str) -> tuple[int, int]:
    """(photos, videos) in the library's index."""
    stmt = (
        sa.select(col(MediaItem.kind), sa.func.count())
        .where(col(MediaItem.library_key) == library_key)
        .group_by(col(MediaItem.kind))
    )
    counts = {kind: int(n) for kind, n in session.execute(stmt)}
    return counts.get("PHOTO", 0), counts.get("VIDEO", 0)


def list_libraries_page(
    session: Session,
    *,
    keys: Iterable[str] | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> tuple[list[Library], str]:
    """One page of libraries in key order, and the token of the next page ("" on the
    last page). ``keys`` keeps only those libraries (the ones the service is
    configured with); it is not bound into the token, as it is no request filter.
    Raises ``InvalidPageToken`` for a foreign token."""
    size = clamp_page_size(page_size)
    after = decode_key_page_token("libraries", page_token, {})
    stmt = select(Library)
    if keys is not None:
        stmt = stmt.where(col(Library.key).in_(sorted(keys)))
    if after is not None:
        stmt = stmt.where(col(Library.key) > after)
    rows = list(session.exec(stmt.order_by(col(Library.key)).limit(size + 1)))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_page_token("libraries", rows[-1].key, {})
