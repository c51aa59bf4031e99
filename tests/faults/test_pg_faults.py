"""PostgreSQL connections killed (pg_terminate_backend) mid-render and mid-pass
(issue 14, fault suite): the render finishes or is recorded failed, the pass
finishes or is recorded failed, and nothing is lost. Only this test's own
connections are terminated (its own application_name); skipped when PostgreSQL is
unreachable (tests/db_fixtures.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import grpc
import pytest
import sqlalchemy as sa

from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import start_stack, stop_stack, wait_scanned
from tests.db_fixtures import fresh_pg_schema, pg_url  # noqa: F401  # fixture, used by name
from tests.faults.helpers import SMALL, WEEK, sha256_of, small_library
from tests.pipeline.conftest import stream_all, wait_until


@pytest.fixture
def pg_app_url(pg_url: str) -> Iterator[tuple[str, str]]:  # noqa: F811  # the fixture
    app_name = f"reels_fault_{uuid.uuid4().hex[:10]}"
    with fresh_pg_schema(pg_url) as url:
        yield sa.make_url(url).update_query_dict({"application_name": app_name}).render_as_string(False), app_name


def terminate(base_url: str, app_name: str) -> int:
    """pg_terminate_backend on every connection of this test's service."""
    admin = sa.create_engine(base_url, poolclass=sa.NullPool)
    try:
        with admin.begin() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": app_name},
            ).scalar_one()
        return int(killed)
    finally:
        admin.dispose()


@pytest.mark.slow
def test_connections_killed_mid_render_and_mid_pass(tmp_path, pg_url, pg_app_url):  # noqa: F811
    url, app_name = pg_app_url
    library = small_library(tmp_path / "lib", photos=4, clip=False)
    stack = start_stack(
        tmp_path / "data",
        libraries=f"lib={library}",
        with_scripter=False,
        REEL_DATABASE_URL=url,
        REEL_PREGEN_SPANS="WEEK",
        REEL_PREGEN_KINDS="RECAP",
    )
    try:
        wait_scanned(stack, "lib")
        # Mid-render.
        job = stack.reels.CreateReel(pb2.CreateReelRequest(**WEEK, options=SMALL)).job
        for item in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=120):
            if item.event.stage == "render":
                break
        assert terminate(pg_url, app_name) >= 1
        final = wait_until(
            lambda: (j := _get_job(stack, job.job_id)) is not None and j.state >= pb2.JOB_STATE_SUCCEEDED and j,
            180,
            "the job to end",
        )
        assert final.state in (pb2.JOB_STATE_SUCCEEDED, pb2.JOB_STATE_FAILED)
        if final.state == pb2.JOB_STATE_SUCCEEDED:
            reel = stack.reels.GetReel(pb2.GetReelRequest(key=final.reel_key))
            data, _ = stream_all(stack, final.reel_key)
            assert sha256_of(data) == reel.reel.sha256

        # Mid-pass.
        outcome: dict[str, object] = {}

        def pregen() -> None:
            try:
                outcome["run"] = stack.admin.RunPregenNow(
                    admin_pb2.RunPregenNowRequest(request_id="pg-fault-pass"), timeout=180
                ).run
            except grpc.RpcError as err:
                outcome["error"] = err.code()

        thread = threading.Thread(target=pregen)
        thread.start()
        wait_until(lambda: _runs(stack), 60, "the pass to start")
        terminate(pg_url, app_name)
        thread.join(200)
        assert not thread.is_alive()
        runs = wait_until(lambda: [r for r in _runs(stack) if r.status] or None, 60, "the pass to be recorded")
        assert runs[0].status in ("OK", "FAILED", "PARTIAL"), runs[0].status
        if "error" in outcome:  # the call failed: retrying the same request_id gives the recorded run
            assert outcome["error"] in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL), outcome
    finally:
        stop_stack(stack)


def _get_job(stack, job_id: str):
    try:
        return stack.reels.GetReelJob(pb2.GetReelJobRequest(job_id=job_id), timeout=10).job
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE, err  # a dropped ledger is UNAVAILABLE, never INTERNAL
        return None


def _runs(stack):
    try:
        return list(stack.admin.ListMaintenanceRuns(admin_pb2.ListMaintenanceRunsRequest(), timeout=10).runs)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.UNAVAILABLE, err
        return []
