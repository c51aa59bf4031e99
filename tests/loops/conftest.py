# The `engine` fixture: a migrated ledger on SQLite and on PostgreSQL.
from tests.db_fixtures import engine, pg_migrated_url, pg_url  # noqa: F401 - fixtures, found by name
