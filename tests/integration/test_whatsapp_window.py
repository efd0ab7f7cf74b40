"""The 24-hour window in the outbox, on SQLite and PostgreSQL: a template stands in for a
WhatsApp message the family cannot be sent free-form, and their answer releases it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from bot.core.messages import Channel, Template
from bot.core.whatsapp import TEMPLATE_ANSWER_WAIT
from bot.errors import DeliveryFailure, ProviderError
from bot.ports import OutboxKind
from bot.services.sender import OutboxSender
from storage import models
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork
from tests.integration.test_broadcast_sending import Provider

NOW = datetime(2026, 9, 1, 15, 0)
FAMILY = "+15550100131"
TEMPLATE = Template("HX" + "c" * 32, ("Riverside Plan 2030", "Noticias"))


def queue(engine: Engine, template: Template | None, wrote: datetime | None) -> int:
    """A WhatsApp broadcast row for a family who last wrote at `wrote`; its contact id."""
    with SqlUnitOfWork(engine) as uow:
        sender = uow.add_sender(Channel.WHATSAPP, FAMILY, NOW)
        uow.commit()
    with engine.begin() as connection:
        connection.execute(
            update(models.Contact)
            .where(models.Contact.id == sender.contact_id)
            .values(last_inbound_at=wrote)
        )
        connection.execute(
            models.Outbox.__table__.insert(),
            {
                "contact_id": sender.contact_id,
                "channel": "whatsapp",
                "address": FAMILY,
                "body": "La junta aprobó las rutas.",
                "choices": [],
                "kind": OutboxKind.BROADCAST,
                "status": "pending",
                "attempts": 0,
                "not_before": NOW,
                "created_at": NOW,
                "template": None
                if template is None
                else {"content_sid": template.content_sid, "variables": list(template.variables)},
            },
        )
    return sender.contact_id


def row(engine: Engine) -> Any:
    o = models.Outbox
    with engine.connect() as connection:
        return connection.execute(
            select(o.status, o.not_before, o.template_sent_at, o.error, o.attempts)
        ).one()


def run(engine: Engine, provider: Provider, at: datetime) -> None:
    sender = OutboxSender(OutboxStore(engine), {Channel.WHATSAPP: provider}, lambda: at)
    asyncio.run(sender.run_once())


def test_inside_the_window_the_message_goes_as_written(engine: Engine) -> None:
    queue(engine, TEMPLATE, NOW - timedelta(hours=2))
    provider = Provider()
    run(engine, provider, NOW)
    assert [(m.text, m.template) for m in provider.sent] == [("La junta aprobó las rutas.", None)]
    assert row(engine).status == "sent"


def test_outside_it_the_template_goes_and_the_message_waits_for_an_answer(
    engine: Engine,
) -> None:
    contact = queue(engine, TEMPLATE, NOW - timedelta(hours=30))
    provider = Provider()
    run(engine, provider, NOW)
    assert [m.template for m in provider.sent] == [TEMPLATE]
    waiting = row(engine)
    assert (waiting.status, waiting.not_before, waiting.template_sent_at, waiting.attempts) == (
        "pending",
        NOW + TEMPLATE_ANSWER_WAIT,
        NOW,
        0,
    )
    run(engine, provider, NOW + timedelta(hours=1))
    assert len(provider.sent) == 1, "nothing more before they answer"
    # They answer: the window opens and the message is due at once.
    answered = NOW + timedelta(hours=2)
    with SqlUnitOfWork(engine) as uow:
        assert uow.resume_after_template(contact, answered) == 1
        uow.commit()
    with engine.begin() as connection:
        connection.execute(update(models.Contact).values(last_inbound_at=answered))
    run(engine, provider, answered)
    assert [(m.text, m.template) for m in provider.sent[1:]] == [
        ("La junta aprobó las rutas.", None)
    ]
    assert row(engine).status == "sent"
    with engine.connect() as connection:
        logged = connection.execute(
            select(models.Message.body, models.Message.outbox_id).order_by(models.Message.id)
        ).all()
    assert [tuple(m) for m in logged] == [
        (f"[WhatsApp template {TEMPLATE.content_sid}]", None),
        ("La junta aprobó las rutas.", 1),
    ]


def test_outside_it_without_a_template_it_fails_in_plain_words(engine: Engine) -> None:
    queue(engine, None, None)
    provider = Provider()
    run(engine, provider, NOW)
    assert provider.sent == []
    failed = row(engine)
    assert failed.status == "failed"
    assert "only an approved template" in failed.error


def test_a_template_nobody_answers_fails_after_the_wait(engine: Engine) -> None:
    queue(engine, TEMPLATE, NOW - timedelta(hours=30))
    provider = Provider()
    run(engine, provider, NOW)
    run(engine, provider, NOW + TEMPLATE_ANSWER_WAIT)
    assert len(provider.sent) == 1
    failed = row(engine)
    assert (failed.status, failed.error) == (
        "failed",
        f"the family did not answer the WhatsApp template within {TEMPLATE_ANSWER_WAIT.days} days",
    )


def test_a_claimed_row_carries_its_template_and_when_the_family_last_wrote(
    engine: Engine,
) -> None:
    contact = queue(engine, TEMPLATE, None)
    (claimed,) = OutboxStore(engine).claim_due(NOW, 10, timedelta(minutes=2))
    assert (claimed.contact_id, claimed.template, claimed.template_sent) == (
        contact,
        TEMPLATE,
        False,
    )
    assert claimed.last_inbound_at is None


def test_when_whatsapp_finds_the_window_closed_first_the_template_goes(engine: Engine) -> None:
    queue(engine, TEMPLATE, NOW - timedelta(hours=23))
    closed = ProviderError(
        "twilio 63016", transient=False, code="63016", failure=DeliveryFailure.OUTSIDE_WINDOW
    )
    provider = Provider([closed])
    run(engine, provider, NOW)
    assert [m.template for m in provider.sent] == [TEMPLATE]
    assert (row(engine).status, row(engine).template_sent_at) == ("pending", NOW)
