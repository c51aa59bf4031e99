"""GetLedgerStats: rows and bytes per scope, the cache, locks, last runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from ledger import jobs as job_dao
from ledger import maintenance as maintenance_dao
from ledger import reels as reel_dao
from ledger.models import MaintenanceLock, MaintenanceRun
from ledger.readonly import read_session
from render_service.store import ReelStore


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
    locks: list[MaintenanceLock]
    last_runs: list[MaintenanceRun]
    job_count: int


def ledger_stats(engine: Engine, store: ReelStore) -> LedgerStats:
    # A read-only snapshot: no write lock, so stats never wait for a pass.
    with read_session(engine) as session:
        rows = reel_dao.stats_by_scope(session)
        referenced = reel_dao.referenced_paths(session)
        locks = maintenance_dao.list_locks(session)
        last = maintenance_dao.last_run_by_kind(session)
        jobs = job_dao.count_jobs(session)
    scopes = [ScopeCount(r.library_key, r.span, r.kind, r.count, r.total_bytes) for r in rows]
    ledger_bytes = cache_bytes = cache_files = 0
    for obj in store.list():
        if obj.name in referenced:
            ledger_bytes += obj.size
        else:
            cache_bytes += obj.size
            cache_files += 1
    return LedgerStats(scopes, ledger_bytes, cache_bytes, cache_files, locks, list(last.values()), jobs)
