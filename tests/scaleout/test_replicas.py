"""Two render_service processes and one scripter on loopback, sharing one PostgreSQL
ledger and one S3-compatible store (moto): every job is rendered once, a pass runs
on one replica at a time, any replica streams any reel, and a job whose replica is
killed completes on the other."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
import sqlalchemy as sa

from reels.v1 import common_pb2, reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import ROOT, ReelScope, error_reason, free_port, make_settings, subprocess_env, today_utc
from tests.db_fixtures import fresh_pg_schema, require_postgres
from tests.media_fixtures import write_photo
from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401 - fixtures, found by name

DAY = ReelScope(library="fam", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
SHORT = common_pb2.RenderOptions(target_duration_seconds=10)


class Replica:
    def __init__(self, name: str, env: dict[str, str], log_dir) -> None:
        self.name = name
        self.port = free_port()
        self.env = {
            **env,
            "REEL_REPLICA_ID": name,
            "REEL_RENDER_ADDR": f"127.0.0.1:{self.port}",
            "REEL_DATA_DIR": str(log_dir / name),
        }
        self.log = open(log_dir / f"{name}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "render_service"], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.reels = reel_service_pb2_grpc.ReelServiceStub(self.channel)
        self.admin = reel_admin_service_pb2_grpc.ReelAdminServiceStub(self.channel)

    def ready(self) -> None:
        self.admin.ListLibraries(admin_pb2.ListLibrariesRequest(), timeout=60, wait_for_ready=True)

    def stop(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path, s3_bucket):  # noqa: F811 - the s3_bucket fixture, imported above
    from scripter_service.server import create_server as create_scripter

    today = today_utc()
    lib = tmp_path / "lib"
    for i in range(4):
        write_photo(
            lib / f"p{i}.jpg",
            dt.datetime.combine(today - dt.timedelta(days=1), dt.time(9 + 2 * i)),
            color=(40 * i + 60, 120, 200 - 30 * i),
        )
    s3_bucket.enable_versioning()
    scripter, scripter_port = create_scripter(make_settings(tmp_path / "scripter"), "127.0.0.1:0")
    scripter.server.start()
    with fresh_pg_schema(require_postgres()) as db_url:
        env = subprocess_env(
            REEL_DATABASE_URL=db_url,
            REEL_BLOB_URL=s3_bucket.url("reels"),
            REEL_S3_ENDPOINT_URL=s3_bucket.endpoint_url,
            REEL_LIBRARIES=f"fam={lib}",
            REEL_SCRIPTER_ADDR=f"127.0.0.1:{scripter_port}",
            REEL_JOB_LEASE_S="5",
            REEL_TARGET_DURATION_S="10",
            REEL_CACHE_SWEEP_ENABLED="0",
            REEL_LOG_FORMAT="json",
        )
        replicas = [Replica("r1", env, tmp_path), Replica("r2", env, tmp_path)]
        try:
            for r in replicas:
                r.ready()
            # Both scan at start; wait until the index is there.
            deadline = time.monotonic() + 60
            while replicas[0].admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries[0].media_count < 4:
                assert time.monotonic() < deadline, "library not scanned"
                time.sleep(0.1)
            yield replicas, sa.create_engine(db_url, poolclass=sa.NullPool), s3_bucket
        finally:
            for r in replicas:
                r.stop()
            scripter.stop(0)


def _wait_jobs(replica: Replica, job_ids: list[str], timeout: float) -> dict[str, pb2.ReelJob]:
    deadline = time.monotonic() + timeout
    done: dict[str, pb2.ReelJob] = {}
    while len(done) < len(job_ids):
        assert time.monotonic() < deadline, f"{len(done)}/{len(job_ids)} jobs finished in time"
        for job_id in job_ids:
            if job_id not in done:
                job = replica.reels.GetReelJob(pb2.GetReelJobRequest(job_id=job_id), timeout=10).job
                if job.state in (pb2.JOB_STATE_SUCCEEDED, pb2.JOB_STATE_FAILED, pb2.JOB_STATE_CANCELLED):
                    done[job_id] = job
        time.sleep(0.2)
    return done


def test_two_replicas_share_the_work(cluster):
    replicas, engine, bucket = cluster
    ids = [
        replicas[i % 2]
        .reels.CreateReel(pb2.CreateReelRequest(**DAY, options=SHORT, request_id=f"burst-{i}"))
        .job.job_id
        for i in range(20)
    ]
    jobs = _wait_jobs(replicas[0], ids, timeout=600)
    assert all(j.state == pb2.JOB_STATE_SUCCEEDED for j in jobs.values()), [j.message for j in jobs.values()]
    assert len({j.reel_key for j in jobs.values()}) == 20
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT claimed_by, attempts FROM reel_jobs")).all()
    assert sorted(a for _, a in rows) == [1] * 20  # each claimed, and rendered, once
    assert {owner for owner, _ in rows} == {"r1", "r2"}
    videos = [k for k in bucket.keys() if k.endswith(".mp4")]
    assert len(videos) == 20

    # A reel rendered by one replica streams from the other, byte for byte.
    key = next(iter(jobs.values())).reel_key
    a = b"".join(m.data for m in replicas[0].reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key)))
    b = b"".join(m.data for m in replicas[1].reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key)))
    info = replicas[1].reels.GetReel(pb2.GetReelRequest(key=key)).reel
    assert a == b and hashlib.sha256(a).hexdigest() == info.sha256 and len(a) == info.size_bytes

    # Concurrent RunPregenNow on both replicas: one pass runs, the other is refused.
    results: dict[str, object] = {}

    def pregen(r: Replica) -> None:
        try:
            results[r.name] = r.admin.RunPregenNow(
                admin_pb2.RunPregenNowRequest(spans=[common_pb2.SPAN_DAY], kinds=[common_pb2.REEL_KIND_RECAP]),
                timeout=300,
            )
        except grpc.RpcError as err:
            results[r.name] = err

    threads = [threading.Thread(target=pregen, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [v for v in results.values() if isinstance(v, admin_pb2.RunPregenNowResponse)]
    refused = [v for v in results.values() if isinstance(v, grpc.RpcError)]
    assert len(ran) == 1 and len(refused) == 1
    assert refused[0].code() == grpc.StatusCode.ABORTED and error_reason(refused[0]) == "LOCK_HELD"
    assert ran[0].outcomes[0].outcome == "RENDERED"


def test_job_of_a_killed_replica_completes_on_the_other(cluster):
    replicas, engine, _bucket = cluster
    job = (
        replicas[0]
        .reels.CreateReel(
            pb2.CreateReelRequest(
                **DAY, options=common_pb2.RenderOptions(target_duration_seconds=30), request_id="long-1"
            )
        )
        .job
    )
    for item in replicas[0].reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=120):
        if item.event.stage == "render" and item.event.progress > 0.2:
            break
    with engine.connect() as c:
        owner = c.execute(sa.text("SELECT claimed_by FROM reel_jobs WHERE id = :id"), {"id": job.job_id}).scalar_one()
    victim = next(r for r in replicas if r.name == owner)
    survivor = next(r for r in replicas if r.name != owner)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=30)
    [final] = _wait_jobs(survivor, [job.job_id], timeout=300).values()
    assert final.state == pb2.JOB_STATE_SUCCEEDED
    with engine.connect() as c:
        row = c.execute(sa.text("SELECT claimed_by, attempts FROM reel_jobs WHERE id = :id"), {"id": job.job_id}).one()
    assert row.claimed_by == survivor.name and row.attempts == 2
    data = b"".join(m.data for m in survivor.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=final.reel_key)))
    assert (
        hashlib.sha256(data).hexdigest() == survivor.reels.GetReel(pb2.GetReelRequest(key=final.reel_key)).reel.sha256
    )
