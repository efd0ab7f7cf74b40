"""Forgetting a person on SQLite and PostgreSQL: what goes, what stays, what is recorded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.authoring.activities import parse_activity
from storage import models
from storage.export import tidy_responses
from storage.privacy import ForgetError, forget_participant
from tests.integration.round_data import Round, seed_round
from tests.integration.test_export import run

NOW = datetime(2026, 9, 30, 12, 0)
PHONE = "+15550100123"


@pytest.fixture
def round_(engine: Engine) -> Round:
    survey = seed_round(engine)
    person = survey.person(phone=PHONE)
    survey.full_survey(person, why="My son Diego needs a bus at 4th and Main")
    other = survey.person(phone="+15550100999")
    survey.full_survey(other, why="More tutoring")
    contact = survey.contacts[person]
    with engine.begin() as connection:
        message = connection.execute(
            insert(models.Message.__table__).returning(models.Message.__table__.c.id),
            {
                "direction": "in",
                "channel": "sms",
                "contact_id": contact,
                "participant_id": person,
                "provider_id": "SM1",
                "body": "My son Diego needs a bus at 4th and Main",
                "status": "received",
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).scalar_one()
        item = connection.execute(
            insert(models.LetsTalk.__table__).returning(models.LetsTalk.__table__.c.id),
            {
                "participant_id": person,
                "contact_id": contact,
                "message_id": message,
                "text": "Call me at home, it's Rosa",
                "language": "en",
                "status": "open",
                "slack_channel": "C0INBOX",
                "slack_ts": "1727700000.000100",
                "created_at": NOW,
            },
        ).scalar_one()
        connection.execute(
            insert(models.AuditEntry.__table__),
            {
                "actor": "slack:U0STAFF",
                "action": "lets_talk.reply",
                "detail": {"item": item, "outbox_id": 1, "text": "Rosa, we will call you"},
                "created_at": NOW,
            },
        )
        connection.execute(
            insert(models.Outbox.__table__),
            {
                "contact_id": contact,
                "channel": "sms",
                "address": PHONE,
                "body": "Thanks Rosa!",
                "choices": [],
                "kind": "reply",
                "status": "pending",
                "attempts": 0,
                "not_before": NOW,
                "created_at": NOW,
            },
        )
        connection.execute(
            models.Participant.__table__.update()
            .where(models.Participant.__table__.c.id == person)
            .values(name="Rosa Pérez", external_id="SIS-4411")
        )
    return survey


def rows(engine: Engine, model: type[models.Base], **where: object) -> list[dict[str, object]]:
    table = model.__table__
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


@pytest.mark.parametrize("who", [PHONE, "(555) 010-0123", "1", "P-0000000001"])
def test_a_person_is_found_by_phone_id_or_pseudonym(
    engine: Engine, round_: Round, who: str
) -> None:
    report = forget_participant(engine, who, parse_activity, NOW)

    assert report.participant_id == round_.people[0]


def test_contact_details_and_own_words_are_removed(engine: Engine, round_: Round) -> None:
    person = round_.people[0]
    report = forget_participant(engine, PHONE, parse_activity, NOW, actor="cli:ana")

    (contact,) = rows(engine, models.Contact, participant_id=person)
    assert contact["address"] == f"forgotten:{contact['id']}"
    assert contact["opted_out_at"] == NOW
    assert {m["body"] for m in rows(engine, models.Message, participant_id=person)} == {""}
    assert {t["text"] for t in rows(engine, models.LetsTalk, participant_id=person)} == {""}
    (reply,) = rows(engine, models.AuditEntry, action="lets_talk.reply")
    assert reply["detail"]["text"] == ""
    (queued,) = rows(engine, models.Outbox, contact_id=contact["id"])
    assert (queued["status"], queued["body"], queued["address"]) == (
        "withheld",
        "",
        contact["address"],
    )
    (participant,) = rows(engine, models.Participant, id=person)
    assert (participant["name"], participant["external_id"], participant["forgotten_at"]) == (
        None,
        None,
        NOW,
    )
    assert report.slack_threads == ("C0INBOX:1727700000.000100",)
    assert (report.contacts, report.messages, report.lets_talk, report.outbox_cancelled) == (
        1,
        1,
        1,
        1,
    )


def test_structured_answers_stay_without_their_words(engine: Engine, round_: Round) -> None:
    person = round_.people[0]
    forget_participant(engine, PHONE, parse_activity, NOW)

    answers = {r["question"]: r for r in rows(engine, models.Response, participant_id=person)}
    assert answers["top"]["value"] == "safety"
    assert answers["safe"]["value"] == 4
    assert {r["text"] for r in answers.values()} == {""}
    assert answers["why"]["value"] is None
    frame = tidy_responses(engine, "priorities", parse_activity, "secret", "UTC")
    assert not frame["text"].str.contains("Diego").any()
    assert frame["text"].str.contains("More tutoring").any()  # nobody else is touched
    # Role, school, language and grade stay for the aggregates.
    (participant,) = rows(engine, models.Participant, id=person)
    assert (participant["role"], participant["language"]) == ("parent", "en")
    (link,) = rows(engine, models.Guardianship, participant_id=person)
    (student,) = rows(engine, models.Student, id=link["student_id"])
    assert (student["school"], student["grade"]) == ("lincoln-es", "3")


def test_answers_can_be_deleted_too(engine: Engine, round_: Round) -> None:
    report = forget_participant(engine, PHONE, parse_activity, NOW, keep_answers=False)

    assert report.answers_deleted == 6
    assert rows(engine, models.Response, participant_id=round_.people[0]) == []


def test_forgetting_is_audited_without_the_phone_and_can_be_repeated(
    engine: Engine, round_: Round
) -> None:
    first = forget_participant(engine, PHONE, parse_activity, NOW, actor="cli:ana")
    again = forget_participant(engine, str(round_.people[0]), parse_activity, NOW)

    assert (first.already_forgotten, again.already_forgotten) == (False, True)
    entries = rows(engine, models.AuditEntry, action="participant.forget")
    assert [e["actor"] for e in entries] == ["cli:ana", "cli"]
    assert entries[0]["detail"]["participant"] == round_.people[0]
    assert "0123" not in str(entries[0]["detail"])
    # The old number no longer finds anyone: a new message from it is a new person.
    with pytest.raises(ForgetError, match="no participant matches"):
        forget_participant(engine, PHONE, parse_activity, NOW)


@pytest.mark.parametrize("who", ["+15550100000", "9999", "P-FFFFFFFFFF", "hello"])
def test_nobody_matching_is_a_clear_error(engine: Engine, round_: Round, who: str) -> None:
    with pytest.raises(ForgetError):
        forget_participant(engine, who, parse_activity, NOW)
    with engine.connect() as connection:
        forgotten = connection.execute(
            select(func.count()).where(models.Participant.forgotten_at.is_not(None))
        ).scalar_one()
    assert forgotten == 0


def test_the_command_forgets_and_names_slack_threads(
    db_url: str, engine: Engine, round_: Round, tmp_path: Path
) -> None:
    result = run(db_url, "participant", "forget", PHONE, "--yes")

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "forgotten" in result.stdout  # type: ignore[attr-defined]
    assert "C0INBOX:1727700000.000100" in result.stderr  # type: ignore[attr-defined]
