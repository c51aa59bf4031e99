"""The online half of the learning loop: ratings are stored as they come, with what
the reel was (mood, music style, length, mode, span); the consolidation pass distils
them offline. Comments are personal text: stored, never logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ledger import feedback as feedback_dao
from ledger import prefs as prefs_dao
from ledger.db import session_scope
from ledger.readonly import read_session
from render_service.catalog import find_reel, load_sidecar
from render_service.store import ReelStore
from reels_core.errors import InvalidArgument

COMMENT_MAX_CHARS = 1000
REASONS_MAX = 10
REASON_MAX_CHARS = 64
RATER_MAX_CHARS = 128


@dataclass(frozen=True)
class StoredPreferences:
    library: str
    prefs: dict[str, Any]
    feedback_count: int
    updated_at: Any
    captured: dict[str, Any]


def rate_reel(
    engine: Engine, store: ReelStore, key: str, rating: str, reasons: list[str], comment: str, rater: str
) -> bool:
    """Store (or replace) `rater`'s rating of reel `key`; True when it replaced one."""
    if rating not in ("GOOD", "BAD"):
        raise InvalidArgument("RATING_INVALID", "rating must be RATING_GOOD or RATING_BAD")
    if len(reasons) > REASONS_MAX or any(len(r) > REASON_MAX_CHARS for r in reasons):
        raise InvalidArgument("REASONS_INVALID", f"at most {REASONS_MAX} reasons of {REASON_MAX_CHARS} characters")
    if len(rater) > RATER_MAX_CHARS:
        raise InvalidArgument("RATER_INVALID", f"rater is at most {RATER_MAX_CHARS} characters")
    info = find_reel(engine, key)
    sidecar = load_sidecar(store, info)
    script = sidecar.get("script") or {}
    with session_scope(engine) as session:
        _row, created = feedback_dao.upsert_feedback(
            session,
            reel_key=info.key,
            rating=rating,
            rater=rater.strip(),
            reasons=[r.strip() for r in reasons if r.strip()],
            # Capped, not refused: a long comment is still a rating worth keeping.
            comment=comment[:COMMENT_MAX_CHARS],
            mood=info.mood or script.get("mood", ""),
            music_style=info.music_style or script.get("music_style", ""),
            duration_s=info.duration_s,
            mode=info.mode_used or script.get("mode_used", ""),
            span=info.span,
            library_key=info.library,
        )
    return not created


def get_preferences(engine: Engine, library: str) -> StoredPreferences:
    with read_session(engine) as session:
        stored = prefs_dao.get_library_preferences(session, library)
        captured = prefs_dao.get_user_ai_prefs(session, library)
        count = feedback_dao.count_feedback(session, library_key=library)
    return StoredPreferences(
        library=library,
        prefs=dict(stored.prefs_json) if stored else {},
        feedback_count=count,
        updated_at=stored.updated_at if stored else None,
        captured=dict(captured.params_json) if captured else {},
    )
