"""Small-cell suppression: what is hidden, and that a lone hidden cell never stays alone."""

from __future__ import annotations

import pandas as pd

from bot.synthesis.suppression import suppress


def test_counts_below_the_threshold_and_their_shares_are_hidden() -> None:
    frame = pd.DataFrame({"count": [25, 9, 0], "share": [0.7, 0.25, 0.0]})

    safe = suppress(frame, 10, ["count"], derived={"count": ["share"]})

    assert safe.values.tolist() == [[25, 0.7], ["<10", "<10"], ["<10", "<10"]]
    assert frame["count"].tolist() == [25, 9, 0]  # the input is left alone


def test_a_mean_over_too_few_people_is_hidden_with_its_n() -> None:
    frame = pd.DataFrame({"n": [8, 30], "mean": [4.25, 3.1]})

    safe = suppress(frame, 10, ["n"], derived={"n": ["mean"]})

    assert safe.values.tolist() == [["<10", "<10"], [30, 3.1]]


def test_a_lone_hidden_cell_takes_the_next_smallest_with_it() -> None:
    frame = pd.DataFrame({"school": ["a", "a", "a", "b", "b"], "count": [30, 12, 3, 40, 50]})

    safe = suppress(frame, 10, ["count"], complements=[["school"]], complement_count="count")

    assert safe["count"].tolist() == [30, "<10", "<10", 40, 50]


def test_complements_hold_across_rows_and_columns_together() -> None:
    # Two schools × two options; each school's and each option's cells add up to totals.
    frame = pd.DataFrame(
        {
            "school": ["a", "a", "b", "b"],
            "option": ["x", "y", "x", "y"],
            "count": [4, 20, 30, 40],
        }
    )

    safe = suppress(
        frame,
        10,
        ["count"],
        complements=[["school"], ["option"]],
        complement_count="count",
    )

    hidden = safe["count"] == "<10"
    assert hidden.tolist() == [True, True, True, True]
