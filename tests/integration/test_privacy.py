"""Forgetting a person on SQLite and PostgreSQL: what goes, what stays, what is recorded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.authoring.activities import parse_activity
from bot.core.keys import blocklist_key, participant_key
from bot.core.messages import Channel, InboundMessage
from bot.services.inbound import Service
from bot.services.privacy import ForgetError, ForgetReport, Privacy
from storage import models
from storage.database import connect
from storage.export import tidy_responses
from storage.privacy import SqlPrivacyStore
from storage.spool import Spool
from storage.unit_of_work import SqlUnitOfWork
from tests.integration.round_data import Round, seed_round
from tests.integration.test_export import SECRET, run
from tests.integration.test_service import PROGRAM

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


def forget_participant(
    engine: Engine,
    who: str,
    now: datetime = NOW,
    *,
    actor: str = "cli",
    keep_answers: bool = True,
    spool: Path | None = None,
) -> ForgetReport:
    """The service as `engage participant forget` wires it, on this database."""
    privacy = Privacy(
        SqlPrivacyStore(engine),
        Spool(spool or Path("/nonexistent-spool")),
        parse_activity,
        lambda salt: participant_key(SECRET, salt),
        blocklist_key(SECRET),
        lambda: now,
    )
    return privacy.forget(who, actor=actor, keep_answers=keep_answers)


def rows(engine: Engine, model: type[models.Base], **where: object) -> list[dict[str, object]]:
    table = model.__table__
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


@pytest.mark.parametrize("who", [PHONE, "(555) 010-0123", "1", "P-0000000001", "sms:" + PHONE])
def test_a_person_is_found_by_phone_id_or_pseudonym(
    engine: Engine, round_: Round, who: str
) -> None:
    report = forget_participant(engine, who)

    assert report.participant_id == round_.people[0]


def test_contact_details_and_own_words_are_removed(engine: Engine, round_: Round) -> None:
    person = round_.people[0]
    report = forget_participant(engine, PHONE, actor="cli:ana")

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
    forget_participant(engine, PHONE)

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
    report = forget_participant(engine, PHONE, keep_answers=False)

    assert report.answers_deleted == 6
    assert rows(engine, models.Response, participant_id=round_.people[0]) == []


def test_forgetting_is_audited_without_the_phone_and_can_be_repeated(
    engine: Engine, round_: Round
) -> None:
    first = forget_participant(engine, PHONE, actor="cli:ana")
    again = forget_participant(engine, str(round_.people[0]))

    assert (first.already_forgotten, again.already_forgotten) == (False, True)
    entries = rows(engine, models.AuditEntry, action="participant.forget")
    assert [e["actor"] for e in entries] == ["cli:ana", "cli"]
    assert entries[0]["detail"]["participant"] == round_.people[0]
    assert "0123" not in str(entries[0]["detail"])
    # The old number no longer finds anyone: a new message from it is a new person.
    with pytest.raises(ForgetError, match="no participant matches"):
        forget_participant(engine, PHONE)


@pytest.mark.parametrize("who", ["+15550100000", "9999", "P-FFFFFFFFFF", "hello"])
def test_nobody_matching_is_a_clear_error(engine: Engine, round_: Round, who: str) -> None:
    with pytest.raises(ForgetError):
        forget_participant(engine, who)
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


def service(engine: Engine) -> Service:
    return Service(
        lambda: SqlUnitOfWork(engine),
        PROGRAM,
        clock=lambda: NOW,
        forgotten_key=blocklist_key(SECRET),
    )


def people(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(models.Participant)).scalar_one()
        )


def test_a_late_message_from_a_forgotten_number_is_dropped_not_a_new_person(
    engine: Engine, round_: Round
) -> None:
    forget_participant(engine, PHONE)
    before = (people(engine), len(rows(engine, models.Message)))

    outcome = service(engine).handle_inbound(
        InboundMessage(Channel.SMS, PHONE, "4", provider_id="SM-late")
    )

    assert outcome.dropped
    assert (people(engine), len(rows(engine, models.Message))) == before
    assert rows(engine, models.Contact, address=PHONE) == []


def test_a_forgotten_person_may_start_again_by_asking(engine: Engine, round_: Round) -> None:
    forget_participant(engine, PHONE)

    outcome = service(engine).handle_inbound(
        InboundMessage(Channel.SMS, PHONE, "START", provider_id="SM-again")
    )

    assert not outcome.dropped and outcome.participant_id not in round_.people
    (contact,) = rows(engine, models.Contact, address=PHONE)
    assert contact["participant_id"] == outcome.participant_id


def test_their_parked_messages_are_purged_from_the_spool(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(InboundMessage(Channel.SMS, PHONE, "parked before, replayed after"))
    spool.put(InboundMessage(Channel.SMS, "+15550100999", "someone else's"))

    report = forget_participant(engine, PHONE, spool=tmp_path / "spool")

    assert report.spooled == 1
    [left] = spool.pending()
    assert "someone else" in left.read_text()


def test_the_key_an_export_printed_names_them(engine: Engine, round_: Round) -> None:
    frame = tidy_responses(engine, "priorities", parse_activity, SECRET, "UTC")
    key = frame[frame["text"].str.contains("Diego")]["participant"].iloc[0]

    assert forget_participant(engine, key).participant_id == round_.people[0]


def test_their_open_lets_talk_items_are_closed(engine: Engine, round_: Round) -> None:
    report = forget_participant(engine, PHONE)

    (item,) = rows(engine, models.LetsTalk, participant_id=round_.people[0])
    assert (item["status"], item["resolved_by"], item["text"]) == ("resolved", "forgotten", "")
    assert report.lets_talk_closed == 1


@pytest.mark.parametrize("keep_answers", [True, False], ids=["answers-kept", "answers-deleted"])
def test_no_copy_of_the_number_or_their_words_is_left_in_the_sqlite_files(
    db_url: str, tmp_path: Path, keep_answers: bool
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the files of a SQLite database")
    engine = connect(db_url)
    seed_round(engine)
    family = service(engine)
    words = "My son Diego needs a bus at 4th and Main"
    for n, text in enumerate(["Hola", "1", "yes", "1", "lincoln", words, words, words] * 10):
        family.handle_inbound(InboundMessage(Channel.SMS, PHONE, text, provider_id=f"SM{n}"))
    path = Path(db_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    assert any(PHONE.encode() in f.read_bytes() for f in files if f.exists())  # it was there

    # The server is still running: its connections keep the write-ahead log open.
    report = forget_participant(engine, PHONE, keep_answers=keep_answers)
    left = {f.name: f.read_bytes() for f in files if f.exists()}
    engine.dispose()

    assert report.wiped
    for name, data in left.items():
        assert PHONE.encode() not in data and b"Diego" not in data, name


def test_sqlite_zeroes_text_as_it_is_overwritten(tmp_path: Path) -> None:
    """secure_delete: a row rewritten (a delivery report) leaves no old copy in its page.

    Some SQLite builds (this machine's among them) zero freed space by default;
    storage.database asks for it on every connection so that all of them do.
    """
    path = tmp_path / "words.db"
    engine = connect(f"sqlite:///{path}")
    with engine.begin() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        connection.exec_driver_sql("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT, s TEXT)")
        for n in range(50):
            connection.exec_driver_sql(
                "INSERT INTO m (body, s) VALUES (?, 'received')", (f"Diego needs a bus {n}",)
            )
    raw = engine.raw_connection()  # SQLite checkpoints on its own as the log grows
    raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE m SET s = 'delivered'")
        connection.exec_driver_sql("UPDATE m SET body = ''")
    engine.dispose()  # the last connection checkpoints the log into the file

    assert b"Diego" not in path.read_bytes()
