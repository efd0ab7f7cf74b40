"""Telegram end to end: updates posted to the app under uvicorn with the secret header,
replies sent by the outbox through python-telegram-bot to a fake Bot API on loopback."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from storage import models
from tests.e2e.chat_bot import (
    TELEGRAM_FIXTURES,
    TELEGRAM_SECRET,
    ChatBot,
    eventually,
    fixture,
    running_bot,
)
from tests.fakes.server import serve
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

pytestmark = pytest.mark.e2e

ANA = 555000111
SURVEY = "family-priorities-2026"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    with running_bot(tmp_path, telegram=True) as bot:
        yield bot


class Ana:
    """Writes to the bot as Telegram would send her messages and taps."""

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self.update_id = 800000000

    def _next(self, name: str) -> dict[str, Any]:
        self.update_id += 1
        data = copy.deepcopy(fixture(TELEGRAM_FIXTURES, name))
        data["update_id"] = self.update_id
        return data

    def says(self, text: str) -> httpx.Response:
        data = self._next("message__text")
        data["message"]["text"] = text
        if text.startswith("/"):
            head = text.split(" ")[0]
            data["message"]["entities"] = [
                {"offset": 0, "length": len(head), "type": "bot_command"}
            ]
        return self.bot.update(data)

    def taps(self, payload: str, message_id: int = 42) -> httpx.Response:
        data = self._next("callback_query__answer")
        data["callback_query"]["data"] = payload
        data["callback_query"]["id"] = f"cb{self.update_id}"
        data["callback_query"]["message"]["message_id"] = message_id
        return self.bot.update(data)


def sent(bot: ChatBot) -> list[dict[str, Any]]:
    assert bot.telegram is not None
    return bot.telegram.sent("sendMessage")


def keyboard(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


def wait_for_texts(bot: ChatBot, count: int) -> list[dict[str, Any]]:
    eventually(lambda: len(sent(bot)) >= count)
    return sent(bot)


def test_a_family_takes_the_survey_with_buttons(bot: ChatBot) -> None:
    ana = Ana(bot)
    assert ana.says("/start").status_code == 200
    [welcome] = wait_for_texts(bot, 1)
    assert welcome["text"].startswith("¡Hola! Le escribe Riverside Plan 2030.")
    assert keyboard(welcome) == ["language:en", "language:es", "language:vi"]
    ana.taps("language:es")
    consent = wait_for_texts(bot, 2)[-1]
    assert keyboard(consent) == ["onboard:consent:yes", "onboard:consent:no"]
    ana.taps("onboard:consent:yes")
    wait_for_texts(bot, 3)
    ana.taps("onboard:role:parent")
    wait_for_texts(bot, 4)
    ana.says("lincoln")
    eventually(lambda: any("bienvenido" in m["text"] for m in sent(bot)))
    question = next(m for m in sent(bot) if "bienvenido" in m["text"])
    assert keyboard(question) == [f"q:{SURVEY}:connected:{n}" for n in range(1, 6)]
    ana.taps(f"q:{SURVEY}:connected:4", message_id=77)
    eventually(lambda: any(m["text"].startswith("Elija") for m in sent(bot)))
    assert [(r.question, r.value) for r in bot.rows(models.Response)] == [("connected", 4)]
    [participant] = bot.rows(models.Participant)
    assert (participant.language, participant.role) == ("es", "parent")
    assert [row.school for row in bot.rows(models.ParticipantSchool)] == ["lincoln-es"]
    # Every tap is answered and its keyboard taken away.
    assert bot.telegram is not None
    eventually(lambda: len(bot.telegram.sent("answerCallbackQuery")) == 4)  # type: ignore[union-attr]
    edits = bot.telegram.sent("editMessageReplyMarkup")
    assert {"chat_id": str(ANA), "message_id": "77"} in edits


def test_free_text_works_as_well_as_buttons(bot: ChatBot) -> None:
    ana = Ana(bot)
    for text in ["/start", "2", "sí", "1", "lincoln", "4"]:
        ana.says(text)
    eventually(lambda: bool(bot.rows(models.Response)))
    assert [(r.question, r.value) for r in bot.rows(models.Response)] == [("connected", 4)]


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"], ids=["missing", "empty", "wrong"])
def test_updates_without_the_secret_are_refused(bot: ChatBot, secret: str | None) -> None:
    response = bot.update(fixture(TELEGRAM_FIXTURES, "message__stop"), secret=secret)
    assert response.status_code == 403
    assert bot.rows(models.Message) == []


def test_a_redelivered_update_changes_nothing(bot: ChatBot) -> None:
    update = fixture(TELEGRAM_FIXTURES, "message__start")
    assert bot.update(update).status_code == 200
    wait_for_texts(bot, 1)
    assert bot.update(update).status_code == 200
    time.sleep(0.5)
    assert len(sent(bot)) == 1
    assert [m.direction for m in bot.rows(models.Message)] == ["in", "out"]


@pytest.mark.parametrize(
    "name",
    [
        "message__group",
        "message__bot_added_to_group",
        "edited_message__text",
        "channel_post__text",
        "message_reaction__added",
        "my_chat_member__added_to_group",
        "my_chat_member__unblocked",
    ],
)
def test_what_we_do_not_act_on_gets_a_quiet_200(bot: ChatBot, name: str) -> None:
    response = bot.update(fixture(TELEGRAM_FIXTURES, name))
    assert (response.status_code, response.text) == (200, "")
    time.sleep(0.3)
    assert bot.rows(models.Message) == [] and sent(bot) == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[]", b'{"update_id": "x"}', b""],
    ids=["broken-json", "not-utf8", "list", "bad-update-id", "empty"],
)
def test_malformed_bodies_get_a_quiet_200(bot: ChatBot, body: bytes) -> None:
    response = httpx.post(
        bot.url + "/webhooks/telegram",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == 200
    assert bot.rows(models.Message) == []


def test_a_sticker_alone_gets_asked_for_words(bot: ChatBot) -> None:
    ana = Ana(bot)
    ana.says("/start")
    wait_for_texts(bot, 1)
    bot.update(fixture(TELEGRAM_FIXTURES, "message__sticker"))
    [_, reply] = wait_for_texts(bot, 2)
    assert reply["text"].startswith("¡Gracias! Solo podemos leer mensajes de texto.")


def test_a_tap_on_a_closed_question_gets_a_polite_answer(bot: ChatBot) -> None:
    ana = Ana(bot)
    for text in ["/start", "2", "sí", "1", "lincoln"]:
        ana.says(text)
    eventually(lambda: any("bienvenido" in m["text"] for m in sent(bot)))
    ana.taps("q:old-survey-2025:q1:yes")
    eventually(lambda: sent(bot)[-1]["text"] == "Esa pregunta ya está cerrada. ¡Gracias!")
    assert bot.rows(models.Response) == []
    assert bot.telegram is not None
    eventually(lambda: len(bot.telegram.sent("answerCallbackQuery")) == 1)  # type: ignore[union-attr]


def test_blocking_the_bot_opts_that_chat_out(bot: ChatBot) -> None:
    Ana(bot).says("/start")
    wait_for_texts(bot, 1)
    assert bot.update(fixture(TELEGRAM_FIXTURES, "my_chat_member__blocked")).status_code == 200
    eventually(lambda: bot.rows(models.Contact)[0].opted_out_at is not None)
    [event] = bot.rows(models.ConsentEvent)
    [message] = [m for m in bot.rows(models.Message) if m.provider_id == "700000124"]
    assert (event.source, event.message_id) == ("telegram_blocked", message.id)


def test_a_403_on_send_opts_the_contact_out(bot: ChatBot) -> None:
    assert bot.telegram is not None
    bot.telegram.fail_next("sendMessage", "403")
    Ana(bot).says("/start")
    eventually(lambda: bot.rows(models.Contact)[0].opted_out_at is not None)
    [row] = bot.rows(models.Outbox)
    assert (row.status, row.error_code) == ("failed", "403")


def test_flood_control_waits_retry_after_then_sends(bot: ChatBot) -> None:
    assert bot.telegram is not None
    bot.telegram.fail_next("sendMessage", "429")
    Ana(bot).says("/start")
    eventually(lambda: [r.status for r in bot.rows(models.Outbox)] == ["sent"], timeout=15)
    calls = [c for c in bot.telegram.calls if c.method == "sendMessage"]
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.9


def test_a_school_deep_link_skips_the_school_question(bot: ChatBot) -> None:
    ana = Ana(bot)
    ana.says("/start lincoln-es")
    for text in ["2", "sí", "1"]:
        ana.says(text)
    eventually(lambda: any("bienvenido" in m["text"] for m in sent(bot)))
    [participant] = bot.rows(models.Participant)
    assert [(row.participant_id, row.school) for row in bot.rows(models.ParticipantSchool)] == [
        (participant.id, "lincoln-es")
    ]
    assert not any("escuela" in m["text"] and "número" in m["text"] for m in sent(bot))


def test_set_webhook_registers_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeTelegramApi()
    with serve(api.app) as base:
        for name, value in {
            "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
            "ENGAGE_PUBLIC_URL": "https://bot.district.example.org",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": base,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["telegram", "set-webhook"])
    assert result.exit_code == 0, result.output
    [call] = api.sent("setWebhook")
    assert call == {
        "url": "https://bot.district.example.org/webhooks/telegram",
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
    }


def test_a_family_links_telegram_to_their_sms_identity(tmp_path: Path) -> None:
    phone = "+15550100188"
    with running_bot(tmp_path, twilio=True, telegram=True) as bot:
        for body in ["Hola", "2", "sí", "1", "lincoln"]:
            bot.sms(body, phone)
        eventually(lambda: any("bienvenido" in b for b in bot.texts_to(phone)))
        bot.sms("LINK", phone)
        eventually(lambda: any("t.me/" in b for b in bot.texts_to(phone)))
        offer = next(b for b in bot.texts_to(phone) if "t.me/" in b)
        assert offer.startswith("Para responder también por Telegram, abra este enlace")
        match = re.search(r"https://t\.me/district_test_bot\?start=(link-[A-Za-z0-9_-]+)", offer)
        assert match is not None
        ana = Ana(bot)
        ana.says(f"/start {match.group(1)}")
        eventually(lambda: len(sent(bot)) >= 3)
        texts = [m["text"] for m in sent(bot)]
        assert (
            texts[0]
            == "Hecho: su Telegram queda unido a sus mensajes de texto con Riverside Plan 2030."
        )
        assert texts[1].startswith("¡Le damos la bienvenida de nuevo a Riverside Plan 2030!")
        assert "bienvenido" in texts[2]  # the question they were on, in their language
        ana.taps(f"q:{SURVEY}:connected:3")
        eventually(lambda: bool(bot.rows(models.Response)))
        [participant] = bot.rows(models.Participant)
        contacts = bot.rows(models.Contact)
        assert {(c.channel, c.participant_id) for c in contacts} == {
            ("sms", participant.id),
            ("telegram", participant.id),
        }
        assert [(r.value, r.channel) for r in bot.rows(models.Response)] == [(3, "telegram")]
        [code] = bot.rows(models.LinkCode)
        assert code.used_at is not None
        # The code works once: another chat gets told so, and stays apart.
        other = fixture(TELEGRAM_FIXTURES, "message__start_link_code")
        other["message"]["text"] = f"/start {match.group(1)}"
        other["message"]["chat"]["id"] = other["message"]["from"]["id"] = 555000999
        bot.update(other)
        eventually(lambda: any("ya no sirve" in m["text"] for m in sent(bot)))
        assert len(bot.rows(models.Participant)) == 2
