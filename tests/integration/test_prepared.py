"""Prepared statements (storage.prepared) store and read what SQLAlchemy itself would,
on both databases, inside the connection's transaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.ports import OutboxKind, OutboxStatus
from storage import models
from storage.prepared import Prepared, savepoint

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
outbox = models.table(models.Outbox)

NOW = datetime(2026, 12, 6, 10, 30, 0, 123456)
ON_THE_SECOND = datetime(2026, 12, 6, 10, 31)

ADD_PERSON = Prepared(
    insert(participants).returning(participants.c.id, participants.c.pending),
    keys=["pseudonym", "onboarding_started", "attempts", "pending", "created_at", "updated_at"],
)
SAVE = Prepared(
    update(participants).where(participants.c.id == bindparam("person")),
    keys=["consent", "updated_at", "pending"],
)
READ = Prepared(
    select(
        participants.c.id,
        participants.c.consent,
        participants.c.pending,
        participants.c.updated_at,
        participants.c.onboarding_started,
    ).where(participants.c.pseudonym == bindparam("pseudonym"))
)


def add_person(connection, pseudonym: str) -> int:  # type: ignore[no-untyped-def]
    row = ADD_PERSON.first(
        connection,
        {
            "pseudonym": pseudonym,
            "onboarding_started": False,
            "attempts": 0,
            "pending": ["lincoln-es", {"grade": "2"}],
            "created_at": NOW,
            "updated_at": NOW,
        },
    )
    assert row.pending == ["lincoln-es", {"grade": "2"}]
    return int(row.id)


def test_values_round_trip_as_sqlalchemy_reads_them(engine: Engine) -> None:
    with engine.begin() as connection:
        person = add_person(connection, "P-A")
        assert (
            SAVE.execute(
                connection,
                {"person": person, "consent": True, "updated_at": ON_THE_SECOND, "pending": []},
            )
            == 1
        )
        assert (
            SAVE.execute(
                connection, {"person": -1, "consent": None, "updated_at": NOW, "pending": []}
            )
            == 0
        )
    with engine.connect() as connection:
        prepared = READ.first(connection, {"pseudonym": "P-A"})
        by_sqlalchemy = connection.execute(
            select(
                participants.c.id,
                participants.c.consent,
                participants.c.pending,
                participants.c.updated_at,
                participants.c.onboarding_started,
            ).where(participants.c.pseudonym == "P-A")
        ).one()
        assert tuple(prepared) == tuple(by_sqlalchemy)
        assert prepared.consent is True and prepared.updated_at == ON_THE_SECOND
        assert prepared.onboarding_started is False
        assert READ.first(connection, {"pseudonym": "P-nobody"}) is None
        assert READ.all(connection, {"pseudonym": "P-nobody"}) == []


def test_many_rows_and_the_values_a_statement_binds_itself(engine: Engine) -> None:
    enqueue = Prepared(
        insert(outbox).values(status=OutboxStatus.PENDING, attempts=0),
        keys=[
            "contact_id",
            "channel",
            "address",
            "body",
            "choices",
            "kind",
            "not_before",
            "created_at",
        ],
    )
    with engine.begin() as connection:
        person = add_person(connection, "P-B")
        contact = connection.execute(
            insert(contacts).returning(contacts.c.id),
            {
                "participant_id": person,
                "channel": "sms",
                "address": "+13125550100",
                "created_at": NOW,
            },
        ).scalar_one()
        enqueue.execute_many(
            connection,
            [
                {
                    "contact_id": contact,
                    "channel": "sms",
                    "address": "+13125550100",
                    "body": f"=1+{n}",
                    "choices": [["1", "Yes", "yes"]],
                    "kind": OutboxKind.REPLY,
                    "not_before": NOW,
                    "created_at": NOW,
                }
                for n in range(3)
            ],
        )
        enqueue.execute_many(connection, [])
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                outbox.c.body, outbox.c.choices, outbox.c.status, outbox.c.attempts, outbox.c.kind
            ).order_by(outbox.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (f"=1+{n}", [["1", "Yes", "yes"]], "pending", 0, "reply") for n in range(3)
    ]


def test_a_driver_error_is_sqlalchemys_and_a_savepoint_undoes_only_its_own(engine: Engine) -> None:
    with engine.begin() as connection:
        add_person(connection, "P-C")
        with pytest.raises(IntegrityError) as raised:
            with savepoint(connection, "duplicate"):
                add_person(connection, "P-D")
                add_person(connection, "P-C")  # the pseudonym is unique
        assert isinstance(raised.value, DBAPIError)
        with savepoint(connection, "discarded", keep_on_exit=False):
            add_person(connection, "P-E")
        with savepoint(connection, "kept", keep_on_exit=False) as kept:
            add_person(connection, "P-F")
            kept.keep()
    with engine.connect() as connection:
        names = connection.execute(select(participants.c.pseudonym).order_by(participants.c.id))
        assert list(names.scalars()) == ["P-C", "P-F"]


def test_a_column_left_out_gets_its_python_side_default(engine: Engine) -> None:
    with engine.begin() as connection:
        add_person(connection, "P-G")
        add_person(connection, "P-H")
    with engine.connect() as connection:
        salts = connection.execute(
            select(participants.c.export_salt).order_by(participants.c.id)
        ).scalars()
        first, second = list(salts)
    assert first and second and first != second  # models.new_export_salt, once a row
