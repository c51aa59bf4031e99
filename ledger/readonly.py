"""Reads for the hot paths (GetPrecomputedReel, StreamReelVideo, GetReel, ListReels)
that never take the ledger's write lock.

``ledger.db`` starts every SQLite transaction with ``BEGIN IMMEDIATE``, which takes
the database's single write lock. That is right for the loops that write, but on a
read path it makes every reader queue behind every other reader and every writer,
and a reader that finds the lock taken sleeps in SQLite's busy handler (1, 2, 5, 10,
... ms): with 16 concurrent GetPrecomputedReel callers the p99 was 400-500 ms
(docs/BENCHMARKS.md, bench:precomputed). In WAL mode a plain read reads one
consistent snapshot and neither takes nor waits for the write lock.

Two tools:

- ``read_session(engine)``: an ORM session on a companion engine of the same SQLite
  file whose connections are ``PRAGMA query_only`` and open deferred transactions.
- ``scan_newest_for_scope`` and ``reel_by_key``: the two lookups of every
  GetPrecomputedReel and StreamReelVideo call, returning plain ``ReelRow`` values.
  On a SQLite file they run one prepared SELECT on a plain read-only ``sqlite3``
  connection from a small free list, because the ORM (about 1.5 ms a call here)
  and even Core (about 0.4 ms) cost several times the whole no-op RPC. Elsewhere
  (PostgreSQL, in-memory SQLite) they run the same query through SQLAlchemy Core.

Results are the same as ``ledger.reels.newest_for_scope`` / ``get_reel_by_key``
(same filter, same order, aware UTC datetimes); tests/ledger/test_ledger_readonly.py
checks that on both back ends.
"""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.db import SQLITE_BUSY_TIMEOUT_MS
from ledger.models import PrecomputedReel

# Enough ORM connections for the render service's concurrent readers: a checkout
# beyond this waits for a free one (SQLite releases the GIL while it reads).
READER_POOL_SIZE = 8
READER_MAX_OVERFLOW = 24


@dataclass(frozen=True, slots=True)
class ReelRow:
    """One ``precomputed_reels`` row, read-only (the columns of ``PrecomputedReel``)."""

    id: int
    key: str
    library_key: str
    span: str
    kind: str
    anchor_date: dt.date
    window_start: dt.datetime
    window_end: dt.datetime
    title: str
    duration_s: float
    size_bytes: int
    sha256: str
    media_fingerprint: str
    mood: str
    music_style: str
    mode_used: str
    fallback_reason: str
    video_path: str
    sidecar_path: str
    poster_path: str
    status: str
    created_at: dt.datetime
    valid_until: dt.datetime


_COLUMNS = tuple(ReelRow.__dataclass_fields__)
_TABLE = sa.inspect(PrecomputedReel).local_table  # the mapped Table (SQLModel types no __table__)
assert set(_COLUMNS) == {c.name for c in _TABLE.columns}, "ReelRow must list every precomputed_reels column"

_SQLITE_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in _COLUMNS) + " FROM precomputed_reels"
_SQLITE_SCOPE = (
    _SQLITE_SELECT + " WHERE library_key = ? AND span = ? AND kind = ?"
    " ORDER BY anchor_date DESC, created_at DESC, id DESC LIMIT ?"
)
_SQLITE_KEY = _SQLITE_SELECT + " WHERE key = ? LIMIT 1"

_CORE_SELECT = sa.select(*(_TABLE.c[c] for c in _COLUMNS))
_CORE_SCOPE = (
    _CORE_SELECT.where(
        _TABLE.c.library_key == sa.bindparam("library_key"),
        _TABLE.c.span == sa.bindparam("span"),
        _TABLE.c.kind == sa.bindparam("kind"),
    )
    .order_by(_TABLE.c.anchor_date.desc(), _TABLE.c.created_at.desc(), _TABLE.c.id.desc())
    .limit(sa.bindparam("limit"))
)
_CORE_KEY = _CORE_SELECT.where(_TABLE.c.key == sa.bindparam("key")).limit(1)


def _sqlite_utc(text: str) -> dt.datetime:
    # What ledger.db.UTCDateTime returns for SQLite's naive UTC text.
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


_SQLITE_DECODE: dict[int, Callable[[Any], Any]] = {
    _COLUMNS.index("anchor_date"): dt.date.fromisoformat,
    **{_COLUMNS.index(c): _sqlite_utc for c in ("window_start", "window_end", "created_at", "valid_until")},
}


def _row_from_sqlite(values: tuple[Any, ...]) -> ReelRow:
    out = list(values)
    for i, decode in _SQLITE_DECODE.items():
        if out[i] is not None:
            out[i] = decode(out[i])
    return ReelRow(*out)


class _SqliteReader:
    """Plain read-only sqlite3 connections to one database file, handed out one per
    caller from a free list (as many as were ever used at once)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._free: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, cached_statements=16)
        conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        return conn

    @contextmanager
    def cursor(self) -> Iterator[sqlite3.Connection]:
        """A connection of the free list for one read (back on the list after it)."""
        try:
            conn = self._free.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._free.put(conn)

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # Autocommit: one SELECT is one snapshot; no BEGIN, so no write lock.
        with self.cursor() as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class _Readers:
    engine: Engine  # for read_session
    sqlite: _SqliteReader | None  # None: use Core on the main engine


_READERS: weakref.WeakKeyDictionary[Engine, _Readers] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _sqlite_file(engine: Engine) -> str | None:
    """The database file of a file-backed SQLite engine, else None."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or engine.url.query:
        return None  # in-memory or URI options: a second connection may not see the same data
    return database


def _readers(engine: Engine) -> _Readers:
    readers = _READERS.get(engine)
    if readers is not None:
        return readers
    with _LOCK:
        readers = _READERS.get(engine)
        if readers is None:
            path = _sqlite_file(engine)
            if path is None:
                readers = _Readers(engine, None)
            else:
                reader = sa.create_engine(
                    engine.url,
                    connect_args={"check_same_thread": False},
                    poolclass=sa.pool.QueuePool,
                    pool_size=READER_POOL_SIZE,
                    max_overflow=READER_MAX_OVERFLOW,
                )
                _configure_reader(reader)
                readers = _Readers(reader, _SqliteReader(path))
            _READERS[engine] = readers
    return readers


def _configure_reader(reader: Engine) -> None:
    @sa.event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below decides
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(reader, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Deferred: the first SELECT takes a WAL snapshot, never the write lock.
        connection.exec_driver_sql("BEGIN")


def reader_engine(engine: Engine) -> Engine:
    """The engine `read_session` uses: a read-only companion of a SQLite file's
    engine, or `engine` itself (PostgreSQL, in-memory SQLite)."""
    return _readers(engine).engine


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads only: one snapshot, no write lock, rolled back at the end.

    Objects stay readable after the block (their columns are loaded)."""
    session = Session(reader_engine(engine), expire_on_commit=False, autoflush=False)
    try:
        yield session
    finally:
        session.close()  # ends the read transaction (a rollback: nothing to commit)


@contextmanager
def scan_newest_for_scope(
    engine: Engine, library_key: str, span: str, kind: str, limit: int
) -> Iterator[Iterator[ReelRow]]:
    """``ledger.reels.newest_for_scope`` for readers: the scope's rows, newest anchor
    date first (ties: newest row first), at most `limit`, read from the database as
    the iterator advances (the validity gate usually stops at the first)."""
    sqlite = _readers(engine).sqlite
    if sqlite is not None:
        with sqlite.cursor() as conn:
            # Autocommit: one SELECT is one snapshot; no BEGIN, so no write lock.
            cur = conn.execute(_SQLITE_SCOPE, (library_key, span, kind, limit))
            try:
                yield (_row_from_sqlite(r) for r in cur)
            finally:
                cur.close()
        return
    with engine.connect() as conn:
        result = conn.execute(_CORE_SCOPE, {"library_key": library_key, "span": span, "kind": kind, "limit": limit})
        yield (ReelRow(*r) for r in result)


def reel_by_key(engine: Engine, key: str) -> ReelRow | None:
    """``ledger.reels.get_reel_by_key`` for readers."""
    sqlite = _readers(engine).sqlite
    if sqlite is not None:
        rows = sqlite.fetch(_SQLITE_KEY, (key,))
        return _row_from_sqlite(rows[0]) if rows else None
    with engine.connect() as conn:
        row = conn.execute(_CORE_KEY, {"key": key}).first()
        return ReelRow(*row) if row is not None else None


def fetch(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One small SELECT for a hot path (named ``:params``), without the write lock:
    on a SQLite file on a plain read-only connection, elsewhere through Core.
    Datetime columns come back as stored (``as_utc`` reads them)."""
    sqlite = _readers(engine).sqlite
    if sqlite is not None:
        with sqlite.cursor() as conn:  # autocommit: one SELECT, one snapshot
            return conn.execute(sql, params).fetchall()
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def as_utc(value: Any) -> dt.datetime:
    """A datetime column read by ``fetch``: SQLite's naive UTC text, or a datetime."""
    if isinstance(value, str):
        return _sqlite_utc(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    raise TypeError(f"not a datetime: {type(value).__name__}")
