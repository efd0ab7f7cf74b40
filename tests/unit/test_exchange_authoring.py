"""An idea exchange authored as YAML: its prompt, seeds, scope, reactions, moderation and dates."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.authoring.activities import load_activity_file, parse_activity
from bot.authoring.translations import export_sheet
from bot.core.activity import ActivityKind
from bot.core.ideas import Moderation
from bot.errors import ActivityError
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "idea-exchange-belonging.yaml"
HEAD = "key: ideas\nkind: exchange\ntitle: Ideas\n"


def _problems(source: str) -> list[str]:
    with pytest.raises(ActivityError) as raised:
        parse_activity(source, "x.yaml")
    return list(raised.value.problems)


def test_the_example_exchange_builds_its_prompt_seeds_and_settings() -> None:
    activity = load_activity_file(EXAMPLE)
    assert activity.kind is ActivityKind.EXCHANGE
    assert activity.questions == ()
    exchange = activity.exchange
    assert exchange is not None
    assert exchange.prompt.get("es").startswith("¿Qué cambio")
    assert [seed.key for seed in exchange.seeds] == ["family-nights", "clubs", "mentors"]
    assert exchange.seeds[0].text.get("vi") == "Thêm các buổi tối gia đình song ngữ."
    assert exchange.reactions == 8
    assert exchange.moderation is Moderation.BEFORE
    assert (exchange.opens, exchange.closes) == (date(2026, 9, 8), date(2027, 6, 11))
    assert activity.school is None


def test_an_exchange_defaults_to_eight_reactions_before_moderation_and_no_dates() -> None:
    activity = parse_activity(HEAD + "prompt: Your idea?\n", "x.yaml")
    exchange = activity.exchange
    assert exchange is not None
    assert (exchange.reactions, exchange.moderation, exchange.seeds) == (8, Moderation.BEFORE, ())
    assert exchange.is_open_on(date(1999, 1, 1))


def test_an_exchange_is_open_from_its_first_to_its_last_day() -> None:
    activity = parse_activity(
        HEAD + "prompt: Your idea?\nopens: 2026-03-02\ncloses: 2026-03-27\n", "x.yaml"
    )
    assert activity.exchange is not None
    is_open = activity.exchange.is_open_on
    assert [is_open(date(2026, 3, d)) for d in (1, 2, 27, 28)] == [False, True, True, False]


def test_a_school_exchange_names_its_school() -> None:
    activity = parse_activity(HEAD + "prompt: Idea?\nscope: school\nschool: lincoln-es\n", "x")
    assert activity.school == "lincoln-es"


def test_every_problem_of_an_exchange_is_named_by_line_and_field() -> None:
    source = (
        HEAD
        + "scope: school\nreactions_per_participant: 0\nmoderation: later\n"
        + "opens: 2026-13-01\nseeds:\n  - key: a\n    text: One\n  - key: a\n"
        + "    text: {es: Dos}\nquestions:\n  - {key: q, type: free_text, prompt: Hi}\n"
    )
    assert _problems(source) == [
        "x.yaml:1: prompt: an exchange needs a prompt (what ideas to share)",
        "x.yaml:4: scope: scope school needs the school's code in 'school'",
        "x.yaml:5: reactions_per_participant: must be 1 or more",
        "x.yaml:6: moderation: 'later' is not one of: before, after",
        "x.yaml:7: opens: '2026-13-01' is not a date; write it as 2026-03-30",
        "x.yaml:11: seeds[1].key: 'a' is already the key of seeds[0]",
        "x.yaml:12: seeds[1].text: needs a text in 'en', the default language",
        "x.yaml:13: questions: an exchange asks no questions: its prompt asks for ideas",
    ]


def test_a_close_before_the_open_and_a_school_in_a_district_exchange_are_refused() -> None:
    source = HEAD + "prompt: Idea?\nscope: district\nschool: lincoln-es\n"
    source += "opens: 2026-03-02\ncloses: 2026-03-01\n"
    assert _problems(source) == [
        "x.yaml:6: school: a district-wide exchange names no school",
        "x.yaml:8: closes: is before opens (2026-03-02)",
    ]


def test_only_an_exchange_has_exchange_fields() -> None:
    source = "key: s\nkind: survey\ntitle: S\nprompt: Hello\nseeds: []\n"
    source += "questions:\n  - {key: q, type: free_text, prompt: Hi}\n"
    assert _problems(source) == [
        "x.yaml:4: prompt: only an exchange has it, not a survey",
        "x.yaml:5: seeds: only an exchange has it, not a survey",
    ]


def test_the_translation_sheet_carries_the_prompt_and_every_seed(tmp_path: Path) -> None:
    activity = Path(shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name))
    sheet = tmp_path / "sheet.xlsx"
    export_sheet(activity, ["en", "es", "vi"], sheet)
    rows = list(load_workbook(sheet)["Translations"].iter_rows(values_only=True))
    ids = [row[0] for row in rows[1:]]
    assert ids == [
        "title",
        "prompt",
        "seeds[family-nights].text",
        "seeds[clubs].text",
        "seeds[mentors].text",
        "closing",
    ]
