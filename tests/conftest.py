"""Shared fixtures: a fresh database on SQLite and on PostgreSQL for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from storage.database import connect, migrate
from storage.models import Base

# The server to test against; each test run makes its own database on it, so
# two runs on one machine (a developer's and CI's) never truncate each other's.
ADMIN_URL = os.environ.get("ENGAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_URL = f"{ADMIN_URL.rsplit('/', 1)[0]}/engage_test_{os.getpid()}"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_postgres: Engine | None = None


def ensure_database(url: str) -> None:
    """Create the database `url` names when its server answers but it is not there yet.

    Raises OperationalError when the server does not answer, or the database is
    missing and cannot be created (its message says which).
    """
    probe = connect(url)
    try:
        with probe.connect():
            return
    except OperationalError as error:
        if "does not exist" not in str(error):
            raise
    finally:
        probe.dispose()
    base, name = url.rsplit("/", 1)
    maintenance = connect(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        maintenance.dispose()


def _postgres_engine() -> Engine:
    """One migrated PostgreSQL database for the session; tests truncate between them."""
    global _postgres
    if _postgres is None:
        name = POSTGRES_URL.rsplit("/", 1)[1]
        admin: Engine | None = None
        try:
            ensure_database(ADMIN_URL)
            admin = connect(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                connection.execute(text(f"CREATE DATABASE {name}"))
        except OperationalError as error:
            if os.environ.get("CI"):
                raise RuntimeError(f"PostgreSQL is required in CI: {error}") from error
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            pytest.skip(f"PostgreSQL at {ADMIN_URL} cannot be used: {reason}")
        finally:
            if admin is not None:
                admin.dispose()
        engine = connect(POSTGRES_URL)
        migrate(engine)
        _postgres = engine
    return _postgres


def _truncate(engine: Engine) -> None:
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or the shared PostgreSQL one truncated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'engage.db'}"
        engine = connect(url)
        migrate(engine)
        engine.dispose()
        yield url
    else:
        engine = _postgres_engine()
        _truncate(engine)
        yield POSTGRES_URL


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = connect(db_url)
    yield engine
    engine.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's PostgreSQL database."""
    if _postgres is None:
        return
    _postgres.dispose()
    admin = connect(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = POSTGRES_URL.rsplit("/", 1)[1]
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
