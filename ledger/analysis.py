"""The per-media analysis table (``media_analysis``): what still needs analysing,
storing results, reading them back as ``Quality`` for the reel's candidates, and
the per-library error count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlmodel import Session, col

from ledger.db import utcnow
from ledger.models import MediaAnalysis, MediaItem
from reels_core.domain import FaceBox, Quality

BATCH = 200  # results written per transaction
_CHUNK = 500  # ids per IN (...) list


def unanalysed(session: Session, library_key: str, version: int) -> list[tuple[str, str, str]]:
    """(media id, rel_path, kind) of the library's media with no analysis, or one
    older than ``version``, in rel_path order."""
    stmt = (
        sa.select(col(MediaItem.id), col(MediaItem.rel_path), col(MediaItem.kind))
        .select_from(MediaItem)
        .outerjoin(MediaAnalysis, col(MediaAnalysis.media_id) == col(MediaItem.id))
        .where(col(MediaItem.library_key) == library_key)
        .where(sa.or_(col(MediaAnalysis.media_id).is_(None), col(MediaAnalysis.version) < version))
        .order_by(col(MediaItem.rel_path))
    )
    return [(str(i), str(p), str(k)) for i, p, k in session.execute(stmt).all()]


def store(session: Session, library_key: str, results: Sequence[tuple[str, Quality, str]], *, version: int) -> None:
    """Replace the analysis of each (media id, quality, error); an error keeps the
    neutral scores it was given."""
    ids = [media_id for media_id, _, _ in results]
    for i in range(0, len(ids), _CHUNK):
        session.execute(sa.delete(MediaAnalysis).where(col(MediaAnalysis.media_id).in_(ids[i : i + _CHUNK])))
    now = utcnow()
    rows = [
        {
            "media_id": media_id,
            "library_key": library_key,
            "version": version,
            "sharpness": q.sharpness,
            "dark_share": q.dark_share,
            "bright_share": q.bright_share,
            "mean_luma": q.mean_luma,
            "phash": q.phash,
            "screenshot": q.screenshot,
            "face_count": len(q.faces),
            "faces_json": [[f.x, f.y, f.w, f.h] for f in q.faces],
            "rating": q.rating,
            "motion": q.motion,
            "loudness_db": q.loudness_db,
            "error": error,
            "analysed_at": now,
        }
        for media_id, q, error in results
    ]
    if rows:
        session.execute(sa.insert(MediaAnalysis), rows)
    session.flush()


def qualities(session: Session, media_ids: Iterable[str]) -> dict[str, Quality]:
    """The stored quality of each analysed media id (ids without a row, or whose
    analysis failed, are left out: their scores are the neutral default)."""
    ids = list(media_ids)
    out: dict[str, Quality] = {}
    for i in range(0, len(ids), _CHUNK):
        stmt = sa.select(MediaAnalysis).where(col(MediaAnalysis.media_id).in_(ids[i : i + _CHUNK]))
        for row in session.execute(stmt).scalars():
            if not row.error:
                out[row.media_id] = to_quality(row)
    return out


def to_quality(row: MediaAnalysis) -> Quality:
    return Quality(
        analysed=True,
        sharpness=row.sharpness,
        dark_share=row.dark_share,
        bright_share=row.bright_share,
        mean_luma=row.mean_luma,
        phash=row.phash,
        screenshot=row.screenshot,
        faces=tuple(FaceBox(*map(float, box[:4])) for box in row.faces_json if len(box) >= 4),
        rating=row.rating,
        motion=row.motion,
        loudness_db=row.loudness_db,
    )


def counts(session: Session, library_key: str) -> Mapping[str, int]:
    """{"analysed": rows without error, "errors": rows whose analysis failed}."""
    failed = sa.case((col(MediaAnalysis.error) != "", 1), else_=0)
    stmt = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(failed), 0)).where(
        col(MediaAnalysis.library_key) == library_key
    )
    total, errors = session.execute(stmt).one()
    return {"analysed": int(total) - int(errors), "errors": int(errors)}
