"""The PostgreSQL engine keeps enough connections open for concurrent RPC handlers
(docs/BENCHMARKS.md, bench:precomputed-pg: with SQLAlchemy's default pool of 5 the
render service opened and closed about 70 connections a second under 16 callers)."""

from __future__ import annotations

from contextlib import ExitStack

import sqlalchemy as sa

from ledger.db import PG_POOL_SIZE, make_engine


def test_postgresql_engine_reuses_as_many_connections_as_were_busy_at_once(pg_url, tmp_path):
    engine = make_engine(pg_url, tmp_path / "data")
    try:
        busy = 12  # above SQLAlchemy's default pool_size (5), within ours
        assert busy <= PG_POOL_SIZE
        seen = []
        for _ in range(2):
            with ExitStack() as stack:
                conns = [stack.enter_context(engine.connect()) for _ in range(busy)]
                seen.append({c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for c in conns})
        assert len(seen[0]) == busy
        assert seen[1] == seen[0]  # the same back ends: none closed and reopened
    finally:
        engine.dispose()
