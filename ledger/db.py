"""Engine, migrations and sessions for the ledger.

One engine factory serves both back ends: SQLite in the data directory (the embedded
default) and PostgreSQL (scale-out). Every datetime the ledger stores or returns is
timezone-aware UTC.

SQLite notes: each connection runs in WAL mode with a 5 s busy timeout and foreign
keys on, and every transaction starts with ``BEGIN IMMEDIATE`` so that writers queue
on the busy timeout instead of failing when a read transaction upgrades to a write.
Keep sessions short: a session holds the single SQLite write lock until it ends.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from reels_core import clock

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL connections the engine keeps open (pool_size), and how many more it opens
# for a burst (max_overflow; closed again when handed back to a full pool). SQLAlchemy's
# default of 5 + 10 is below what the render service's concurrent RPC handlers use:
# with 16 GetPrecomputedReel callers it opened and closed about 70 connections a
# second, and PostgreSQL's connection start-up dominated (docs/BENCHMARKS.md,
# bench:precomputed-pg). Idle connections are cheap; 32 per process at most.
PG_POOL_SIZE = 16
PG_MAX_OVERFLOW = 16
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent migrate().
_PG_MIGRATION_LOCK_KEY = 7_351_001


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only kind the ledger accepts),
    from the domain clock (``reels_core.clock``), so a pinned date holds here too."""
    return clock.now()


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A ``DateTime(timezone=True)`` that only accepts aware datetimes and always
    returns aware UTC ones (SQLite stores naive text, so reads are normalised)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the ledger; use a timezone-aware UTC datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Label(sa.types.TypeDecorator[str]):
    """A short string column that also accepts ``Enum`` members (stores ``.value``)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | enum.Enum | None, dialect: sa.Dialect) -> str | None:
        if isinstance(value, enum.Enum):
            return str(value.value)
        return value


def make_engine(url: str | None, data_dir: Path) -> Engine:
    """Create the ledger engine. ``url`` None means ``sqlite:///{data_dir}/ledger.db``.

    ``data_dir`` is created when missing (it also holds the reel files)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not url:
        url = f"sqlite:///{data_dir / 'ledger.db'}"
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        engine = sa.create_engine(sa_url, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(sa_url, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """The alembic configuration, built in code (there is no alembic.ini)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the ledger schema to the newest revision. Safe to call at every start,
    on a new or an existing database, and from several processes at once."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None before the first migrate)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any exception.

    Objects stay readable after the block (``expire_on_commit=False``)."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_insert(session: Session, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` for the session's dialect, with ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (both SQLite and PostgreSQL support them)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(model)
    raise NotImplementedError(f"unsupported database dialect: {name}")  # pragma: no cover - two back ends only


def rowcount(result: sa.Result[*tuple[Any, ...]]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` run by ``session.execute`` matched.

    ``Session.execute`` is typed as returning a plain ``Result``; for a DML statement
    it returns a ``CursorResult``, the subclass that carries ``rowcount``."""
    if not isinstance(result, sa.CursorResult):
        raise TypeError(f"expected the CursorResult of a DML statement, got {type(result).__name__}")
    return result.rowcount
