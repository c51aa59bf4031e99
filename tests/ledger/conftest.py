"""Ledger tests run on SQLite always and on PostgreSQL when reachable (see
tests/db_fixtures.py for the pattern other suites can reuse)."""

from tests.db_fixtures import empty_engine, engine, pg_migrated_url, pg_url  # noqa: F401  # fixtures, used by name
