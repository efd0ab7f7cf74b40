"""Let's Talk routed as the district file says: each message to its team's channel with its
owner named, urgent ones to the people on call, and the family told whom to reach now."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import models
from tests.conftest import EXAMPLES
from tests.e2e.chat_bot import SLACK_FIXTURES, ChatBot, eventually, fixture, running_bot

pytestmark = pytest.mark.e2e

FAMILY = "+15550100178"
INBOX_SECTION = """
inbox:
  reply_within: 48h
  teams:
    - {name: family, channel: C0FAMILY, owner: S0FAMILY, lead: U0LEAD}
    - {name: transportation, channel: C0TRANSPORT, owner: U0BUSES, lead: U0LEAD}
  default_team: family
  topics:
    transportation: {en: [bus*], es: [autobus*, camión]}
  routes:
    - {topic: transportation, team: transportation}
  urgent:
    channel: C0URGENT
    on_call: U0ONCALL
    contact:
      en: "the safety line, 555-0199"
      es: "la línea de seguridad, 555-0199"
    emergency_number: "911"
"""


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    district = tmp_path / "district.yaml"
    district.write_text(
        (EXAMPLES / "district.yaml").read_text("utf-8") + INBOX_SECTION, encoding="utf-8"
    )
    with running_bot(tmp_path, twilio=True, slack=True, district_file=district) as bot:
        yield bot


def posts_in(bot: ChatBot, channel: str) -> list[dict[str, Any]]:
    assert bot.slack is not None
    return [c for c in bot.slack.called("chat.postMessage") if c.get("channel") == channel]


def onboarded(bot: ChatBot) -> None:
    for body in ["Hola", "2", "sí", "1", "lincoln"]:
        bot.sms(body, FAMILY)
    eventually(lambda: any("bienvenido" in b for b in bot.texts_to(FAMILY)))


def block_texts(post: dict[str, Any]) -> str:
    parts = []
    for block in post["blocks"]:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        for element in block.get("elements", ()):
            if element.get("type") == "mrkdwn":
                parts.append(element["text"])
    return "\n".join(parts)


def test_a_message_goes_to_its_topic_team_with_its_owner_named(bot: ChatBot) -> None:
    onboarded(bot)
    bot.sms("El autobús de la ruta 7 llega tarde todos los días", FAMILY)
    eventually(lambda: len(posts_in(bot, "C0TRANSPORT")) == 1)
    [post] = posts_in(bot, "C0TRANSPORT")
    shown = block_texts(post)
    assert "Owner: <@U0BUSES>" in shown and "Topics: transportation" in shown
    assert "Answer by " in shown
    eventually(lambda: bot.rows(models.LetsTalk)[0].slack_channel == "C0TRANSPORT")
    [item] = bot.rows(models.LetsTalk)
    assert (item.team, item.owner, item.topics, item.urgency) == (
        "transportation",
        "U0BUSES",
        ["transportation"],
        "none",
    )
    assert item.due_at is not None and item.remind_at is not None
    assert item.remind_at < item.due_at
    assert posts_in(bot, "C0FAMILY") == [] and posts_in(bot, "C0URGENT") == []

    # A staff reply in the team's thread reaches the family.
    reply = copy.deepcopy(fixture(SLACK_FIXTURES, "message__thread_reply"))
    reply["event_id"] = "Ev7001"
    reply["event"].update(text="Lo revisamos hoy mismo.", thread_ts=item.slack_ts)
    reply["event"]["channel"] = "C0TRANSPORT"
    assert bot.slack_event(reply).status_code == 200
    eventually(lambda: any("Lo revisamos hoy mismo." in b for b in bot.texts_to(FAMILY)))


def test_an_urgent_message_reaches_the_person_on_call_and_the_family_hears_whom_to_call(
    bot: ChatBot,
) -> None:
    onboarded(bot)
    bot.sms("Mi hijo sufre acoso en el recreo todos los días, por favor llámenme", FAMILY)
    eventually(lambda: len(posts_in(bot, "C0URGENT")) == 1)
    [post] = posts_in(bot, "C0URGENT")
    assert post["text"].startswith("Urgent for <@U0ONCALL>: Let's Talk from P-")
    shown = block_texts(post)
    assert ":rotating_light: *Urgent* (bullying" in shown and "Owner: <@U0ONCALL>" in shown
    eventually(lambda: any("la línea de seguridad, 555-0199" in b for b in bot.texts_to(FAMILY)))
    [ack] = [b for b in bot.texts_to(FAMILY) if "555-0199" in b]
    assert "911" in ack and "urgente" in ack
    eventually(lambda: bot.rows(models.LetsTalk)[0].slack_channel == "C0URGENT")
    [item] = bot.rows(models.LetsTalk)
    assert (item.urgency, item.team, item.owner) == ("urgent", "family", "U0ONCALL")
    assert "bullying" in item.concerns
    assert posts_in(bot, "C0FAMILY") == []


def test_a_message_that_might_be_about_safety_is_routed_as_usual_and_marked(
    bot: ChatBot,
) -> None:
    onboarded(bot)
    bot.sms("Hay mucho acoso en la escuela de mi barrio", FAMILY)
    eventually(lambda: len(posts_in(bot, "C0FAMILY")) == 1)
    [post] = posts_in(bot, "C0FAMILY")
    shown = block_texts(post)
    assert "Owner: <!subteam^S0FAMILY>" in shown
    assert ":warning: Possibly about safety (bullying)" in shown
    assert posts_in(bot, "C0URGENT") == []
    eventually(lambda: any("Gracias por su mensaje" in b for b in bot.texts_to(FAMILY)))
