"""An idea exchange end to end: families share and react by SMS through the fake Twilio, a
moderator approves with a translation and rejects on cards in the fake Slack, the author is
told by SMS in their language, and nobody sees a rejected idea, their own, or one twice."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.authoring.activities import parse_activity
from bot.services.inbound import utcnow
from storage import models
from storage.activities import store_activity
from tests.conftest import EXAMPLES
from tests.e2e.chat_bot import SLACK_FIXTURES, ChatBot, eventually, fixture, running_bot

pytestmark = pytest.mark.e2e

MODERATION = "C0MODERATE"
ROSA, BEN = "+15550100181", "+15550100182"
ROSAS_IDEA = "Más clubes después de clases para todos los grados"
BENS_IDEA = "Ask Ms. Rivera to call me at 555-010-0199 about buses"
OFFER = re.compile(r'^(?:Idea|Idea) \d+ (?:of|de) \d+: "(.*)"')
# The pool of ideas is weighed again every two seconds per process.
POOL_REFRESH = 2.1


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    with running_bot(tmp_path, twilio=True, slack=True, slack_moderation_channel=MODERATION) as bot:
        # The example without its dates, so it is open whenever the test runs.
        source = (EXAMPLES / "idea-exchange-belonging.yaml").read_text("utf-8")
        source = re.sub(r"(?m)^(opens|closes):.*\n", "", source)
        activity = parse_activity(source, "idea-exchange-belonging.yaml")
        store_activity(bot.runtime.engine, activity, source, utcnow())
        yield bot


def cards(bot: ChatBot) -> list[dict[str, Any]]:
    assert bot.slack is not None
    return [c for c in bot.slack.called("chat.postMessage") if c.get("channel") == MODERATION]


def tap(idea_id: int, ts: str, decision: str, values: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__resolve"))
    data["container"].update(channel_id=MODERATION, message_ts=ts)
    data["channel"]["id"] = MODERATION
    data["actions"] = [
        {
            "action_id": f"idea:{decision}",
            "block_id": f"idea:{idea_id}",
            "type": "button",
            "value": f"idea:{idea_id}:{decision}",
            "text": {"type": "plain_text", "text": decision.title()},
            "action_ts": f"17265004{idea_id:02d}.000001",
        }
    ]
    data["state"] = {
        "values": {
            block: {"value": {"type": "plain_text_input", "value": value}}
            for block, value in values.items()
        }
    }
    return data


def offered(bodies: list[str]) -> list[str]:
    return [m.group(1) for body in bodies if (m := OFFER.match(body))]


def react_to_all(bot: ChatBot, phone: str, answer: str) -> list[str]:
    """Reply `answer` to each idea offered until the round ends; every idea offered."""

    def closed() -> bool:
        return bot.texts_to(phone)[-1].startswith(("Thank you!", "¡Gracias!"))

    answered = 0
    while len(offered(bot.texts_to(phone))) > answered:
        bot.sms(answer, phone)
        answered += 1
        done = answered
        eventually(lambda: len(offered(bot.texts_to(phone))) > done or closed())  # noqa: B023
    return offered(bot.texts_to(phone))


def test_share_moderate_in_slack_react_by_sms(bot: ChatBot) -> None:
    # Rosa starts by texting the exchange's keyword, onboards in Spanish, shares an idea.
    for body in ["IDEAS", "2", "sí", "1", "lincoln"]:
        bot.sms(body, ROSA)
    eventually(lambda: any(b.startswith("¿Qué cambio") for b in bot.texts_to(ROSA)))
    bot.sms(ROSAS_IDEA, ROSA)
    eventually(lambda: len(offered(bot.texts_to(ROSA))) == 1)
    assert "¡Gracias por su idea!" in bot.texts_to(ROSA)[-2]
    assert bot.texts_to(ROSA)[-1].endswith("Responda 1 de acuerdo, 2 en desacuerdo, 3 paso")

    # Her idea waits for a moderator, on a card in the moderation channel.
    eventually(lambda: len(cards(bot)) == 1)
    [card] = cards(bot)
    assert ROSAS_IDEA in card["blocks"][0]["text"]["text"]
    inputs = [b["block_id"] for b in card["blocks"] if b["type"] == "input"]
    assert inputs == ["idea_translation:en", "idea_translation:vi", "idea_edit", "idea_note"]
    eventually(lambda: bot.rows(models.Idea)[-1].slack_ts is not None)
    rosas = bot.rows(models.Idea)[-1]
    assert rosas.status == "pending"

    # Approved on the card, with an English translation: Rosa is told, in Spanish, by SMS.
    english = "More after-school clubs for every grade"
    approve = tap(rosas.id, rosas.slack_ts, "approve", {"idea_translation:en": english})
    assert bot.slack_interaction(approve).status_code == 200
    eventually(lambda: any("Su idea ya está publicada" in b for b in bot.texts_to(ROSA)))
    assert bot.texts_to(ROSA)[-1] == (
        f'Su idea ya está publicada y otras personas pueden opinar: "{ROSAS_IDEA}"'
    )
    assert bot.slack is not None
    eventually(lambda: len(bot.slack.called("chat.update")) == 1)  # type: ignore[union-attr]
    [update] = bot.slack.called("chat.update")
    assert "Approved by <@U0STAFF>; its author was told." in str(update["blocks"][-1])
    # A second tap on the same card decides nothing again.
    bot.slack_interaction(approve)
    time.sleep(0.5)
    assert sum("publicada" in b for b in bot.texts_to(ROSA)) == 1

    # Ben shares an idea that names someone and holds a number; the moderator rejects it.
    for body in ["IDEAS", "1", "yes", "1", "lincoln"]:
        bot.sms(body, BEN)
    eventually(lambda: any(b.startswith("What one change") for b in bot.texts_to(BEN)))
    bot.sms(BENS_IDEA, BEN)
    eventually(lambda: len(cards(bot)) == 2)
    assert "Look twice: phone" in str(cards(bot)[1]["blocks"][1])
    eventually(lambda: bot.rows(models.Idea)[-1].slack_ts is not None)
    bens = bot.rows(models.Idea)[-1]
    bot.slack_interaction(tap(bens.id, bens.slack_ts, "reject", {}))
    eventually(lambda: bot.rows(models.Idea)[-1].status == "rejected")

    # Ben reacts to everything he is offered: the seeds and Rosa's idea in English.
    time.sleep(POOL_REFRESH)
    bens_seen = react_to_all(bot, BEN, "1")
    assert english in bens_seen
    assert not any("Rivera" in idea for idea in bens_seen)
    assert len(bens_seen) == len(set(bens_seen)) == 4

    # Rosa goes on: never her own idea, never Ben's rejected one.
    rosas_seen = react_to_all(bot, ROSA, "2")
    assert ROSAS_IDEA not in rosas_seen and english not in rosas_seen
    assert not any("Rivera" in idea for idea in rosas_seen)
    assert len(rosas_seen) == len(set(rosas_seen)) == 3

    reactions = bot.rows(models.Reaction)
    assert len(reactions) == 7
    assert {r.channel for r in reactions} == {"sms"}
    ideas = {i.id: i for i in bot.rows(models.Idea)}
    assert ideas[rosas.id].agree == 1 and ideas[bens.id].agree + ideas[bens.id].disagree == 0


def test_telegram_shows_agree_disagree_pass_buttons_that_carry_the_idea(
    tmp_path: Path,
) -> None:
    from tests.e2e.chat_bot import TELEGRAM_FIXTURES

    with running_bot(tmp_path, telegram=True) as bot:
        source = (EXAMPLES / "idea-exchange-belonging.yaml").read_text("utf-8")
        source = re.sub(r"(?m)^(opens|closes):.*\n", "", source)
        store_activity(bot.runtime.engine, parse_activity(source, "x.yaml"), source, utcnow())
        assert bot.telegram is not None
        update_id = 900000000

        def send(text: str | None = None, tap: str | None = None) -> None:
            nonlocal update_id
            update_id += 1
            name = "message__text" if tap is None else "callback_query__answer"
            data = copy.deepcopy(fixture(TELEGRAM_FIXTURES, name))
            data["update_id"] = update_id
            if tap is None:
                data["message"]["text"] = text
            else:
                data["callback_query"].update(data=tap, id=f"cb{update_id}")
            assert bot.update(data).status_code == 200

        def sent() -> list[dict[str, Any]]:
            return bot.telegram.sent("sendMessage")  # type: ignore[union-attr]

        for step, (text, tap_) in enumerate(
            [
                ("IDEAS", None),
                (None, "language:es"),
                (None, "onboard:consent:yes"),
                (None, "onboard:role:parent"),
                ("lincoln", None),
            ]
        ):
            send(text, tap_)
            eventually(lambda: len(sent()) > step)  # noqa: B023
        eventually(lambda: any(m["text"].startswith("¿Qué cambio") for m in sent()))
        send("SALTAR")
        eventually(lambda: sent()[-1]["text"].startswith("Idea 1 de 3: "))
        offer = sent()[-1]
        buttons = [b for row in offer["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["text"] for b in buttons] == ["De acuerdo", "En desacuerdo", "Paso"]
        payload = buttons[1]["callback_data"]
        assert re.fullmatch(r"q:belonging-ideas:idea-\d+:disagree", payload)
        send(tap=payload)
        eventually(lambda: len(bot.rows(models.Reaction)) == 1)
        [reaction] = bot.rows(models.Reaction)
        assert (reaction.vote, reaction.channel) == (-1, "telegram")
        assert str(reaction.idea_id) == payload.split(":")[2].removeprefix("idea-")
        eventually(lambda: sent()[-1]["text"].startswith("Idea 2 de 3: "))
