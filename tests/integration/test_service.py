"""The service layer on SQLite and PostgreSQL: one transaction per inbound message."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from bot.authoring.activities import parse_activity
from bot.core.messages import Channel, InboundMessage
from bot.core.state import Program, School
from bot.services.inbound import Service
from storage import models
from storage.activities import store_activity
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork

SURVEY_YAML = """\
key: priorities
kind: survey
title: {en: Family priorities, es: Prioridades}
start_keywords: [PLAN]
questions:
  - key: top
    type: single_choice
    prompt: {en: "What matters most?", es: "¿Qué importa más?"}
    options:
      - key: safety
        label: {en: Safety, es: Seguridad}
      - key: reading
        label: {en: Reading, es: Lectura}
  - key: safe
    type: scale
    prompt: {en: "How safe is school?", es: "¿Qué tan segura es la escuela?"}
  - key: why
    type: free_text
    prompt: {en: "What would help?", es: "¿Qué ayudaría?"}
    optional: true
"""

PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es"),
    schools=(School("lincoln-es", "Lincoln Elementary"),),
)
NOW = datetime(2026, 9, 1, 15, 0)
PHONE = "+15550100001"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def service(engine: Engine) -> Service:
    with engine.begin() as connection:
        connection.execute(
            models.School.__table__.insert(),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    store_activity(engine, parse_activity(SURVEY_YAML, "priorities.yaml"), SURVEY_YAML, NOW)
    return Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())


def send(service: Service, body: str, sid: str, phone: str = PHONE) -> None:
    service.handle_inbound(InboundMessage(Channel.SMS, phone, body, provider_id=sid))


def count(engine: Engine, model: type[models.Base]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_family_takes_the_survey_by_sms(engine: Engine, service: Service) -> None:
    for n, body in enumerate(["Hola", "2", "sí", "1", "1", "2", "4", "Más consejeros"]):
        send(service, body, f"SM{n:032d}")
    with engine.connect() as connection:
        participant = connection.execute(select(models.Participant)).one()
        answers = connection.execute(
            select(
                models.Response.question, models.Response.value, models.Response.language
            ).order_by(models.Response.id)
        ).all()
        conversation = connection.execute(select(models.Conversation)).one()
        outbox = (
            connection.execute(select(models.Outbox.body).order_by(models.Outbox.id))
            .scalars()
            .all()
        )
    assert (participant.language, participant.consent, participant.role) == ("es", True, "parent")
    with engine.connect() as connection:
        schools = connection.execute(select(models.ParticipantSchool.school)).scalars().all()
    assert schools == ["lincoln-es"]
    assert participant.consent_at is not None
    assert answers == [
        ("top", "reading", "es"),
        ("safe", 4, "es"),
        ("why", "Más consejeros", "es"),
    ]
    assert conversation.status == "completed" and conversation.completed_at is not None
    assert outbox[-1].startswith("¡Gracias!")
    assert count(engine, models.Message) == 8


def test_a_redelivered_message_changes_nothing(engine: Engine, service: Service) -> None:
    send(service, "hi", "SM1")
    before = (count(engine, models.Message), count(engine, models.Outbox))
    outcome = service.handle_inbound(InboundMessage(Channel.SMS, PHONE, "hi", provider_id="SM1"))
    assert outcome.duplicate
    assert (count(engine, models.Message), count(engine, models.Outbox)) == before
    assert count(engine, models.Participant) == 1


def test_stop_opts_out_every_contact_and_cancels_what_was_queued(
    engine: Engine, service: Service
) -> None:
    send(service, "hi", "SM1")
    send(service, "PARAR", "SM2")
    with engine.connect() as connection:
        contact = connection.execute(select(models.Contact)).one()
        statuses = connection.execute(
            select(models.Outbox.kind, models.Outbox.status).order_by(models.Outbox.id)
        ).all()
    assert contact.opted_out_at is not None
    assert statuses == [("reply", "withheld"), ("confirmation", "pending")]
    claimed = OutboxStore(engine).claim_due(NOW + timedelta(hours=1), 10, timedelta(minutes=1))
    assert [row.kind for row in claimed] == ["confirmation"]
    send(service, "hola?", "SM3")
    assert count(engine, models.Outbox) == 2  # nothing more for them


def test_an_unsolicited_message_is_stored_for_staff(engine: Engine, service: Service) -> None:
    for n, body in enumerate(["hi", "1", "yes", "SKIP", "SKIP", "1", "5", "SKIP"]):
        send(service, body, f"SM{n}")
    send(service, "The crosswalk by Lincoln needs a guard", "SM99")
    with engine.connect() as connection:
        item = connection.execute(select(models.LetsTalk)).one()
    assert item.text == "The crosswalk by Lincoln needs a guard"
    assert item.status == "open" and item.message_id is not None


def test_two_new_senders_do_not_mix(engine: Engine, service: Service) -> None:
    send(service, "hi", "SM1", phone="+15550100001")
    send(service, "hola", "SM2", phone="+15550100002")
    assert count(engine, models.Participant) == 2
    assert count(engine, models.Contact) == 2
