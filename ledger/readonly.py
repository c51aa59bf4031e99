"""Read-only sessions for the hot read paths (GetPrecomputedReel, StreamReelVideo,
GetReel, ListReels).

``ledger.db`` starts every SQLite transaction with ``BEGIN IMMEDIATE``, which takes
the database's single write lock. That is right for the loops that write, but on a
read path it makes every reader queue behind every other reader and every writer,
and a reader that finds the lock taken sleeps in SQLite's busy handler (1, 2, 5, 10,
... ms), which is what held GetPrecomputedReel's p99 back under 16 concurrent
callers (docs/BENCHMARKS.md, bench:precomputed).

In WAL mode a plain (deferred) read transaction reads one consistent snapshot and
neither takes nor waits for the write lock. ``read_session`` gives such a session
on a companion engine of the same SQLite file whose connections are
``PRAGMA query_only`` (a write through it fails). PostgreSQL and in-memory SQLite
keep using the main engine: there readers never took a write lock (PostgreSQL), or a
second engine would see another database (``:memory:``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.db import SQLITE_BUSY_TIMEOUT_MS

# One reader per main engine; it goes away with the main engine.
_READERS: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
# Enough connections for the render service's concurrent readers: a checkout waits
# for a free connection beyond this (SQLite releases the GIL while it reads).
READER_POOL_SIZE = 8
READER_MAX_OVERFLOW = 24


def _in_memory(engine: Engine) -> bool:
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or engine.url.query.get("mode") == "memory"


def reader_engine(engine: Engine) -> Engine:
    """The engine read-only sessions of `engine` use (`engine` itself unless it is
    a file-backed SQLite database)."""
    if engine.dialect.name != "sqlite" or _in_memory(engine):
        return engine
    with _LOCK:
        reader = _READERS.get(engine)
        if reader is None:
            reader = sa.create_engine(
                engine.url,
                connect_args={"check_same_thread": False},
                poolclass=sa.pool.QueuePool,
                pool_size=READER_POOL_SIZE,
                max_overflow=READER_MAX_OVERFLOW,
            )
            _configure_reader(reader)
            _READERS[engine] = reader
    return reader


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


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads only: one snapshot, no write lock, rolled back at the end.

    Objects stay readable after the block (their columns are loaded)."""
    session = Session(reader_engine(engine), expire_on_commit=False, autoflush=False)
    try:
        yield session
    finally:
        session.close()  # ends the read transaction (a rollback: nothing to commit)
