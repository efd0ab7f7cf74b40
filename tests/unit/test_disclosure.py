"""First contact and the outgoing-text lint: who we are, how to stop, what carriers filter."""

from __future__ import annotations

import pytest

from bot.core.disclosure import introduce, lint
from bot.core.messages import Choice, Reply
from bot.core.texts import text
from tests.unit.test_languages import LANGUAGES

PROGRAM = "Riverside Plan"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_first_contact_names_the_program_and_how_to_stop_in_every_language(
    language: str,
) -> None:
    first = introduce(
        Reply("Help plan our schools.", (Choice("a", "A", "q:x:y:a"),)), PROGRAM, language
    )
    assert first.text == (
        text("first_contact", language, program=PROGRAM) + "\n\nHelp plan our schools."
    )
    assert first.choices == (Choice("a", "A", "q:x:y:a"),)
    assert lint(first.text, language, program=PROGRAM, first_contact=True) == []


@pytest.mark.parametrize(
    ("said", "language", "expected"),
    [
        (
            "Help plan our schools.",
            "en",
            [
                "in 'en': does not name the program (Riverside Plan)",
                "in 'en': does not say how to stop (reply STOP)",
            ],
        ),
        ("Riverside Plan: help plan our schools. Reply STOP to stop.", "en", []),
        # The language's own word, accents or not, or the English one.
        ("riverside plan: responda PARAR para no recibir más.", "es", []),
        ("Riverside Plan: nhắn DUNG để ngừng.", "vi", []),
        ("Riverside Plan: reply STOP to stop.", "vi", []),
        ("Riverside Plan: help us plan.", "es", ["in 'es': does not say how to stop (reply STOP)"]),
    ],
    ids=["neither", "both", "es-word", "vi-unaccented", "english-stop", "no-stop"],
)
def test_a_first_contact_must_name_the_program_and_say_how_to_stop(
    said: str, language: str, expected: list[str]
) -> None:
    assert lint(said, language, program=PROGRAM, first_contact=True) == expected


SHORTENED = (
    "in 'en': links through {}, a public shortener carriers filter; use the full link or the "
    "district's own domain"
)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("See https://bit.ly/3xYz", [SHORTENED.format("bit.ly")]),
        (
            "See tinyurl.com/plan and www.bit.ly/x",
            [SHORTENED.format("tinyurl.com"), SHORTENED.format("bit.ly")],
        ),
        ("See HTTP://T.CO/abc", [SHORTENED.format("t.co")]),
        ("See https://riverside.example.org/plan", []),
        ("Write to orbit.ly.example.org or at.com", []),
        ("Our site is plant.com", []),
    ],
    ids=["bitly", "two", "upper-case", "own-domain", "look-alike", "suffix"],
)
def test_public_url_shorteners_are_named(said: str, expected: list[str]) -> None:
    assert lint(said, "en") == expected


def test_a_curly_quote_that_costs_a_segment_is_named() -> None:
    said = "What\u2019s the one thing you would change at your school this year? " * 2
    assert lint(said.strip(), "en") == [
        "in 'en': \u2019 (right single quotation mark) makes it UCS-2: 2 SMS segments instead of 1"
    ]


@pytest.mark.parametrize(
    "said",
    [
        "What\u2019s new?",  # UCS-2, but one segment either way
        "¿Qué cambiaría usted en la escuela de su hijo este año? Cuéntenos en pocas palabras, "
        "por favor: cada respuesta cuenta.",  # the language's own letters
        "Quý vị muốn thay đổi điều gì ở trường của con mình trong năm nay?",
        "Plain GSM-7 text with {braces} and € costs nothing more.",
    ],
    ids=["short", "spanish", "vietnamese", "gsm7"],
)
def test_letters_of_the_language_and_harmless_quotes_are_not_named(said: str) -> None:
    assert lint(said, "es") == []


def test_an_emoji_that_costs_a_segment_is_named() -> None:
    said = "Thank you for helping plan our schools this year, your answers matter a lot! \U0001f64f"
    assert lint(said * 2, "en") == [
        "in 'en': \U0001f64f (person with folded hands) makes it UCS-2: 3 SMS segments instead of 1"
    ]


def test_segments_over_a_limit_are_named_with_the_encoding() -> None:
    assert lint("x" * 500, "en", segments_over=3) == ["in 'en': 4 SMS segments (GSM-7)"]
    assert lint("x" * 459, "en", segments_over=3) == []
