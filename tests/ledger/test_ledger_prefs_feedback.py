"""Captured parameters, distilled preferences and ratings."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger.db import session_scope
from ledger.feedback import count_feedback, list_feedback, upsert_feedback
from ledger.jobs import create_job
from ledger.prefs import (
    Distillate,
    RatingHistory,
    StyleRecord,
    get_distillate,
    get_library_preferences,
    get_user_ai_prefs,
    save_library_preferences,
    save_user_ai_prefs,
)
from ledger.reels import prune_superseded, record_reel

T0 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def test_user_ai_prefs_are_replaced_per_library(engine):
    with session_scope(engine) as session:
        save_user_ai_prefs(session, "fam", {"mode": "AGENTIC", "mood": "calm"}, "req-1")
        save_user_ai_prefs(session, "fam", {"mode": "FAST"}, "req-2")
        save_user_ai_prefs(session, "work", {"mode": "AGENTIC"})
    with session_scope(engine) as session:
        fam = get_user_ai_prefs(session, "fam")
        assert fam is not None
        assert (fam.params_json, fam.source_request_id) == ({"mode": "FAST"}, "req-2")
        work = get_user_ai_prefs(session, "work")
        assert work is not None and work.source_request_id is None
        assert get_user_ai_prefs(session, "none") is None


def test_library_preferences_are_replaced_per_library(engine):
    prefs = {"favorite_moods": ["calm"], "style_stats": [{"mood": "calm", "music_style": "piano", "good": 3}]}
    with session_scope(engine) as session:
        save_library_preferences(session, "fam", {"favorite_moods": []}, 1, now=T0)
        save_library_preferences(session, "fam", prefs, 4, now=T0 + dt.timedelta(hours=1))
    with session_scope(engine) as session:
        row = get_library_preferences(session, "fam")
        assert row is not None
        assert (row.prefs_json, row.source_feedback_count) == (prefs, 4)
        assert row.updated_at == T0 + dt.timedelta(hours=1)
        assert get_library_preferences(session, "work") is None


def _reel(session, key: str, library: str, mood: str = "calm"):
    return record_reel(
        session,
        key=key,
        library_key=library,
        span="DAY",
        kind="RECAP",
        anchor_date=dt.date(2024, 6, 1),
        window_start=T0,
        window_end=T0 + dt.timedelta(days=1),
        valid_until=T0 + dt.timedelta(days=2),
        video_path=f"{key}.mp4",
        sidecar_path=f"{key}.json",
        poster_path=f"{key}.jpg",
        mood=mood,
    )


def test_a_later_rating_by_the_same_rater_replaces_the_earlier(engine):
    with session_scope(engine) as session:
        _reel(session, "r1", "fam")
        first, created = upsert_feedback(
            session, reel_key="r1", rater="ann", rating="GOOD", mood="calm", reasons=["music"], comment="lovely", now=T0
        )
        assert created
    with session_scope(engine) as session:
        second, created_again = upsert_feedback(
            session, reel_key="r1", rater="ann", rating="BAD", reasons=["too long"], now=T0 + dt.timedelta(hours=1)
        )
        upsert_feedback(session, reel_key="r1", rater="bob", rating="GOOD")
    assert not created_again and second.id == first.id
    assert (second.rating, second.reasons_json, second.comment) == ("BAD", ["too long"], "")
    assert (second.created_at, second.updated_at) == (T0, T0 + dt.timedelta(hours=1))
    with session_scope(engine) as session:
        assert count_feedback(session) == 2
        assert [f.rater for f in list_feedback(session, library_key="fam")] == ["ann", "bob"]


def test_ratings_are_attributed_to_a_library_and_survive_pruning(engine):
    with session_scope(engine) as session:
        _reel(session, "fam-reel", "fam", mood="calm")
        _reel(session, "work-reel", "work", mood="energetic")
        create_job(
            session,
            library_key="fam",
            span="DAY",
            kind="RECAP",
            anchor_date=dt.date(2024, 6, 1),
            mode="FAST",
            reel_key="on-demand",
        )
        upsert_feedback(session, reel_key="fam-reel", rating="GOOD", mood="calm")
        upsert_feedback(session, reel_key="work-reel", rating="BAD", mood="energetic")
        upsert_feedback(session, reel_key="on-demand", rating="GOOD", mood="uplifting")
        upsert_feedback(session, reel_key="unknown", rating="BAD", mood="calm")
    with session_scope(engine) as session:
        prune_superseded(session, "fam", "DAY", "RECAP", keep=0)
    with session_scope(engine) as session:
        assert [f.reel_key for f in list_feedback(session, library_key="fam")] == ["fam-reel", "on-demand"]
        assert count_feedback(session, library_key="work") == 1
        assert [f.reel_key for f in list_feedback(session, moods=["calm", "uplifting"])] == [
            "fam-reel",
            "on-demand",
            "unknown",
        ]
        assert list_feedback(session, library_key="fam", moods=["energetic"]) == []
        assert len(list_feedback(session, limit=2)) == 2


def test_feedback_joins_legacy_rows_without_library_through_the_reel(engine):
    with session_scope(engine) as session:
        _reel(session, "r1", "fam")
        upsert_feedback(session, reel_key="r1", rating="GOOD", library_key="")
        session.execute(sa.text("UPDATE feedback SET library_key = NULL"))
    with session_scope(engine) as session:
        assert [f.reel_key for f in list_feedback(session, library_key="fam")] == ["r1"]


def test_rating_must_be_good_or_bad(engine):
    with session_scope(engine) as session:
        with pytest.raises(ValueError):
            upsert_feedback(session, reel_key="r1", rating="MEH")


DISTILLED = {
    "favorite_moods": ["calm"],
    "disliked_music_styles": ["electronic"],
    "preferred_duration_s": 24.5,
    "style_stats": [{"mood": "calm", "music_style": "piano", "good": 3, "bad": 1, "success_rate": 0.75}],
    "history": {"ratings": 4, "good": 3},
}


def test_the_distillate_is_read_into_one_typed_record(engine):
    with session_scope(engine) as session:
        assert get_distillate(session, "fam") == Distillate()  # none made yet
        save_library_preferences(session, "fam", DISTILLED, 4)
    with session_scope(engine) as session:
        got = get_distillate(session, "fam")
    assert got == Distillate(
        favorite_moods=("calm",),
        disliked_music_styles=("electronic",),
        preferred_duration_s=24.5,
        style_stats=(StyleRecord("calm", "piano", 3, 1, 0.75),),
        history=RatingHistory(ratings=4, good=3),
    )
    assert got.to_json() == DISTILLED  # the document round-trips unchanged


def test_a_distillate_saved_as_the_record_reads_back_the_same(engine):
    record = Distillate(favorite_moods=("nostalgic",), style_stats=(StyleRecord("nostalgic", "ambient", good=2),))
    with session_scope(engine) as session:
        save_library_preferences(session, "fam", record, 2)
    with session_scope(engine) as session:
        assert get_distillate(session, "fam") == record
        row = get_library_preferences(session, "fam")
        assert row is not None and row.prefs_json["style_stats"][0]["bad"] == 0


def test_distillate_parsing_is_lenient_on_missing_and_null_but_not_on_nonsense():
    older = {
        "favorite_moods": ["calm"],
        "preferred_duration_s": None,
        "style_stats": [{"mood": "calm", "music_style": "piano", "good": "2"}],
        "a_field_from_the_future": 1,
    }
    got = Distillate.from_json(older)
    assert (got.preferred_duration_s, got.style_stats) == (0.0, (StyleRecord("calm", "piano", 2, 0, 0.0),))
    assert Distillate.from_json(None) == Distillate.from_json({}) == Distillate()
    with pytest.raises(ValueError):
        Distillate.from_json({"style_stats": [{"good": "many"}]})
