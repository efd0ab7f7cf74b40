"""The bot's own texts in Spanish cost no more SMS than in English, and need no gender."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.core.segments import count_segments
from bot.core.texts import message_ids, placeholders, text
from tests.conftest import EXAMPLES

VALUES = {"program": "Riverside Plan 2030", "contact": "Call 555-0100", "emergency": "911"}


def _sent(message_id: str, language: str) -> str:
    template = text(message_id, language)
    return text(message_id, language, **{n: VALUES.get(n, "3") for n in placeholders(template)})


@pytest.mark.parametrize("message_id", message_ids())
def test_a_spanish_system_text_costs_no_more_segments_than_the_english(message_id: str) -> None:
    english, spanish = (
        count_segments(_sent(message_id, "en")),
        count_segments(_sent(message_id, "es")),
    )
    assert spanish.segments <= max(english.segments, 1), _sent(message_id, "es")


def test_spanish_yes_and_consent_stay_in_gsm_7() -> None:
    for message_id in ("yes", "consent", "hint_yes_no", "hint_single", "onboarded"):
        assert count_segments(_sent(message_id, "es")).encoding.value == "GSM-7", message_id


def test_being_signed_up_or_back_needs_no_gender_in_spanish() -> None:
    for message_id in ("onboarded", "opted_in"):
        said = _sent(message_id, "es").lower()
        assert "inscrito" not in said and "bienvenido" not in said


def test_validate_segments_shows_the_bots_own_texts_per_language() -> None:
    result = CliRunner().invoke(
        app,
        ["activity", "validate", str(EXAMPLES / "lets-talk-belonging.yaml"), "--segments"],
        env={"ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml")},
    )
    assert result.exit_code == 0, result.output
    assert "SMS segments: the bot's own texts" in result.output
    rows = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "│ consent │ 2 (GSM-7) │ 2 (GSM-7) │ 4 (UCS-2) │" in rows


def _row(output: str, message_id: str) -> list[str]:
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] == message_id:
            return cells[1:]
    raise AssertionError(f"no row for {message_id}")


def test_validate_segments_counts_the_menu_each_onboarding_text_is_sent_with() -> None:
    result = CliRunner().invoke(
        app,
        ["activity", "validate", str(EXAMPLES / "lets-talk-belonging.yaml"), "--segments"],
        env={"ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml")},
    )
    assert result.exit_code == 0, result.output
    # Alone, each is one GSM-7 segment in English. The language menu names "Tiếng Việt",
    # which makes the welcome UCS-2; six schools and the skip hint make two segments.
    assert _row(result.output, "welcome")[0] == "2 (UCS-2)"
    assert _row(result.output, "ask_school")[0] == "2 (GSM-7)"
    assert _row(result.output, "ask_school_by_name")[0] == "1 (GSM-7)"
    assert count_segments(_sent("welcome", "en")).segments == 1
