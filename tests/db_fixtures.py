"""Database fixtures any test suite can reuse: a migrated ledger engine on SQLite
and, when reachable, on PostgreSQL.

In a suite's conftest.py::

    from tests.db_fixtures import empty_engine, engine, pg_migrated_url, pg_url  # noqa: F401  (fixtures, used by name)

then take ``engine`` in a test: it runs once on SQLite (a fresh file under
``tmp_path``) and once on PostgreSQL (a schema made for this pytest session via
``search_path``, emptied before each test, dropped at the end). PostgreSQL comes
from ``REEL_TEST_PG_URL`` (default: trust auth on 127.0.0.1:5432, database
``test``). When it is unreachable the PostgreSQL cases are skipped with the reason,
except when ``CI=true``, where they fail: CI must test both back ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import ledger.models  # noqa: F401  (registers the tables)
from ledger.db import make_engine, migrate

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def pg_base_url() -> str:
    return os.environ.get("REEL_TEST_PG_URL") or DEFAULT_PG_URL


def postgres_unreachable_reason(url: str) -> str | None:
    """None when a connection to ``url`` works, else why not (one line)."""
    probe = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with probe.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver or network error means "unreachable"
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first_line}"
    finally:
        probe.dispose()
    return None


def require_postgres() -> str:
    """The PostgreSQL base URL, or skip (fail when ``CI=true``) if unreachable."""
    url = pg_base_url()
    reason = postgres_unreachable_reason(url)
    if reason is not None:
        message = f"PostgreSQL at {sa.make_url(url).render_as_string()} is unreachable ({reason})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true requires the PostgreSQL tests to run", pytrace=False)
        pytest.skip(f"{message}; set REEL_TEST_PG_URL or start PostgreSQL to run these cases")
    return url


def url_with_search_path(url: str, schema: str) -> str:
    """``url`` with ``?options=-csearch_path=<schema>``, so every table lands there."""
    return (
        sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    )


@contextmanager
def fresh_pg_schema(base_url: str) -> Iterator[str]:
    """Create an empty, uniquely named schema; yield a URL that uses it; drop it."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, poolclass=sa.NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield url_with_search_path(base_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def empty_all_tables(engine: Engine) -> None:
    """Delete every ledger row (the schema and its alembic version stay)."""
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                connection.execute(sa.text(f'DELETE FROM "{name}"'))


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The reachable PostgreSQL base URL (checked once per session), else skip/fail."""
    return require_postgres()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL URL whose schema (one per pytest session) is migrated to head."""
    with fresh_pg_schema(pg_url) as url:
        engine = make_engine(url, tmp_path_factory.mktemp("pg-data"))
        try:
            migrate(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty ledger engine, once per back end."""
    if request.param == "sqlite":
        eng = make_engine(None, tmp_path / "data")
        migrate(eng)
    else:
        eng = make_engine(request.getfixturevalue("pg_migrated_url"), tmp_path / "data")
        empty_all_tables(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no ledger tables yet (for migration tests)."""
    if request.param == "sqlite":
        eng = make_engine(None, tmp_path / "data")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    with fresh_pg_schema(request.getfixturevalue("pg_url")) as url:
        eng = make_engine(url, tmp_path / "data")
        try:
            yield eng
        finally:
            eng.dispose()
