"""Exclusions ("never show me this"), their change counter per library, and the media
of each reel. DAOs take the session first and never commit.

Every create and delete bumps ``exclusion_versions.version`` of the library in the
same transaction, so a reader that saw version N and reads N again knows nothing
changed (``exclusion_version`` is one primary-key lookup).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger import readonly
from ledger.db import dialect_insert, utcnow
from ledger.models import Exclusion, ExclusionTarget, ExclusionVersion, MediaItem, ReelMediaRow
from ledger.pagination import clamp_page_size, decode_page_token, encode_page_token


@dataclass(frozen=True)
class NewExclusion:
    """What to hide: exactly one of media (id and its path), folder, or dates."""

    target: ExclusionTarget
    media_id: str | None = None
    rel_path: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    start_utc: dt.datetime | None = None
    end_utc: dt.datetime | None = None


def _same_target(library_key: str, new: NewExclusion) -> sa.ColumnElement[bool]:
    clauses = [
        col(Exclusion.library_key) == library_key,
        col(Exclusion.target) == new.target.value,
        col(Exclusion.deleted_at).is_(None),
    ]
    if new.target is ExclusionTarget.MEDIA:
        clauses.append(col(Exclusion.media_id) == new.media_id)
    elif new.target is ExclusionTarget.FOLDER:
        clauses.append(col(Exclusion.rel_path) == new.rel_path)
    else:
        clauses += [col(Exclusion.start_date) == new.start_date, col(Exclusion.end_date) == new.end_date]
    return sa.and_(*clauses)


def create_exclusion(
    session: Session, library_key: str, new: NewExclusion, request_id: str | None = None
) -> tuple[Exclusion, bool]:
    """Hide ``new``; returns (row, created). Idempotent twice over: a retry with the
    same ``request_id`` returns the row it made, and hiding what an active exclusion
    already hides returns that one."""
    if request_id:
        found = get_by_request_id(session, request_id)
        if found is not None:
            return found, False
    same = session.exec(select(Exclusion).where(_same_target(library_key, new)).limit(1)).first()
    if same is not None:
        return same, False
    row = Exclusion(
        library_key=library_key,
        target=new.target,
        media_id=new.media_id,
        rel_path=new.rel_path,
        start_date=new.start_date,
        end_date=new.end_date,
        start_utc=new.start_utc,
        end_utc=new.end_utc,
        request_id=request_id or None,
    )
    stmt = (
        dialect_insert(session, Exclusion)
        .values(**row.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(col(Exclusion.id))
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is None:  # the same request_id, committed concurrently
        found = get_by_request_id(session, request_id or "")
        assert found is not None
        return found, False
    _bump(session, library_key)
    created = session.get(Exclusion, new_id, populate_existing=True)
    assert created is not None
    return created, True


def get_by_request_id(session: Session, request_id: str) -> Exclusion | None:
    stmt = select(Exclusion).where(col(Exclusion.request_id) == request_id).execution_options(populate_existing=True)
    return session.exec(stmt).first()


def get_exclusion(session: Session, exclusion_id: int) -> Exclusion | None:
    return session.get(Exclusion, exclusion_id, populate_existing=True)


def delete_exclusion(
    session: Session, exclusion_id: int, request_id: str | None = None, now: dt.datetime | None = None
) -> Exclusion | None:
    """Unhide: mark the exclusion deleted and return it. None when there is no such
    active exclusion, unless this same ``request_id`` deleted it (a retry)."""
    row = get_exclusion(session, exclusion_id)
    if row is None:
        return None
    if row.deleted_at is not None:
        return row if request_id and row.delete_request_id == request_id else None
    row.deleted_at = now or utcnow()
    row.delete_request_id = request_id or None
    session.add(row)
    session.flush()
    _bump(session, row.library_key)
    return row


def _bump(session: Session, library_key: str) -> None:
    stmt = dialect_insert(session, ExclusionVersion).values(library_key=library_key, version=1, updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=["library_key"],
        set_={"version": ExclusionVersion.__table__.c.version + 1, "updated_at": utcnow()},  # type: ignore[attr-defined]
    )
    session.execute(stmt)


def active_exclusions(session: Session, library_key: str) -> list[Exclusion]:
    stmt = (
        select(Exclusion)
        .where(col(Exclusion.library_key) == library_key, col(Exclusion.deleted_at).is_(None))
        .order_by(col(Exclusion.id))
    )
    return list(session.exec(stmt))


def list_exclusions(
    session: Session, library_key: str, page_size: int | None = None, page_token: str | None = None
) -> tuple[list[Exclusion], str]:
    """One page of the library's active exclusions, oldest first, and the next
    page's token ("" on the last page). ``InvalidPageToken`` for a foreign token."""
    filters = {"library_key": library_key}
    size = clamp_page_size(page_size)
    after = decode_page_token("exclusions", page_token, filters)
    stmt = select(Exclusion).where(col(Exclusion.library_key) == library_key, col(Exclusion.deleted_at).is_(None))
    if after is not None:
        stmt = stmt.where(col(Exclusion.id) > after)
    rows = list(session.exec(stmt.order_by(col(Exclusion.id)).limit(size + 1)))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_page_token("exclusions", rows[-1].id or 0, filters)


def media_item(session: Session, library_key: str, media_id: str) -> MediaItem | None:
    """The library's index row with this id, if any."""
    row = session.get(MediaItem, media_id)
    return row if row is not None and row.library_key == library_key else None


# --- reel media ----------------------------------------------------------------


def record_reel_media(session: Session, reel_key: str, media: Sequence[tuple[str, str, dt.datetime]]) -> None:
    """The reel's (media id, path, taken at) in order; replaces any rows of the key."""
    session.execute(sa.delete(ReelMediaRow).where(col(ReelMediaRow.reel_key) == reel_key))
    for position, (media_id, rel_path, taken_at) in enumerate(media):
        session.add(
            ReelMediaRow(
                reel_key=reel_key, position=position, media_id=media_id, rel_path=rel_path, taken_at_utc=taken_at
            )
        )
    session.flush()


def delete_reel_media(session: Session, reel_keys: Sequence[str]) -> None:
    if reel_keys:
        session.execute(sa.delete(ReelMediaRow).where(col(ReelMediaRow.reel_key).in_(list(reel_keys))))


# --- hot-path reads (no write lock, no ORM) -----------------------------------------

_VERSION_SQL = "SELECT version FROM exclusion_versions WHERE library_key = :library_key"
_REEL_MEDIA_SQL = "SELECT media_id, rel_path, taken_at_utc FROM reel_media WHERE reel_key = :reel_key ORDER BY position"


def exclusion_version(engine: Engine, library_key: str) -> int:
    """The library's exclusion change counter (0 before the first change)."""
    rows = readonly.fetch(engine, _VERSION_SQL, {"library_key": library_key})
    return int(rows[0][0]) if rows else 0


def reel_media(engine: Engine, reel_key: str) -> list[tuple[str, str, dt.datetime]]:
    """(media id, path, taken at, aware UTC) of the reel's media, in order."""
    rows = readonly.fetch(engine, _REEL_MEDIA_SQL, {"reel_key": reel_key})
    return [(str(m), str(p), readonly.as_utc(t)) for m, p, t in rows]
