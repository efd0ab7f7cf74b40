"""The consent ledger on SQLite and PostgreSQL: who agreed, who refused, when and how.

Every path that changes whether a family may be messaged leaves one event: a
keyword, plain words, the consent question, the roster, the carrier, Telegram,
staff, and forgetting. The current state is kept beside it in the same
transaction, and nothing is ever overwritten (START no longer erases a STOP).
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.authoring.activities import parse_activity
from bot.cli import app
from bot.core.consent import ConsentKind, ConsentSource
from bot.core.keys import blocklist_key, participant_key
from bot.core.messages import Channel, InboundMessage, Reply
from bot.core.roster import RosterRules
from bot.core.state import OnboardingStep, Program
from bot.errors import DeliveryFailure, ProviderError
from bot.ports import OutboxKind
from bot.services.inbound import Service
from bot.services.privacy import Privacy
from bot.services.roster import RosterImport
from bot.services.sender import OutboxSender
from storage import models
from storage.consent import LedgerEntry, history
from storage.database import migrate
from storage.outbox import OutboxStore
from storage.privacy import SqlPrivacyStore
from storage.roster import SqlRosterUnitOfWork
from storage.spool import Spool
from storage.unit_of_work import SqlUnitOfWork
from tests.conftest import EXAMPLES

NOW = datetime(2026, 9, 1, 15, 0)
PHONE = "+13125550101"
PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es"),
    onboarding=(OnboardingStep.CONSENT,),
)
KEY = b"district-secret-2026"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def service(engine: Engine) -> Service:
    return Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())


def say(service: Service, text: str, phone: str = PHONE) -> None:
    say.n = getattr(say, "n", 0) + 1  # type: ignore[attr-defined]
    service.handle_inbound(
        InboundMessage(Channel.SMS, phone, text, provider_id=f"SM{say.n:032d}")  # type: ignore[attr-defined]
    )


def ledger(engine: Engine, phone: str = PHONE) -> list[LedgerEntry]:
    with engine.connect() as connection:
        return history(connection, address=(Channel.SMS, phone), key=KEY)


def events(engine: Engine, phone: str = PHONE) -> list[tuple[str, str, str | None]]:
    return [(e.kind.value, e.source.value, e.words) for e in ledger(engine, phone)]


def opted_out_at(engine: Engine, phone: str = PHONE) -> datetime | None:
    c = models.Contact
    with engine.connect() as connection:
        found: datetime | None = connection.execute(
            select(c.opted_out_at).where(c.address == phone)
        ).scalar_one()
        return found


def test_stop_start_stop_keeps_every_step_of_the_history(engine: Engine, service: Service) -> None:
    say(service, "hi")
    say(service, "yes")
    say(service, "STOP")
    first_stop = opted_out_at(engine)
    say(service, "START")
    assert opted_out_at(engine) is None
    say(service, "Parar por favor")
    assert events(engine) == [
        ("consent_given", "onboarding", "yes"),
        ("opt_out", "keyword", "STOP"),
        ("opt_in", "keyword", "START"),
        ("opt_out", "keyword", "Parar por favor"),
    ]
    entries = ledger(engine)
    assert entries[1].at == first_stop  # START did not erase when they stopped
    assert opted_out_at(engine) == entries[3].at
    assert all(e.message_id is not None and e.channel == "sms" for e in entries)
    assert len({e.participant for e in entries}) == 1


def test_help_and_a_declined_consent_are_recorded(engine: Engine, service: Service) -> None:
    say(service, "hello")
    say(service, "HELP")
    say(service, "no")
    with engine.connect() as connection:
        consent = connection.execute(select(models.Participant.consent)).scalar_one()
    assert consent is False
    assert events(engine) == [
        ("help", "keyword", "HELP"),
        ("consent_withdrawn", "onboarding", "no"),
    ]


def test_a_stop_covers_every_contact_of_the_person(engine: Engine, service: Service) -> None:
    say(service, "hi")
    with SqlUnitOfWork(engine) as uow:
        found = uow.find_sender(Channel.SMS, PHONE)
        assert found is not None
        uow.connection.execute(
            models.Contact.__table__.insert(),
            {
                "participant_id": found.participant_id,
                "channel": "telegram",
                "address": "555000111",
                "created_at": NOW,
            },
        )
        uow.commit()
    say(service, "stop texting me")
    with engine.connect() as connection:
        telegram = history(connection, address=(Channel.TELEGRAM, "555000111"))
    assert [(e.kind, e.source, e.words) for e in telegram] == [
        (ConsentKind.OPT_OUT, ConsentSource.KEYWORD, "stop texting me")
    ]


def block(chat: str, update_id: int) -> InboundMessage:
    """Telegram's `my_chat_member` update when the person blocks the bot."""
    return InboundMessage(Channel.TELEGRAM, chat, "", provider_id=str(update_id), blocked=True)


def test_twilio_21610_and_a_telegram_block_are_recorded(engine: Engine, service: Service) -> None:
    with SqlUnitOfWork(engine) as uow:
        sms = uow.add_sender(Channel.SMS, PHONE, NOW)
        uow.enqueue(sms.contact_id, Channel.SMS, PHONE, [Reply("hi")], OutboxKind.REPLY, NOW)
        uow.add_sender(Channel.TELEGRAM, "555000222", NOW)
        uow.commit()
    refused = ProviderError(
        "unsubscribed", transient=False, code="21610", failure=DeliveryFailure.OPTED_OUT
    )

    class Refusing:
        async def send(self, message: object) -> str:
            raise refused

    sender = OutboxSender(OutboxStore(engine), {Channel.SMS: Refusing()}, lambda: NOW)
    asyncio.run(sender.run_once())
    assert service.handle_inbound(block("555000222", 700000124)).replies == 0
    (carrier,) = ledger(engine)
    assert (carrier.kind, carrier.source, carrier.code) == (
        ConsentKind.OPT_OUT,
        ConsentSource.CARRIER,
        "21610",
    )
    with engine.connect() as connection:
        (blocked,) = history(connection, address=(Channel.TELEGRAM, "555000222"))
    assert (blocked.kind, blocked.source) == (ConsentKind.OPT_OUT, ConsentSource.TELEGRAM_BLOCKED)
    assert opted_out_at(engine) == NOW
    assert opted_out_at(engine, "555000222") == blocked.at
    # Logged as the person's message, in the same transaction as the event.
    m = models.Message
    with engine.connect() as connection:
        logged = connection.execute(
            select(m.id, m.provider_id).where(m.channel == "telegram", m.direction == "in")
        ).all()
    assert [tuple(row) for row in logged] == [(blocked.message_id, "700000124")]


def test_a_redelivered_block_changes_nothing_and_a_stranger_blocking_us_leaves_no_trace(
    engine: Engine, service: Service
) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.add_sender(Channel.TELEGRAM, "555000222", NOW)
        uow.commit()
    assert not service.handle_inbound(block("555000222", 700000124)).duplicate
    assert service.handle_inbound(block("555000222", 700000124)).duplicate
    assert service.handle_inbound(block("555000999", 700000125)).dropped
    with engine.connect() as connection:
        (event,) = history(connection, address=(Channel.TELEGRAM, "555000222"))
        assert history(connection, address=(Channel.TELEGRAM, "555000999")) == []
        people = connection.execute(select(models.Participant.id)).all()
    assert event.source is ConsentSource.TELEGRAM_BLOCKED
    assert len(people) == 1


def test_the_roster_consent_column_is_recorded(engine: Engine, tmp_path: Path) -> None:
    rules = RosterRules(["en", "es"], "en", ["parent"], {"lincoln-es": "Lincoln Elementary"})
    with engine.begin() as connection:
        connection.execute(
            models.School.__table__.insert(),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "phone,language,school,role,consent\n"
        "+13125550101,es,lincoln-es,parent,yes\n"
        "+13125550102,es,lincoln-es,parent,no\n"
        "+13125550103,es,lincoln-es,parent,\n"
    )
    RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(roster)
    RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW + timedelta(days=1)).run(
        roster
    )  # unchanged: no new events
    roster.write_text("phone,language,school,role,consent\n+13125550101,es,lincoln-es,parent,no\n")
    RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW + timedelta(days=2)).run(
        roster
    )
    assert events(engine, "+13125550101") == [
        ("consent_given", "roster", None),
        ("consent_withdrawn", "roster", None),
    ]
    assert events(engine, "+13125550102") == [("consent_withdrawn", "roster", None)]
    assert events(engine, "+13125550103") == []


def test_a_forgotten_persons_ledger_keeps_events_and_only_a_keyed_hash(
    engine: Engine, service: Service
) -> None:
    say(service, "hi")
    say(service, "yes")
    say(service, "STOP")
    privacy = Privacy(
        SqlPrivacyStore(engine, ledger_key=KEY),
        Spool(Path("/nonexistent-spool")),
        parse_activity,
        lambda salt: participant_key(KEY.decode(), salt),
        blocklist_key(KEY.decode()),
        lambda: NOW,
    )
    privacy.forget(PHONE, actor="cli:ana")
    e = models.ConsentEvent
    with engine.connect() as connection:
        stored = connection.execute(select(e.address, e.address_hash, e.words)).all()
    assert {tuple(row)[0] for row in stored} == {None}
    assert {tuple(row)[2] for row in stored} == {None}
    assert len({row.address_hash for row in stored}) == 1
    # Found again by the number someone gives, but only with the district's key.
    assert [(x.kind.value, x.source.value) for x in ledger(engine)] == [
        ("consent_given", "onboarding"),
        ("opt_out", "keyword"),
        ("opt_out", "forget"),
    ]
    with engine.connect() as connection:
        assert history(connection, address=(Channel.SMS, PHONE), key=b"other") == []
    assert ledger(engine)[-1].actor == "cli:ana"


@pytest.fixture
def run(db_url: str, engine: Engine):  # type: ignore[no-untyped-def]
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_PSEUDONYM_SECRET": KEY.decode(),
        "COLUMNS": "200",
    }
    migrate(engine)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)

    return invoke


def test_consent_show_export_and_a_staff_stop_from_the_cli(
    run, engine: Engine, service: Service, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    say(service, "hi")
    say(service, "=HYPERLINK(yes)")  # not understood; a formula is never written live
    say(service, "yes")
    say(service, "hi", phone="+13125550199")
    stopped = run("consent", "stop", "(312) 555-0101", "--note", "=called the front office")
    assert stopped.exit_code == 0, stopped.output
    assert "Opted out: 1 contact(s)" in stopped.output

    shown = run("consent", "show", "+1 312 555 0101")
    assert shown.exit_code == 0, shown.output
    assert "2 consent event(s)" in shown.output
    assert "consent_given" in shown.output and "staff" in shown.output

    path = tmp_path / "consent.csv"
    exported = run("consent", "export", "--since", "2026-09-01", "-o", str(path))
    assert exported.exit_code == 0, exported.output
    table = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert [(r["event"], r["source"], r["contact"]) for r in table] == [
        ("consent_given", "onboarding", "sms:+13125550101"),
        ("opt_out", "staff", "sms:+13125550101"),
    ]
    assert table[1]["words"] == "'=called the front office"
    assert table[1]["recorded_by"].startswith("cli")
    tomorrow = (datetime.now() + timedelta(days=2)).date().isoformat()
    later = run("consent", "export", "--since", tomorrow)
    assert later.output.strip().splitlines() == [",".join(_columns())]

    forgotten = run("participant", "forget", "+13125550101", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    again = run("consent", "show", "+13125550101")
    assert again.exit_code == 0, again.output
    assert "3 consent event(s)" in again.output and "(forgotten)" in again.output
    exported = run("consent", "export")
    assert "forgotten (hmac-sha256 " in exported.output
    assert "+13125550101" not in exported.output
    assert "no consent events" in str(run("consent", "show", "+13125550177").exception)


def _columns() -> tuple[str, ...]:
    from bot.cli.consent import EXPORT_COLUMNS

    return EXPORT_COLUMNS


def test_the_ledger_starts_with_what_the_database_knew(db_url: str, engine: Engine) -> None:
    from sqlalchemy import text

    from storage.database import connect

    if engine.dialect.name == "postgresql":
        pytest.skip("the shared PostgreSQL database is migrated once per run")
    fresh = connect(db_url.replace("engage.db", "old.db"))
    migrate(fresh, "0004")
    with fresh.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO participants (id, pseudonym, consent, consent_at, onboarding_started,"
                " attempts, pending, created_at, updated_at) VALUES "
                "(1, 'P-1', 1, '2026-08-01 10:00:00', 1, 0, '[]', '2026-08-01', '2026-08-01'),"
                "(2, 'P-2', 0, NULL, 1, 0, '[]', '2026-08-01', '2026-08-02 09:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO contacts (id, participant_id, channel, address, opted_out_at,"
                " created_at) VALUES (1, 1, 'sms', '+13125550101', '2026-08-05 12:00:00',"
                " '2026-08-01'), (2, 2, 'sms', 'forgotten:2', NULL, '2026-08-01')"
            )
        )
    migrate(fresh)
    with fresh.connect() as connection:
        found = [
            (e.kind.value, e.source.value, e.address, e.at)
            for e in history(connection, participant_id=1) + history(connection, participant_id=2)
        ]
    fresh.dispose()
    assert sorted(found, key=lambda x: x[3]) == [
        ("consent_given", "before_ledger", "+13125550101", datetime(2026, 8, 1, 10, 0)),
        ("consent_withdrawn", "before_ledger", None, datetime(2026, 8, 2, 9, 0)),
        ("opt_out", "before_ledger", "+13125550101", datetime(2026, 8, 5, 12, 0)),
    ]


def test_help_reaches_a_family_who_opted_out(engine: Engine, service: Service) -> None:
    say(service, "hi")
    say(service, "yes")
    say(service, "no me manden más")  # a request: recorded, confirmed in Spanish
    say(service, "HELP")
    sent: list[str] = []

    class Provider:
        async def send(self, message: object) -> str:
            sent.append(message.text)  # type: ignore[attr-defined]
            return f"SM{len(sent):032d}"

    later = NOW + timedelta(hours=1)
    sender = OutboxSender(OutboxStore(engine), {Channel.SMS: Provider()}, lambda: later)
    asyncio.run(sender.run_once())
    assert sent[-2].startswith("Ya no le mandaremos mensajes de Riverside Plan.")
    assert sent[-1].startswith("Riverside Plan. ¿Preguntas? 555-0100.")
    assert [e[:2] for e in events(engine)][-2:] == [("opt_out", "request"), ("help", "keyword")]
