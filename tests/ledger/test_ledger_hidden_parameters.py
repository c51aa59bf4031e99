"""SQL parameters never reach an error's text (issue 14, finding 10): a failing
statement carrying a rating's comment logs and raises without it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.db_fixtures import engine, pg_migrated_url, pg_url  # noqa: F401  # fixtures, used by name

SECRET = "the comment nobody else may read"


def test_sql_parameters_are_hidden_from_errors(engine):  # noqa: F811  # the fixture
    with pytest.raises(sa.exc.DBAPIError) as err:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO no_such_table (comment) VALUES (:comment)"), {"comment": SECRET})
    assert SECRET not in str(err.value)
    assert "no_such_table" in str(err.value)  # the statement itself is still there to debug
