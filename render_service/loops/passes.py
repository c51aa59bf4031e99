"""Running one maintenance pass: the lease lock, the run-history row and the report,
shared by pre-generation, retention and consolidation, scheduled or manual."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from ledger import maintenance as maintenance_dao
from ledger.db import session_scope, utcnow
from ledger.models import MaintenanceRun, RunKind, RunStatus, RunTrigger
from reels_core.errors import Aborted, InvalidArgument
from render_service.locks import Lease, LockHeld, lease_lock
from service_kit import metrics

log = structlog.get_logger("maintenance")


@dataclass
class PassResult:
    """What a pass body returns: its report and the errors it met (a pass with errors
    is PARTIAL, not FAILED: one library's failure never aborts the rest)."""

    report: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class PassOutcome:
    run: MaintenanceRun
    result: PassResult


@dataclass(frozen=True)
class PassRunner:
    """Where the passes of this process record their runs and as whom they take
    their locks: each pass is handed one."""

    engine: Engine
    owner_id: str
    lock_ttl_s: float

    def run(
        self,
        kind: RunKind,
        trigger: RunTrigger,
        dry_run: bool,
        body: Callable[[Lease], PassResult],
        request_id: str = "",
    ) -> PassOutcome:
        """Take the kind's lock, record the run, run `body`, record the outcome.

        When another owner holds the lock, a SKIPPED run is recorded and Aborted
        (LOCK_HELD) is raised, naming the holder and its expiry. A `request_id` seen
        before returns that run instead of running again (AIP-155)."""
        engine, owner_id = self.engine, self.owner_id
        started = time.monotonic()
        kind, trigger = RunKind(kind), RunTrigger(trigger)
        lock_id = kind.value.lower()
        if request_id:
            with session_scope(engine) as session:
                earlier = maintenance_dao.run_by_request_id(session, request_id)
            if earlier is not None:
                if earlier.kind != kind:
                    raise InvalidArgument("REQUEST_ID_REUSED", "request_id was used for another kind of pass")
                if earlier.status is None:
                    earlier = self._interrupted_or_in_progress(earlier, lock_id)
                return PassOutcome(earlier, PassResult(dict(earlier.report_json), list(earlier.errors_json)))
        try:
            with lease_lock(engine, lock_id, owner_id, self.lock_ttl_s) as lease:
                with session_scope(engine) as session:
                    run = maintenance_dao.start_run(session, kind, owner_id, trigger, dry_run, request_id=request_id)
                run_id = run.id
                assert run_id is not None
                log.info("pass started", kind=kind.value, run_id=run_id, trigger=trigger.value, dry_run=dry_run)
                try:
                    result = body(lease)
                    status = RunStatus.PARTIAL if result.errors else RunStatus.OK
                except Exception as exc:  # recorded in the run row; the lock is still released
                    log.exception("pass failed", kind=kind.value, run_id=run_id)
                    result = PassResult(errors=[f"{type(exc).__name__}: pass failed"])
                    status = RunStatus.FAILED
                if lease.is_lost:
                    result.errors.append("LOCK_LOST: the lease was lost during the pass")
                    status = RunStatus.PARTIAL if status is RunStatus.OK else status
                with session_scope(engine) as session:
                    run = maintenance_dao.finish_run(session, run_id, status, result.report, result.errors)
                log.info(
                    "pass finished", kind=kind.value, run_id=run_id, status=status.value, errors=len(result.errors)
                )
                metrics.maintenance_pass(kind.value, status.value, time.monotonic() - started)
                return PassOutcome(run, result)
        except LockHeld as held:
            expires = held.expires_at.isoformat() if held.expires_at else None
            with session_scope(engine) as session:
                run = maintenance_dao.start_run(session, kind, owner_id, trigger, dry_run)
                assert run.id is not None
                report = {"skipped": "LOCK_HELD", "holder": held.owner_id, "holder_expires": expires}
                maintenance_dao.finish_run(session, run.id, RunStatus.SKIPPED, report, [])
            log.info("pass skipped: lock held", kind=kind.value, holder=held.owner_id)
            metrics.maintenance_pass(kind.value, RunStatus.SKIPPED.value, time.monotonic() - started)
            raise Aborted("LOCK_HELD", str(held), holder=held.owner_id, expires_at=expires or "") from None

    def _interrupted_or_in_progress(self, run: MaintenanceRun, lock_id: str) -> MaintenanceRun:
        """A run with no status is in progress only while its kind's lock is held;
        once the lock has expired, the process that ran it died (kill -9): it is
        recorded FAILED (INTERRUPTED), so its request_id stops answering
        REQUEST_IN_PROGRESS forever."""
        with session_scope(self.engine) as session:
            lock = maintenance_dao.get_lock(session, lock_id)
            if lock is not None and lock.expires_at > utcnow():
                raise Aborted("REQUEST_IN_PROGRESS", "the pass with this request_id is still running")
            assert run.id is not None
            log.warning("pass interrupted", kind=run.kind, run_id=run.id)
            return maintenance_dao.finish_run(
                session, run.id, RunStatus.FAILED, {}, ["INTERRUPTED: the pass stopped before it finished"]
            )


def last_run_start(engine: Engine, kind: RunKind) -> dt.datetime | None:
    """When the newest real (not dry) run of `kind` started: what the loops count
    their intervals from (see ``ledger.maintenance.last_run_start``)."""
    with session_scope(engine) as session:
        return maintenance_dao.last_run_start(session, kind)
