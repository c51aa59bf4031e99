"""The job queue and progress events."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from ledger.db import session_scope, utcnow
from ledger.jobs import (
    INTERRUPTED,
    append_event,
    claim_next_job,
    count_jobs,
    create_job,
    events_after,
    expire_jobs,
    expired_job_ids,
    get_job,
    live_reel_keys,
    mark_interrupted,
    renew_lease,
    requeue_expired,
    set_job_result,
    set_job_state,
    set_reel_key,
)
from ledger.models import MAX_EVENTS_PER_JOB, JobEvent, JobState, ReelJob

T0 = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC)


def new_job(session: Session, request_id: str | None = None, *, now: dt.datetime = T0, **kw):
    job, _ = create_job(
        session,
        library_key=kw.pop("library_key", "fam"),
        span="WEEK",
        kind="RECAP",
        anchor_date=dt.date(2024, 6, 1),
        mode="FAST",
        params={"target_duration_s": 30},
        request_id=request_id,
        now=now,
        **kw,
    )
    return job


def stored_job(session: Session, job_id: str) -> ReelJob:
    job = get_job(session, job_id)
    assert job is not None, f"no job {job_id!r}"
    return job


def test_create_job_is_idempotent_on_request_id(engine):
    with session_scope(engine) as session:
        job, created = create_job(
            session,
            library_key="fam",
            span="DAY",
            kind="ON_THIS_DAY",
            anchor_date=dt.date(2024, 2, 29),
            mode="AGENTIC",
            params={"mood": "calm"},
            request_id="req-1",
        )
        assert created
    with session_scope(engine) as session:
        again, created_again = create_job(
            session,
            library_key="other",
            span="WEEK",
            kind="RECAP",
            anchor_date=dt.date(2024, 1, 1),
            mode="FAST",
            request_id="req-1",
        )
    assert not created_again
    assert again.id == job.id and again.library_key == "fam" and again.params_json == {"mood": "calm"}
    with session_scope(engine) as session:
        loaded = stored_job(session, job.id)
        assert (loaded.state, loaded.anchor_date, loaded.progress) == (JobState.QUEUED, dt.date(2024, 2, 29), 0.0)
        assert get_job(session, "missing") is None


def test_jobs_without_request_id_are_distinct(engine):
    with session_scope(engine) as session:
        a, b = new_job(session), new_job(session)
    assert a.id != b.id and a.request_id is None and b.request_id is None


def test_claim_takes_the_oldest_queued_job_with_a_lease(engine):
    with session_scope(engine) as session:
        newer = new_job(session, now=T0 + dt.timedelta(seconds=5))
        older = new_job(session, now=T0)
    with session_scope(engine) as session:
        claimed = claim_next_job(session, "worker-a", 60, now=T0 + dt.timedelta(minutes=1))
    assert claimed is not None and claimed.id == older.id
    assert claimed.state == JobState.RUNNING and claimed.claimed_by == "worker-a"
    assert claimed.lease_until == T0 + dt.timedelta(minutes=2)
    assert claimed.started_at == T0 + dt.timedelta(minutes=1)
    with session_scope(engine) as session:
        claimed_next = claim_next_job(session, "worker-b", 60)
        assert claimed_next is not None and claimed_next.id == newer.id
        assert claim_next_job(session, "worker-b", 60) is None


def test_each_job_is_claimed_exactly_once_by_two_threads(engine):
    with session_scope(engine) as session:
        job_ids = {new_job(session, now=T0 + dt.timedelta(seconds=i)).id for i in range(24)}
    start = threading.Barrier(2)
    claimed: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait(timeout=10)
            while True:
                with session_scope(engine) as session:
                    job = claim_next_job(session, name, 60)
                if job is None:
                    return
                claimed[name].append(job.id)
        except BaseException as exc:  # noqa: BLE001 - a worker's failure of any kind is surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    everything = claimed["a"] + claimed["b"]
    assert len(everything) == len(set(everything)) == 24
    assert set(everything) == job_ids
    with session_scope(engine) as session:
        for name, ids in claimed.items():
            assert all(stored_job(session, i).claimed_by == name for i in ids)


def test_postgres_claim_skips_a_row_another_transaction_is_claiming(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL only; SQLite has a single writer")
    with session_scope(engine) as session:
        first = new_job(session, now=T0)
        second = new_job(session, now=T0 + dt.timedelta(seconds=1))
    with Session(engine) as holding, Session(engine) as other:
        held = claim_next_job(holding, "a", 60)  # not committed yet
        assert held is not None and held.id == first.id
        other.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        skipped_to = claim_next_job(other, "b", 60)
        assert skipped_to is not None and skipped_to.id == second.id
        holding.commit()
        other.commit()


def test_renew_lease_only_for_the_running_owner(engine):
    with session_scope(engine) as session:
        job = new_job(session)
        claim_next_job(session, "a", 10, now=T0)
    with session_scope(engine) as session:
        assert renew_lease(session, job.id, "a", 30, now=T0 + dt.timedelta(seconds=5))
        assert not renew_lease(session, job.id, "b", 30)
        assert stored_job(session, job.id).lease_until == T0 + dt.timedelta(seconds=35)
        set_job_state(session, job.id, JobState.CANCELLED, reason="CANCELLED_BY_USER")
        assert not renew_lease(session, job.id, "a", 30)


def test_terminal_states_are_final(engine):
    with session_scope(engine) as session:
        job = new_job(session)
        claim_next_job(session, "a", 60)
        done = set_job_state(session, job.id, JobState.SUCCEEDED, reel_key="reel-1", now=T0 + dt.timedelta(1))
        assert (done.state, done.progress, done.reel_key, done.lease_until) == (
            JobState.SUCCEEDED,
            1.0,
            "reel-1",
            None,
        )
        assert done.finished_at == T0 + dt.timedelta(1)
        after = set_job_state(session, job.id, JobState.CANCELLED, reason="LATE_CANCEL")
        assert after.state == JobState.SUCCEEDED and after.reason == ""
    with pytest.raises(LookupError):
        with session_scope(engine) as session:
            set_job_state(session, "missing", JobState.FAILED)


def test_failed_state_keeps_reason_message_and_progress(engine):
    with session_scope(engine) as session:
        job = new_job(session)
        set_job_state(session, job.id, JobState.RUNNING, now=T0)
        set_job_state(session, job.id, JobState.RUNNING, now=T0 + dt.timedelta(seconds=9))
        failed = set_job_state(session, job.id, "FAILED", reason="RENDER_FAILED", message="encoder", progress=0.4)
    assert failed.started_at == T0
    assert (failed.state, failed.reason, failed.message, failed.progress) == ("FAILED", "RENDER_FAILED", "encoder", 0.4)


def test_events_are_numbered_and_trimmed_to_the_newest_200(engine):
    extra = 30
    with session_scope(engine) as session:
        job = new_job(session)
        for i in range(MAX_EVENTS_PER_JOB + extra):
            event = append_event(session, job.id, "render", i / 1000, f"step {i}")
        assert event.seq == MAX_EVENTS_PER_JOB + extra
        other = new_job(session)
        append_event(session, other.id, "select", 0.1)
    with session_scope(engine) as session:
        events = events_after(session, job.id, 0)
        assert len(events) == MAX_EVENTS_PER_JOB
        assert [e.seq for e in events] == list(range(extra + 1, MAX_EVENTS_PER_JOB + extra + 1))
        assert events[-1].message == f"step {MAX_EVENTS_PER_JOB + extra - 1}"
        assert [e.seq for e in events_after(session, job.id, 225)] == [226, 227, 228, 229, 230]
        assert [e.seq for e in events_after(session, job.id, 0, limit=2)] == [31, 32]
        assert len(events_after(session, other.id, 0)) == 1
        count = session.execute(sa.select(sa.func.count()).select_from(JobEvent)).scalar_one()
        assert count == MAX_EVENTS_PER_JOB + 1


def test_event_state_defaults_to_the_job_state_and_progress_is_copied(engine):
    with session_scope(engine) as session:
        job = new_job(session)
        first = append_event(session, job.id, "queued", 0.0)
        claim_next_job(session, "a", 60)
        second = append_event(session, job.id, "render", 0.5, "half")
        final = append_event(session, job.id, "done", 1.0, state=JobState.SUCCEEDED)
    assert (first.state, second.state, final.state) == ("QUEUED", "RUNNING", "SUCCEEDED")
    with session_scope(engine) as session:
        assert stored_job(session, job.id).progress == 1.0
    with pytest.raises(LookupError):
        with session_scope(engine) as session:
            append_event(session, "missing", "x", 0.0)


def test_mark_interrupted_without_owner_fails_every_running_job(engine):
    with session_scope(engine) as session:
        running_a = new_job(session, now=T0)
        running_b = new_job(session, now=T0 + dt.timedelta(seconds=1))
        queued = new_job(session, now=T0 + dt.timedelta(seconds=2))
        claim_next_job(session, "a", 600)
        claim_next_job(session, "b", 600)
    with session_scope(engine) as session:
        ids = mark_interrupted(session)
    assert ids == sorted([running_a.id, running_b.id])
    with session_scope(engine) as session:
        for job_id in ids:
            job = stored_job(session, job_id)
            assert (job.state, job.reason) == (JobState.FAILED, INTERRUPTED)
            assert job.finished_at is not None
            assert events_after(session, job_id)[-1].state == JobState.FAILED
        assert stored_job(session, queued.id).state == JobState.QUEUED


def test_mark_interrupted_with_owner_spares_live_leases_of_others(engine):
    now = utcnow()
    with session_scope(engine) as session:
        mine = new_job(session, now=T0)
        theirs_live = new_job(session, now=T0 + dt.timedelta(seconds=1))
        theirs_expired = new_job(session, now=T0 + dt.timedelta(seconds=2))
        claim_next_job(session, "me", 600, now=now)
        claim_next_job(session, "them", 600, now=now)
        claim_next_job(session, "ghost", 600, now=now - dt.timedelta(hours=1))
    with session_scope(engine) as session:
        ids = mark_interrupted(session, "me", now=now)
    assert ids == sorted([mine.id, theirs_expired.id])
    with session_scope(engine) as session:
        assert stored_job(session, theirs_live.id).state == JobState.RUNNING


def test_expire_jobs_deletes_old_terminal_jobs_and_their_events(engine):
    with session_scope(engine) as session:
        old_done = new_job(session)
        set_job_state(session, old_done.id, JobState.SUCCEEDED, now=T0)
        append_event(session, old_done.id, "done", 1.0, now=T0)
        old_queued = new_job(session)
        recent_done = new_job(session)
        set_job_state(session, recent_done.id, JobState.FAILED, now=T0 + dt.timedelta(days=40))
    with session_scope(engine) as session:
        assert expire_jobs(session, T0 + dt.timedelta(days=30)) == 1
    with session_scope(engine) as session:
        assert get_job(session, old_done.id) is None
        assert events_after(session, old_done.id) == []
        assert get_job(session, old_queued.id) is not None
        assert get_job(session, recent_done.id) is not None


def test_expired_job_ids_are_what_expire_jobs_deletes(engine):
    cutoff = T0 + dt.timedelta(days=30)
    with session_scope(engine) as session:
        old = [new_job(session) for _ in range(3)]
        for job, state in zip(old, (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED), strict=True):
            set_job_state(session, job.id, state, now=T0)
        old_running = new_job(session)
        set_job_state(session, old_running.id, JobState.RUNNING, now=T0)
        at_cutoff = new_job(session)
        set_job_state(session, at_cutoff.id, JobState.SUCCEEDED, now=cutoff)
    with session_scope(engine) as session:
        planned = expired_job_ids(session, cutoff)
        assert planned == sorted(job.id for job in old)  # not RUNNING, not updated at the cutoff itself
        assert expire_jobs(session, cutoff) == len(planned)
    with session_scope(engine) as session:
        assert expired_job_ids(session, cutoff) == []
        assert all(get_job(session, job.id) is None for job in old)
        assert get_job(session, old_running.id) is not None and get_job(session, at_cutoff.id) is not None


def test_count_jobs_counts_every_state(engine):
    with session_scope(engine) as session:
        assert count_jobs(session) == 0
        new_job(session)
        done = new_job(session)
        set_job_state(session, done.id, JobState.SUCCEEDED)
    with session_scope(engine) as session:
        assert count_jobs(session) == 2


def test_live_reel_keys_are_those_of_unfinished_jobs(engine):
    with session_scope(engine) as session:
        new_job(session, reel_key="queued-reel")
        running = new_job(session, reel_key="running-reel")
        done = new_job(session, reel_key="done-reel")
        new_job(session)
        set_job_state(session, running.id, JobState.RUNNING)
        set_job_state(session, done.id, JobState.SUCCEEDED)
    with session_scope(engine) as session:
        assert live_reel_keys(session) == {"queued-reel", "running-reel"}


def test_job_result_is_stored_for_on_demand_reels(engine):
    result = {"video": "abc.mp4", "size_bytes": 123, "sha256": "00" * 32}
    with session_scope(engine) as session:
        job = new_job(session, reel_key="abc")
        assert job.result_json == {}
        claimed = claim_next_job(session, "a", 60)
        assert claimed is not None
        assert set_job_result(session, job.id, result, owner="a", attempt=claimed.attempts)
        set_job_state(session, job.id, JobState.SUCCEEDED, reel_key="abc")
    with session_scope(engine) as session:
        assert stored_job(session, job.id).result_json == result


def test_a_worker_that_lost_its_lease_changes_nothing_of_the_new_run(engine):
    """Issue 14 finding 3: the old worker (attempt 1, lease lapsed, job requeued and
    claimed again) can neither renew, record a result, cancel nor fail the job."""
    with session_scope(engine) as session:
        job = new_job(session)
        first = claim_next_job(session, "a", 10, now=T0)
        assert first is not None and first.attempts == 1
        assert requeue_expired(session, now=T0 + dt.timedelta(seconds=30)) == ([job.id], [])
        second = claim_next_job(session, "a", 60)  # the same replica, after a restart
        assert second is not None and second.attempts == 2
        assert not renew_lease(session, job.id, "a", 60, attempt=1)
        assert not set_job_result(session, job.id, {"video": "old.mp4"}, owner="a", attempt=1)
        late = set_job_state(session, job.id, JobState.CANCELLED, reason="CANCELLED", owner="a", attempt=1)
        assert late.state == JobState.RUNNING
        late = set_job_state(session, job.id, JobState.FAILED, reason="RENDER_FAILED", owner="a", attempt=1)
        assert late.state == JobState.RUNNING
        assert not set_reel_key(session, job.id, "a", 1, "old-key")
        assert set_reel_key(session, job.id, "a", 2, "new-key")
        assert set_job_result(session, job.id, {"video": "new-key.mp4"}, owner="a", attempt=2)
        done = set_job_state(session, job.id, JobState.SUCCEEDED, owner="a", attempt=2)
        assert done.state == JobState.SUCCEEDED
        assert not set_job_result(session, job.id, {"video": "late.mp4"}, owner="a", attempt=2)
    with session_scope(engine) as session:
        final = stored_job(session, job.id)
        assert (final.result_json, final.reel_key) == ({"video": "new-key.mp4"}, "new-key")
