"""Engine, migrations and sessions for the ledger.

One engine factory serves both back ends: SQLite in the data directory (the embedded
default) and PostgreSQL (scale-out). Every datetime the ledger stores or returns is
timezone-aware UTC.

SQLite notes: each connection runs in WAL mode with a 5 s busy timeout and foreign
keys on. A ``session_scope`` (a writer) starts with ``BEGIN IMMEDIATE`` so that
writers queue on the busy timeout instead of failing when a read transaction upgrades
to a write; a ``read_scope`` starts a plain deferred ``BEGIN`` and takes no write
lock (WAL readers never wait for the writer). Keep write sessions short: one holds
the single SQLite write lock until it ends.

Transient errors (SQLite busy after its timeout, a PostgreSQL connection dropped or
refused) are retried with backoff by ``retry_transient`` (tenacity), then raised as
``Unavailable`` with reason ``LEDGER_UNAVAILABLE``: the caller should retry, and no
SQL parameter (a rating's comment) is in the message, as the engine is built with
``hide_parameters=True``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
import structlog
import tenacity
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from reels_core import clock
from reels_core.errors import Unavailable

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
# Retries of a transient ledger error before UNAVAILABLE: 4 attempts, 0.1 s doubling
# to 1 s apart (on top of SQLite's own 5 s busy wait), about 7 s in all at worst.
RETRY_ATTEMPTS = 4
LEDGER_UNAVAILABLE = "LEDGER_UNAVAILABLE"
_READ_OPTION = "ledger_read"
T = TypeVar("T")
log = structlog.get_logger("ledger")
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
        engine = sa.create_engine(sa_url, connect_args={"check_same_thread": False}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        sa_url, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW, hide_parameters=True
    )


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
        # A reader (read_scope) takes no write lock: in WAL mode it never waits.
        deferred = connection.get_execution_options().get(_READ_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


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
    except BaseException as exc:
        session.rollback()
        _raise_unavailable_if_transient(exc)
        raise
    finally:
        session.close()


def _raise_unavailable_if_transient(exc: BaseException) -> None:
    """A busy or dropped ledger is the caller's cue to retry (UNAVAILABLE), not an
    internal error; the driver's text (which may hold SQL) is not copied."""
    if isinstance(exc, sa.exc.DBAPIError) and is_transient(exc):
        log.warning("ledger unavailable", error=type(exc).__name__)
        raise Unavailable(LEDGER_UNAVAILABLE, "the ledger is busy or unreachable; retry shortly") from exc


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session for reads only: on SQLite it begins a deferred transaction, so it
    never takes (or waits for) the write lock; a flush in it is a bug. Ended without
    a commit; objects stay readable after the block."""
    session = Session(engine.execution_options(**{_READ_OPTION: True}), expire_on_commit=False)
    try:
        yield session
    except BaseException as exc:
        _raise_unavailable_if_transient(exc)
        raise
    finally:
        session.close()  # ends the transaction without expiring what was read


def is_transient(exc: BaseException) -> bool:
    """A ledger error worth retrying: SQLite busy or locked, or a PostgreSQL
    connection that was dropped, refused or terminated (``pg_terminate_backend``)."""
    if isinstance(exc, Unavailable) and exc.reason == LEDGER_UNAVAILABLE:
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        text = str(exc.orig).lower()
        return any(
            word in text
            for word in (
                "database is locked",
                "database is busy",
                "terminating connection",
                "server closed the connection",
                "connection refused",
                "could not connect",
                "connection is closed",
                "ssl connection has been closed",
                "connection already closed",
                "the database system is",
            )
        )
    return False


def retry_transient(fn: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``fn`` (which opens its own session), again with backoff after a
    transient ledger error; after ``attempts``, ``Unavailable(LEDGER_UNAVAILABLE)``.
    Any other error is raised as it is. ``fn`` must be safe to run again: each try
    is its own transaction, rolled back when it failed."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    )
    try:
        return retrying(fn)
    except Exception as exc:
        if is_transient(exc) and not isinstance(exc, Unavailable):
            log.warning("ledger unavailable", error=type(exc).__name__)
            raise Unavailable(LEDGER_UNAVAILABLE, "the ledger is busy or unreachable; retry shortly") from None
        raise


def ledger_reachable(engine: Engine) -> bool:
    """One ``SELECT 1`` on a fresh transaction: False when the ledger cannot answer."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001  # any failure means "not reachable" for health
        return False


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
