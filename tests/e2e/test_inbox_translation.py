"""A staff reply in English to a Spanish-speaking family, end to end: it waits in the
translators' Slack channel, a translator answers, and the family gets the Spanish by SMS;
the delay shows in the family's thread (fake Slack and Twilio servers)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import models
from tests.conftest import EXAMPLES
from tests.e2e.chat_bot import SLACK_FIXTURES, ChatBot, eventually, fixture, running_bot
from tests.e2e.test_inbox_routing import FAMILY, INBOX_SECTION, onboarded, posts_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    district = tmp_path / "district.yaml"
    district.write_text(
        (EXAMPLES / "district.yaml").read_text("utf-8")
        + INBOX_SECTION
        + "  translators: {channel: C0TRANSLATE}\n",
        encoding="utf-8",
    )
    with running_bot(tmp_path, twilio=True, slack=True, district_file=district) as bot:
        yield bot


def thread_reply(text: str, channel: str, thread_ts: str, event_id: str, user: str) -> Any:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "message__thread_reply"))
    data["event_id"] = event_id
    data["event"].update(text=text, thread_ts=thread_ts, channel=channel, user=user)
    return data


def test_an_english_reply_reaches_the_family_in_spanish_after_a_translator(
    bot: ChatBot,
) -> None:
    assert bot.slack is not None
    onboarded(bot)
    bot.sms("Quisiera más clases de arte en la escuela de mi hija", FAMILY)
    eventually(lambda: len(posts_in(bot, "C0FAMILY")) == 1)
    eventually(lambda: not bot.rows(models.LetsTalk)[0].slack_ts.startswith("lease:"))
    [item] = bot.rows(models.LetsTalk)
    english = "Thank you! We will add an art club in January."
    bot.slack_event(thread_reply(english, "C0FAMILY", item.slack_ts, "Ev8001", "U0STAFF"))
    eventually(lambda: len(posts_in(bot, "C0TRANSLATE")) == 1)
    [request] = posts_in(bot, "C0TRANSLATE")
    assert "Please translate into *Español (es)*" in request["text"]
    assert request["text"].endswith(f">>> {english}")
    waiting = [p for p in posts_in(bot, "C0FAMILY") if p.get("thread_ts") == item.slack_ts]
    assert any("Waiting for a translation into Español (es)" in p["text"] for p in waiting)
    assert not any(english in body for body in bot.texts_to(FAMILY))
    eventually(lambda: bot.rows(models.InboxReply)[0].queue_ts is not None)
    eventually(lambda: not bot.rows(models.InboxReply)[0].queue_ts.startswith("lease:"))
    [reply] = bot.rows(models.InboxReply)

    spanish = "¡Gracias! Abriremos un club de arte en enero."
    bot.slack_event(thread_reply(spanish, "C0TRANSLATE", reply.queue_ts, "Ev8002", "U0ORGANIZER"))
    answer = f"Equipo de Riverside Plan 2030: {spanish}"
    eventually(lambda: answer in bot.texts_to(FAMILY))
    assert not any(english in body for body in bot.texts_to(FAMILY))
    eventually(
        lambda: any(
            "Sent in Español (es), translated by <@U0ORGANIZER>" in p["text"]
            for p in posts_in(bot, "C0FAMILY")
        )
    )
    [reply] = bot.rows(models.InboxReply)
    assert (reply.text, reply.translation, reply.status) == (english, spanish, "sent")
