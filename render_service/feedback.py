"""The online half of the learning loop: ratings are stored as they come, with what
the reel was (mood, music style, length, mode, span); the consolidation pass distils
them offline. Comments are personal text: stored, never logged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from ledger import feedback as feedback_dao
from ledger import prefs as prefs_dao
from ledger.db import session_scope
from ledger.prefs import Distillate
from ledger.readonly import read_session
from reels_core.errors import InvalidArgument
from render_service.catalog import find_reel
from render_service.sidecar import RenderChoice, load_sidecar
from render_service.store import ReelStore

COMMENT_MAX_CHARS = 1000
REASONS_MAX = 10
REASON_MAX_CHARS = 64
RATER_MAX_CHARS = 128


@dataclass(frozen=True)
class StoredPreferences:
    library: str
    prefs: Distillate
    feedback_count: int
    updated_at: dt.datetime | None
    captured: RenderChoice  # the options of the library's last CreateReel


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
    script = load_sidecar(store, info.sidecar_name).script
    with session_scope(engine) as session:
        _row, created = feedback_dao.upsert_feedback(
            session,
            reel_key=info.key,
            rating=rating,
            rater=rater.strip(),
            reasons=[r.strip() for r in reasons if r.strip()],
            # Capped, not refused: a long comment is still a rating worth keeping.
            comment=comment[:COMMENT_MAX_CHARS],
            mood=info.mood or (script.mood if script else ""),
            music_style=info.music_style or (script.music_style if script else ""),
            duration_s=info.duration_s,
            mode=info.mode_used or (script.mode_used.value if script else ""),
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
        prefs=Distillate.from_json(stored.prefs_json if stored else None),
        feedback_count=count,
        updated_at=stored.updated_at if stored else None,
        captured=RenderChoice.from_dict(captured.params_json if captured else None),
    )
