"""kill -9 of the render service at seeded random points of renders and passes
(issue 14, fault suite): after each restart every invariant of
tests/faults/helpers.py holds, and at the end every job has finished and every
finished reel streams with its sha256.

The kill points come from `random.Random(SEED)`: the same seed kills after the same
delays (what the process was doing then varies with the machine's speed; the
invariants must hold whatever it was). REEL_FAULT_KILLS sets how many (30)."""

from __future__ import annotations

import os
import random
import threading
import time

import grpc
import pytest
import sqlalchemy as sa
from sqlmodel import col

from ledger.db import make_engine, read_scope
from ledger.models import JobState, ReelJob
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.faults.helpers import SMALL, WEEK, Checked, RenderProcess, check_invariants, small_library
from tests.pipeline.conftest import wait_until

SEED = 1414
KILLS = int(os.environ.get("REEL_FAULT_KILLS", "30"))


def _create(proc: RenderProcess, request_id: str) -> None:
    try:
        proc.reels.CreateReel(pb2.CreateReelRequest(**WEEK, options=SMALL, request_id=request_id), timeout=10)
    except grpc.RpcError as err:
        # Killed while answering, or the first scan not finished: the next cycle
        # sends the same request_id again (idempotent).
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION), err


def _pregen(proc: RenderProcess, request_id: str) -> None:
    def run() -> None:
        try:
            proc.admin.RunPregenNow(admin_pb2.RunPregenNowRequest(request_id=request_id), timeout=60)
        except grpc.RpcError:
            pass  # the kill ends the call; the invariants judge what it left

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.slow
@pytest.mark.timeout(900)  # 30 restarts: 142 s at load 13, 420 s at load 37 (2 cores)
def test_kill_9_at_seeded_points_of_renders_and_passes(tmp_path):
    rng = random.Random(SEED)
    library = small_library(tmp_path / "lib")
    proc = RenderProcess(tmp_path / "data", library, tmp_path / "render.log")
    checked = Checked()
    requests: list[str] = []
    try:
        for cycle in range(KILLS):
            proc.start()
            check_invariants(proc, checked)
            for _ in range(rng.randint(1, 2)):
                requests.append(f"kill9-{cycle}-{len(requests)}")
            for request_id in requests[-3:]:  # new ones, and a retry of the last ones
                _create(proc, request_id)
            if rng.random() < 0.3:
                _pregen(proc, f"pregen-{cycle}")
            time.sleep(rng.uniform(0.1, 1.2))  # the kill point: how long the service runs
            proc.kill9()
        proc.start()
        final = check_invariants(proc, checked)
        proc.reels.CreateReel(pb2.CreateReelRequest(**WEEK, options=SMALL, request_id="after-the-storm"), timeout=10)
        engine = make_engine(f"sqlite:///{proc.data / 'ledger.db'}", proc.data)

        def all_finished() -> bool:
            with read_scope(engine) as session:
                live = session.execute(
                    sa.select(sa.func.count()).where(col(ReelJob.state).in_([JobState.QUEUED, JobState.RUNNING]))
                ).scalar_one()
            return live == 0

        wait_until(all_finished, 240, "every job to finish")
        with read_scope(engine) as session:
            states = dict(
                session.execute(sa.select(col(ReelJob.state), sa.func.count()).group_by(col(ReelJob.state))).all()
            )
        engine.dispose()
        final = check_invariants(proc, checked)
        assert states.get(JobState.SUCCEEDED, 0) >= 1, states
        assert set(states) <= {JobState.SUCCEEDED, JobState.FAILED}, states
        assert final["streamed"] >= 1
    finally:
        proc.stop()
