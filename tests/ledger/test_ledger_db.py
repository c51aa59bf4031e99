"""Engine, migrations, sessions and the UTC datetime type."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from ledger.db import alembic_config, current_revision, make_engine, migrate, session_scope
from ledger.jobs import get_job
from ledger.libraries import get_library, upsert_library
from ledger.models import Library, ReelJob

HEAD = "i13_select_analysis"

LEDGER_TABLES = {
    "libraries",
    "media_items",
    "reel_jobs",
    "job_events",
    "precomputed_reels",
    "user_ai_prefs",
    "feedback",
    "library_preferences",
    "maintenance_locks",
    "maintenance_runs",
}


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_default_engine_is_sqlite_in_data_dir_with_wal_fk_and_busy_timeout(tmp_path):
    data_dir = tmp_path / "nested" / "var"
    engine = make_engine(None, data_dir)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert (data_dir / "ledger.db").is_file()
    finally:
        engine.dispose()


def test_migrate_twice_is_idempotent(empty_engine):
    assert current_revision(empty_engine) is None
    assert not LEDGER_TABLES & _tables(empty_engine)
    migrate(empty_engine)
    migrate(empty_engine)
    assert current_revision(empty_engine) == HEAD
    assert LEDGER_TABLES <= _tables(empty_engine)


def test_migrate_keeps_the_data_of_an_existing_database(empty_engine, tmp_path):
    migrate(empty_engine)
    with session_scope(empty_engine) as session:
        upsert_library(session, "family", "/photos/family", "Europe/Paris")
    empty_engine.dispose()

    reopened = make_engine(empty_engine.url.render_as_string(hide_password=False), tmp_path / "data")
    try:
        migrate(reopened)
        assert current_revision(reopened) == HEAD
        with session_scope(reopened) as session:
            library = get_library(session, "family")
            assert library is not None and library.timezone == "Europe/Paris"
    finally:
        reopened.dispose()


def test_migrate_upgrades_a_database_left_at_the_first_revision(empty_engine):
    with empty_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001_initial")
        connection.execute(
            sa.text(
                "INSERT INTO reel_jobs (id, library_key, span, kind, anchor_date, mode, params_json, state,"
                " reason, message, progress, created_at, updated_at, precomputed)"
                " VALUES ('j1', 'fam', 'DAY', 'RECAP', '2024-06-01', 'FAST', '{}', 'QUEUED', '', '', 0,"
                " '2024-06-01 00:00:00', '2024-06-01 00:00:00', false)"
            )
        )
    assert current_revision(empty_engine) == "0001_initial"
    migrate(empty_engine)
    assert current_revision(empty_engine) == HEAD
    with session_scope(empty_engine) as session:
        job = get_job(session, "j1")
        assert job is not None
        assert (job.library_key, job.result_json) == ("fam", {})


def test_migrate_works_beside_foreign_tables(empty_engine):
    with empty_engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    migrate(empty_engine)
    assert LEDGER_TABLES | {"someone_elses"} <= _tables(empty_engine)


def test_models_match_the_migrations(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_datetimes_round_trip_as_aware_utc(engine):
    paris = dt.timezone(dt.timedelta(hours=2))
    scanned = dt.datetime(2024, 6, 1, 9, 30, 15, 123456, tzinfo=paris)
    with session_scope(engine) as session:
        upsert_library(session, "a", "/a", last_scan_at=scanned)
    with session_scope(engine) as session:
        library = session.get(Library, "a")
        assert library is not None and library.last_scan_at is not None
        assert library.last_scan_at == scanned
        assert library.last_scan_at.tzinfo is dt.UTC
        assert library.last_scan_at.hour == 7


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        with session_scope(engine) as session:
            upsert_library(session, "a", "/a", last_scan_at=dt.datetime(2024, 1, 1))


def test_session_scope_rolls_back_on_error_and_commits_otherwise(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            upsert_library(session, "gone", "/gone")
            raise RuntimeError("boom")
    with session_scope(engine) as session:
        upsert_library(session, "kept", "/kept")
    with session_scope(engine) as session:
        assert get_library(session, "gone") is None
        assert get_library(session, "kept") is not None


def test_objects_stay_readable_after_the_session_ends(engine):
    with session_scope(engine) as session:
        library = upsert_library(session, "a", "/a")
    assert library.root_path == "/a"


def test_check_constraints_guard_vocabularies(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with session_scope(engine) as session:
            session.add(
                ReelJob(
                    library_key="a",
                    span="DAY",
                    kind="RECAP",
                    anchor_date=dt.date(2024, 1, 1),
                    mode="FAST",
                    state="SLEEPING",
                )
            )
