"""Moderating and translating ideas with `engage ideas`, on SQLite and PostgreSQL: decisions,
the author told once in their language, rejected ideas never shown, translation work in order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.authoring.activities import parse_activity
from bot.cli import app
from bot.core.messages import Channel, InboundMessage
from bot.core.state import Program
from bot.services.inbound import Service
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from storage.unit_of_work import SqlUnitOfWork
from tests.conftest import EXAMPLES

EXCHANGE = """\
key: belonging
kind: exchange
title: Ideas
prompt: {en: "What one change would help?", es: "¿Qué cambio ayudaría?"}
reactions_per_participant: 3
start_keywords: [IDEAS]
"""
PROGRAM = Program(name="Plan", contact="555-0100", languages=("en", "es"), onboarding=())
NOW = datetime(2026, 3, 3, 15, 0)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def run(db_url: str, engine: Engine):  # type: ignore[no-untyped-def]
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_QUIET_HOURS": "off",
        "TWILIO_ACCOUNT_SID": "AC" + "3" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+13125550100",
    }

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)

    migrate(engine)
    store_activity(engine, parse_activity(EXCHANGE, "x.yaml"), EXCHANGE, NOW)
    return invoke


def _share(service: Service, phone: str, idea: str, language: str = "en") -> None:
    bodies = ("IDEAS", "idioma español", idea) if language == "es" else ("IDEAS", idea)
    for n, body in enumerate(bodies):
        service.handle_inbound(InboundMessage(Channel.SMS, phone, body, f"S{phone}{n}"))


def _outbox(engine: Engine, phone: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(models.Outbox.body)
                .where(models.Outbox.address == phone)
                .order_by(models.Outbox.id)
            ).scalars()
        )


def test_a_moderator_lists_flags_approves_and_the_author_is_told_once_in_their_language(
    run, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())
    _share(service, "+15550100001", "Más clubes a la hora del almuerzo", "es")
    _share(service, "+15550100002", "Call me at 555-010-0199 about the buses")
    listed = run("ideas", "moderate", "belonging")
    assert listed.exit_code == 0, listed.output
    assert "Más clubes" in listed.output and "⚑ phone" in listed.output
    approved = run("ideas", "moderate", "belonging", "0", "--approve", "-t", "en=More lunch clubs")
    assert approved.exit_code == 0, approved.output
    assert "idea 0: approved; its author was told" in approved.output
    assert _outbox(engine, "+15550100001")[-1] == (
        'Su idea ya está publicada y otras personas pueden opinar: "Más clubes a la hora del '
        'almuerzo"'
    )
    again = run("ideas", "moderate", "belonging", "0", "--approve")
    assert "told" not in again.output
    assert sum("publicada" in body for body in _outbox(engine, "+15550100001")) == 1
    rejected = run("ideas", "moderate", "belonging", "1", "--reject")
    assert "idea 1: rejected" in rejected.output
    assert not any("now live" in body for body in _outbox(engine, "+15550100002"))
    # An English speaker now sees the translation; the rejected idea never. (The
    # service weighs ideas again every two seconds; this test does not wait.)
    service.ideas.forget("belonging")
    service.handle_inbound(InboundMessage(Channel.SMS, "+15550100003", "IDEAS", "T1"))
    outcome = service.handle_inbound(InboundMessage(Channel.SMS, "+15550100003", "SKIP", "T2"))
    assert outcome.step is not None
    assert [r.text for r in outcome.step.replies] == [
        'Idea 1 of 1: "More lunch clubs" Reply 1 agree, 2 disagree, 3 pass'
    ]


def test_an_edit_needs_a_note_and_keeps_the_original(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())
    _share(service, "+15550100001", "Ms. Rivera should run more reading nights")
    refused = run("ideas", "moderate", "belonging", "0", "--edit", "More reading nights")
    assert refused.exit_code == 1
    assert "an edit needs a note" in str(refused.exception)
    edited = run(
        "ideas", "moderate", "belonging", "0", "--edit", "More reading nights", "--note", "name"
    )
    assert edited.exit_code == 0, edited.output
    with engine.connect() as connection:
        idea = connection.execute(select(models.Idea)).one()
    assert (idea.text, idea.original, idea.note, idea.status) == (
        "More reading nights",
        "Ms. Rivera should run more reading nights",
        "name",
        "approved",
    )
    assert _outbox(engine, "+15550100001")[-1].endswith('"More reading nights"')


def test_translation_work_puts_the_least_heard_languages_first_and_reads_back(
    run, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())
    _share(service, "+15550100001", "More bilingual family nights please")
    _share(service, "+15550100002", "Walking school bus on Fridays please")
    _share(service, "+15550100003", "Más tutores después de clases", "es")
    for number in ("0", "1", "2"):
        assert run("ideas", "moderate", "belonging", number, "--approve").exit_code == 0
    sheet = tmp_path / "ideas.xlsx"
    exported = run("ideas", "translations", "export", "belonging", str(sheet))
    assert exported.exit_code == 0, exported.output
    book = load_workbook(sheet)
    rows = [list(row) for row in book["Ideas"].iter_rows(values_only=True)]
    assert rows[0][:4] == ["exchange", "number", "written in", "idea"]
    # Spanish: one person heard, against two in English; its idea comes first.
    assert [row[1] for row in rows[1:]] == [2, 0, 1]
    column = rows[0].index("en")
    rows[1][column] = "More tutors after school"
    rows[2][rows[0].index("es")] = '=HYPERLINK("x")'
    table = book["Ideas"]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            table.cell(r, c, value)
    book.save(sheet)
    imported = run("ideas", "translations", "import", "belonging", str(sheet))
    assert imported.exit_code == 0, imported.output
    # A formula is no translation: only the text is read.
    assert "1 translations saved" in " ".join(imported.output.split())
    with engine.connect() as connection:
        saved = dict(
            connection.execute(
                select(models.IdeaTranslation.language, models.IdeaTranslation.text)
            ).all()
        )
    assert saved == {"en": "More tutors after school"}


def test_share_back_sends_the_top_ideas_to_everyone_who_took_part_in_their_language(
    run, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    rosa, ben, carla = "+15550100001", "+15550100002", "+15550100003"
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())
    _share(service, rosa, "Más clubes a la hora del almuerzo", "es")
    assert run("ideas", "moderate", "belonging", "0", "--approve", "-t", "en=More lunch clubs")
    service.ideas.forget("belonging")
    for n, body in enumerate(("IDEAS", "SKIP", "1")):
        service.handle_inbound(InboundMessage(Channel.SMS, ben, body, f"B{n}"))
    # Carla only said hello: she took no part in the exchange.
    service.handle_inbound(InboundMessage(Channel.SMS, carla, "Hello there", "C0"))

    result = run(
        "ideas",
        "share-back",
        "belonging",
        "--next",
        "The committee meets May 4.",
        "--next",
        "es=El comité se reúne el 4 de mayo.",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    assert "vi: no --next vi=" in " ".join(result.output.split())
    assert _outbox(engine, rosa)[-1] == (
        'Gracias por compartir ideas en "Ideas". Las ideas con mayor acuerdo:\n'
        "1. Más clubes a la hora del almuerzo\n"
        "El comité se reúne el 4 de mayo."
    )
    assert _outbox(engine, ben)[-1] == (
        'Thank you for sharing ideas in "Ideas". The ideas most agreed on:\n'
        "1. More lunch clubs\n"
        "The committee meets May 4."
    )
    assert not any("most agreed" in body for body in _outbox(engine, carla))
    with engine.connect() as connection:
        broadcast = connection.execute(select(models.Broadcast)).one()
    assert broadcast.audience["took_part"] == ["belonging"]
