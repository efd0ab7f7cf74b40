"""Families who read Arabic, Somali or Chinese take part by SMS in their own language,
through the signed webhook, the engine, the outbox and the real twilio client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import models
from tests.e2e.test_sms_webhook import Bot, eventually, running_bot

pytestmark = pytest.mark.e2e

RLM = "\u200f"
ARABIC_FAMILY = "+15550100131"
SOMALI_FAMILY = "+15550100132"
CHINESE_FAMILY = "+15550100133"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    district = tmp_path / "district.yaml"
    district.write_text(
        "program_name: Riverside Plan 2030\ncontact: Call 555-0100\n"
        "languages: [en, ar, so, zh]\n"
        "schools:\n  - {code: lincoln-es, name: Lincoln Elementary}\n",
        encoding="utf-8",
    )
    with running_bot(tmp_path, district) as started:
        yield started


def _conversation(bot: Bot, family: str, *said: str) -> list[str]:
    """Text each message once the bot has answered the one before; every body sent back."""
    for n, body in enumerate(said):
        answered = len(bot.twilio.bodies_to(family))
        assert bot.text(body, f"SM{family[-3:]}{n:029d}", sender=family).status_code == 200
        eventually(lambda answered=answered: len(bot.twilio.bodies_to(family)) > answered)
    time.sleep(0.3)
    return bot.twilio.bodies_to(family)


def test_an_arabic_speaking_family_is_answered_in_arabic_right_to_left(bot: Bot) -> None:
    bodies = _conversation(bot, ARABIC_FAMILY, "مرحبا", "2", "نعم")
    assert "1) English\n2) العربية\n3) Soomaali\n4) 中文" in bodies[0]
    arabic = bodies[1:]
    # The consent opens with the program's Latin name: the mark keeps the line right to left.
    assert arabic[0].startswith(f"{RLM}يسأل Riverside Plan 2030 العائلات")
    assert 'أرسلوا "نعم" أو "لا"' in arabic[0]
    assert "ولي أمر" in arabic[-1]
    # Every line of an Arabic message opens with the mark, the numbered options too.
    for body in arabic:
        assert all(re.match(rf"({RLM}|\d+\) {RLM})", line) for line in body.split("\n")), body
    [participant] = bot.rows(models.Participant)
    assert (participant.language, participant.consent) == ("ar", True)


def test_stop_in_somali_opts_out_with_one_confirmation_in_somali(bot: Bot) -> None:
    bodies = _conversation(bot, SOMALI_FAMILY, "Salaan", "3", "JOOJI")
    assert bodies[-1].startswith("Waxaa lagaa saaray Riverside Plan 2030")
    count = len(bot.twilio.messages)
    bot.text("haa", "SM" + "9" * 32, sender=SOMALI_FAMILY)
    time.sleep(0.5)
    assert len(bot.twilio.messages) == count
    [contact] = bot.rows(models.Contact)
    assert contact.opted_out_at is not None


def test_a_chinese_family_gets_help_in_chinese(bot: Bot) -> None:
    bodies = _conversation(bot, CHINESE_FAMILY, "你好", "4", "帮助")
    assert bodies[-1] == (
        'Riverside Plan 2030。有问题？Call 555-0100。回复"停止"退订，回复"语言"更改语言。'
        "可能产生短信和流量费用。"
    )
