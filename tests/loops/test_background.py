"""The background loops of a freshly started server: a missed night is caught up at
start-up without delaying it, the cache sweeper runs at start when enabled, and the
retention pass deletes exactly what it should from a crafted reel directory (dry run
first, by default).

One module-scoped stack (one render: the caught-up night)."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger import jobs as job_dao
from ledger.db import session_scope, utcnow
from ledger.models import JobState, ReelJob
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from tests.conftest import Stack, start_stack, stop_stack
from tests.loops.helpers import (
    DAY,
    PREGEN,
    RECAP,
    RETENTION,
    add_photos,
    reel_dir_listing,
    runs,
    today_utc,
    wait_until,
)

LIB = "bg"


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """Start with the nightly pass enabled an hour after its hour (UTC) on an empty
    ledger, and the sweeper enabled; ask for health at once."""
    root = tmp_path_factory.mktemp("background")
    add_photos(root / "library", [today_utc() - dt.timedelta(days=1)] * 2)
    hour = (clock.now().hour - 1) % 24
    stack = start_stack(
        root / "data",
        libraries=f"{LIB}={root / 'library'}",
        REEL_TARGET_DURATION_S="10",
        REEL_PREGEN_ENABLED="1",
        REEL_PREGEN_HOUR=str(hour),
        REEL_PREGEN_SPANS="DAY",
        REEL_PREGEN_KINDS="RECAP",
        REEL_CACHE_SWEEP_ENABLED="1",
        REEL_CACHE_MAX_AGE_DAYS="7",
        REEL_CACHE_TMP_GRACE_MIN="60",
        REEL_JOB_RETENTION_DAYS="30",
    )
    health = health_pb2_grpc.HealthStub(stack.channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    finished_at_health = [r for r in runs(stack, PREGEN) if r.HasField("end_time")]
    yield stack, health, finished_at_health
    stop_stack(stack)


def finished(stack: Stack, kind: admin_pb2.MaintenanceKind) -> list[admin_pb2.MaintenanceRun]:
    return [r for r in runs(stack, kind) if r.HasField("end_time") and r.trigger == "SCHEDULED"]


@pytest.fixture(scope="module")
def caught_up(started):
    stack, _health, _ = started
    [run] = wait_until(lambda: finished(stack, PREGEN), timeout=120, what="the caught-up pregen run")
    return run


@pytest.fixture(scope="module")
def swept_at_start(started):
    stack, _health, _ = started
    [run] = wait_until(lambda: finished(stack, RETENTION), timeout=60, what="the start-up sweep")
    return run


def test_serving_at_once_and_the_missed_night_is_caught_up(started, caught_up):
    stack, health, finished_at_health = started
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert finished_at_health == []  # start-up did not wait for the pass
    assert "loop-pregen" in {t.name for t in stack.app.threads}
    assert (caught_up.status, caught_up.trigger, caught_up.dry_run) == ("OK", "SCHEDULED", False)
    [scope] = caught_up.report["scopes"]
    assert (scope["span"], scope["kind"], scope["outcome"]) == ("DAY", "RECAP", "RENDERED")
    assert scope["anchor_date"] == today_utc().isoformat()
    assert caught_up.report["rescanned"][LIB] == {"added": 0.0, "removed": 0.0}
    reel = stack.reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library=LIB, span=DAY, kind=RECAP)).reel
    assert reel.key == scope["reel_key"]


def test_the_sweeper_runs_at_start_when_enabled(started, swept_at_start):
    stack, _health, _ = started
    assert "loop-sweeper" in {t.name for t in stack.app.threads}
    assert (swept_at_start.status, swept_at_start.dry_run) == ("OK", False)


def _age(path: Path, days: float) -> None:
    t = time.time() - days * 86400  # file times are real time, whatever the domain clock says
    os.utime(path, (t, t))


def _write(reel_dir: Path, name: str, size: int, age_days: float) -> Path:
    path = reel_dir / name
    path.write_bytes(os.urandom(size))
    _age(path, age_days)
    return path


def test_retention_deletes_exactly_the_crafted_set(started, caught_up, swept_at_start):
    stack, _health, _ = started
    app = stack.app
    reel_dir = stack.settings.reel_dir
    ledger_reel = caught_up.report["scopes"][0]["reel_key"]
    # The ledger-backed reel is old on disk too: its row protects it, not its age.
    for ext in (".mp4", ".json", ".jpg"):
        _age(reel_dir / f"{ledger_reel}{ext}", 30)

    live_key = "bg-day-recap-20200101-11111111"
    now = utcnow()
    with session_scope(app.engine) as session:
        live, _ = job_dao.create_job(
            session,
            library_key=LIB,
            span="DAY",
            kind="RECAP",
            anchor_date=dt.date(2020, 1, 2),
            mode="FAST",
            reel_key=live_key,
        )
        live.state, live.claimed_by, live.lease_until = JobState.RUNNING, "another-replica", now + dt.timedelta(hours=1)
        old, _ = job_dao.create_job(
            session,
            library_key=LIB,
            span="DAY",
            kind="RECAP",
            anchor_date=dt.date(2020, 1, 2),
            mode="FAST",
            now=now - dt.timedelta(days=40),
        )
        old.state, old.updated_at = JobState.SUCCEEDED, now - dt.timedelta(days=31)
        young, _ = job_dao.create_job(
            session,
            library_key=LIB,
            span="DAY",
            kind="RECAP",
            anchor_date=dt.date(2020, 1, 2),
            mode="FAST",
            now=now - dt.timedelta(days=40),
        )
        young.state, young.updated_at = JobState.FAILED, now - dt.timedelta(days=29)
        session.flush()
        old_id, young_id, live_id = old.id, young.id, live.id

    kept = [
        _write(reel_dir, f"{live_key}.mp4", 3000, 8),  # owned by a RUNNING job
        _write(reel_dir, f"{live_key}.json", 300, 8),
        _write(reel_dir, f"{live_key}.jpg", 400, 8),
        _write(reel_dir, "bg-day-recap-20201010-22222222.mp4", 2000, 6.9),  # orphan, young
        _write(reel_dir, "bg-day-recap-20201010-88888888.mp4.tmp", 500, 59 / 1440),  # a render may still write it
        _write(reel_dir, "holiday.mp4", 700, 30),  # not a name the service writes: someone else's
        _write(reel_dir, "bg-day-recap-20201010-66666666.concat.txt", 44, 1),
    ]
    doomed = {
        (name, reason): _write(reel_dir, name, size, age_days)
        for name, reason, size, age_days in [
            ("bg-day-recap-20201010-33333333.mp4", "CACHE_EXPIRED", 2100, 8),
            ("bg-day-recap-20201010-77777777.mp4.tmp", "TMP_CRUFT", 510, 61 / 1440),
            ("bg-day-recap-20201010-44444444.json", "ORPHAN_SIDECAR", 220, 1),
            ("bg-day-recap-20201010-55555555.jpg", "ORPHAN_POSTER", 330, 1),
        ]
    }
    expected = {("FILE", name, path.stat().st_size, reason) for (name, reason), path in doomed.items()}
    expected.add(("ROW", f"reel_jobs/{old_id}", 0, "JOB_EXPIRED"))
    before = reel_dir_listing(stack)

    def items(resp) -> set[tuple[str, str, int, str]]:
        return {(d.type, d.path, d.size_bytes, d.reason) for d in resp.deleted}

    dry = stack.admin.RunRetentionNow(admin_pb2.RunRetentionNowRequest())  # dry_run defaults to true
    assert dry.dry_run and dry.run.dry_run and dry.run.status == "OK"
    assert items(dry) == expected and len(dry.deleted) == len(expected)
    assert dry.bytes_freed == sum(size for _t, _p, size, _r in expected)
    assert reel_dir_listing(stack) == before
    with session_scope(app.engine) as session:
        assert session.get(ReelJob, old_id) is not None

    real = stack.admin.RunRetentionNow(admin_pb2.RunRetentionNowRequest(dry_run=False))
    assert not real.dry_run and real.run.status == "OK" and list(real.run.errors) == []
    assert items(real) == expected
    after = reel_dir_listing(stack)
    assert after == {name: size for name, size in before.items() if name not in {n for n, _ in doomed}}
    assert all(p.exists() for p in kept)
    with session_scope(app.engine) as session:
        assert session.get(ReelJob, old_id) is None
        assert session.get(ReelJob, young_id) is not None and session.get(ReelJob, live_id) is not None
    # The ledger-backed reel still passes the validity gate.
    reel = stack.reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library=LIB, span=DAY, kind=RECAP)).reel
    assert reel.key == ledger_reel

    # A second real run finds nothing left to do.
    again = stack.admin.RunRetentionNow(admin_pb2.RunRetentionNowRequest(dry_run=False))
    assert list(again.deleted) == [] and again.bytes_freed == 0
