"""Health reflects the service (issue 14, findings 2 and 4): NOT_SERVING when no
job worker is alive or the ledger cannot answer, SERVING again once it can."""

from __future__ import annotations

import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger.db import make_engine
from tests.conftest import start_stack, stop_stack
from tests.pipeline.conftest import wait_until

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def status(stack) -> int:
    return health_pb2_grpc.HealthStub(stack.channel).Check(health_pb2.HealthCheckRequest()).status


def test_not_serving_without_a_live_worker_or_a_reachable_ledger(tmp_path):
    (tmp_path / "lib").mkdir()
    stack = start_stack(
        tmp_path / "d", libraries=f"lib={tmp_path / 'lib'}", with_scripter=False, REEL_HEALTH_CHECK_S="0.1"
    )
    app = stack.render_server.app
    try:
        wait_until(lambda: status(stack) == SERVING, 10, "SERVING")
        good_engine = app.engine
        # The ledger unreachable: a database file under a path that is a file.
        (tmp_path / "not-a-dir").write_text("")
        app.engine = make_engine(f"sqlite:///{tmp_path / 'not-a-dir' / 'ledger.db'}", tmp_path / "d2")
        wait_until(lambda: status(stack) == NOT_SERVING, 10, "NOT_SERVING while the ledger is unreachable")
        app.engine = good_engine
        wait_until(lambda: status(stack) == SERVING, 10, "SERVING again")
        # Every job worker gone (they stop as they would after a fatal error).
        app.runner._stop.set()
        app.runner.notifier.notify()
        wait_until(lambda: app.runner.alive_workers() == 0, 10, "the workers to end")
        wait_until(lambda: status(stack) == NOT_SERVING, 10, "NOT_SERVING with no worker")
        with good_engine.connect() as connection:  # the ledger itself was fine all along
            connection.execute(sa.text("SELECT 1"))
    finally:
        stop_stack(stack)
