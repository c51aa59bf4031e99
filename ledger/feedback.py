"""Ratings of reels (GOOD/BAD), one per (reel, rater): a later rating replaces the
earlier one. Ratings are permanent. ``comment`` is personal text: never log it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ledger.db import dialect_insert, utcnow
from ledger.models import Feedback, PrecomputedReel, Rating, ReelJob


def _library_of(session: Session, reel_key: str) -> str | None:
    found = session.execute(
        sa.select(col(PrecomputedReel.library_key)).where(col(PrecomputedReel.key) == reel_key)
    ).scalar_one_or_none()
    if found is None:
        found = session.execute(
            sa.select(col(ReelJob.library_key)).where(col(ReelJob.reel_key) == reel_key).limit(1)
        ).scalar_one_or_none()
    return found


def upsert_feedback(
    session: Session,
    *,
    reel_key: str,
    rating: str,
    rater: str = "",
    reasons: Sequence[str] = (),
    comment: str = "",
    mood: str = "",
    music_style: str = "",
    duration_s: float = 0.0,
    mode: str = "",
    span: str = "",
    library_key: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Feedback, bool]:
    """Store ``rater``'s rating of a reel, replacing their earlier one. Returns the
    row and whether it is new. ``library_key`` defaults to the library of the reel's
    ledger row or job, so the rating stays attributable after the reel is pruned."""
    now = now or utcnow()
    if library_key is None:
        library_key = _library_of(session, reel_key)
    values = {
        "library_key": library_key,
        "rating": Rating(rating),
        "reasons_json": [str(r) for r in reasons],
        "comment": comment,
        "mood": mood,
        "music_style": music_style,
        "duration_s": duration_s,
        "mode": mode,
        "span": span,
        "updated_at": now,
    }
    insert = dialect_insert(session, Feedback)
    stmt = insert.values(reel_key=reel_key, rater=rater, created_at=now, **values).on_conflict_do_update(
        index_elements=["reel_key", "rater"],
        set_={name: getattr(insert.excluded, name) for name in values},
    )
    session.execute(stmt)
    row = session.exec(
        select(Feedback)
        .where(col(Feedback.reel_key) == reel_key, col(Feedback.rater) == rater)
        .execution_options(populate_existing=True)
    ).one()
    return row, row.created_at == now


def _feedback_query(
    library_key: str | None,
    moods: Sequence[str] | None,
    music_styles: Sequence[str] | None,
    since: dt.datetime | None,
) -> sa.Select[Feedback]:
    stmt = sa.select(Feedback)
    if library_key is not None:
        reel_in_library = (
            sa.select(col(PrecomputedReel.id))
            .where(col(PrecomputedReel.key) == col(Feedback.reel_key), col(PrecomputedReel.library_key) == library_key)
            .exists()
        )
        stmt = stmt.where(sa.or_(col(Feedback.library_key) == library_key, reel_in_library))
    if moods is not None:
        stmt = stmt.where(col(Feedback.mood).in_(list(moods)))
    if music_styles is not None:
        stmt = stmt.where(col(Feedback.music_style).in_(list(music_styles)))
    if since is not None:
        stmt = stmt.where(col(Feedback.updated_at) >= since)
    return stmt


def list_feedback(
    session: Session,
    *,
    library_key: str | None = None,
    moods: Sequence[str] | None = None,
    music_styles: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[Feedback]:
    """Ratings, oldest first. ``library_key`` matches ratings recorded for that
    library or, for older rows, whose reel row belongs to it; ``moods`` and
    ``music_styles`` keep ratings whose reel had one of them; ``since`` compares
    ``updated_at``."""
    stmt = _feedback_query(library_key, moods, music_styles, since).order_by(col(Feedback.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def count_feedback(
    session: Session,
    *,
    library_key: str | None = None,
    moods: Sequence[str] | None = None,
    music_styles: Sequence[str] | None = None,
    since: dt.datetime | None = None,
) -> int:
    """How many ratings ``list_feedback`` with the same filters returns."""
    inner = _feedback_query(library_key, moods, music_styles, since).subquery()
    return int(session.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())
