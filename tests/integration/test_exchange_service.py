"""An idea exchange through the service, on SQLite and PostgreSQL: ideas and reactions stored
with the message that carried them, seeds live on load, nobody shown their own idea."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.authoring.activities import parse_activity
from bot.core.messages import Channel, InboundMessage
from bot.core.state import Program
from bot.services.inbound import Service
from storage import models
from storage.activities import store_activity
from storage.unit_of_work import SqlUnitOfWork

EXCHANGE_YAML = """\
key: belonging
kind: exchange
title: Ideas
prompt: {en: "What one change would help?", es: "¿Qué cambio ayudaría?"}
reactions_per_participant: 2
moderation: {moderation}
start_keywords: [IDEAS]
seeds:
  - key: nights
    text: {en: More bilingual family nights., es: Más noches familiares bilingües.}
  - key: clubs
    text: {en: Clubs at lunch.}
"""
PROGRAM = Program(name="Riverside Plan", contact="555-0100", languages=("en", "es"), onboarding=())
NOW = datetime(2026, 3, 3, 15, 0)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _service(engine: Engine, moderation: str = "before") -> Service:
    source = EXCHANGE_YAML.replace("{moderation}", moderation)
    store_activity(engine, parse_activity(source, "x.yaml"), source, NOW)
    return Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())


def _send(service: Service, phone: str, body: str, sid: str) -> list[str]:
    outcome = service.handle_inbound(InboundMessage(Channel.SMS, phone, body, provider_id=sid))
    assert outcome.step is not None
    return [reply.text for reply in outcome.step.replies]


def test_seeds_go_live_on_load_with_their_translations(engine: Engine) -> None:
    _service(engine)
    _service(engine)  # loading the same file again adds nothing
    with engine.connect() as connection:
        ideas = connection.execute(
            select(models.Idea.number, models.Idea.seed_key, models.Idea.status).order_by(
                models.Idea.number
            )
        ).all()
        translated = connection.execute(select(models.IdeaTranslation.text)).scalars().all()
    assert ideas == [(0, "nights", "approved"), (1, "clubs", "approved")]
    assert translated == ["Más noches familiares bilingües."]


def test_a_family_shares_an_idea_and_reacts_by_sms(engine: Engine) -> None:
    service = _service(engine)
    phone = "+15550100001"
    _send(service, phone, "IDEAS", "SM1")
    shared = _send(service, phone, "A quiet room to read at lunch", "SM2")
    assert shared[0] == "Thank you for your idea! We will text you when others can react to it."
    assert shared[1].startswith("Idea 1 of 2: ")
    _send(service, phone, "1", "SM3")
    done = _send(service, phone, "2", "SM4")
    assert done == ["Thank you! Your answers will help shape our schools' plan."]
    with engine.connect() as connection:
        idea = connection.execute(select(models.Idea).where(models.Idea.seed_key.is_(None))).one()
        reactions = connection.execute(
            select(models.Reaction.vote, models.Reaction.channel).order_by(models.Reaction.id)
        ).all()
        counts = connection.execute(
            select(models.Idea.agree, models.Idea.disagree).where(models.Idea.seed_key.is_not(None))
        ).all()
    assert (idea.text, idea.status, idea.number, idea.language) == (
        "A quiet room to read at lunch",
        "pending",
        2,
        "en",
    )
    assert idea.message_id is not None
    assert reactions == [(1, "sms"), (-1, "sms")]
    assert sorted(counts) == [(0, 1), (1, 0)]


def test_nobody_is_shown_their_own_idea_or_one_twice(engine: Engine) -> None:
    service = _service(engine, "after")
    author, other = "+15550100001", "+15550100002"
    _send(service, author, "IDEAS", "SM1")
    shared = _send(service, author, "A walking school bus on Fridays", "SM2")
    assert (
        shared[-1]
        == 'Your idea is now live for others to react to: "A walking school bus on Fridays"'
    )
    offered = [r for r in shared if r.startswith("Idea ")]
    assert "walking" not in offered[0]
    _send(service, other, "IDEAS", "SM3")
    seen: list[str] = []
    replies = _send(service, other, "SKIP", "SM4")
    for n in range(3):
        seen += [r for r in replies if r.startswith("Idea ")]
        replies = _send(service, other, "1", f"SM{5 + n}")
    assert len(seen) == 2 and len(set(seen)) == 2
    _send(service, other, "IDEAS", "SM9")
    again = _send(service, other, "SKIP", "SM10")
    last = [r for r in again if r.startswith("Idea ")]
    assert len(last) == 1 and last[0] not in seen


def test_an_idea_naming_someone_waits_even_when_moderated_after(engine: Engine) -> None:
    service = _service(engine, "after")
    _send(service, "+15550100001", "IDEAS", "SM1")
    replies = _send(service, "+15550100001", "Call Ms. Rivera at 555-010-0199 about buses", "SM2")
    assert not any(r.startswith("Your idea is now live") for r in replies)
    with engine.connect() as connection:
        idea = connection.execute(
            select(models.Idea.status, models.Idea.flags).where(models.Idea.seed_key.is_(None))
        ).one()
    assert idea.status == "pending"
    assert [flag.split(":")[0] for flag in idea.flags] == ["phone", "name"]


def test_a_redelivered_reaction_changes_nothing(engine: Engine) -> None:
    service = _service(engine)
    phone = "+15550100001"
    _send(service, phone, "IDEAS", "SM1")
    _send(service, phone, "SKIP", "SM2")
    _send(service, phone, "1", "SM3")
    service.handle_inbound(InboundMessage(Channel.SMS, phone, "1", provider_id="SM3"))
    with engine.connect() as connection:
        agrees = connection.execute(select(models.Idea.agree)).scalars().all()
    assert sum(agrees) == 1
