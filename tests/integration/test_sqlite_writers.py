"""One process's SQLite writers take turns on a lock of their own (storage.database):
the next starts as soon as the last commits, and a write that cannot get its turn in
time fails as SQLite's busy timeout would."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.database import connect


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'engage.db'}"
    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE said (n INTEGER)"))
    engine.dispose()
    return url


def test_a_writer_starts_the_moment_the_last_commits(url: str) -> None:
    holder, waiter = connect(url), connect(url, busy_timeout=5.0)
    taken, started = threading.Event(), []

    def hold() -> None:
        with holder.begin() as connection:
            connection.execute(text("INSERT INTO said VALUES (1)"))
            taken.set()
            time.sleep(0.3)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    time.sleep(0.05)
    asked = time.monotonic()
    with waiter.begin() as connection:
        started.append(time.monotonic() - asked)
        connection.execute(text("INSERT INTO said VALUES (2)"))
    thread.join()
    # SQLite's own busy handler, polling in growing sleeps, would let it in only at
    # about 0.33 s; the hand-over comes when the holder commits, 0.25 s after asking.
    assert 0.2 < started[0] < 0.31
    with waiter.connect() as connection:
        assert connection.execute(text("SELECT n FROM said ORDER BY n")).scalars().all() == [1, 2]
    holder.dispose()
    waiter.dispose()


def test_a_writer_that_cannot_get_its_turn_in_time_fails_and_readers_never_wait(
    url: str,
) -> None:
    holder, impatient = connect(url), connect(url, busy_timeout=0.1)
    with holder.begin() as connection:
        connection.execute(text("INSERT INTO said VALUES (1)"))
        with pytest.raises(OperationalError, match="locked"):
            with impatient.begin() as other:
                other.execute(text("INSERT INTO said VALUES (2)"))
        reading = impatient.connect().execution_options(sqlite_begin="DEFERRED")
        with reading as other, other.begin():
            assert other.execute(text("SELECT count(*) FROM said")).scalar_one() == 0
    # A failed or finished turn is handed on: the next writer goes straight in.
    with impatient.begin() as connection:
        connection.execute(text("INSERT INTO said VALUES (3)"))
    holder.dispose()
    impatient.dispose()
