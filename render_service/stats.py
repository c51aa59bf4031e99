"""GetLedgerStats: rows and bytes per scope, the cache, locks, last runs; and the same
data as the gauges Prometheus scrapes (`ledger_gauges`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from ledger import jobs as job_dao
from ledger import maintenance as maintenance_dao
from ledger import reels as reel_dao
from ledger.models import MaintenanceLock, MaintenanceRun
from ledger.readonly import read_session
from render_service.store import ReelStore
from service_kit import metrics


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


def ledger_gauges(engine: Engine, store: ReelStore, data_dir: Path) -> metrics.LedgerGauges:
    """GetLedgerStats' data, the jobs per state and the data dir's disk, for a scrape."""
    stats = ledger_stats(engine, store)
    with read_session(engine) as session:
        jobs = job_dao.count_jobs_by_state(session)
    disk = shutil.disk_usage(data_dir)
    return metrics.LedgerGauges(
        scopes=[metrics.ScopeGauge(s.library_key, s.span, s.kind, s.reel_count, s.total_bytes) for s in stats.scopes],
        ledger_bytes=stats.ledger_bytes,
        cache_bytes=stats.cache_bytes,
        cache_files=stats.cache_files,
        jobs_by_state=jobs,
        locks=[metrics.LockGauge(lock.lock_id, lock.owner_id, lock.expires_at.timestamp()) for lock in stats.locks],
        last_runs=[
            metrics.RunGauge(run.kind, run.status or "RUNNING", run.finished_at.timestamp() if run.finished_at else 0)
            for run in stats.last_runs
        ],
        disk_free_bytes=disk.free,
        disk_total_bytes=disk.total,
    )
