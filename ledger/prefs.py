"""Per-library preferences: the captured CreateReel parameters (``user_ai_prefs``,
replayed by nightly pre-generation) and the distillate of feedback
(``library_preferences``, all the next script request receives)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from ledger.db import utcnow
from ledger.models import LibraryPreferences, UserAiPrefs


def save_user_ai_prefs(
    session: Session,
    library_key: str,
    params: Mapping[str, Any],
    source_request_id: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> UserAiPrefs:
    """Replace the library's captured parameters with ``params``."""
    row = session.get(UserAiPrefs, library_key)
    if row is None:
        row = UserAiPrefs(library_key=library_key)
        session.add(row)
    row.params_json = dict(params)
    row.source_request_id = source_request_id
    row.updated_at = now or utcnow()
    session.flush()
    return row


def get_user_ai_prefs(session: Session, library_key: str) -> UserAiPrefs | None:
    return session.get(UserAiPrefs, library_key)


def save_library_preferences(
    session: Session,
    library_key: str,
    prefs: Mapping[str, Any],
    source_feedback_count: int,
    *,
    now: dt.datetime | None = None,
) -> LibraryPreferences:
    """Replace the library's distilled preferences."""
    row = session.get(LibraryPreferences, library_key)
    if row is None:
        row = LibraryPreferences(library_key=library_key)
        session.add(row)
    row.prefs_json = dict(prefs)
    row.source_feedback_count = source_feedback_count
    row.updated_at = now or utcnow()
    session.flush()
    return row


def get_library_preferences(session: Session, library_key: str) -> LibraryPreferences | None:
    return session.get(LibraryPreferences, library_key)
