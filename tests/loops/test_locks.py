"""The maintenance lease lock: released on every exit path, renewed while a pass
runs, lost to a thief, and taken over after its TTL when the holder was killed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from ledger import maintenance as maintenance_dao
from ledger.db import session_scope, utcnow
from ledger.models import MaintenanceLock, RunKind, RunTrigger
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels_core.errors import Aborted
from render_service.locks import LockHeld, lease_lock
from render_service.loops.passes import PassResult, PassRunner, last_run_start
from tests.conftest import ROOT, error_reason, ledger_env, start_stack, stop_stack, subprocess_env
from tests.loops.helpers import CONSOLIDATION, error_metadata, runs, wait_until


def lock_row(engine, lock_id: str) -> MaintenanceLock | None:
    with session_scope(engine) as session:
        row = maintenance_dao.get_lock(session, lock_id)
        if row is not None:
            session.expunge(row)
        return row


def held_lock(engine, lock_id: str) -> MaintenanceLock:
    """The lock row, which must exist."""
    row = lock_row(engine, lock_id)
    assert row is not None, f"no {lock_id} lock"
    return row


def run_rows(engine):
    with session_scope(engine) as session:
        rows, _ = maintenance_dao.list_runs(session, 100)
        for r in rows:
            session.expunge(r)
        return rows


def test_a_pass_that_raises_is_failed_and_releases_the_lock(engine):
    def boom(lease):
        assert held_lock(engine, "pregen").owner_id == "me"
        raise RuntimeError("boom")

    failed = PassRunner(engine, "me", 60).run(RunKind.PREGEN, RunTrigger.MANUAL, False, boom)
    assert failed.run.status == "FAILED" and failed.run.finished_at is not None
    assert failed.run.errors_json == ["RuntimeError: pass failed"]
    assert lock_row(engine, "pregen") is None

    ok = PassRunner(engine, "someone-else", 60).run(
        RunKind.PREGEN, RunTrigger.MANUAL, False, lambda lease: PassResult({"fine": True})
    )
    assert ok.run.status == "OK" and ok.run.report_json == {"fine": True}
    assert [r.status for r in run_rows(engine)] == ["OK", "FAILED"]


def test_the_lock_is_released_on_base_exceptions_too(engine):
    def interrupted(lease):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        PassRunner(engine, "me", 60).run(RunKind.RETENTION, RunTrigger.MANUAL, False, interrupted)
    assert lock_row(engine, "retention") is None


def test_a_held_lock_skips_the_pass_naming_the_holder(engine):
    with lease_lock(engine, "consolidation", "holder-1", 60):
        with pytest.raises(Aborted) as aborted:
            PassRunner(engine, "me", 60).run(
                RunKind.CONSOLIDATION, RunTrigger.SCHEDULED, False, lambda lease: PassResult()
            )
    assert aborted.value.reason == "LOCK_HELD" and aborted.value.metadata["holder"] == "holder-1"
    [skipped] = run_rows(engine)
    assert skipped.status == "SKIPPED" and skipped.report_json["holder"] == "holder-1"
    # Other kinds have their own lock.
    other_kind = PassRunner(engine, "me", 60).run(RunKind.PREGEN, RunTrigger.MANUAL, False, lambda lease: PassResult())
    assert other_kind.run.status == "OK"


def test_lock_held_survives_an_enclosing_context_manager(engine):
    """LockHeld passes through contextlib (a frozen dataclass exception did not)."""

    @contextmanager
    def outer():
        yield

    with lease_lock(engine, "x", "a", 60):
        with pytest.raises(LockHeld) as held:
            with outer():
                with lease_lock(engine, "x", "b", 60):
                    pass
    assert held.value.owner_id == "a" and "held by a" in str(held.value)


def test_the_lease_is_renewed_while_the_pass_runs(engine):
    def long_pass(lease):
        seen = {held_lock(engine, "pregen").expires_at}

        def renewed_twice() -> bool:
            seen.add(held_lock(engine, "pregen").expires_at)
            return len(seen) >= 3

        wait_until(renewed_twice, timeout=10, what="two renewals")
        with session_scope(engine) as session:
            assert not maintenance_dao.try_acquire_lock(session, "pregen", "other", 60).acquired
        return PassResult()

    # TTL 0.3 s: without renewals the lock would expire long before the pass ends.
    outcome = PassRunner(engine, "me", 0.3).run(RunKind.PREGEN, RunTrigger.MANUAL, False, long_pass)
    assert outcome.run.status == "OK" and lock_row(engine, "pregen") is None


def test_a_lost_lease_makes_the_pass_partial_and_the_thief_keeps_it(engine):
    def robbed(lease):
        with session_scope(engine) as session:
            session.execute(sa.delete(MaintenanceLock))  # every lock row (SQLModel types no __table__)
            maintenance_dao.try_acquire_lock(session, "pregen", "thief", 60)
        wait_until(lambda: lease.is_lost, timeout=10, what="the lease to be lost")
        return PassResult({"done": 1})

    outcome = PassRunner(engine, "me", 0.3).run(RunKind.PREGEN, RunTrigger.MANUAL, False, robbed)
    assert outcome.run.status == "PARTIAL"
    assert any(e.startswith("LOCK_LOST") for e in outcome.run.errors_json)
    assert held_lock(engine, "pregen").owner_id == "thief"


def test_dry_runs_do_not_count_as_the_last_run(engine):
    PassRunner(engine, "me", 60).run(RunKind.RETENTION, RunTrigger.MANUAL, False, lambda lease: PassResult())
    real = last_run_start(engine, RunKind.RETENTION)
    PassRunner(engine, "me", 60).run(RunKind.RETENTION, RunTrigger.MANUAL, True, lambda lease: PassResult())
    assert last_run_start(engine, RunKind.RETENTION) == real
    assert last_run_start(engine, RunKind.PREGEN) is None


HOLD = """
import sys, threading
from pathlib import Path
from ledger.db import make_engine
from reels_core import clock
from render_service.locks import lease_lock
from service_kit.settings import load_settings
s = load_settings(); clock.configure(s.today, s.clock_shift_s)  # a replica's clock, as App.build sets it
engine = make_engine(sys.argv[3] or None, Path(sys.argv[1]))
with lease_lock(engine, "consolidation", "doomed-replica", float(sys.argv[2])):
    print("held", flush=True)
    threading.Event().wait()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request):
    with ledger_env(request.param) as env:
        yield env.get("REEL_DATABASE_URL", "")


def test_ttl_takeover_after_the_holder_is_killed(tmp_path: Path, ledger_url: str):
    data = tmp_path / "data"
    stack = start_stack(data, with_scripter=False, REEL_LOCK_TTL_S="5", REEL_DATABASE_URL=ledger_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data), "5", ledger_url],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stderr is not None  # both PIPE
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        # The holder renews while alive; then it dies without releasing.
        holder.kill()
        holder.wait(timeout=10)
        dead = held_lock(stack.app.engine, "consolidation")
        assert dead.owner_id == "doomed-replica"

        refused_at: list[dt.datetime] = []

        def attempt() -> dt.datetime | None:
            """None when refused; else when the successful call returned."""
            at = utcnow()
            try:
                stack.admin.RunConsolidationNow(admin_pb2.RunConsolidationNowRequest())
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.ABORTED and error_reason(err) == "LOCK_HELD"
                meta = error_metadata(err)
                assert meta["holder"] == "doomed-replica"
                assert dt.datetime.fromisoformat(meta["expires_at"]) == dead.expires_at
                refused_at.append(at)
                return None
            return utcnow()

        assert attempt() is None  # the dead holder's lease has not expired yet
        took_over = wait_until(attempt, timeout=20, what="the takeover", every=0.25)
        assert took_over is not None  # wait_until returns a truthy value
        # Refused while the dead lease was valid; taken over once it had expired.
        assert all(at < dead.expires_at for at in refused_at)
        assert took_over >= dead.expires_at
        assert lock_row(stack.app.engine, "consolidation") is None  # released after our pass
        history = runs(stack, CONSOLIDATION)
        assert history[0].status == "OK" and [r.status for r in history[1:]] == ["SKIPPED"] * len(refused_at)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        stop_stack(stack)
