"""Engines and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.files.private import create_private

__all__ = ["connect", "is_sqlite", "migrate", "normalize_url"]

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _plain_savepoints(engine: Engine) -> Engine:
    """Savepoints sent as the plain SQL they are. SQLAlchemy compiles each savepoint's
    statement afresh (the name is new every time, so nothing is cached), and the
    inbound queue's batches take two savepoints a message."""
    dialect = engine.dialect

    def savepoint(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {name}")

    def rollback_to(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")

    def release(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")

    setattr(dialect, "do_savepoint", savepoint)  # noqa: B010
    setattr(dialect, "do_rollback_to_savepoint", rollback_to)  # noqa: B010
    setattr(dialect, "do_release_savepoint", release)  # noqa: B010
    return engine


# One lock per SQLite file for this process's writers (`connect`).
_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_LOCK = threading.Lock()


def _writers_of(database: str) -> threading.Lock:
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(str(Path(database).resolve()), threading.Lock())


def connect(url: str, busy_timeout: float = 2.0, **options: Any) -> Engine:
    """An engine with the settings each backend needs.

    SQLite: WAL (readers never block the writer), a busy timeout, foreign keys
    on, `secure_delete` (deleted and overwritten text is zeroed on disk), and
    `BEGIN IMMEDIATE` for write transactions so two writers queue on
    the lock instead of failing half-way with "database is locked". The busy
    timeout (seconds) is short: the service retries, and Twilio gives up on a
    webhook after 15 s.

    The writers of one process (webhooks, the engine, the sender, an enqueue)
    take turns on a lock of the process's own before SQLite's: the next one
    starts the moment the last commits, where SQLite's busy handler would poll
    in sleeps growing to 100 ms, and a webhook's one write can starve behind a
    busy sender. Other processes still wait in SQLite's busy handler.
    """
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return _plain_savepoints(create_engine(url, pool_pre_ping=True, **options))
    database = make_url(url).database
    if database not in (None, "", ":memory:") and Path(database).parent.is_dir():
        # SQLite gives its WAL and shared-memory files the database file's mode.
        create_private(Path(database))
    engine = create_engine(url, connect_args={"timeout": busy_timeout}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Freed pages and cells are zeroed: a forgotten person's words leave no copy behind.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    writers = _writers_of(database) if database not in (None, "", ":memory:") else None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if writers is None or mode != "IMMEDIATE":
            connection.exec_driver_sql(f"BEGIN {mode}")
            return
        if not writers.acquire(timeout=busy_timeout):
            busy = sqlite3.OperationalError("database is locked")
            raise OperationalError(f"BEGIN {mode}", None, busy)
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            writers.release()
            raise
        connection.info["writing"] = True

    def _end(connection: Any) -> None:
        if connection.info.pop("writing", False) and writers is not None:
            writers.release()

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)
    return _plain_savepoints(engine)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (what `engage init` runs)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection if is_sqlite(engine) else None
        if raw is not None:
            # SQLite alters a table by copying it and dropping the old one, which
            # enforced foreign keys forbid while other tables point at it: off
            # while migrating (outside any transaction, where SQLite honours it),
            # checked afterwards.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
        if raw is not None:
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
