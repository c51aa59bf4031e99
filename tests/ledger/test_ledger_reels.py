"""Pre-generated reel rows: record, scope queries, pagination, pruning, stats."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.db import session_scope
from ledger.jobs import create_job
from ledger.pagination import InvalidPageToken
from ledger.reels import (
    ScopeStats,
    all_reel_keys,
    get_job_by_reel_key,
    get_reel_by_key,
    list_reels,
    newest_for_scope,
    prune_superseded,
    record_reel,
    referenced_paths,
    stats_by_scope,
)

BASE = dt.date(2024, 6, 1)


def record(
    session, key: str, anchor: dt.date = BASE, library: str = "fam", span: str = "WEEK", kind: str = "RECAP", **kw
):
    start = dt.datetime.combine(anchor, dt.time(), dt.UTC) - dt.timedelta(days=7)
    return record_reel(
        session,
        key=key,
        library_key=library,
        span=span,
        kind=kind,
        anchor_date=anchor,
        window_start=start,
        window_end=start + dt.timedelta(days=7),
        valid_until=start + dt.timedelta(days=15),
        video_path=f"reels/{key}.mp4",
        sidecar_path=f"reels/{key}.json",
        poster_path=f"reels/{key}.jpg",
        size_bytes=kw.pop("size_bytes", 1000),
        **kw,
    )


def test_record_and_get_by_key(engine):
    with session_scope(engine) as session:
        record(
            session,
            "k1",
            title="A week",
            sha256="ab" * 32,
            media_fingerprint="fp1",
            mood="calm",
            music_style="piano",
            mode_used="FAST",
            fallback_reason="LLM_NOT_CONFIGURED",
            duration_s=31.5,
        )
    with session_scope(engine) as session:
        reel = get_reel_by_key(session, "k1")
        assert reel is not None
        assert (reel.title, reel.mood, reel.music_style, reel.duration_s) == ("A week", "calm", "piano", 31.5)
        assert (reel.status, reel.fallback_reason, reel.media_fingerprint) == ("READY", "LLM_NOT_CONFIGURED", "fp1")
        assert reel.window_start.tzinfo is dt.UTC
        assert get_reel_by_key(session, "nope") is None


def test_recording_the_same_key_overwrites_the_row(engine):
    with session_scope(engine) as session:
        first = record(session, "k1", title="old", size_bytes=10)
    with session_scope(engine) as session:
        second = record(session, "k1", title="new", size_bytes=20)
    assert second.id == first.id
    with session_scope(engine) as session:
        reel = get_reel_by_key(session, "k1")
        assert reel is not None
        assert (reel.title, len(all_reel_keys(session))) == ("new", 1)


def test_newest_for_scope_orders_by_anchor_and_ignores_other_scopes(engine):
    with session_scope(engine) as session:
        record(session, "mid", BASE)
        record(session, "newest", BASE + dt.timedelta(days=7))
        record(session, "oldest", BASE - dt.timedelta(days=7))
        record(session, "other-kind", BASE + dt.timedelta(days=14), kind="ON_THIS_DAY")
        record(session, "other-lib", BASE + dt.timedelta(days=14), library="work")
    with session_scope(engine) as session:
        assert [r.key for r in newest_for_scope(session, "fam", "WEEK", "RECAP")] == ["newest", "mid", "oldest"]
        assert [r.key for r in newest_for_scope(session, "fam", "WEEK", "RECAP", limit=1)] == ["newest"]


def test_prune_superseded_keeps_exactly_the_newest_n(engine):
    with session_scope(engine) as session:
        for i in range(5):
            record(session, f"w{i}", BASE + dt.timedelta(days=7 * i))
        record(session, "day", BASE, span="DAY")
    with session_scope(engine) as session:
        removed = prune_superseded(session, "fam", "WEEK", "RECAP", keep=2)
    assert sorted(r.key for r in removed) == ["w0", "w1", "w2"]
    assert {r.video_path for r in removed} == {"reels/w0.mp4", "reels/w1.mp4", "reels/w2.mp4"}
    with session_scope(engine) as session:
        assert [r.key for r in newest_for_scope(session, "fam", "WEEK", "RECAP")] == ["w4", "w3"]
        assert all_reel_keys(session) == {"w3", "w4", "day"}
        assert prune_superseded(session, "fam", "WEEK", "RECAP", keep=2) == []
        with pytest.raises(ValueError):
            prune_superseded(session, "fam", "WEEK", "RECAP", keep=-1)


def test_list_reels_pages_with_opaque_tokens(engine):
    with session_scope(engine) as session:
        for i in range(7):
            record(session, f"r{i}", BASE + dt.timedelta(days=i))
        record(session, "work", BASE, library="work")
    seen: list[str] = []
    token = ""
    pages = 0
    with session_scope(engine) as session:
        while True:
            rows, token = list_reels(session, library_key="fam", page_size=3, page_token=token)
            seen += [r.key for r in rows]
            pages += 1
            if not token:
                break
    assert pages == 3
    assert seen == [f"r{i}" for i in range(6, -1, -1)]


def test_list_reels_tokens_are_bound_to_their_filters(engine):
    with session_scope(engine) as session:
        for i in range(3):
            record(session, f"r{i}", BASE + dt.timedelta(days=i))
        rows, token = list_reels(session, library_key="fam", page_size=1)
        assert token and len(rows) == 1
        with pytest.raises(InvalidPageToken):
            list_reels(session, library_key="work", page_token=token)
        with pytest.raises(InvalidPageToken):
            list_reels(session, library_key="fam", page_token="not-a-token")
        with pytest.raises(ValueError):
            list_reels(session, page_size=-1)
        everything, last = list_reels(session)
        assert (len(everything), last) == (3, "")


def test_referenced_paths_and_stats_by_scope(engine):
    with session_scope(engine) as session:
        record(session, "a", BASE, size_bytes=100)
        record(session, "b", BASE + dt.timedelta(days=7), size_bytes=50)
        record(session, "c", BASE, span="DAY", size_bytes=7)
    with session_scope(engine) as session:
        assert "reels/b.json" in referenced_paths(session)
        assert len(referenced_paths(session)) == 9
        assert stats_by_scope(session) == [
            ScopeStats("fam", "DAY", "RECAP", 1, 7, BASE),
            ScopeStats("fam", "WEEK", "RECAP", 2, 150, BASE + dt.timedelta(days=7)),
        ]


def test_an_on_demand_reel_is_found_through_its_job(engine):
    with session_scope(engine) as session:
        job, _ = create_job(
            session,
            library_key="fam",
            span="DAY",
            kind="RECAP",
            anchor_date=BASE,
            mode="FAST",
            reel_key="fam-day-recap-20240601-abcd1234",
        )
        create_job(session, library_key="fam", span="DAY", kind="RECAP", anchor_date=BASE, mode="FAST")
        record(session, "pregen-key")  # a ledger row is not a job
    with session_scope(engine) as session:
        found = get_job_by_reel_key(session, "fam-day-recap-20240601-abcd1234")
        assert found is not None and found.id == job.id
        assert get_job_by_reel_key(session, "pregen-key") is None
        assert get_job_by_reel_key(session, "nope") is None
