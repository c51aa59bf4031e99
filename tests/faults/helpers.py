"""The fault suite's tools: a small library, the render service as a subprocess that
can be killed, and the invariants every restart must find true.

Invariants (docs/RELIABILITY.md):
- no visible partial file: every visible ``*.mp4`` has its sidecar beside it, and
  the sidecar's size and sha256 are the file's;
- no READY row without its file (with its recorded size);
- no job stuck RUNNING: once the service is back, a RUNNING job is one it runs;
- no lock held past its TTL;
- every finished reel streams with its recorded sha256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlmodel import col

from ledger.db import make_engine, read_scope, utcnow
from ledger.models import JobState, MaintenanceLock, PrecomputedReel, ReelJob
from reels.v1 import common_pb2, reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from reels_core.domain import Kind, Span
from reels_core.windows import window_for
from tests.conftest import ROOT, ReelScope, free_port, subprocess_env
from tests.media_fixtures import write_clip, write_photo
from tests.pipeline.conftest import wait_until

SMALL = common_pb2.RenderOptions(target_duration_seconds=10, resolution="360p")
WEEK = ReelScope(library="lib", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP)
LOCK_TTL_S = 30


def small_library(root: Path, photos: int = 5, clip: bool = True) -> Path:
    """Photos (320x240) and one short clip taken in the days of the WEEK RECAP window
    of today (the domain clock): last ISO week, whatever day the suite runs on."""
    monday = window_for(Span.WEEK, Kind.RECAP, clock.today("UTC")).ranges[0][0]
    for i in range(photos):
        day = monday + dt.timedelta(days=i % 5)
        write_photo(
            root / f"p{i}.jpg",
            dt.datetime.combine(day, dt.time(10 + i % 8, 0)),
            size=(320, 240),
            color=(40 * i % 255, 120, 200),
        )
    if clip:
        day = monday + dt.timedelta(days=2)
        write_clip(root / "clip.mp4", dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), seconds=1.0, size="64x36")
    return root


@dataclass
class RenderProcess:
    """``python -m render_service`` on its own port and data directory."""

    data: Path
    library: Path
    log: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    channel: grpc.Channel | None = None

    @property
    def env(self) -> dict[str, str]:
        return subprocess_env(
            REEL_DATA_DIR=str(self.data),
            REEL_LIBRARIES=f"lib={self.library}",
            REEL_RENDER_ADDR=f"127.0.0.1:{self.port}",
            REEL_SCRIPTER_ADDR=f"127.0.0.1:{free_port()}",  # none: the fast script
            REEL_CACHE_SWEEP_ENABLED="0",
            REEL_LOCK_TTL_S=str(LOCK_TTL_S),
            REEL_PREGEN_SPANS="WEEK",
            REEL_PREGEN_KINDS="RECAP",
            REEL_MIN_FREE_DISK_MB="0",
            REEL_HEALTH_CHECK_S="0.2",
            **self.env_extra,
        )

    def start(self) -> None:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "render_service"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        health = health_pb2_grpc.HealthStub(self.channel)

        def serving() -> bool:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=2, wait_for_ready=True).status
            except grpc.RpcError:
                return False
            return status == health_pb2.HealthCheckResponse.SERVING

        wait_until(serving, 60, "the render service to serve")

    @property
    def owner(self) -> str:
        assert self.proc is not None
        return f"{socket.gethostname()}-{self.proc.pid}"

    @property
    def reels(self) -> reel_service_pb2_grpc.ReelServiceStub:
        assert self.channel is not None
        return reel_service_pb2_grpc.ReelServiceStub(self.channel)

    @property
    def admin(self) -> reel_admin_service_pb2_grpc.ReelAdminServiceStub:
        assert self.channel is not None
        return reel_admin_service_pb2_grpc.ReelAdminServiceStub(self.channel)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.close_channel()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.close_channel()

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stream(proc: RenderProcess, key: str) -> bytes:
    return b"".join(m.data for m in proc.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key), timeout=60))


@dataclass
class Checked:
    streamed: set[str] = field(default_factory=set)


def check_invariants(proc: RenderProcess, checked: Checked | None = None) -> dict[str, int]:
    """Assert every invariant of the module docstring against the running service
    (restarted after a crash); returns counts of what was checked."""
    checked = checked or Checked()
    reel_dir = proc.data / "reels"
    visible = sorted(p for p in reel_dir.glob("*.mp4")) if reel_dir.exists() else []
    for video in visible:
        sidecar = video.with_suffix(".json")
        assert sidecar.exists(), f"visible {video.name} has no sidecar"
        meta = json.loads(sidecar.read_text())
        data = video.read_bytes()
        assert (len(data), sha256_of(data)) == (meta["size_bytes"], meta["sha256"]), f"{video.name} is partial"
    engine = make_engine(f"sqlite:///{proc.data / 'ledger.db'}", proc.data)
    try:

        def no_foreign_running() -> bool:
            with read_scope(engine) as session:
                owners = session.execute(
                    sa.select(col(ReelJob.claimed_by)).where(col(ReelJob.state) == JobState.RUNNING)
                ).scalars()
                return all(owner == proc.owner for owner in owners)

        wait_until(no_foreign_running, 30, "no job RUNNING from before the crash")
        with read_scope(engine) as session:
            rows = list(session.execute(sa.select(PrecomputedReel)).scalars())
            locks = list(session.execute(sa.select(MaintenanceLock)).scalars())
            done = list(session.execute(sa.select(ReelJob).where(col(ReelJob.state) == JobState.SUCCEEDED)).scalars())
        now = utcnow()
        for lock in locks:
            assert lock.expires_at <= now + dt.timedelta(seconds=LOCK_TTL_S + 5), f"lock {lock.lock_id} past its TTL"
        for row in rows:
            path = reel_dir / row.video_path
            assert path.exists() and path.stat().st_size == row.size_bytes, f"READY row {row.key} has no file"
        finished = [(r.key, r.sha256) for r in rows] + [
            (j.reel_key, j.result_json["sha256"]) for j in done if j.reel_key
        ]
        for key, sha in finished:
            if key in checked.streamed:
                continue
            assert sha256_of(stream(proc, key)) == sha, f"reel {key} does not stream with its sha256"
            checked.streamed.add(key)
        return {"visible": len(visible), "rows": len(rows), "jobs_done": len(done), "streamed": len(checked.streamed)}
    finally:
        engine.dispose()
