"""Themes in free text: real clusters, deterministic, sane on tiny and odd inputs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.synthesis.themes import Theme, find_themes

BUSES = [
    "The bus is always late",
    "bus comes late every morning",
    "school bus late again",
    "the buses are late in winter",
    "our bus driver is late",
]
MATH = [
    "More math tutoring please",
    "math homework help",
    "tutoring for math after school",
    "help with math homework at night",
    "math tutoring on weekends",
]
NOTES = [
    "Translate notes to Spanish",
    "notes home are only in English",
    "please send notes in Spanish",
    "notes in Spanish and Vietnamese",
]


def theme_of(themes: list[Theme], index: int) -> Theme:
    return next(t for t in themes if index in t.members)


def test_clear_topics_become_separate_themes_with_their_words() -> None:
    texts = BUSES + MATH + NOTES
    themes = find_themes(texts, "en")

    assert len(themes) == 3
    bus, math, notes = theme_of(themes, 0), theme_of(themes, 5), theme_of(themes, 10)
    assert set(bus.members) == set(range(5))
    assert set(math.members) == set(range(5, 10))
    assert set(notes.members) == set(range(10, 14))
    assert any("bus" in term for term in bus.terms)
    assert any("math" in term for term in math.terms)
    assert any("notes" in term for term in notes.terms)


def test_sizes_add_up_and_biggest_comes_first() -> None:
    texts = BUSES + MATH + NOTES + ["", "   "]
    themes = find_themes(texts, "en")

    assert sum(t.size for t in themes) == 14
    assert [t.size for t in themes] == sorted((t.size for t in themes), reverse=True)


def test_three_distinct_quotes_from_the_theme_itself() -> None:
    themes = find_themes(BUSES + MATH + NOTES, "en")

    for theme in themes:
        assert len(theme.quotes) == 3
        assert len(set(theme.quotes)) == 3
        members = {(BUSES + MATH + NOTES)[i] for i in theme.members}
        assert set(theme.quotes) <= members


def test_the_same_texts_give_the_same_themes() -> None:
    texts = BUSES + MATH + NOTES + ["ok", "no"]

    assert find_themes(texts, "en") == find_themes(list(texts), "en")


def test_repeated_texts_count_once_each_but_cluster_together() -> None:
    themes = find_themes(["bus late"] * 20 + ["math help"] * 4, "en")

    assert [(t.terms, t.size) for t in themes] == [(("bus late",), 20), (("math help",), 4)]
    assert themes[0].quotes == ("bus late",)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], []),
        (["", "  "], []),
        (["Buses"], [(("buses",), 1)]),
        (["y", "de la"], [((), 2)]),
    ],
    ids=["nothing", "blank", "one", "stop-words-only"],
)
def test_tiny_inputs(texts: list[str], expected: list[tuple[tuple[str, ...], int]]) -> None:
    language = "es" if texts == ["y", "de la"] else "en"
    assert [(t.terms, t.size) for t in find_themes(texts, language)] == expected


def test_answers_without_a_distinctive_word_are_a_theme_of_their_own() -> None:
    themes = find_themes(BUSES + ["no", "ok", "yes"], "en")

    assert themes[-1].terms == ()
    assert themes[-1].size == 3


def test_vietnamese_keeps_two_syllable_words() -> None:
    texts = [
        "Xe buýt đến trễ",
        "xe buýt trễ quá",
        "xe buýt không đúng giờ",
        "cần dạy thêm toán",
        "học toán khó",
        "thêm giờ học toán",
    ]
    themes = find_themes(texts, "vi")

    assert len(themes) == 2
    assert "xe buýt" in theme_of(themes, 0).terms


def test_haitian_creole_themes_leave_its_common_words_out() -> None:
    texts = [
        "Mwen vle otobis la vini alè",
        "otobis la toujou an reta",
        "otobis la pa janm vini alè",
        "pitit mwen bezwen èd nan matematik",
        "nou bezwen plis èd nan matematik",
        "matematik la twò difisil pou li",
    ]
    themes = find_themes(texts, "ht")

    assert {frozenset(t.members) for t in themes} == {frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    assert any("otobis" in term for term in theme_of(themes, 0).terms)
    assert any("matematik" in term for term in theme_of(themes, 3).terms)
    words = {word for t in themes for term in t.terms for word in term.split()}
    assert not {"mwen", "la", "pa", "nan"} & words


def test_chinese_is_read_in_characters() -> None:
    texts = ["校车总是迟到", "校车太晚了", "校车", "数学作业太多", "数学辅导", "需要数学老师"]
    themes = find_themes(texts, "zh")

    assert {frozenset(t.members) for t in themes} == {frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    assert "校车" in theme_of(themes, 0).terms


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=40), max_size=30), st.sampled_from(["en", "es", "vi", "zh"]))
def test_any_texts_give_consistent_themes(texts: list[str], language: str) -> None:
    themes = find_themes(texts, language)

    kept = [i for i, t in enumerate(texts) if t.strip()]
    assert sorted(i for t in themes for i in t.members) == kept
    for theme in themes:
        assert theme.size == len(theme.members)
        assert 1 <= len(theme.quotes) <= 3
        assert set(theme.quotes) <= {texts[i].strip() for i in theme.members}
