"""The Slack moderation desk over SQL, with an in-memory card poster: what gets a card,
and what a tap decides (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from bot.authoring.activities import parse_activity
from bot.core.messages import Channel, InboundMessage
from bot.core.moderation import Decision, IdeaCard, IdeaTap
from bot.core.state import Program
from bot.services.idea_desk import IdeaDesk
from bot.services.inbound import Service
from bot.services.moderation import IdeaModeration
from storage import models
from storage.activities import store_activity
from storage.moderation import SqlModerationUnitOfWork
from storage.unit_of_work import SqlUnitOfWork

EXCHANGE = """\
key: belonging
kind: exchange
title: Ideas
prompt: What would help?
moderation: after
start_keywords: [IDEAS]
"""
PROGRAM = Program(name="Plan", contact="555-0100", languages=("en", "es"), onboarding=())
NOW = datetime(2026, 3, 3, 15, 0)


class Cards:
    """Records what would be posted to Slack (channels.slack.SlackChannel's part)."""

    def __init__(self) -> None:
        self.posted: list[IdeaCard] = []
        self.updated: list[tuple[str, str]] = []
        self.notes: list[str] = []

    async def post_idea_card(self, channel: str, card: IdeaCard, languages: Sequence[str]) -> str:
        self.posted.append(card)
        return f"17000000.{len(self.posted):06d}"

    async def update_idea_card(
        self, channel: str, ts: str, card: IdeaCard, languages: Sequence[str], decided: str
    ) -> None:
        self.updated.append((ts, decided))

    async def post_note(self, channel: str, text: str, thread_ts: str | None = None) -> None:
        self.notes.append(text)


async def _inline(work: Callable[[], Any]) -> Any:
    return work()


def test_an_idea_live_under_moderation_after_gets_a_card_to_take_it_down(engine: Engine) -> None:
    store_activity(engine, parse_activity(EXCHANGE, "x.yaml"), EXCHANGE, NOW)
    clock = iter(NOW + timedelta(seconds=n) for n in range(1000))
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=lambda: next(clock))
    phone = "+15550100001"
    for n, body in enumerate(("IDEAS", "A walking school bus on Fridays", "IDEAS")):
        service.handle_inbound(InboundMessage(Channel.SMS, phone, body, f"S{n}"))

    def new_uow() -> SqlModerationUnitOfWork:
        return SqlModerationUnitOfWork(engine)

    cards = Cards()
    moderation = IdeaModeration(new_uow, lambda: NOW)
    desk = IdeaDesk(moderation, new_uow, cards, "C0MOD", ("en", "es"), _inline, lambda: NOW)
    assert [c.text for c in moderation.waiting("belonging")] == ["A walking school bus on Fridays"]
    assert asyncio.run(desk.post_pending()) == 1
    assert asyncio.run(desk.post_pending()) == 0
    [card] = cards.posted
    assert card.status == "approved" and card.awaits_review
    tap = IdeaTap("U0MOD", card.id, Decision.REJECT, "C0MOD", "17000000.000001")
    asyncio.run(desk.moderate(tap))
    with engine.connect() as connection:
        idea = connection.execute(select(models.Idea)).one()
        told = connection.execute(
            select(models.Outbox.body).where(models.Outbox.body.like("Your idea is now live%"))
        ).all()
    assert (idea.status, idea.reviewed_by) == ("rejected", "slack:U0MOD")
    assert cards.updated == [("17000000.000001", ":no_entry_sign: Rejected by <@U0MOD>.")]
    # The author heard once, when it went live; taking it down sends nothing more.
    assert len(told) == 1
    # A second tap finds it decided.
    asyncio.run(desk.moderate(tap))
    assert cards.updated[-1][1] == "Already rejected."
