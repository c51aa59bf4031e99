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
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger import jobs as job_dao
from ledger import prefs as prefs_dao
from ledger.db import read_scope, retry_transient, session_scope
from ledger.models import TERMINAL_JOB_STATES, JobEvent, JobState, ReelJob
from reels_core.domain import Kind, Mode, Span
from reels_core.errors import Cancelled, NotFound, ReelError, ResourceExhausted
from render_service.pipeline import PipelineDeps, ProducedReel, ReelSpec, RenderChoice, new_reel_key, produce_reel
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


@dataclass(frozen=True)
class QueueLimits:
    """How many jobs may wait (QUEUED or RUNNING) at once: in all, from one peer
    (its address, port left out), and the free space a render needs to start.
    Over a limit, `submit` answers RESOURCE_EXHAUSTED with QUEUE_FULL,
    PEER_QUEUE_FULL or LOW_DISK."""

    max_queued: int = 1000
    max_queued_per_peer: int = 50
    min_free_bytes: int = 0


class JobRunner:
    def __init__(
        self,
        deps: PipelineDeps,
        owner_id: str,
        workers: int,
        lease_s: float,
        single_process: bool,
        limits: QueueLimits | None = None,
    ) -> None:
        self.deps = deps
        self.limits = limits or QueueLimits()
        self._peer_jobs: dict[str, set[str]] = {}
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

    @property
    def started(self) -> bool:
        return bool(self._threads)

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
    def submit(self, req: JobRequest, peer: str = "") -> tuple[ReelJob, bool]:
        """Queue a job (idempotent on `req.request_id`). RESOURCE_EXHAUSTED when the
        queue, this peer's share of it, or the free disk is at its limit."""
        return retry_transient(lambda: self._submit(req, peer_host(peer)))

    def _check_limits(self, session: Session, peer: str) -> None:
        if job_dao.count_active(session) >= self.limits.max_queued:
            raise ResourceExhausted("QUEUE_FULL", f"{self.limits.max_queued} jobs are waiting; retry later")
        if peer:
            with self._lock:
                mine = set(self._peer_jobs.get(peer, ()))
            live = job_dao.active_among(session, mine)
            with self._lock:  # forget this peer's finished jobs
                self._peer_jobs[peer] = live | (self._peer_jobs.get(peer, set()) - mine)
                if not self._peer_jobs[peer]:
                    del self._peer_jobs[peer]
            if len(live) >= self.limits.max_queued_per_peer:
                raise ResourceExhausted(
                    "PEER_QUEUE_FULL", f"{len(live)} of your jobs are waiting; wait for one to finish"
                )
        if self.limits.min_free_bytes:
            free = self.deps.store.free_bytes()
            if free is not None and free < self.limits.min_free_bytes:
                raise ResourceExhausted(
                    "LOW_DISK", f"{free >> 20} MB free, {self.limits.min_free_bytes >> 20} MB needed"
                )

    def _submit(self, req: JobRequest, peer: str) -> tuple[ReelJob, bool]:
        with session_scope(self.engine) as session:
            if req.request_id:
                existing = job_dao.get_job_by_request_id(session, req.request_id)
                if existing is not None:
                    return existing, False
            self._check_limits(session, peer)
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
            if peer:
                with self._lock:
                    self._peer_jobs.setdefault(peer, set()).add(job.id)
            self.notifier.notify()
        return job, created

    def get(self, job_id: str) -> ReelJob:
        def read() -> ReelJob | None:
            with read_scope(self.engine) as session:
                return job_dao.get_job(session, job_id)

        job = retry_transient(read)
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
            with read_scope(self.engine) as session:
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
    def alive_workers(self) -> int:
        """How many worker threads are running (health is NOT_SERVING at 0)."""
        return sum(t.is_alive() for t in self._threads)

    def _worker(self) -> None:
        seen = self.notifier.version
        while not self._stop.is_set():
            try:
                job = retry_transient(self._claim)
            except Exception:  # a ledger outage must not end the worker
                log.warning("claim failed", exc_info=True)
                job = None
            if job is None:
                self._reclaim_expired()
                seen = self.notifier.wait(seen, timeout=1.0)
                continue
            try:
                self._run(job)
            except Exception:  # the worker outlives any error, the ledger's included
                # The job's bookkeeping failed (the ledger was unreachable even after
                # retries). Its lease lapses; recovery requeues or fails it.
                log.exception("job bookkeeping failed", job_id=job.id)

    def _claim(self) -> ReelJob | None:
        with session_scope(self.engine) as session:
            return job_dao.claim_next_job(session, self.owner_id, self.lease_s)

    def _heartbeat(self, job_id: str, attempt: int, cancel: threading.Event, done: threading.Event) -> None:
        """Renew the lease every quarter lease, whatever the render is doing (a long
        scripter call, decode checks, an upload). When the job is no longer ours
        (cancelled, or taken over) or the lease could not be renewed before it ran
        out, the run is told to stop."""
        interval = self.lease_s / 4
        held_until = time.monotonic() + self.lease_s
        while not done.wait(interval):
            try:
                with session_scope(self.engine) as session:
                    ours = job_dao.renew_lease(session, job_id, self.owner_id, self.lease_s, attempt=attempt)
            except Exception:  # retried at the next beat, until the lease runs out
                log.warning("lease renewal failed", job_id=job_id, exc_info=True)
                if time.monotonic() >= held_until:
                    log.warning("lease lost", job_id=job_id)
                    cancel.set()
                    return
                continue
            if not ours:
                cancel.set()  # cancelled elsewhere or taken over
                return
            held_until = time.monotonic() + self.lease_s

    def _run(self, job: ReelJob) -> None:
        attempt = job.attempts
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
        # The reel's key is chosen now and recorded on the row, so the sweeper
        # leaves this run's files alone while the job lives.
        spec = replace(spec, reel_key=new_reel_key(spec))

        def record_key() -> bool:
            with session_scope(self.engine) as session:
                return job_dao.set_reel_key(session, job.id, self.owner_id, attempt, spec.reel_key)

        if not retry_transient(record_key):
            return  # cancelled or taken over before it started
        cancel = threading.Event()
        done = threading.Event()
        with self._lock:
            self._cancels[job.id] = cancel
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(job.id, attempt, cancel, done), name=f"lease-{job.id[:8]}", daemon=True
        )
        heartbeat.start()
        structlog.contextvars.bind_contextvars(job_id=job.id)
        last_t, last_stage = 0.0, ""

        def progress(stage: str, fraction: float, message: str) -> None:
            nonlocal last_t, last_stage
            now = time.monotonic()
            if stage == last_stage and now - last_t < EVENT_MIN_INTERVAL_S and fraction < 1.0:
                return
            last_t, last_stage = now, stage
            try:
                with session_scope(self.engine) as session:
                    job_dao.append_event(session, job.id, stage, round(fraction, 4), message, JobState.RUNNING)
            except ReelError:  # progress is best effort: a busy ledger must not fail the render
                log.warning("progress event dropped", stage=stage)
                return
            self.notifier.notify()

        try:
            with tracing.job_span(job.trace_context_json, job_id=job.id, library=job.library_key):
                produced = produce_reel(self.deps, spec, progress, cancel)
            retry_transient(lambda: self._finish(job.id, attempt, produced))
        except Cancelled:
            if self._stop.is_set():
                # A graceful stop, not the user's cancel: the job goes back to the
                # queue and is rendered after the restart (or by another replica).
                def release() -> bool:
                    with session_scope(self.engine) as session:
                        return job_dao.release_job(session, job.id, self.owner_id, attempt=attempt)

                if retry_transient(release):
                    log.info("job requeued at shutdown")
                    return
            retry_transient(lambda: self._cancelled(job.id, attempt))
        except ReelError as exc:
            reason, message = exc.reason, job_message(exc)
            retry_transient(lambda: self._fail(job.id, attempt, reason, message))
        except Exception as exc:  # a bug must fail the job, not the worker
            log.exception("job crashed", error=type(exc).__name__)
            crashed = job_message(exc)
            retry_transient(lambda: self._fail(job.id, attempt, "INTERNAL", crashed))
        finally:
            done.set()
            with self._lock:
                self._cancels.pop(job.id, None)
            structlog.contextvars.unbind_contextvars("job_id")
            self.notifier.notify()

    @staticmethod
    def _has_terminal_event(session: Session, job_id: str) -> bool:
        events = job_dao.events_after(session, job_id, 0)
        return bool(events) and events[-1].state in TERMINAL_JOB_STATES

    def _cancelled(self, job_id: str, attempt: int) -> None:
        """The run stopped on a cancel: record CANCELLED, unless the job is no
        longer this run's (a user's cancel already wrote it, or another worker
        took it over after our lease lapsed: its run is left alone)."""
        with session_scope(self.engine) as session:
            current = job_dao.set_job_state(
                session,
                job_id,
                JobState.CANCELLED,
                reason="CANCELLED",
                message="cancelled",
                owner=self.owner_id,
                attempt=attempt,
            )
            if current.state == JobState.CANCELLED and not self._has_terminal_event(session, job_id):
                job_dao.append_event(session, job_id, "cancelled", current.progress, "cancelled", JobState.CANCELLED)

    def _finish(self, job_id: str, attempt: int, produced: ProducedReel) -> None:
        with session_scope(self.engine) as session:
            if not job_dao.set_job_result(
                session, job_id, produced_result(produced), owner=self.owner_id, attempt=attempt
            ):
                log.warning("job no longer ours; result not recorded")
                return
            current = job_dao.set_job_state(
                session,
                job_id,
                JobState.SUCCEEDED,
                reason=produced.script.fallback_reason,
                message="reel ready",
                reel_key=produced.key,
                owner=self.owner_id,
                attempt=attempt,
            )
            if current.state == JobState.SUCCEEDED:
                job_dao.append_event(session, job_id, "done", 1.0, "reel ready", JobState.SUCCEEDED)

    def _fail(self, job_id: str, attempt: int, reason: str, message: str) -> None:
        with session_scope(self.engine) as session:
            current = job_dao.set_job_state(
                session,
                job_id,
                JobState.FAILED,
                reason=reason,
                message=message,
                owner=self.owner_id,
                attempt=attempt,
            )
            if current.state == JobState.FAILED and current.attempts == attempt:
                job_dao.append_event(session, job_id, "failed", current.progress, reason, JobState.FAILED)


# What a failed job's client-visible message says, by reason. Exception text (file
# names, ffmpeg's stderr, SQL) goes to the log at most, never into `job.message`.
_JOB_MESSAGES = {
    "RENDER_FAILED": "the render failed; see the server log",
    "NO_USABLE_MEDIA": "none of the window's media could be used",
    "NO_MEDIA": "no media in the window",
    "LIBRARY_SCANNING": "the library is being indexed; retry shortly",
    "LOW_DISK": "not enough free disk space to render",
    "LEDGER_UNAVAILABLE": "the ledger was unavailable",
    "STORE_UNAVAILABLE": "the reel store could not be written; retry",
    "INTERNAL": "internal error; see the server log",
}


def job_message(exc: BaseException) -> str:
    """The stable, client-visible message of a failed job: chosen by its reason,
    never copied from the exception."""
    reason = exc.reason if isinstance(exc, ReelError) else "INTERNAL"
    return _JOB_MESSAGES.get(reason, f"the job failed ({reason})")


def peer_host(peer: str) -> str:
    """The caller's address without its port (``ipv4:10.0.0.7:51234`` ->
    ``ipv4:10.0.0.7``): one client opens many connections."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rsplit(":", 1)[0]
    return peer


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
