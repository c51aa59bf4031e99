"""WatchReelJob never ends on a stale RUNNING snapshot. On PostgreSQL (READ
COMMITTED) the transaction that makes a job terminal and appends its terminal event
can commit between the watcher's two reads (events, then job): the watcher then sees
a terminal job and no new event. It must read once more and send that event."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger import jobs as job_dao
from ledger.db import make_engine, session_scope
from ledger.models import JobState
from render_service.jobs import JobRunner
from render_service.pipeline import PipelineDeps
from tests.db_fixtures import empty_all_tables


@pytest.fixture
def pg_engine(pg_migrated_url, tmp_path):
    eng = make_engine(pg_migrated_url, tmp_path / "data")
    empty_all_tables(eng)
    yield eng
    eng.dispose()


def test_terminal_commit_between_the_watchers_reads(pg_engine, monkeypatch):
    with session_scope(pg_engine) as session:
        job, _ = job_dao.create_job(
            session, library_key="lib", span="DAY", kind="RECAP", anchor_date=dt.date(2026, 6, 1), mode="FAST"
        )
    with session_scope(pg_engine) as session:
        claimed = job_dao.claim_next_job(session, "worker", 60)
        assert claimed is not None and claimed.id == job.id
        job_dao.append_event(session, job.id, "render", 0.5, "rendering", JobState.RUNNING)

    real_events_after = job_dao.events_after
    landed: list[bool] = []

    def events_then_commit(session, job_id, after):
        events = real_events_after(session, job_id, after)
        if not events and not landed:  # the worker finishes right after this read
            with session_scope(pg_engine) as other:
                job_dao.set_job_state(other, job_id, JobState.SUCCEEDED, reason="", message="reel ready")
                job_dao.append_event(other, job_id, "done", 1.0, "reel ready", JobState.SUCCEEDED)
            landed.append(True)
        return events

    monkeypatch.setattr(job_dao, "events_after", events_then_commit)
    runner = JobRunner(
        PipelineDeps(
            engine=pg_engine,
            store=None,  # type: ignore[arg-type]  # watch() only reads the ledger: no reel store
            scripter=None,  # type: ignore[arg-type]  # and no scripter either
            libraries={},
        ),
        owner_id="watcher",
        workers=1,
        lease_s=60,
        single_process=False,
    )
    sent = list(runner.watch(job.id, 0, lambda: True))
    assert landed, "the commit was not injected between the reads"
    assert [ev.stage for ev, _ in sent] == ["render", "done"]
    assert sent[-1][1].state == JobState.SUCCEEDED
