"""The retention pass's deletions of reel rows: exactly the keys its plan chose.

The plan is made first (and returned alone by a dry run), so the real run deletes
by key rather than re-running the pruning query: a reel recorded meanwhile by
another replica's pre-generation is never deleted without being in the plan. Job
rows past their retention go through ``ledger.jobs.expire_jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col

from ledger.db import rowcount
from ledger.models import PrecomputedReel

_CHUNK = 500  # keys per IN (...) list


def delete_reels(session: Session, keys: Iterable[str]) -> int:
    """Delete the reel rows with these keys (files are the caller's); returns how
    many rows went. Keys with no row are ignored."""
    wanted = sorted(set(keys))
    deleted = 0
    for i in range(0, len(wanted), _CHUNK):
        stmt = (
            sa.delete(PrecomputedReel)
            .where(col(PrecomputedReel.key).in_(wanted[i : i + _CHUNK]))
            .execution_options(synchronize_session=False)
        )
        deleted += rowcount(session.execute(stmt))
    return deleted
