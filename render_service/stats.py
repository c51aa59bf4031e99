"""GetLedgerStats: rows and bytes per scope, the cache, locks, last runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ledger import maintenance as maintenance_dao
from ledger import reels as reel_dao
from ledger.readonly import read_session
from ledger.models import MaintenanceLock, ReelJob

if TYPE_CHECKING:
    from render_service.app import App


@dataclass
class ScopeCount:
    library_key: str
    span: str
    kind: str
    reel_count: int
    total_bytes: int


@dataclass
class LedgerStats:
    scopes: list[ScopeCount]
    ledger_bytes: int
    cache_bytes: int
    cache_files: int
    locks: list[Any]
    last_runs: list[Any]
    job_count: int


def ledger_stats(app: "App") -> LedgerStats:
    # A read-only snapshot: no write lock, so stats never wait for a pass.
    with read_session(app.engine) as session:
        rows = reel_dao.stats_by_scope(session)
        referenced = reel_dao.referenced_paths(session)
        locks = list(session.execute(sa.select(MaintenanceLock).order_by(MaintenanceLock.lock_id)).scalars())
        last = maintenance_dao.last_run_by_kind(session)
        jobs = int(session.execute(sa.select(sa.func.count()).select_from(ReelJob)).scalar_one())
    scopes = [ScopeCount(r.library_key, r.span, r.kind, r.count, r.total_bytes) for r in rows]
    ledger_bytes = cache_bytes = cache_files = 0
    for obj in app.store.list():
        if obj.name in referenced:
            ledger_bytes += obj.size
        else:
            cache_bytes += obj.size
            cache_files += 1
    return LedgerStats(scopes, ledger_bytes, cache_bytes, cache_files, locks, list(last.values()), jobs)
