"""The render job queue: durable rows in the ledger, a pool of worker threads that
claim them, progress events, cancellation and recovery after a crash.

Jobs live in the ledger, never only in memory: a worker claims a QUEUED row with a
lease it renews while rendering; a restart (or another replica, once the lease
expires) finds interrupted RUNNING rows and fails them with reason INTERRUPTED.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger import jobs as job_dao
from ledger import prefs as prefs_dao
from ledger.db import session_scope
from ledger.models import TERMINAL_JOB_STATES, JobEvent, JobState, ReelJob
from reels_core.domain import Kind, Mode, Span
from reels_core.errors import Cancelled, NotFound, ReelError
from render_service.pipeline import PipelineDeps, ProducedReel, ReelSpec, RenderChoice, produce_reel
from service_kit import tracing

log = structlog.get_logger("jobs")

EVENT_MIN_INTERVAL_S = 0.25  # progress events closer together than this are merged


@dataclass(frozen=True)
class JobRequest:
    library: str
    span: Span
    kind: Kind
    anchor: dt.date
    mode: Mode
    choice: RenderChoice
    request_id: str | None = None


class JobNotifier:
    """Wakes waiting watchers and idle workers in this process; other replicas are
    found by polling with a short timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        # Called (from the notifying thread) after each notify: the aio server's
        # watches wait on their event loop, not on this condition.
        self.listeners: list[Callable[[], None]] = []

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()
        for listener in self.listeners:
            listener()

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            if self._version == seen:
                self._cond.wait(timeout)
            return self._version

    @property
    def version(self) -> int:
        return self._version


class JobRunner:
    def __init__(self, deps: PipelineDeps, owner_id: str, workers: int, lease_s: float, single_process: bool) -> None:
        self.deps = deps
        self.engine: Engine = deps.engine
        self.owner_id = owner_id
        self.workers = workers
        self.lease_s = lease_s
        self.single_process = single_process
        self.notifier = JobNotifier()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # --- life cycle -----------------------------------------------------------
    def recover(self) -> list[str]:
        """Deal with the jobs a crash left RUNNING. The single embedded process fails
        them all (INTERRUPTED). With replicas on one PostgreSQL, this owner's jobs
        and those whose lease expired go back to the queue, so another replica
        finishes them (a job claimed too often fails instead)."""
        with session_scope(self.engine) as session:
            if self.single_process:
                ids = job_dao.mark_interrupted(session, None)
            else:
                requeued, ids = job_dao.requeue_expired(session, self.owner_id)
                if requeued:
                    log.warning("interrupted jobs requeued", count=len(requeued))
        if ids:
            log.warning("interrupted jobs failed", count=len(ids))
        return ids

    def _reclaim_expired(self) -> None:
        """Replicas: requeue jobs whose worker died (lease expired)."""
        if self.single_process:
            return
        try:
            with session_scope(self.engine) as session:
                requeued, _failed = job_dao.requeue_expired(session)
            if requeued:
                log.warning("expired leases requeued", count=len(requeued))
                self.notifier.notify()
        except Exception:
            log.exception("reclaim failed")

    def start(self) -> None:
        self.recover()
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"render-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            for ev in self._cancels.values():
                ev.set()
        self.notifier.notify()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # --- API used by the servicer and the CLI ------------------------------------
    def submit(self, req: JobRequest) -> tuple[ReelJob, bool]:
        with session_scope(self.engine) as session:
            job, created = job_dao.create_job(
                session,
                library_key=req.library,
                span=req.span.value,
                kind=req.kind.value,
                anchor_date=req.anchor,
                mode=req.mode.value,
                params=req.choice.to_dict(),
                request_id=req.request_id,
                trace_context=tracing.carrier(),
            )
            if created:
                job_dao.append_event(session, job.id, "queued", 0.0, "queued", JobState.QUEUED)
                # Captured for the nightly replay (user_ai_prefs).
                prefs_dao.save_user_ai_prefs(
                    session, req.library, {**req.choice.to_dict(), "mode": req.mode.value}, req.request_id
                )
        if created:
            self.notifier.notify()
        return job, created

    def get(self, job_id: str) -> ReelJob:
        with session_scope(self.engine) as session:
            job = job_dao.get_job(session, job_id)
        if job is None:
            raise NotFound("JOB_NOT_FOUND", f"no job {job_id!r}")
        return job

    def cancel(self, job_id: str) -> ReelJob:
        job = self.get(job_id)
        if job.state in TERMINAL_JOB_STATES:
            return job
        with session_scope(self.engine) as session:
            job = job_dao.set_job_state(
                session, job_id, JobState.CANCELLED, reason="CANCELLED", message="cancelled by request"
            )
            if job.state == JobState.CANCELLED:
                job_dao.append_event(session, job_id, "cancelled", job.progress, "cancelled", JobState.CANCELLED)
        with self._lock:
            ev = self._cancels.get(job_id)
        if ev is not None:
            ev.set()
        self.notifier.notify()
        return job

    def watch(self, job_id: str, after_seq: int, is_active: Callable[[], bool]) -> Iterator[tuple[JobEvent, ReelJob]]:
        """Stored events after `after_seq`, then live ones, until the terminal event."""
        self.get(job_id)
        seen = after_seq
        reread = False
        while is_active():
            version = self.notifier.version
            with session_scope(self.engine) as session:
                # Events first, then the job: the job read is at least as new as the
                # events, so a terminal event is always sent with its terminal job.
                events = job_dao.events_after(session, job_id, seen)
                job = job_dao.get_job(session, job_id)
            if job is None:
                return
            for ev in events:
                seen = ev.seq
                yield ev, job
            if job.is_terminal and not events:
                # The terminal event is appended in the same transaction as the state
                # change. On PostgreSQL (READ COMMITTED) that commit can land between
                # the two reads above: terminal job, its event not seen yet. Read once
                # more before ending, so the stream never ends on a RUNNING snapshot.
                if reread:
                    return
                reread = True
                continue
            reread = False
            if not events:
                self.notifier.wait(version, timeout=0.5)

    # --- workers --------------------------------------------------------------
    def _worker(self) -> None:
        seen = self.notifier.version
        while not self._stop.is_set():
            try:
                with session_scope(self.engine) as session:
                    job = job_dao.claim_next_job(session, self.owner_id, self.lease_s)
            except Exception:
                log.exception("claim failed")
                job = None
            if job is None:
                self._reclaim_expired()
                seen = self.notifier.wait(seen, timeout=1.0)
                continue
            self._run(job)

    def _run(self, job: ReelJob) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancels[job.id] = cancel
        structlog.contextvars.bind_contextvars(job_id=job.id)
        last_t, last_stage = 0.0, ""
        renewed_t = time.monotonic()

        def progress(stage: str, fraction: float, message: str) -> None:
            nonlocal last_t, last_stage, renewed_t
            now = time.monotonic()
            if stage == last_stage and now - last_t < EVENT_MIN_INTERVAL_S and fraction < 1.0:
                return
            last_t, last_stage = now, stage
            with session_scope(self.engine) as session:
                job_dao.append_event(session, job.id, stage, round(fraction, 4), message, JobState.RUNNING)
                if now - renewed_t > self.lease_s / 4:
                    renewed_t = now
                    if not job_dao.renew_lease(session, job.id, self.owner_id, self.lease_s):
                        cancel.set()  # cancelled elsewhere or taken over
            self.notifier.notify()

        spec = ReelSpec(
            library=job.library_key,
            span=Span(job.span),
            kind=Kind(job.kind),
            anchor=job.anchor_date,
            mode=Mode(job.mode),
            choice=RenderChoice.from_dict(job.params_json),
            precomputed=job.precomputed,
            job_id=job.id,
        )
        try:
            with tracing.job_span(job.trace_context_json, job_id=job.id, library=job.library_key):
                produced = produce_reel(self.deps, spec, progress, cancel)
            self._finish(job.id, produced)
        except Cancelled:
            if self._stop.is_set():
                # A graceful stop, not the user's cancel: the job goes back to the
                # queue and is rendered after the restart (or by another replica).
                with session_scope(self.engine) as session:
                    if job_dao.release_job(session, job.id, self.owner_id):
                        log.info("job requeued at shutdown")
                        return
            with session_scope(self.engine) as session:
                current = job_dao.set_job_state(
                    session, job.id, JobState.CANCELLED, reason="CANCELLED", message="cancelled"
                )
                if current.state == JobState.CANCELLED and not self._has_terminal_event(session, job.id):
                    job_dao.append_event(
                        session, job.id, "cancelled", current.progress, "cancelled", JobState.CANCELLED
                    )
        except ReelError as exc:
            self._fail(job.id, exc.reason, exc.message)
        except Exception as exc:  # a bug must fail the job, not the worker
            log.exception("job crashed")
            self._fail(job.id, "INTERNAL", f"internal error ({type(exc).__name__})")
        finally:
            with self._lock:
                self._cancels.pop(job.id, None)
            structlog.contextvars.unbind_contextvars("job_id")
            self.notifier.notify()

    @staticmethod
    def _has_terminal_event(session: Session, job_id: str) -> bool:
        events = job_dao.events_after(session, job_id, 0)
        return bool(events) and events[-1].state in TERMINAL_JOB_STATES

    def _finish(self, job_id: str, produced: ProducedReel) -> None:
        with session_scope(self.engine) as session:
            job_dao.set_job_result(session, job_id, produced_result(produced))
            current = job_dao.set_job_state(
                session,
                job_id,
                JobState.SUCCEEDED,
                reason=produced.script.fallback_reason,
                message="reel ready",
                reel_key=produced.key,
            )
            if current.state == JobState.SUCCEEDED:
                job_dao.append_event(session, job_id, "done", 1.0, "reel ready", JobState.SUCCEEDED)

    def _fail(self, job_id: str, reason: str, message: str) -> None:
        with session_scope(self.engine) as session:
            current = job_dao.set_job_state(session, job_id, JobState.FAILED, reason=reason, message=message)
            if current.state == JobState.FAILED:
                job_dao.append_event(session, job_id, "failed", current.progress, reason, JobState.FAILED)


def produced_result(produced: ProducedReel) -> dict[str, Any]:
    """What the job row keeps about its reel, so an on-demand reel (no ledger row)
    can be found, streamed and swept by key."""
    return {
        "video": produced.video_name,
        "sidecar": produced.sidecar_name,
        "poster": produced.poster_name,
        "size_bytes": produced.size_bytes,
        "sha256": produced.sha256,
        "duration_s": produced.duration_s,
        "title": produced.script.title,
    }
