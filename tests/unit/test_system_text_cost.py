"""The bot's own texts cost no more SMS than the English ones, in every language the
script allows; Spanish ones need no gender."""

from __future__ import annotations

from functools import cache

import pytest
from typer.testing import CliRunner

from bot.authoring.district import load_district_file
from bot.authoring.text_costs import sent_text, system_text_costs
from bot.bootstrap import program_for
from bot.cli import app
from bot.core.segments import SegmentCount, count_segments
from bot.core.state import Program
from bot.core.texts import SOURCE_LANGUAGE, message_ids, placeholders, text
from bot.core.vocabulary import spoken_languages
from bot.settings import Settings
from tests.conftest import EXAMPLES

VALUES = {"program": "Riverside Plan 2030", "contact": "Call 555-0100", "emergency": "911"}
LANGUAGES = [code for code in spoken_languages() if code != SOURCE_LANGUAGE]

# Where a language cannot fit the English text's segments, the most it may cost, and
# why, as `--segments` counts for examples/district.yaml. A UCS-2 segment holds 70
# characters (67 once split), against GSM-7's 160 (153).
_HELP = "the program's name and the district's contact alone take 67 of 70 characters"
_ROLES = "the four numbered role names alone fill the first 70 characters"
_SCHOOLS = "the six numbered school names alone take 150 characters: past 2 segments"
EXCEPTIONS: dict[tuple[str, str], tuple[int, str]] = {
    **{(code, "help"): (2, _HELP) for code in ("vi", "ru", "ar", "ko", "zh")},
    **{(code, "ask_role"): (2, _ROLES) for code in ("pt", "vi", "ru", "ar")},
    **{(code, "ask_school"): (3, _SCHOOLS) for code in ("vi", "ru", "ar", "ko", "zh")},
}


def _sent(message_id: str, language: str) -> str:
    template = text(message_id, language)
    return text(message_id, language, **{n: VALUES.get(n, "3") for n in placeholders(template)})


@cache
def _program() -> Program:
    return program_for(load_district_file(EXAMPLES / "district.yaml"), Settings())


@cache
def _as_sent() -> dict[str, dict[str, SegmentCount]]:
    return system_text_costs(_program(), LANGUAGES)


def _costs(message_id: str, language: str) -> list[SegmentCount]:
    """The text alone and as sent (with its menu), placeholders filled as `--segments` fills them."""
    alone = count_segments(sent_text(message_id, language, _program()))
    return [alone, _as_sent()[message_id][language]]


def _over(message_id: str, language: str) -> list[str]:
    """Where the text costs more than English's (at least 1 segment) or than its exception."""
    exception = EXCEPTIONS.get((language, message_id))
    found = []
    for cost, english, how in zip(
        _costs(message_id, language),
        _costs(message_id, SOURCE_LANGUAGE),
        ("alone", "as sent"),
        strict=True,
    ):
        most = exception[0] if exception else max(english.segments, 1)
        if cost.segments > most:
            found.append(
                f"{language}.po {message_id} ({how}): {cost.segments} segments "
                f"({cost.encoding.value}, {cost.units} units); at most {most}"
            )
    return found


@pytest.mark.parametrize("message_id", message_ids())
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_system_text_costs_no_more_segments_than_the_english(
    language: str, message_id: str
) -> None:
    assert not _over(message_id, language)


@pytest.mark.parametrize(("language", "message_id"), sorted(EXCEPTIONS))
def test_an_exception_is_still_needed(language: str, message_id: str) -> None:
    needed = any(
        cost.segments > max(english.segments, 1)
        for cost, english in zip(
            _costs(message_id, language), _costs(message_id, SOURCE_LANGUAGE), strict=True
        )
    )
    assert needed, "it fits now: take it off EXCEPTIONS"


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
    assert "│ consent │ 2 (GSM-7) │ 2 (GSM-7) │ 2 (UCS-2) │" in rows


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
