"""The maintenance lock and the run history."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from ledger.db import session_scope
from ledger.maintenance import (
    LockAttempt,
    finish_run,
    get_lock,
    last_run_by_kind,
    last_run_start,
    list_locks,
    list_runs,
    release_lock,
    renew_lock,
    start_run,
    try_acquire_lock,
)
from ledger.models import RunKind, RunStatus, RunTrigger
from ledger.pagination import InvalidPageToken

T0 = dt.datetime(2024, 6, 1, 3, 0, tzinfo=dt.UTC)
LOCK = "maintenance"


def test_lock_is_exclusive_until_released(engine):
    with session_scope(engine) as session:
        assert try_acquire_lock(session, LOCK, "a", 300, now=T0) == (True, "a", T0 + dt.timedelta(seconds=300))
    with session_scope(engine) as session:
        attempt = try_acquire_lock(session, LOCK, "b", 300, now=T0 + dt.timedelta(seconds=10))
    assert attempt == LockAttempt(False, "a", T0 + dt.timedelta(seconds=300))
    with session_scope(engine) as session:
        assert not try_acquire_lock(session, LOCK, "a", 300, now=T0).acquired  # not re-entrant
        assert not release_lock(session, LOCK, "b")
        lock = get_lock(session, LOCK)
        assert lock is not None and lock.owner_id == "a"
        assert release_lock(session, LOCK, "a")
        assert get_lock(session, LOCK) is None
    with session_scope(engine) as session:
        assert try_acquire_lock(session, LOCK, "b", 300, now=T0 + dt.timedelta(seconds=20)).acquired


def test_an_expired_lock_is_taken_over(engine):
    with session_scope(engine) as session:
        try_acquire_lock(session, LOCK, "crashed", 60, now=T0)
    with session_scope(engine) as session:
        assert not try_acquire_lock(session, LOCK, "b", 60, now=T0 + dt.timedelta(seconds=59)).acquired
    with session_scope(engine) as session:
        attempt = try_acquire_lock(session, LOCK, "b", 60, now=T0 + dt.timedelta(seconds=60))
    assert attempt == (True, "b", T0 + dt.timedelta(seconds=120))
    with session_scope(engine) as session:
        assert not release_lock(session, LOCK, "crashed")  # the old owner cannot free it any more
        lock = get_lock(session, LOCK)
        assert lock is not None
        assert (lock.owner_id, lock.acquired_at) == ("b", T0 + dt.timedelta(seconds=60))


def test_one_of_several_concurrent_contenders_gets_an_expired_lock(engine):
    with session_scope(engine) as session:
        try_acquire_lock(session, LOCK, "crashed", 1, now=T0)
    start = threading.Barrier(4)
    results: dict[str, LockAttempt] = {}

    def contend(owner: str) -> None:
        start.wait(timeout=10)
        with session_scope(engine) as session:
            results[owner] = try_acquire_lock(session, LOCK, owner, 60, now=T0 + dt.timedelta(seconds=2))

    threads = [threading.Thread(target=contend, args=(f"replica-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [owner for owner, attempt in results.items() if attempt.acquired]
    assert len(results) == 4 and len(winners) == 1
    assert all(attempt.holder_owner == winners[0] for attempt in results.values())


def test_renew_extends_only_the_owners_lock(engine):
    with session_scope(engine) as session:
        try_acquire_lock(session, LOCK, "a", 60, now=T0)
        assert renew_lock(session, LOCK, "a", 60, now=T0 + dt.timedelta(seconds=50))
        assert not renew_lock(session, LOCK, "b", 60)
        assert not renew_lock(session, "other-lock", "a", 60)
    with session_scope(engine) as session:
        assert not try_acquire_lock(session, LOCK, "b", 60, now=T0 + dt.timedelta(seconds=100)).acquired
        lock = get_lock(session, LOCK)
        assert lock is not None and lock.expires_at == T0 + dt.timedelta(seconds=110)


def test_locks_are_independent_by_id(engine):
    with session_scope(engine) as session:
        assert try_acquire_lock(session, "pregen", "a", 60).acquired
        assert try_acquire_lock(session, "retention", "b", 60).acquired


def test_runs_are_recorded_and_finished(engine):
    with session_scope(engine) as session:
        run = start_run(session, RunKind.PREGEN, "a", RunTrigger.SCHEDULED, dry_run=False, now=T0)
        assert (run.status, run.finished_at) == (None, None)
        assert run.id is not None  # assigned by start_run's flush
        finish_run(
            session,
            run.id,
            RunStatus.PARTIAL,
            {"rendered": 3, "libraries": {"fam": "OK"}},
            ["work: disk full"],
            now=T0 + dt.timedelta(minutes=5),
        )
    with session_scope(engine) as session:
        (stored,), _ = list_runs(session)
        assert (stored.kind, stored.trigger, stored.dry_run, stored.status) == ("PREGEN", "SCHEDULED", False, "PARTIAL")
        assert stored.report_json == {"rendered": 3, "libraries": {"fam": "OK"}}
        assert stored.errors_json == ["work: disk full"]
        assert stored.finished_at is not None
        assert stored.finished_at - stored.started_at == dt.timedelta(minutes=5)
        with pytest.raises(LookupError):
            finish_run(session, 9999, RunStatus.OK)
        with pytest.raises(ValueError):
            start_run(session, "DEFRAG", "a", RunTrigger.MANUAL)  # type: ignore[arg-type]  # not a RunKind


def test_list_runs_pages_newest_first(engine):
    kinds = [RunKind.PREGEN, RunKind.RETENTION, RunKind.CONSOLIDATION, RunKind.PREGEN, RunKind.RETENTION]
    with session_scope(engine) as session:
        ids = [start_run(session, kind, "a", RunTrigger.MANUAL, dry_run=True).id for kind in kinds]
    with session_scope(engine) as session:
        page1, token1 = list_runs(session, page_size=2)
        page2, token2 = list_runs(session, page_size=2, page_token=token1)
        page3, token3 = list_runs(session, page_size=2, page_token=token2)
        assert [r.id for r in page1 + page2 + page3] == ids[::-1]
        assert token1 and token2 and token3 == ""
        pregen, more = list_runs(session, page_size=10, kind="PREGEN")
        assert ([r.id for r in pregen], more) == ([ids[3], ids[0]], "")
        with pytest.raises(InvalidPageToken):
            list_runs(session, page_size=2, page_token=token1, kind="PREGEN")


def test_last_run_by_kind(engine):
    with session_scope(engine) as session:
        assert last_run_by_kind(session) == {}
        start_run(session, RunKind.PREGEN, "a", RunTrigger.SCHEDULED)
        newest_pregen = start_run(session, RunKind.PREGEN, "a", RunTrigger.MANUAL)
        retention = start_run(session, RunKind.RETENTION, "a", RunTrigger.SCHEDULED)
    with session_scope(engine) as session:
        latest = last_run_by_kind(session)
    assert {kind: run.id for kind, run in latest.items()} == {"PREGEN": newest_pregen.id, "RETENTION": retention.id}


def test_last_run_start_is_the_newest_real_run_of_the_kind(engine):
    with session_scope(engine) as session:
        assert last_run_start(session, RunKind.RETENTION) is None
        start_run(session, RunKind.RETENTION, "a", RunTrigger.SCHEDULED, now=T0)
        start_run(session, RunKind.RETENTION, "a", RunTrigger.MANUAL, now=T0 + dt.timedelta(hours=1))
        start_run(session, RunKind.RETENTION, "a", RunTrigger.MANUAL, True, now=T0 + dt.timedelta(hours=2))
        start_run(session, RunKind.PREGEN, "a", RunTrigger.MANUAL, now=T0 + dt.timedelta(hours=3))
    with session_scope(engine) as session:
        # A dry run (a preview) never counts; another kind's run neither.
        assert last_run_start(session, RunKind.RETENTION) == T0 + dt.timedelta(hours=1)
        assert last_run_start(session, RunKind.PREGEN) == T0 + dt.timedelta(hours=3)
        assert last_run_start(session, RunKind.CONSOLIDATION) is None


def test_list_locks_lists_every_lock_by_id(engine):
    with session_scope(engine) as session:
        assert list_locks(session) == []
        try_acquire_lock(session, "retention", "b", 60, now=T0)
        try_acquire_lock(session, "consolidation", "a", 60, now=T0 - dt.timedelta(hours=1))  # expired, still listed
    with session_scope(engine) as session:
        locks = list_locks(session)
    assert [(lock.lock_id, lock.owner_id) for lock in locks] == [("consolidation", "a"), ("retention", "b")]
