"""A moderator's rules and the order translators work in, as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.core.moderation import Decision, IdeaCard, may_decide, translation_order

T0 = datetime(2026, 3, 2, 9, 0)


def card(number: int, language: str, status: str = "approved", **more: object) -> IdeaCard:
    return IdeaCard(
        id=number + 100,
        activity="belonging",
        number=number,
        text=f"idea {number}",
        original=f"idea {number}",
        language=language,
        status=status,
        created_at=T0 + timedelta(minutes=number),
        **more,  # type: ignore[arg-type]
    )


def test_ideas_from_the_least_heard_languages_are_translated_first_then_the_oldest() -> None:
    cards = [
        card(0, "en"),
        card(1, "so"),
        card(2, "es"),
        card(3, "so", translations={"en": "x", "es": "y"}),
        card(4, "vi", status="pending"),
        card(5, "es"),
    ]
    heard = {"en": 900, "es": 300, "so": 12}
    order = translation_order(cards, ["en", "es", "so"], heard)
    assert [(t.card.number, t.missing) for t in order] == [
        (1, ("en", "es")),
        (2, ("en", "so")),
        (5, ("en", "so")),
        (0, ("es", "so")),
    ]


def test_a_language_nobody_speaks_yet_counts_as_heard_least() -> None:
    order = translation_order([card(0, "en"), card(1, "ht")], ["en", "ht"], {"en": 5})
    assert [t.card.number for t in order] == [1, 0]


@pytest.mark.parametrize(
    ("decision", "text", "note", "seed", "problem"),
    [
        (Decision.APPROVE, None, None, False, None),
        (Decision.REJECT, None, None, False, None),
        (Decision.EDIT, "Fewer words", "removed a name", False, None),
        (Decision.EDIT, "", "removed a name", False, "an edit needs the new text"),
        (
            Decision.EDIT,
            "Fewer words",
            " ",
            False,
            "an edit needs a note saying what changed and why",
        ),
        (
            Decision.REJECT,
            None,
            None,
            True,
            "idea 7 is a seed from the activity file; change it there",
        ),
    ],
    ids=["approve", "reject", "edit", "edit-empty", "edit-no-note", "seed"],
)
def test_what_a_moderator_may_decide(
    decision: Decision, text: str | None, note: str | None, seed: bool, problem: str | None
) -> None:
    assert may_decide(card(7, "en", is_seed=seed), decision, text, note) == problem


def test_an_idea_is_shown_in_its_own_language_or_a_translation_only() -> None:
    shown = card(1, "vi", translations={"en": "More books"})
    assert [shown.text_in(lang) for lang in ("vi", "en", "es")] == ["idea 1", "More books", None]


def test_took_part_is_an_audience_filter_that_reads_back() -> None:
    from bot.core.audience import Audience, parse_audience

    audience = parse_audience("took-part=belonging-ideas,language=es")
    assert audience.took_part == ("belonging-ideas",)
    assert str(audience) == "language=es,took-part=belonging-ideas"
    assert Audience.from_json(audience.to_json()) == audience


def test_the_results_message_numbers_the_ideas_in_the_language_with_the_next_steps() -> None:
    from bot.core.moderation import results_message

    cards = [
        card(3, "es", translations={"en": "More clubs"}),
        card(5, "en"),
    ]
    message, missing = results_message("Ideas", cards, "We meet May 4.", "vi", "en")
    assert message.splitlines()[1:] == ["1. More clubs", "2. idea 5", "We meet May 4."]
    assert missing == [3, 5]
    spanish, none_missing = results_message("Ideas", cards[:1], "", "es", "en")
    assert spanish.splitlines()[1:] == ["1. idea 3"] and none_missing == []
