"""The job runner under faults (issue 14, findings 2, 3, 4, 8, 10 and the queue
limits): a worker outlives any error, its lease is renewed while it works whatever
the render does, a worker whose job was taken over changes nothing, reads never
wait for the writer, the queue is bounded, and a failed job's message is a stable
text, never the exception's.

`produce_reel` is replaced by a controllable stand-in: these are properties of the
runner and the ledger, not of rendering (the fault suite, tests/faults, renders)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

import render_service.jobs as jobs_mod
from ledger import jobs as job_dao
from ledger.db import LEDGER_UNAVAILABLE, read_scope, retry_transient, session_scope
from ledger.models import JobState, ReelJob
from reels_core.domain import Kind, Mode, Span
from reels_core.errors import Internal, ResourceExhausted, Unavailable
from render_service.jobs import JobRequest, JobRunner, QueueLimits
from render_service.pipeline import PipelineDeps, ProducedReel, ReelSpec, RenderChoice
from render_service.store import LocalStore
from tests.db_fixtures import engine, pg_migrated_url, pg_url  # noqa: F401  # fixtures, used by name
from tests.pipeline.conftest import wait_until

ANCHOR = dt.date(2026, 11, 30)


def request(request_id: str | None = None) -> JobRequest:
    return JobRequest("lib", Span.WEEK, Kind.RECAP, ANCHOR, Mode.FAST, RenderChoice(), request_id=request_id)


def produced(spec: ReelSpec) -> ProducedReel:
    from reels_core.domain import Script, Shot, Window

    script = Script("t", "s", "nostalgic", "piano", [Shot("m", 10.0)])
    return ProducedReel(
        key=spec.reel_key,
        video_name=f"{spec.reel_key}.mp4",
        sidecar_name=f"{spec.reel_key}.json",
        poster_name=f"{spec.reel_key}.jpg",
        size_bytes=1,
        sha256="00" * 32,
        duration_s=10.0,
        script=script,
        window=Window(Span.WEEK, Kind.RECAP, ANCHOR, ((ANCHOR, ANCHOR),)),
        media_fingerprint="f",
    )


@pytest.fixture
def make_runner(engine: Engine, tmp_path: Path) -> Iterator[Callable[..., JobRunner]]:  # noqa: F811  # the fixture
    runners: list[JobRunner] = []

    def make(lease_s: float = 30.0, limits: QueueLimits | None = None, single_process: bool = True) -> JobRunner:
        deps = PipelineDeps(engine=engine, store=LocalStore(tmp_path / "reels"), scripter=None, libraries={})  # type: ignore[arg-type]
        runner = JobRunner(deps, "owner-a", 1, lease_s, single_process=single_process, limits=limits)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop(timeout=5)


def job_state(engine: Engine, job_id: str):  # noqa: F811  # a parameter, not the fixture
    with read_scope(engine) as session:
        return job_dao.get_job(session, job_id)


def test_a_ledger_error_while_recording_a_failure_does_not_end_the_worker(make_runner, engine, monkeypatch):  # noqa: F811
    """Finding 2: with one worker, an error writing a job's failure used to kill
    the thread, and the queue stopped while health said SERVING."""
    calls: list[str] = []

    def fake_produce(deps, spec, progress, cancel):
        calls.append(spec.job_id)
        if len(calls) == 1:
            raise Internal("RENDER_FAILED", "render failed: /home/ann/secret.mp4: ffmpeg said x")
        return produced(spec)

    real_fail = JobRunner._fail
    broken = {"left": 1}

    def failing_fail(self, job_id, attempt, reason, message):
        if broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("the ledger went away")  # not transient: no retry saves it
        return real_fail(self, job_id, attempt, reason, message)

    monkeypatch.setattr(jobs_mod, "produce_reel", fake_produce)
    monkeypatch.setattr(JobRunner, "_fail", failing_fail)
    runner = make_runner()
    jobs = {runner.submit(request())[0].id, runner.submit(request())[0].id}
    runner.start()
    wait_until(lambda: len(calls) == 2, 20, "the second job to start")
    wait_until(lambda: job_state(engine, calls[1]).state == JobState.SUCCEEDED, 20, "the second job")
    assert set(calls) == jobs
    assert runner.alive_workers() == 1


def test_failed_job_message_is_stable_not_the_exception_text(make_runner, engine, monkeypatch):  # noqa: F811
    """Finding 10: file names and ffmpeg's stderr never reach `job.message`."""

    def fake_produce(deps, spec, progress, cancel):
        raise Internal("RENDER_FAILED", "render failed: /home/ann/secret.mp4: moov atom not found")

    monkeypatch.setattr(jobs_mod, "produce_reel", fake_produce)
    runner = make_runner()
    job, _ = runner.submit(request())
    runner.start()
    done = wait_until(lambda: (j := job_state(engine, job.id)).is_terminal and j, 20, "the job to fail")
    assert (done.state, done.reason) == (JobState.FAILED, "RENDER_FAILED")
    assert "secret" not in done.message and "moov" not in done.message
    assert done.message == jobs_mod.job_message(Internal("RENDER_FAILED", "x"))


def test_lease_is_renewed_while_the_render_makes_no_progress(make_runner, engine, monkeypatch):  # noqa: F811
    """Finding 3: renewal used to ride on progress events, so a long scripter call
    or upload let the lease lapse and another replica took the job over. Also
    finding 8: the reel key is on the row from the start, so the sweeper spares
    the run's files."""
    release = threading.Event()
    seen_keys: list[set[str]] = []

    def fake_produce(deps, spec, progress, cancel):
        with read_scope(engine) as session:
            seen_keys.append(job_dao.live_reel_keys(session))
        release.wait(20)  # no progress call meanwhile
        return produced(spec)

    monkeypatch.setattr(jobs_mod, "produce_reel", fake_produce)
    runner = make_runner(lease_s=2.0, single_process=False)
    job, _ = runner.submit(request())
    runner.start()
    wait_until(lambda: seen_keys, 10, "the render to start")
    deadline = time.monotonic() + 5.0  # two and a half leases
    while time.monotonic() < deadline:
        with session_scope(engine) as session:  # what another replica's reclaim does
            requeued, failed = job_dao.requeue_expired(session)
        assert (requeued, failed) == ([], [])
        time.sleep(0.2)  # the period of the simulated replica's check, not a synchronisation
    release.set()
    done = wait_until(lambda: (j := job_state(engine, job.id)).is_terminal and j, 10, "the job")
    assert done.state == JobState.SUCCEEDED and done.attempts == 1
    assert seen_keys[0] == {done.reel_key}


def test_a_worker_whose_job_was_taken_over_does_not_write_over_the_new_run(make_runner, engine, monkeypatch):  # noqa: F811
    """Finding 3: the old worker learns at its next heartbeat that the job is no
    longer its own; its cancel and its result are not written."""
    started = threading.Event()

    def fake_produce(deps, spec, progress, cancel):
        started.set()
        cancel.wait(10)
        return produced(spec)  # finishes anyway: its result must not be recorded

    monkeypatch.setattr(jobs_mod, "produce_reel", fake_produce)
    runner = make_runner(lease_s=0.4, single_process=False)
    job, _ = runner.submit(request())
    runner.start()
    assert started.wait(10)
    with session_scope(engine) as session:  # another replica takes the job over
        session.execute(
            sa.update(ReelJob)
            .where(col(ReelJob.id) == job.id)
            .values(claimed_by="owner-b", attempts=col(ReelJob.attempts) + 1)
        )
    wait_until(lambda: job.id not in runner._cancels, 10, "the old run to stop")
    after = job_state(engine, job.id)
    assert (after.state, after.claimed_by, after.result_json) == (JobState.RUNNING, "owner-b", {})


def test_reads_take_no_write_lock(make_runner, engine):  # noqa: F811
    """Finding 4: GetReelJob and each WatchReelJob poll used to begin IMMEDIATE and
    wait behind any writer, then fail after the 5 s busy timeout."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never take a write lock")
    runner = make_runner()
    job, _ = runner.submit(request())
    writer = sqlite3.connect(engine.url.database, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # a long write transaction elsewhere
    try:
        started = time.monotonic()
        got = runner.get(job.id)
        events = list(runner.watch(job.id, 0, lambda: False))
        assert got.id == job.id and events == []
        # generous: without the fix this call waits the whole busy timeout and raises
        assert time.monotonic() - started < 4.0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_transient_ledger_errors_are_retried_then_unavailable():
    """Finding 4: a busy SQLite or a dropped PostgreSQL connection is retried with
    backoff, then answered UNAVAILABLE (LEDGER_UNAVAILABLE), never INTERNAL."""
    locked = sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    tries = {"n": 0}

    def twice_locked() -> str:
        tries["n"] += 1
        if tries["n"] <= 2:
            raise locked
        return "ok"

    assert retry_transient(twice_locked) == "ok" and tries["n"] == 3

    def always_locked() -> str:
        raise locked

    with pytest.raises(Unavailable) as info:
        retry_transient(always_locked)
    assert info.value.reason == LEDGER_UNAVAILABLE
    assert "SELECT" not in info.value.message

    def bug() -> str:
        raise sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(sa.exc.OperationalError):  # not transient: raised at once
        retry_transient(bug)


def test_queue_limits_per_server_and_per_peer(make_runner):
    """Queued jobs are bounded in all and per peer (its address, any port):
    RESOURCE_EXHAUSTED with QUEUE_FULL or PEER_QUEUE_FULL. A repeated request_id
    still answers with its job."""
    runner = make_runner(limits=QueueLimits(max_queued=3, max_queued_per_peer=2))
    first, _ = runner.submit(request("r1"), peer="ipv4:10.0.0.7:5000")
    runner.submit(request(), peer="ipv4:10.0.0.7:5001")
    with pytest.raises(ResourceExhausted) as peer_full:
        runner.submit(request(), peer="ipv4:10.0.0.7:5002")
    assert peer_full.value.reason == "PEER_QUEUE_FULL"
    again, created = runner.submit(request("r1"), peer="ipv4:10.0.0.7:5003")
    assert (again.id, created) == (first.id, False)
    runner.submit(request(), peer="ipv4:10.0.0.8:5000")
    with pytest.raises(ResourceExhausted) as full:
        runner.submit(request(), peer="ipv4:10.0.0.9:5000")
    assert full.value.reason == "QUEUE_FULL"


def test_on_demand_jobs_check_free_disk(make_runner):
    runner = make_runner(limits=QueueLimits(min_free_bytes=1 << 62))
    with pytest.raises(ResourceExhausted) as low:
        runner.submit(request())
    assert low.value.reason == "LOW_DISK"
