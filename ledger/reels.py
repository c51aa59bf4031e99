"""Reels: the pre-generated rows that back GetPrecomputedReel, ListReels and the
retention pass, and the job that made an on-demand reel (which has no row of its
own). File paths are relative to the reel store; the caller owns files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ledger.db import utcnow
from ledger.models import PrecomputedReel, ReelJob, ReelStatus
from ledger.pagination import clamp_page_size, decode_page_token, encode_page_token


@dataclass(frozen=True)
class ScopeStats:
    library_key: str
    span: str
    kind: str
    count: int
    total_bytes: int
    newest_anchor: dt.date


def record_reel(
    session: Session,
    *,
    key: str,
    library_key: str,
    span: str,
    kind: str,
    anchor_date: dt.date,
    window_start: dt.datetime,
    window_end: dt.datetime,
    valid_until: dt.datetime,
    video_path: str,
    sidecar_path: str,
    poster_path: str,
    title: str = "",
    duration_s: float = 0.0,
    size_bytes: int = 0,
    sha256: str = "",
    media_fingerprint: str = "",
    mood: str = "",
    music_style: str = "",
    mode_used: str = "",
    fallback_reason: str = "",
    status: str = ReelStatus.READY,
    created_at: dt.datetime | None = None,
) -> PrecomputedReel:
    """Insert the row for a finished reel, or overwrite the row with the same key."""
    fields: dict[str, Any] = {
        "library_key": library_key,
        "span": span,
        "kind": kind,
        "anchor_date": anchor_date,
        "window_start": window_start,
        "window_end": window_end,
        "valid_until": valid_until,
        "video_path": video_path,
        "sidecar_path": sidecar_path,
        "poster_path": poster_path,
        "title": title,
        "duration_s": duration_s,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "media_fingerprint": media_fingerprint,
        "mood": mood,
        "music_style": music_style,
        "mode_used": mode_used,
        "fallback_reason": fallback_reason,
        "status": ReelStatus(status),
        "created_at": created_at or utcnow(),
    }
    reel = get_reel_by_key(session, key)
    if reel is None:
        reel = PrecomputedReel(key=key, **fields)
        session.add(reel)
    else:
        for name, value in fields.items():
            setattr(reel, name, value)
    session.flush()
    return reel


def get_reel_by_key(session: Session, key: str) -> PrecomputedReel | None:
    return session.exec(select(PrecomputedReel).where(col(PrecomputedReel.key) == key)).first()


def get_job_by_reel_key(session: Session, key: str) -> ReelJob | None:
    """The job whose reel has this key, in any state: how an on-demand reel is found
    (``reel_jobs.reel_key`` is indexed)."""
    return session.exec(select(ReelJob).where(col(ReelJob.reel_key) == key).limit(1)).first()


def _scope(library_key: str, span: str, kind: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(PrecomputedReel.library_key) == library_key,
        col(PrecomputedReel.span) == span,
        col(PrecomputedReel.kind) == kind,
    )


def newest_for_scope(
    session: Session, library_key: str, span: str, kind: str, limit: int | None = None
) -> list[PrecomputedReel]:
    """The scope's rows, newest anchor date first (ties: newest row first)."""
    stmt = (
        select(PrecomputedReel)
        .where(_scope(library_key, span, kind))
        .order_by(
            col(PrecomputedReel.anchor_date).desc(),
            col(PrecomputedReel.created_at).desc(),
            col(PrecomputedReel.id).desc(),
        )
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def list_reels(
    session: Session,
    *,
    library_key: str | None = None,
    span: str | None = None,
    kind: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> tuple[list[PrecomputedReel], str]:
    """One page of reels, newest recorded first, and the token of the next page
    ("" on the last page). Raises ``InvalidPageToken`` for a foreign token."""
    filters = {"library_key": library_key, "span": span, "kind": kind}
    filters = {k: str(getattr(v, "value", v)) for k, v in filters.items() if v}
    size = clamp_page_size(page_size)
    after = decode_page_token("reels", page_token, filters)
    stmt = select(PrecomputedReel)
    for name, value in filters.items():
        stmt = stmt.where(getattr(PrecomputedReel, name) == value)
    if after is not None:
        stmt = stmt.where(col(PrecomputedReel.id) < after)
    rows = list(session.exec(stmt.order_by(col(PrecomputedReel.id).desc()).limit(size + 1)))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_page_token("reels", rows[-1].id or 0, filters)


def prune_superseded(session: Session, library_key: str, span: str, kind: str, keep: int) -> list[PrecomputedReel]:
    """Delete all but the ``keep`` newest rows of the scope (``newest_for_scope``
    order) and return the deleted rows; the caller unlinks their files."""
    if keep < 0:
        raise ValueError("keep must not be negative")
    removed = newest_for_scope(session, library_key, span, kind)[keep:]
    for reel in removed:
        session.delete(reel)
    session.flush()
    return removed


def all_reel_keys(session: Session) -> set[str]:
    return set(session.execute(sa.select(col(PrecomputedReel.key))).scalars())


def referenced_paths(session: Session) -> set[str]:
    """Every file path (video, sidecar, poster) a ledger row refers to."""
    rows = session.execute(
        sa.select(col(PrecomputedReel.video_path), col(PrecomputedReel.sidecar_path), col(PrecomputedReel.poster_path))
    )
    return {path for row in rows for path in row if path}


def stats_by_scope(session: Session) -> list[ScopeStats]:
    """Row count, bytes and newest anchor per (library, span, kind), sorted by scope."""
    stmt = (
        sa.select(
            col(PrecomputedReel.library_key),
            col(PrecomputedReel.span),
            col(PrecomputedReel.kind),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(col(PrecomputedReel.size_bytes)), 0),
            sa.func.max(col(PrecomputedReel.anchor_date)),
        )
        .group_by(col(PrecomputedReel.library_key), col(PrecomputedReel.span), col(PrecomputedReel.kind))
        .order_by(col(PrecomputedReel.library_key), col(PrecomputedReel.span), col(PrecomputedReel.kind))
    )
    return [
        ScopeStats(lib, span, kind, int(count), int(total), newest)
        for lib, span, kind, count, total, newest in session.execute(stmt)
    ]
