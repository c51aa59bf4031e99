"""A pass killed mid-run (issue 14, finding 12): its run row had no status, so its
request_id answered REQUEST_IN_PROGRESS forever. Once the kind's lock has expired
the run is recorded FAILED (INTERRUPTED) and the request_id answers with it."""

from __future__ import annotations

import pytest

from ledger import maintenance as maintenance_dao
from ledger.db import make_engine, migrate, session_scope
from ledger.models import RunKind, RunStatus, RunTrigger
from reels_core.errors import Aborted
from render_service.loops.passes import PassResult, PassRunner


def test_a_run_left_without_status_by_a_crash_is_recorded_failed(tmp_path):
    engine = make_engine(None, tmp_path)
    migrate(engine)
    with session_scope(engine) as session:  # what a pass killed mid-run leaves behind
        maintenance_dao.start_run(session, RunKind.RETENTION, "dead-owner", RunTrigger.MANUAL, True, request_id="r1")
    ran: list[int] = []
    runner = PassRunner(engine, "new-owner", 30)

    with session_scope(engine) as session:  # while another holds the lock, it may still run
        assert maintenance_dao.try_acquire_lock(session, "retention", "live-owner", 30).acquired
    with pytest.raises(Aborted) as held:
        runner.run(RunKind.RETENTION, RunTrigger.MANUAL, True, lambda lease: PassResult(), "r1")
    assert held.value.reason == "REQUEST_IN_PROGRESS"
    with session_scope(engine) as session:
        assert maintenance_dao.release_lock(session, "retention", "live-owner")

    def body(_lease: object) -> PassResult:
        ran.append(1)
        return PassResult()

    outcome = runner.run(RunKind.RETENTION, RunTrigger.MANUAL, True, body, "r1")
    assert outcome.run.status == RunStatus.FAILED
    assert outcome.result.errors == ["INTERRUPTED: the pass stopped before it finished"]
    assert ran == []  # the request_id answers with its run; the pass is not run again
    again = runner.run(RunKind.RETENTION, RunTrigger.MANUAL, True, lambda lease: PassResult(), "r1")
    assert again.run.id == outcome.run.id
