"""Which idea a participant is shown next: the rule's properties (bot.core.ideas)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.ideas import (
    IdeaTally,
    build_pool,
    controversy,
    next_idea_chances,
    openness,
    pick_next_idea,
    priority,
)

NOW = datetime(2026, 3, 10, 12, 0)
LANGUAGES = ("en", "es", "vi")


@st.composite
def tallies(draw: st.DrawFn) -> list[IdeaTally]:
    count = draw(st.integers(min_value=0, max_value=12))
    found = []
    for idea_id in range(1, count + 1):
        languages = draw(st.sets(st.sampled_from(LANGUAGES), min_size=1))
        found.append(
            IdeaTally(
                id=idea_id,
                texts={language: f"idea {idea_id} in {language}" for language in languages},
                agree=draw(st.integers(0, 500)),
                disagree=draw(st.integers(0, 500)),
                passed=draw(st.integers(0, 200)),
                live_since=NOW - timedelta(minutes=draw(st.integers(0, 60 * 24 * 30))),
                group_split=draw(st.none() | st.floats(0, 1)),
            )
        )
    return found


@settings(max_examples=100, deadline=None)
@given(
    tallies(),
    st.sampled_from(LANGUAGES),
    st.sets(st.integers(1, 12)),
    st.integers(0, 2**32),
)
def test_the_next_idea_is_one_they_may_see_and_none_only_when_none_is_left(
    found: list[IdeaTally], language: str, excluded: set[int], seed: int
) -> None:
    pool = build_pool("belonging", found, NOW)
    picked = pick_next_idea(pool, language, excluded, seed)
    eligible = {t.id for t in found if language in t.texts and t.id not in excluded}
    if eligible:
        assert picked in eligible
        assert pool.text(picked, language)
    else:
        assert picked is None


@settings(max_examples=60, deadline=None)
@given(tallies(), st.sampled_from(LANGUAGES), st.sets(st.integers(1, 12)), st.integers(0, 2**32))
def test_the_same_seed_picks_the_same_idea(
    found: list[IdeaTally], language: str, excluded: set[int], seed: int
) -> None:
    pool = build_pool("belonging", found, NOW)
    assert pick_next_idea(pool, language, excluded, seed) == pick_next_idea(
        pool, language, excluded, seed
    )


@settings(max_examples=60, deadline=None)
@given(tallies(), st.sampled_from(LANGUAGES), st.sets(st.integers(1, 12)))
def test_chances_are_the_weights_of_the_ideas_left_and_add_up_to_one(
    found: list[IdeaTally], language: str, excluded: set[int]
) -> None:
    pool = build_pool("belonging", found, NOW)
    chances = next_idea_chances(pool, language, excluded)
    eligible = [t for t in found if language in t.texts and t.id not in excluded]
    assert set(chances) == {t.id for t in eligible}
    if eligible:
        assert sum(chances.values()) == pytest.approx(1.0)
        total = sum(pool.weights[t.id] for t in eligible)
        for tally in eligible:
            assert chances[tally.id] == pytest.approx(pool.weights[tally.id] / total)


@given(
    st.integers(0, 10_000),
    st.integers(1, 100),
    st.floats(0, 24 * 60),
    st.floats(0, 1),
)
def test_an_idea_with_fewer_reactions_weighs_more(
    reactions: int, more: int, hours: float, split: float
) -> None:
    age = timedelta(hours=hours)
    assert priority(reactions, age, split) >= priority(reactions + more, age, split)
    if reactions < 100:  # beyond, the boost is below what a float can tell apart
        assert priority(reactions, age, split) > priority(reactions + more, age, split)


@given(st.integers(0, 1000), st.floats(0, 24 * 30), st.floats(0.01, 24 * 30), st.floats(0, 1))
def test_a_newer_idea_weighs_more(reactions: int, hours: float, older: float, split: float) -> None:
    newer = priority(reactions, timedelta(hours=hours), split)
    late = priority(reactions, timedelta(hours=hours + older), split)
    assert newer >= late
    if hours + older < 24 * 20:
        assert newer > late


@given(st.integers(0, 1000), st.floats(0, 24 * 30), st.floats(0, 1), st.floats(0.001, 1))
def test_an_idea_that_splits_people_weighs_more_than_a_settled_one(
    reactions: int, hours: float, split: float, more: float
) -> None:
    age = timedelta(hours=hours)
    assert priority(reactions, age, min(split + more, 1.0)) >= priority(reactions, age, split)
    assert priority(reactions, age, 1.0) > priority(reactions, age, 0.0)


@given(st.integers(0, 1000), st.integers(0, 1000), st.none() | st.floats(0, 1))
def test_openness_is_between_zero_and_one_and_grows_with_the_group_split(
    agree: int, disagree: int, split: float | None
) -> None:
    value = openness(agree, disagree, split)
    assert 0.0 <= value <= 1.0
    assert value >= controversy(agree, disagree)
    if split is not None:
        assert value >= split


@pytest.mark.parametrize(
    ("agree", "disagree", "expected"),
    [(0, 0, 1.0), (50, 50, 1.0), (100, 0, 4 * (101 / 102) * (1 / 102))],
    ids=["unjudged", "evenly-split", "settled"],
)
def test_controversy_reads_how_evenly_people_split(
    agree: int, disagree: int, expected: float
) -> None:
    assert controversy(agree, disagree) == pytest.approx(expected)


def test_a_fresh_idea_is_shown_before_a_settled_old_one_most_of_the_time() -> None:
    fresh = IdeaTally(1, {"en": "More bilingual family nights"}, 0, 0, 0, NOW)
    settled = IdeaTally(2, {"en": "Later start times"}, 400, 3, 10, NOW - timedelta(days=20))
    pool = build_pool("belonging", [fresh, settled], NOW)
    picks = Counter(pick_next_idea(pool, "en", set(), seed) for seed in range(4000))
    chances = next_idea_chances(pool, "en", set())
    assert chances[1] > 0.95
    assert picks[1] / 4000 == pytest.approx(chances[1], abs=0.015)


def test_draws_follow_the_chances_when_most_ideas_were_seen() -> None:
    found = [
        IdeaTally(n, {"en": f"idea {n}"}, n, 0, 0, NOW - timedelta(hours=n)) for n in range(1, 41)
    ]
    pool = build_pool("belonging", found, NOW)
    excluded = set(range(1, 37))
    chances = next_idea_chances(pool, "en", excluded)
    picks = Counter(pick_next_idea(pool, "en", excluded, seed) for seed in range(6000))
    assert set(picks) == {37, 38, 39, 40}
    for idea, chance in chances.items():
        assert picks[idea] / 6000 == pytest.approx(chance, abs=0.03)


def test_an_idea_is_only_shown_in_a_language_it_has() -> None:
    vietnamese = IdeaTally(1, {"vi": "Thêm đêm gia đình song ngữ"}, 0, 0, 0, NOW)
    translated = IdeaTally(2, {"vi": "Xe buýt sớm hơn", "en": "Earlier buses"}, 0, 0, 0, NOW)
    pool = build_pool("belonging", [vietnamese, translated], NOW)
    assert pool.available("en") == (2,)
    assert pool.available("vi") == (1, 2)
    assert {pick_next_idea(pool, "en", set(), seed) for seed in range(50)} == {2}
    assert pick_next_idea(pool, "en", {2}, 0) is None
    assert pick_next_idea(pool, "es", set(), 0) is None
