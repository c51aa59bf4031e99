"""The system-wide maintenance lock (a lease with an owner and a TTL) and the run
history of the maintenance passes (pre-generation, retention, consolidation).

A lock row whose ``expires_at`` has passed counts as free: the next
``try_acquire_lock`` deletes it and takes over. Commit right after acquiring (the
``session_scope`` block should hold nothing else) so other replicas see the lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ledger.db import dialect_insert, rowcount, utcnow
from ledger.models import MaintenanceLock, MaintenanceRun, RunKind, RunStatus, RunTrigger
from ledger.pagination import clamp_page_size, decode_page_token, encode_page_token


class LockAttempt(NamedTuple):
    acquired: bool
    holder_owner: str | None  # who holds the lock now (us when acquired)
    holder_expires: dt.datetime | None


def try_acquire_lock(
    session: Session, lock_id: str, owner: str, ttl_s: float, *, now: dt.datetime | None = None
) -> LockAttempt:
    """Take ``lock_id`` for ``owner`` for ``ttl_s`` seconds if it is free or expired.
    Not re-entrant: a lock ``owner`` already holds is reported as not acquired."""
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=ttl_s)
    for _ in range(3):  # the holder may release between our insert and our read
        session.execute(
            sa.delete(MaintenanceLock)
            .where(col(MaintenanceLock.lock_id) == lock_id, col(MaintenanceLock.expires_at) <= now)
            .execution_options(synchronize_session=False)
        )
        inserted = session.execute(
            dialect_insert(session, MaintenanceLock)
            .values(lock_id=lock_id, owner_id=owner, acquired_at=now, expires_at=expires)
            .on_conflict_do_nothing(index_elements=["lock_id"])
            .returning(col(MaintenanceLock.lock_id))
        ).scalar_one_or_none()
        if inserted is not None:
            return LockAttempt(True, owner, expires)
        holder = get_lock(session, lock_id)
        if holder is not None:
            return LockAttempt(False, holder.owner_id, holder.expires_at)
    return LockAttempt(False, None, None)


def renew_lock(session: Session, lock_id: str, owner: str, ttl_s: float, *, now: dt.datetime | None = None) -> bool:
    """Push the expiry of a lock ``owner`` holds to now + ``ttl_s``. False: not ours."""
    now = now or utcnow()
    stmt = (
        sa.update(MaintenanceLock)
        .where(col(MaintenanceLock.lock_id) == lock_id, col(MaintenanceLock.owner_id) == owner)
        .values(expires_at=now + dt.timedelta(seconds=ttl_s))
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt)) == 1


def release_lock(session: Session, lock_id: str, owner: str) -> bool:
    """Release the lock if ``owner`` holds it; True when a row was removed."""
    stmt = (
        sa.delete(MaintenanceLock)
        .where(col(MaintenanceLock.lock_id) == lock_id, col(MaintenanceLock.owner_id) == owner)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt)) == 1


def get_lock(session: Session, lock_id: str) -> MaintenanceLock | None:
    return session.get(MaintenanceLock, lock_id, populate_existing=True)


def list_locks(session: Session) -> list[MaintenanceLock]:
    """Every lock row, expired or not, by lock id."""
    return list(session.exec(select(MaintenanceLock).order_by(col(MaintenanceLock.lock_id))))


def start_run(
    session: Session,
    kind: RunKind,
    owner_id: str,
    trigger: RunTrigger,
    dry_run: bool = False,
    *,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> MaintenanceRun:
    """Record the start of a pass; ``status`` stays None until ``finish_run``.
    ``kind`` and ``trigger`` are checked (a plain string outside the enum raises
    ValueError)."""
    run = MaintenanceRun(
        kind=RunKind(kind),
        owner_id=owner_id,
        trigger=RunTrigger(trigger),
        dry_run=dry_run,
        started_at=now or utcnow(),
        request_id=request_id or None,
    )
    session.add(run)
    session.flush()
    return run


def run_by_request_id(session: Session, request_id: str) -> MaintenanceRun | None:
    return session.exec(select(MaintenanceRun).where(col(MaintenanceRun.request_id) == request_id)).first()


def finish_run(
    session: Session,
    run_id: int,
    status: RunStatus,
    report: Mapping[str, Any] | None = None,
    errors: Sequence[str] = (),
    *,
    now: dt.datetime | None = None,
) -> MaintenanceRun:
    run = session.get(MaintenanceRun, run_id)
    if run is None:
        raise LookupError(f"no maintenance run {run_id}")
    run.status = RunStatus(status)
    run.report_json = dict(report or {})
    run.errors_json = [str(e) for e in errors]
    run.finished_at = now or utcnow()
    session.flush()
    return run


def list_runs(
    session: Session,
    page_size: int | None = None,
    page_token: str | None = None,
    *,
    kind: str | None = None,
) -> tuple[list[MaintenanceRun], str]:
    """One page of runs, newest first, and the next page's token ("" at the end).
    Raises ``InvalidPageToken`` for a foreign token."""
    filters = {"kind": str(RunKind(kind))} if kind else {}
    size = clamp_page_size(page_size)
    after = decode_page_token("maintenance_runs", page_token, filters)
    stmt = select(MaintenanceRun)
    if kind:
        stmt = stmt.where(col(MaintenanceRun.kind) == RunKind(kind))
    if after is not None:
        stmt = stmt.where(col(MaintenanceRun.id) < after)
    rows = list(session.exec(stmt.order_by(col(MaintenanceRun.id).desc()).limit(size + 1)))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_page_token("maintenance_runs", rows[-1].id or 0, filters)


def last_run_by_kind(session: Session) -> dict[str, MaintenanceRun]:
    """The newest run of each kind that has run at all, finished or not."""
    latest: dict[str, MaintenanceRun] = {}
    for kind in RunKind:
        stmt = select(MaintenanceRun).where(col(MaintenanceRun.kind) == kind).order_by(col(MaintenanceRun.id).desc())
        run = session.exec(stmt.limit(1)).first()
        if run is not None:
            latest[kind.value] = run
    return latest


def last_run_start(session: Session, kind: RunKind) -> dt.datetime | None:
    """When the newest real run of ``kind`` started (running, finished or skipped
    because another owner held the lock); dry runs do not count, so a preview never
    postpones the next scheduled pass."""
    stmt = (
        sa.select(col(MaintenanceRun.started_at))
        .where(col(MaintenanceRun.kind) == RunKind(kind), col(MaintenanceRun.dry_run).is_(False))
        .order_by(col(MaintenanceRun.id).desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()
