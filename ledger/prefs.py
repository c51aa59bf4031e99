"""Per-library preferences: the captured CreateReel parameters (``user_ai_prefs``,
replayed by nightly pre-generation) and the distillate of feedback
(``library_preferences``, all the next script request receives).

``library_preferences.prefs_json`` is read in one place, ``Distillate.from_json``:
every reader (the pipeline's script request, GetPreferences, consolidation) gets
the typed record, never the dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlmodel import Session

from ledger.db import utcnow
from ledger.models import LibraryPreferences, UserAiPrefs


@dataclass(frozen=True)
class StyleRecord:
    """GOOD/BAD counts of one (mood, music style) pair of a library's reels."""

    mood: str = ""
    music_style: str = ""
    good: int = 0
    bad: int = 0
    success_rate: float = 0.0


@dataclass(frozen=True)
class RatingHistory:
    """How many ratings the distillate was made from."""

    ratings: int = 0
    good: int = 0


@dataclass(frozen=True)
class Distillate:
    """A library's distilled preferences (the ``prefs_json`` document)."""

    favorite_moods: tuple[str, ...] = ()
    disliked_music_styles: tuple[str, ...] = ()
    preferred_duration_s: float = 0.0
    style_stats: tuple[StyleRecord, ...] = ()
    history: RatingHistory = RatingHistory()

    def to_json(self) -> dict[str, Any]:
        """The JSON document (lists, not tuples), as ``prefs_json`` stores it."""
        data = asdict(self)
        data["favorite_moods"] = list(self.favorite_moods)
        data["disliked_music_styles"] = list(self.disliked_music_styles)
        data["style_stats"] = [asdict(s) for s in self.style_stats]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Distillate:
        """Read a ``prefs_json`` document: missing or null fields get their default,
        unknown ones are ignored; a value of the wrong type raises ``ValueError``."""
        present = {k: v for k, v in (data or {}).items() if v is not None}
        # pydantic does the dict -> nested dataclass conversion (with "3" -> 3 and
        # list -> tuple coercion) that would otherwise be written out field by field.
        return _DISTILLATE.validate_python(present)


_DISTILLATE: TypeAdapter[Distillate] = TypeAdapter(Distillate)


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
    prefs: Mapping[str, Any] | Distillate,
    source_feedback_count: int,
    *,
    now: dt.datetime | None = None,
) -> LibraryPreferences:
    """Replace the library's distilled preferences."""
    row = session.get(LibraryPreferences, library_key)
    if row is None:
        row = LibraryPreferences(library_key=library_key)
        session.add(row)
    row.prefs_json = prefs.to_json() if isinstance(prefs, Distillate) else dict(prefs)
    row.source_feedback_count = source_feedback_count
    row.updated_at = now or utcnow()
    session.flush()
    return row


def get_library_preferences(session: Session, library_key: str) -> LibraryPreferences | None:
    return session.get(LibraryPreferences, library_key)


def get_distillate(session: Session, library_key: str) -> Distillate:
    """The library's distillate; the empty one when none was made yet."""
    row = get_library_preferences(session, library_key)
    return Distillate.from_json(row.prefs_json if row is not None else None)
