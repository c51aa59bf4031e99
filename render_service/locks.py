"""The system-wide maintenance lease lock as a context manager.

One row per lock id in the ledger (owner, acquired, expires). Acquiring deletes an
expired row and inserts if absent in one transaction; a thread renews the lease
while the pass runs; the lock is released on every exit path, exceptions included.
A replica that died holding it is taken over once the TTL has passed.

Each kind of maintenance pass has its own lock id (``pregen``, ``retention``,
``consolidation``; see loops/passes.py): one pass of a kind at a time across every
replica, while a long pre-generation never delays the cache sweep.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Engine

from ledger import maintenance as maintenance_dao
from ledger.db import session_scope

log = structlog.get_logger("locks")


class LockHeld(Exception):
    """Another owner holds the lock (until `expires_at`). A plain exception, not a
    frozen dataclass: contextlib and traceback machinery set attributes on it."""

    def __init__(self, lock_id: str, owner_id: str, expires_at: dt.datetime | None) -> None:
        until = expires_at.isoformat() if expires_at else "unknown"
        super().__init__(f"lock {lock_id} is held by {owner_id} until {until}")
        self.lock_id = lock_id
        self.owner_id = owner_id
        self.expires_at = expires_at


@dataclass
class Lease:
    lock_id: str
    owner_id: str
    lost: threading.Event

    @property
    def is_lost(self) -> bool:
        return self.lost.is_set()


@contextmanager
def lease_lock(engine: Engine, lock_id: str, owner_id: str, ttl_s: float) -> Iterator[Lease]:
    """Hold `lock_id` for the block, renewing every ttl/3; raises LockHeld."""
    with session_scope(engine) as session:
        attempt = maintenance_dao.try_acquire_lock(session, lock_id, owner_id, ttl_s)
    if not attempt.acquired:
        raise LockHeld(lock_id, attempt.holder_owner or "unknown", attempt.holder_expires)
    stop = threading.Event()
    lease = Lease(lock_id, owner_id, threading.Event())

    def renew() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                with session_scope(engine) as session:
                    ok = maintenance_dao.renew_lock(session, lock_id, owner_id, ttl_s)
            except Exception:
                log.exception("lock renewal failed", lock_id=lock_id)
                continue
            if not ok:
                log.error("lock lost", lock_id=lock_id)
                lease.lost.set()
                return

    renewer = threading.Thread(target=renew, name=f"lease-{lock_id}", daemon=True)
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        try:
            with session_scope(engine) as session:
                maintenance_dao.release_lock(session, lock_id, owner_id)
        except Exception:
            log.exception("lock release failed; it expires after its TTL", lock_id=lock_id)
