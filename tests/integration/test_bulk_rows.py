"""Many rows in few statements (storage.bulk), on SQLite and PostgreSQL: what they store
is what SQLAlchemy's own INSERT and UPDATE store, value for value and type for type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from storage import models
from storage.bulk import PAGE, insert_rows, update_rows

NOW = datetime(2026, 9, 1, 15, 0)
outbox = models.table(models.Outbox)
participants = models.table(models.Participant)
contacts = models.table(models.Contact)

SHARED = ["1", "2"]
# JSON values that compare equal in Python but are not the same JSON, shared and
# separate lists and dicts, datetimes equal but not identical, None.
CHOICES: list[Any] = [True, 1, 1.0, "1", None, SHARED, SHARED, ["1", "2"], {"a": [1]}, False, 0]
COLUMNS = (
    "contact_id",
    "channel",
    "address",
    "body",
    "choices",
    "kind",
    "status",
    "attempts",
    "not_before",
    "broadcast_id",
    "dedup_key",
    "created_at",
    "template",
)


def family(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(participants),
            {"id": 1, "pseudonym": "P-1", "created_at": NOW, "updated_at": NOW},
        )
        connection.execute(
            insert(contacts),
            {
                "id": 1,
                "participant_id": 1,
                "channel": "sms",
                "address": "+13125550101",
                "created_at": NOW,
            },
        )


def rows(count: int, first: int) -> list[tuple[Any, ...]]:
    """`count` rows keyed from `first`, with the same values whatever `first` is."""
    return [
        (
            1,
            "sms",
            "+13125550101",
            f"body {n}",
            CHOICES[i % len(CHOICES)],
            "broadcast",
            "pending",
            i % 3,
            datetime(2026, 9, 1, 15, i % 60),  # a new object each row
            7 if i % 2 else None,
            f"k:{n}",
            NOW,
            {"name": "invite", "language": "es"} if i % 4 == 0 else None,
        )
        for i, n in enumerate(range(first, first + count))
    ]


def stored(engine: Engine, first: int, count: int) -> list[tuple[Any, ...]]:
    keys = [f"k:{n}" for n in range(first, first + count)]
    columns = [outbox.c[name] for name in COLUMNS]
    with engine.connect() as connection:
        found = connection.execute(
            select(*columns).where(outbox.c.dedup_key.in_(keys)).order_by(outbox.c.id)
        ).all()
    # Type and value: True and 1 are equal in Python, not in JSON.
    return [tuple((type(v), v) for v in row) for row in found]


def test_rows_inserted_in_pages_are_stored_as_sqlalchemy_stores_them(engine: Engine) -> None:
    family(engine)
    count = PAGE + 37  # two statements
    by_sqlalchemy = rows(count, 0)
    with engine.begin() as connection:
        connection.execute(
            insert(outbox), [dict(zip(COLUMNS, row, strict=True)) for row in by_sqlalchemy]
        )
        new = insert_rows(connection, outbox, COLUMNS, rows(count, count), returning="dedup_key")
    assert new == [f"k:{n}" for n in range(count, 2 * count)]
    ours = stored(engine, count, count)
    theirs = stored(engine, 0, count)
    # All but the body and the key, which tell the two apart.
    assert [row[:3] + row[4:10] + row[11:] for row in ours] == [
        row[:3] + row[4:10] + row[11:] for row in theirs
    ]
    assert (bool, True) in [row[4] for row in ours] and (int, 1) in [row[4] for row in ours]


def test_a_row_whose_key_is_taken_is_left_out_and_returns_nothing(engine: Engine) -> None:
    family(engine)
    with engine.begin() as connection:
        insert_rows(connection, outbox, COLUMNS, rows(3, 0))
        new = insert_rows(
            connection, outbox, COLUMNS, rows(5, 0), unless="dedup_key", returning="dedup_key"
        )
        assert insert_rows(connection, outbox, COLUMNS, []) == []
    assert new == ["k:3", "k:4"]
    assert len(stored(engine, 0, 5)) == 5


def test_updated_rows_hold_what_sqlalchemy_would_have_set(engine: Engine) -> None:
    family(engine)
    count = 2 * len(CHOICES)
    with engine.begin() as connection:
        insert_rows(connection, outbox, COLUMNS, rows(2 * count, 0))
        ids = connection.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars().all()
        changes = [(CHOICES[n % len(CHOICES)], NOW.replace(hour=n % 24)) for n in range(count)]
        for pid, (choices, moment) in zip(ids[:count], changes, strict=True):
            connection.execute(
                update(outbox).where(outbox.c.id == pid), {"choices": choices, "sent_at": moment}
            )
        update_rows(
            connection,
            outbox,
            ("choices", "sent_at"),
            "id",
            [(*change, pid) for pid, change in zip(ids[count:], changes, strict=True)],
        )
        update_rows(connection, outbox, ("choices",), "id", [])
    with engine.connect() as connection:
        found = connection.execute(
            select(outbox.c.choices, outbox.c.sent_at).order_by(outbox.c.id)
        ).all()
    typed = [tuple((type(v), v) for v in row) for row in found]
    assert typed[:count] == typed[count:]
