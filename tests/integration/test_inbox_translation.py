"""Staff replies in the family's language: written in it, or translated by a translator
first, with both texts kept and the delay shown; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine, select

from bot.core.staff import ReplyOutcome, StaffReply
from bot.core.state import Program
from bot.services.inbox import Inbox
from storage import models
from storage.inbox import SqlInbox
from tests.integration.test_inbox_promise import (
    MONDAY,
    PROMISE,
    ROUTING,
    Clock,
    RecordingPoster,
    run_db,
)
from tests.integration.test_inbox_store import family, lets_talk

TRANSLATORS = "C0TRANSLATE"


class WordDetector:
    """Tells Spanish from English by a few words, as the real detector would."""

    def detect(self, text: str) -> str | None:
        return "es" if {"hola", "gracias", "la"} & set(text.lower().split()) else "en"


def setup(engine: Engine) -> tuple[Inbox, RecordingPoster, Clock]:
    family(engine)
    lets_talk(engine, "Los autobuses llegan tarde", at=MONDAY)
    clock = Clock(MONDAY)
    poster = RecordingPoster()
    program = Program("Riverside Plan", "555-0100", languages=("en", "es"))
    inbox = Inbox(
        SqlInbox(engine),
        poster,
        ROUTING,
        PROMISE,
        program,
        run_db,
        clock,
        translators=TRANSLATORS,
        detector=WordDetector(),
    )
    asyncio.run(inbox.post_pending())
    return inbox, poster, clock


def outbox_bodies(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(models.Outbox.__table__.c.body)).scalars())


def test_a_reply_in_english_waits_for_a_translator_and_both_texts_are_kept(
    engine: Engine,
) -> None:
    inbox, poster, clock = setup(engine)
    english = StaffReply("C0FAMILY", "1.1", "U0STAFF", "We will add a bus in October.", "Ev1")
    assert asyncio.run(inbox.reply(english)) is ReplyOutcome.TRANSLATING
    assert outbox_bodies(engine) == []
    waiting = poster.notes[-1]
    assert waiting[0] == "C0FAMILY" and waiting[2] == "1.1"
    assert "Waiting for a translation into Español (es)" in waiting[1]

    assert asyncio.run(inbox.post_translation_requests()) == 1
    assert asyncio.run(inbox.post_translation_requests()) == 0
    channel, ask, _ = poster.notes[-1]
    assert channel == TRANSLATORS and "Please translate into *Español (es)*" in ask
    assert ask.endswith(">>> We will add a bus in October.")
    queue_ts = f"9.{poster.posts}"

    clock.now = MONDAY + timedelta(hours=1, minutes=5)
    spanish = "Agregaremos un autobús en octubre."
    translated = StaffReply(TRANSLATORS, queue_ts, "U0TRANSLATOR", spanish, "Ev2")
    assert asyncio.run(inbox.reply(translated)) is ReplyOutcome.QUEUED
    assert outbox_bodies(engine) == [f"Equipo de Riverside Plan: {spanish}"]
    sent_note = next(text for ch, text, ts in poster.notes if ts == "1.1" and "Sent in" in text)
    assert sent_note.startswith(
        ":white_check_mark: Sent in Español (es), translated by <@U0TRANSLATOR>, 1 h 05 min"
    )
    again = StaffReply(TRANSLATORS, queue_ts, "U0OTHER", "Otra traducción", "Ev3")
    assert asyncio.run(inbox.reply(again)) is ReplyOutcome.DUPLICATE
    assert len(outbox_bodies(engine)) == 1
    with engine.connect() as connection:
        [row] = connection.execute(select(models.InboxReply)).all()
    assert (row.text, row.translation, row.translated_by, row.status, row.language) == (
        "We will add a bus in October.",
        spanish,
        "U0TRANSLATOR",
        "sent",
        "es",
    )
    [item] = SqlInbox(engine).roots()
    assert item.first_response_at == clock.now


def test_a_reply_written_in_the_family_language_goes_out_at_once(engine: Engine) -> None:
    inbox, poster, _ = setup(engine)
    spanish = StaffReply("C0FAMILY", "1.1", "U0STAFF", "Hola, gracias por escribir.", "Ev1")
    assert asyncio.run(inbox.reply(spanish)) is ReplyOutcome.QUEUED
    assert len(outbox_bodies(engine)) == 1
    assert asyncio.run(inbox.post_translation_requests()) == 0


def test_a_held_reply_sent_anyway_is_translated_too(engine: Engine) -> None:
    inbox, poster, _ = setup(engine)
    first = StaffReply("C0FAMILY", "1.1", "U0STAFF", "Hola, gracias por escribir.", "Ev1")
    assert asyncio.run(inbox.reply(first)) is ReplyOutcome.QUEUED
    second = StaffReply("C0FAMILY", "1.1", "U0OTHER", "The route changes on Monday.", "Ev2")
    assert asyncio.run(inbox.reply(second)) is ReplyOutcome.HELD
    said = asyncio.run(inbox.release("Ev2", "U0OTHER", send=True))
    assert said.startswith(":hourglass_flowing_sand: Sent to the translators")
    assert len(outbox_bodies(engine)) == 1
    assert asyncio.run(inbox.post_translation_requests()) == 1
    assert poster.notes[-1][1].endswith(">>> The route changes on Monday.")
