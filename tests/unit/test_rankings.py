"""Ranking questions are ordered by Borda points, with first choices and n beside them."""

from __future__ import annotations

import pandas as pd

from bot.synthesis.pack import RANKING_METHOD, _rankings

TYPES = {"priority": "ranking"}
LABELS = {("priority", "a"): "Arts", ("priority", "b"): "Buses", ("priority", "c"): "Counselors"}
OPTIONS = {"priority": ["a", "b", "c"]}


def ranked(*answers: str) -> pd.DataFrame:
    return pd.DataFrame({"question": ["priority"] * len(answers), "value": list(answers)})


def table(frame: pd.DataFrame) -> list[list[object]]:
    columns = ["rank", "option", "borda_points", "ranked", "first_choice", "respondents"]
    return _rankings(frame, OPTIONS, LABELS, TYPES)[columns].values.tolist()


def test_an_option_many_put_first_beats_one_a_few_ranked_only_first() -> None:
    """By mean position Arts (8 people, all first) would top Buses (17 people, 9 first)."""
    frame = ranked(*["a;c;b"] * 8, *["b;c"] * 9)

    assert table(frame) == [
        [1, "b", 8 * 1 + 9 * 3, 17, 9, 17],
        [2, "c", 8 * 2 + 9 * 2, 17, 0, 17],
        [3, "a", 8 * 3, 8, 8, 17],
    ]


def test_the_share_of_first_choices_is_of_everyone_who_ranked() -> None:
    result = _rankings(ranked("a;b", "a", "b;a", "c"), OPTIONS, LABELS, TYPES)
    shares = dict(zip(result["option"], result["first_choice_share"], strict=True))
    assert shares == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert list(result["label"]) == ["Arts", "Buses", "Counselors"]


def test_equal_points_and_first_choices_share_a_rank() -> None:
    assert [row[0] for row in table(ranked("a;b", "b;a"))] == [1, 1, 3]


def test_an_option_nobody_ranked_is_listed_last_with_nothing() -> None:
    assert table(ranked("a;b"))[-1] == [3, "c", 0, 0, 0, 1]


def test_the_method_is_said_in_words() -> None:
    assert "Borda" in RANKING_METHOD and "first place" in RANKING_METHOD
