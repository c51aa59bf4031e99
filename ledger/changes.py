"""A process-local version number that moves on every committed write to chosen
tables, for caches of ledger reads in this process.

It listens to the engine's statements (SQLAlchemy events): a commit of a
connection that ran an INSERT, UPDATE or DELETE naming one of the tables bumps the
version. Writes by other processes (replicas) are not seen; a cache bounds those
with its own time to live.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_FLAG = "ledger.changes.touched"


class TableWrites:
    def __init__(self, engine: Engine, tables: Iterable[str]) -> None:
        self._tables = tuple(tables)
        self._counter = itertools.count(1)
        self.version = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)

    def _on_execute(self, conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        head = statement.lstrip()[:6].upper()
        if head in ("INSERT", "UPDATE", "DELETE") and any(t in statement for t in self._tables):
            conn.info[_FLAG] = True

    def _on_commit(self, conn: Connection) -> None:
        if conn.info.pop(_FLAG, False):
            self.bump()

    def _on_rollback(self, conn: Connection) -> None:
        conn.info.pop(_FLAG, None)

    def bump(self) -> None:
        """A new version (thread-safe: `itertools.count` is atomic under the GIL)."""
        self.version = next(self._counter)
