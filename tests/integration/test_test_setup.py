"""The test suite's own set-up: a PostgreSQL server without the `test` database."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.database import connect
from tests.conftest import ADMIN_URL, ensure_database


@pytest.mark.postgres
def test_a_missing_test_database_is_created_on_a_server_that_answers() -> None:
    base = ADMIN_URL.rsplit("/", 1)[0]
    name = f"engage_missing_{os.getpid()}"
    admin = connect(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    except OperationalError as error:  # no server here
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {base}: {error}")
    try:
        ensure_database(f"{base}/{name}")
        ensure_database(f"{base}/{name}")  # there now: nothing to do
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar_one()
        assert found == 1
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
