"""Consolidation: distil raw ratings into each library's preferences.

Online, RateReel only stores feedback. Offline, this pass turns it into the
distillate that the next script request carries (and nothing else): favourite
moods, disliked music styles, preferred length, and per (mood, music style) the
GOOD/BAD counts that style choice samples from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from ledger import feedback as feedback_dao
from ledger import prefs as prefs_dao
from ledger.db import session_scope
from ledger.models import Feedback, Rating, RunKind, RunTrigger
from render_service.loops.passes import PassOutcome, PassResult, PassRunner

log = structlog.get_logger("consolidation")

FAVOURITE_MIN_RATINGS = 2
FAVOURITE_MIN_RATE = 0.6
DISLIKE_MIN_BAD = 3
DISLIKE_MAX_RATE = 0.34


def distil(ratings: Sequence[Feedback]) -> dict[str, Any]:
    """The distillate of one library's ratings (pure function)."""
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    moods: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    styles: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    good_durations: list[float] = []
    for r in ratings:
        good = r.rating == Rating.GOOD
        idx = 0 if good else 1
        if r.mood and r.music_style:
            pairs[(r.mood, r.music_style)][idx] += 1
        if r.mood:
            moods[r.mood][idx] += 1
        if r.music_style:
            styles[r.music_style][idx] += 1
        if good and r.duration_s:
            good_durations.append(r.duration_s)

    def rate(counts: list[int]) -> float:
        return counts[0] / (counts[0] + counts[1]) if sum(counts) else 0.0

    favourite = sorted(
        (m for m, c in moods.items() if sum(c) >= FAVOURITE_MIN_RATINGS and rate(c) >= FAVOURITE_MIN_RATE),
        key=lambda m: (-rate(moods[m]), -moods[m][0], m),
    )
    disliked = sorted(s for s, c in styles.items() if c[1] >= DISLIKE_MIN_BAD and rate(c) <= DISLIKE_MAX_RATE)
    preferred = round(sum(good_durations) / len(good_durations), 1) if len(good_durations) >= 2 else 0.0
    return {
        "favorite_moods": favourite,
        "disliked_music_styles": disliked,
        "preferred_duration_s": min(120.0, max(10.0, preferred)) if preferred else 0.0,
        "style_stats": [
            {"mood": m, "music_style": s, "good": c[0], "bad": c[1], "success_rate": round(rate(c), 4)}
            for (m, s), c in sorted(pairs.items())
        ],
        "history": {"ratings": len(ratings), "good": sum(1 for r in ratings if r.rating == Rating.GOOD)},
    }


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": old.get(k), "to": v} for k, v in new.items() if old.get(k) != v}


def _stored_distillate(prefs_json: dict[str, Any]) -> dict[str, Any]:
    """The stored distillate as JSON, read through the ledger's one parser; one that
    no longer parses compares as empty, so this pass rewrites it."""
    try:
        return prefs_dao.Distillate.from_json(prefs_json).to_json()
    except ValueError:
        return {}


def run_consolidation(engine: Engine, libraries: Sequence[str], dry_run: bool) -> PassResult:
    """One transaction writes every library's distillate (none in a dry run)."""
    report: dict[str, Any] = {"dry_run": dry_run, "libraries": {}}
    errors: list[str] = []
    with session_scope(engine) as session:
        for library in libraries:
            try:
                ratings = feedback_dao.list_feedback(session, library_key=library)
                new = distil(ratings)
                stored = prefs_dao.get_library_preferences(session, library)
                old = _stored_distillate(stored.prefs_json) if stored else {}
                changes = _changes(old, new)
                report["libraries"][library] = {"ratings": len(ratings), "changed": sorted(changes), "changes": changes}
                if changes and not dry_run:
                    prefs_dao.save_library_preferences(session, library, new, len(ratings))
            except Exception as exc:  # one library's failure is recorded, the rest go on
                log.exception("consolidation failed", library=library)
                errors.append(f"{library}: {type(exc).__name__}")
        if dry_run:
            session.rollback()
    return PassResult(report, errors)


@dataclass(frozen=True)
class ConsolidationPass:
    """RunConsolidationNow and the consolidation loop: lock, distil, record."""

    engine: Engine
    runner: PassRunner
    libraries: tuple[str, ...]  # the configured library keys, sorted

    def run(
        self, *, dry_run: bool = False, trigger: RunTrigger = RunTrigger.MANUAL, request_id: str = ""
    ) -> PassOutcome:
        return self.runner.run(
            RunKind.CONSOLIDATION,
            trigger,
            dry_run,
            lambda _lease: run_consolidation(self.engine, self.libraries, dry_run),
            request_id=request_id,
        )
