"""The read-only ledger path (ledger/readonly.py): same answers as the ORM DAO, and
on SQLite no write lock taken or waited for."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from ledger.db import make_engine, session_scope
from ledger.models import PrecomputedReel
from ledger.readonly import ReelRow, read_session, reader_engine, reel_by_key, scan_newest_for_scope
from ledger.reels import get_reel_by_key, newest_for_scope, record_reel

BASE = dt.date(2024, 6, 1)
COLUMNS = [f.name for f in dataclasses.fields(ReelRow)]


def record(session, key: str, anchor: dt.date, created: dt.datetime, library: str = "fam", span: str = "WEEK"):
    start = dt.datetime.combine(anchor, dt.time(), dt.UTC) - dt.timedelta(days=7)
    return record_reel(
        session,
        key=key,
        library_key=library,
        span=span,
        kind="RECAP",
        anchor_date=anchor,
        window_start=start,
        window_end=start + dt.timedelta(days=7),
        valid_until=start + dt.timedelta(days=15, microseconds=123456),
        video_path=f"{key}.mp4",
        sidecar_path=f"{key}.json",
        poster_path=f"{key}.jpg",
        title="T",
        duration_s=12.5,
        size_bytes=10_000_000_000,
        sha256="ab" * 32,
        mood="calm",
        music_style="piano",
        mode_used="FAST",
        created_at=created,
    )


def as_dict(row) -> dict:
    return {c: getattr(row, c) for c in COLUMNS}


@pytest.fixture
def rows(engine):
    t0 = dt.datetime(2024, 6, 2, 3, 0, tzinfo=dt.UTC)
    with session_scope(engine) as s:
        record(s, "old", BASE - dt.timedelta(days=7), t0)
        record(s, "tie-early", BASE, t0)
        record(s, "tie-late", BASE, t0 + dt.timedelta(seconds=1))
        record(s, "newest", BASE + dt.timedelta(days=7), t0)
        record(s, "other-scope", BASE + dt.timedelta(days=14), t0, span="DAY")
        record(s, "other-library", BASE + dt.timedelta(days=14), t0, library="kin")
    return engine


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_scan_matches_the_dao_in_order_and_values(rows, limit):
    with session_scope(rows) as s:
        expected = [as_dict(r) for r in newest_for_scope(s, "fam", "WEEK", "RECAP", limit=limit)]
    with scan_newest_for_scope(rows, "fam", "WEEK", "RECAP", limit) as it:
        got = [as_dict(r) for r in it]
    assert got == expected
    assert [r["key"] for r in got] == ["newest", "tie-late", "tie-early", "old"][:limit]
    assert all(r["valid_until"].tzinfo is not None and r["valid_until"].microsecond == 123456 for r in got)


def test_scan_of_an_empty_scope_yields_nothing(rows):
    with scan_newest_for_scope(rows, "nobody", "WEEK", "RECAP", 8) as it:
        assert list(it) == []


def test_reel_by_key_matches_the_dao(rows):
    with session_scope(rows) as s:
        expected = as_dict(get_reel_by_key(s, "tie-late"))
    got = reel_by_key(rows, "tie-late")
    assert isinstance(got, ReelRow)
    assert as_dict(got) == expected
    assert reel_by_key(rows, "missing") is None


def test_sqlite_reads_neither_take_nor_wait_for_the_write_lock(tmp_path):
    from ledger.db import migrate

    engine = make_engine(None, tmp_path / "data")
    migrate(engine)
    t0 = dt.datetime(2024, 6, 2, tzinfo=dt.UTC)
    with session_scope(engine) as s:
        record(s, "committed", BASE, t0)
    # A writer holds the write lock (BEGIN IMMEDIATE) with an uncommitted row. A
    # reader that wanted the lock would fail with "database is locked" after the
    # busy timeout; a snapshot reader answers at once with the committed state.
    with session_scope(engine) as writer:
        record(writer, "uncommitted", BASE + dt.timedelta(days=7), t0)
        with scan_newest_for_scope(engine, "fam", "WEEK", "RECAP", 8) as it:
            assert [r.key for r in it] == ["committed"]
        assert reel_by_key(engine, "uncommitted") is None
        with read_session(engine) as s:
            assert s.execute(sa.select(sa.func.count()).select_from(PrecomputedReel)).scalar_one() == 1
    assert reel_by_key(engine, "uncommitted") is not None  # visible once committed
    engine.dispose()


def test_sqlite_read_session_cannot_write(tmp_path):
    from ledger.db import migrate

    engine = make_engine(None, tmp_path / "data")
    migrate(engine)
    with pytest.raises(sa.exc.OperationalError, match="readonly|read-only|query_only"):
        with read_session(engine) as s:
            record(s, "nope", BASE, dt.datetime(2024, 6, 2, tzinfo=dt.UTC))
    assert reel_by_key(engine, "nope") is None
    engine.dispose()


def test_postgres_and_in_memory_sqlite_read_through_their_own_engine(engine, tmp_path):
    if engine.dialect.name == "sqlite":
        assert reader_engine(engine) is not engine
        memory = sa.create_engine("sqlite://")
        assert reader_engine(memory) is memory
    else:
        assert reader_engine(engine) is engine
