"""Reel jobs (the durable queue) and their progress events.

A job moves QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED. Terminal states are
final: a later ``set_job_state`` on a terminal job changes nothing, so a cancel and a
finishing worker can race safely. A worker claims a job with a lease it must renew;
``renew_lease`` returning False tells it to stop (cancelled or taken away).

Every change a worker makes to its job (lease, reel key, result, final state, release)
is conditional on the job being RUNNING under that worker's ``owner`` and ``attempt``
(the claim count when it claimed it): a worker whose lease lapsed and whose job was
requeued and claimed again can never overwrite the new run. Only a user's cancel
(no owner) applies to any job not yet terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ledger.db import UTCDateTime, dialect_insert, rowcount, utcnow
from ledger.models import MAX_EVENTS_PER_JOB, TERMINAL_JOB_STATES, JobEvent, JobState, ReelJob

INTERRUPTED = "INTERRUPTED"
_TERMINAL = sorted(TERMINAL_JOB_STATES)


def create_job(
    session: Session,
    *,
    library_key: str,
    span: str,
    kind: str,
    anchor_date: dt.date,
    mode: str,
    params: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    precomputed: bool = False,
    reel_key: str | None = None,
    now: dt.datetime | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> tuple[ReelJob, bool]:
    """Queue a job. Idempotent on ``request_id``: when a job with that id exists
    (even one created concurrently) it is returned with ``created=False``."""
    now = now or utcnow()
    job = ReelJob(
        request_id=request_id or None,
        library_key=library_key,
        span=span,
        kind=kind,
        anchor_date=anchor_date,
        mode=mode,
        params_json=dict(params or {}),
        precomputed=precomputed,
        reel_key=reel_key,
        created_at=now,
        updated_at=now,
        trace_context_json=dict(trace_context or {}),
    )
    stmt = (
        dialect_insert(session, ReelJob)
        .values(**job.model_dump())
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(col(ReelJob.id))
    )
    if session.execute(stmt).scalar_one_or_none() is not None:
        return _load(session, job.id), True
    existing = session.exec(
        select(ReelJob).where(col(ReelJob.request_id) == request_id).execution_options(populate_existing=True)
    ).one()
    return existing, False


def _load(session: Session, job_id: str, *, for_update: bool = False) -> ReelJob:
    job = session.get(ReelJob, job_id, populate_existing=True, with_for_update=for_update or None)
    if job is None:
        raise LookupError(f"no job {job_id!r}")
    return job


def get_job(session: Session, job_id: str) -> ReelJob | None:
    return session.get(ReelJob, job_id, populate_existing=True)


def claim_next_job(session: Session, owner: str, lease_s: float, *, now: dt.datetime | None = None) -> ReelJob | None:
    """Claim the oldest QUEUED job for ``owner`` (RUNNING, leased for ``lease_s``).

    One statement, so each job is claimed exactly once by concurrent workers:
    ``UPDATE reel_jobs ... WHERE id = (SELECT id ... FOR UPDATE SKIP LOCKED) AND
    state = 'QUEUED'``. On PostgreSQL the subquery skips rows another worker is
    claiming; SQLite renders no FOR UPDATE and relies on its single writer plus the
    ``state = 'QUEUED'`` guard."""
    now = now or utcnow()
    oldest_queued = (
        sa.select(col(ReelJob.id))
        .where(col(ReelJob.state) == JobState.QUEUED)
        .order_by(col(ReelJob.created_at), col(ReelJob.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        sa.update(ReelJob)
        .where(col(ReelJob.id) == oldest_queued, col(ReelJob.state) == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            claimed_by=owner,
            lease_until=now + dt.timedelta(seconds=lease_s),
            started_at=now,
            updated_at=now,
            attempts=col(ReelJob.attempts) + 1,
        )
        .returning(col(ReelJob.id))
        .execution_options(synchronize_session=False)
    )
    job_id = session.execute(stmt).scalar_one_or_none()
    return None if job_id is None else _load(session, job_id)


def _held(job_id: str, owner: str, attempt: int | None) -> sa.ColumnElement[bool]:
    """The job is RUNNING under ``owner`` in claim number ``attempt`` (None: any)."""
    cond = sa.and_(col(ReelJob.id) == job_id, col(ReelJob.claimed_by) == owner, col(ReelJob.state) == JobState.RUNNING)
    if attempt is not None:
        cond = sa.and_(cond, col(ReelJob.attempts) == attempt)
    return cond


def renew_lease(
    session: Session,
    job_id: str,
    owner: str,
    lease_s: float,
    *,
    attempt: int | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Extend the lease of a RUNNING job ``owner`` holds (in claim ``attempt``).
    False: stop working on it (cancelled, or taken over after the lease lapsed)."""
    now = now or utcnow()
    stmt = (
        sa.update(ReelJob)
        .where(_held(job_id, owner, attempt))
        .values(lease_until=now + dt.timedelta(seconds=lease_s), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt)) == 1


def set_reel_key(session: Session, job_id: str, owner: str, attempt: int, reel_key: str) -> bool:
    """Record, when the run starts, the key its files will have: the sweeper then
    leaves them alone while the job lives. False when the job is no longer ours."""
    stmt = (
        sa.update(ReelJob)
        .where(_held(job_id, owner, attempt))
        .values(reel_key=reel_key)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt)) == 1


def set_job_state(
    session: Session,
    job_id: str,
    state: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    progress: float | None = None,
    reel_key: str | None = None,
    owner: str | None = None,
    attempt: int | None = None,
    now: dt.datetime | None = None,
) -> ReelJob:
    """Move a job to ``state`` unless it is already terminal; returns the job as it
    now is (compare ``job.state`` to know whether the change applied). Entering a
    terminal state stamps ``finished_at`` and drops the lease; SUCCEEDED sets
    progress to 1 unless given. With ``owner`` (a worker), only while the job is
    RUNNING under that owner and ``attempt``."""
    now = now or utcnow()
    state = JobState(state)
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if reason is not None:
        values["reason"] = reason
    if message is not None:
        values["message"] = message
    if reel_key is not None:
        values["reel_key"] = reel_key
    if progress is not None:
        values["progress"] = progress
    elif state is JobState.SUCCEEDED:
        values["progress"] = 1.0
    if state is JobState.RUNNING:
        values["started_at"] = sa.func.coalesce(col(ReelJob.started_at), sa.literal(now, UTCDateTime))
    if state in TERMINAL_JOB_STATES:
        values["finished_at"] = now
        values["lease_until"] = None
    cond = (
        _held(job_id, owner, attempt)
        if owner is not None
        else sa.and_(col(ReelJob.id) == job_id, col(ReelJob.state).not_in(_TERMINAL))
    )
    stmt = sa.update(ReelJob).where(cond).values(**values).execution_options(synchronize_session=False)
    session.execute(stmt)
    return _load(session, job_id)


def set_job_result(
    session: Session,
    job_id: str,
    result: Mapping[str, Any],
    *,
    owner: str,
    attempt: int,
    now: dt.datetime | None = None,
) -> bool:
    """Store what the job produced (``result_json``), only while the job is RUNNING
    under ``owner`` in claim ``attempt`` (never over another run's result). False
    when it is not: the caller must not report success."""
    stmt = (
        sa.update(ReelJob)
        .where(_held(job_id, owner, attempt))
        .values(result_json=dict(result), updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt)) == 1


def append_event(
    session: Session,
    job_id: str,
    stage: str,
    progress: float,
    message: str = "",
    state: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> JobEvent:
    """Append a progress event (``seq`` = previous + 1), keep only the newest
    ``MAX_EVENTS_PER_JOB`` of the job, and copy ``progress`` onto the job.
    ``state`` defaults to the job's current state."""
    now = now or utcnow()
    job = _load(session, job_id, for_update=True)  # serialises appenders of one job
    last = session.execute(sa.select(sa.func.max(col(JobEvent.seq))).where(col(JobEvent.job_id) == job_id)).scalar()
    seq = (last or 0) + 1
    event = JobEvent(
        job_id=job_id,
        seq=seq,
        at=now,
        stage=stage,
        progress=progress,
        message=message,
        state=state or job.state,
    )
    session.add(event)
    job.progress = progress
    job.updated_at = now
    session.flush()
    session.execute(
        sa.delete(JobEvent)
        .where(col(JobEvent.job_id) == job_id, col(JobEvent.seq) <= seq - MAX_EVENTS_PER_JOB)
        .execution_options(synchronize_session=False)
    )
    return event


def events_after(session: Session, job_id: str, seq: int = 0, limit: int | None = None) -> list[JobEvent]:
    """Events of a job with ``seq`` greater than the given one, oldest first."""
    stmt = select(JobEvent).where(col(JobEvent.job_id) == job_id, col(JobEvent.seq) > seq).order_by(col(JobEvent.seq))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def mark_interrupted(session: Session, owner: str | None = None, *, now: dt.datetime | None = None) -> list[str]:
    """Fail RUNNING jobs no worker is running any more, with reason INTERRUPTED, and
    append a final event to each. Returns their ids.

    ``owner`` None: every RUNNING job (start-up of the single embedded process).
    ``owner`` given: the RUNNING jobs that owner claimed (its own, from before a
    restart) and any RUNNING job whose lease has expired; use this with several
    replicas on one PostgreSQL ledger."""
    now = now or utcnow()
    cond = col(ReelJob.state) == JobState.RUNNING
    if owner is not None:
        cond = sa.and_(
            cond,
            sa.or_(
                col(ReelJob.claimed_by) == owner, col(ReelJob.lease_until).is_(None), col(ReelJob.lease_until) < now
            ),
        )
    stmt = (
        sa.update(ReelJob)
        .where(cond)
        .values(
            state=JobState.FAILED,
            reason=INTERRUPTED,
            message="the worker stopped before the job finished",
            finished_at=now,
            updated_at=now,
            lease_until=None,
        )
        .returning(col(ReelJob.id))
        .execution_options(synchronize_session=False)
    )
    ids = sorted(session.execute(stmt).scalars())
    for job_id in ids:
        job = _load(session, job_id)
        append_event(session, job_id, "interrupted", job.progress, "interrupted", JobState.FAILED, now=now)
    return ids


def release_job(
    session: Session, job_id: str, owner: str, *, attempt: int | None = None, now: dt.datetime | None = None
) -> bool:
    """Give a RUNNING job ``owner`` holds back to the queue (its service is stopping),
    with an event saying so. False when the job is not ours or not running."""
    now = now or utcnow()
    stmt = (
        sa.update(ReelJob)
        .where(_held(job_id, owner, attempt))
        .values(
            state=JobState.QUEUED,
            claimed_by=None,
            lease_until=None,
            updated_at=now,
            message="requeued: the service stopped during the render",
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(session.execute(stmt)) != 1:
        return False
    job = _load(session, job_id)
    append_event(session, job_id, "requeued", job.progress, "requeued", JobState.QUEUED, now=now)
    return True


def requeue_expired(
    session: Session, owner: str | None = None, *, max_attempts: int = 3, now: dt.datetime | None = None
) -> tuple[list[str], list[str]]:
    """Give back to the queue the RUNNING jobs whose lease has expired (their replica
    died) and, when ``owner`` is given, the ones that owner held before a restart.
    A job claimed ``max_attempts`` times fails with INTERRUPTED instead. Returns
    (requeued ids, failed ids)."""
    now = now or utcnow()
    stale = sa.or_(col(ReelJob.lease_until).is_(None), col(ReelJob.lease_until) < now)
    if owner is not None:
        stale = sa.or_(stale, col(ReelJob.claimed_by) == owner)
    rows = session.execute(
        sa.select(col(ReelJob.id), col(ReelJob.attempts))
        .where(col(ReelJob.state) == JobState.RUNNING, stale)
        .with_for_update(skip_locked=True)
    ).all()
    requeued, failed = [], []
    for job_id, attempts in rows:
        if attempts >= max_attempts:
            failed.append(job_id)
            values: dict[str, Any] = {
                "state": JobState.FAILED,
                "reason": INTERRUPTED,
                "finished_at": now,
                "message": "the worker stopped before the job finished",
            }
        else:
            requeued.append(job_id)
            values = {"state": JobState.QUEUED, "message": "requeued: its worker stopped"}
        session.execute(
            sa.update(ReelJob)
            .where(col(ReelJob.id) == job_id, col(ReelJob.state) == JobState.RUNNING)
            .values(claimed_by=None, lease_until=None, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        state = JobState.FAILED if job_id in failed else JobState.QUEUED
        job = _load(session, job_id)
        append_event(
            session,
            job_id,
            "interrupted" if state is JobState.FAILED else "requeued",
            job.progress,
            "interrupted" if state is JobState.FAILED else "requeued",
            state,
            now=now,
        )
    return requeued, failed


def expired_job_ids(session: Session, older_than: dt.datetime) -> list[str]:
    """Ids of the terminal jobs last updated before ``older_than``, sorted: what
    ``expire_jobs`` with the same cutoff deletes."""
    stmt = sa.select(col(ReelJob.id)).where(col(ReelJob.state).in_(_TERMINAL), col(ReelJob.updated_at) < older_than)
    return sorted(session.execute(stmt).scalars())


def expire_jobs(session: Session, older_than: dt.datetime) -> int:
    """Delete terminal jobs last updated before ``older_than``, with their events.
    Returns how many jobs went."""
    ids = expired_job_ids(session, older_than)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        session.execute(
            sa.delete(JobEvent).where(col(JobEvent.job_id).in_(chunk)).execution_options(synchronize_session=False)
        )
        session.execute(
            sa.delete(ReelJob).where(col(ReelJob.id).in_(chunk)).execution_options(synchronize_session=False)
        )
    return len(ids)


def live_reel_keys(session: Session) -> set[str]:
    """Reel keys of jobs still QUEUED or RUNNING (their files must not be swept)."""
    stmt = sa.select(col(ReelJob.reel_key)).where(
        col(ReelJob.state).not_in(_TERMINAL), col(ReelJob.reel_key).is_not(None)
    )
    return set(session.execute(stmt).scalars())


def count_jobs(session: Session) -> int:
    """How many job rows the ledger holds, in any state."""
    return int(session.execute(sa.select(sa.func.count()).select_from(ReelJob)).scalar_one())


def count_jobs_by_state(session: Session) -> dict[str, int]:
    """How many job rows the ledger holds in each state (states with none absent)."""
    rows = session.execute(sa.select(col(ReelJob.state), sa.func.count()).group_by(col(ReelJob.state))).all()
    return {str(state): int(count) for state, count in rows}


def count_active(session: Session) -> int:
    """How many jobs are QUEUED or RUNNING."""
    stmt = sa.select(sa.func.count()).select_from(ReelJob).where(col(ReelJob.state).not_in(_TERMINAL))
    return int(session.execute(stmt).scalar_one())


def active_among(session: Session, job_ids: set[str]) -> set[str]:
    """Those of ``job_ids`` still QUEUED or RUNNING."""
    if not job_ids:
        return set()
    stmt = sa.select(col(ReelJob.id)).where(col(ReelJob.id).in_(sorted(job_ids)), col(ReelJob.state).not_in(_TERMINAL))
    return set(session.execute(stmt).scalars())


def get_job_by_request_id(session: Session, request_id: str) -> ReelJob | None:
    """The job created with this ``request_id``, if any."""
    return session.exec(
        select(ReelJob).where(col(ReelJob.request_id) == request_id).execution_options(populate_existing=True)
    ).first()
