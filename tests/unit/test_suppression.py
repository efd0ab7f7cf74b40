"""Small-cell suppression: what is hidden, and that no hidden cell can be worked out."""

from __future__ import annotations

from bot.synthesis.suppression import Disclosure, marker


def schools(values: dict[str, int], district: int | None = None) -> Disclosure:
    d = Disclosure()
    for name, value in values.items():
        d.count(name, value)
    d.count("district", district if district is not None else sum(values.values()), small=False)
    d.add_up("district", list(values))
    return d


def test_counts_below_the_threshold_zero_included_are_hidden() -> None:
    d = Disclosure()
    for name, value in {"a": 25, "b": 9, "c": 0, "d": 10}.items():
        d.count(name, value)

    assert d.protect(10) == {"b", "c"}
    assert marker(10) == "<10"


def test_a_lone_hidden_cell_takes_the_next_smallest_with_it() -> None:
    d = schools({"adams": 4, "lincoln": 30, "kennedy": 12})

    assert d.protect(10) == {"adams", "kennedy"}


def test_a_sum_that_does_not_add_up_ties_nothing() -> None:
    d = schools({"adams": 4, "lincoln": 30}, district=50)  # 16 people are in no school

    assert d.protect(10) == {"adams"}


def test_a_chain_of_subtractions_across_sums_is_closed_too() -> None:
    # x + y, y + z and x + z are all shown: each sum has two hidden cells, yet the
    # three together fix each cell, so the totals must go as well.
    d = Disclosure()
    for name, value in {"x": 3, "y": 20, "z": 30}.items():
        d.count(name, value)
    for total, parts in {"xy": ("x", "y"), "yz": ("y", "z"), "xz": ("x", "z")}.items():
        d.count(total, sum(d.values[p] for p in parts), small=False)
        d.add_up(total, parts)

    hidden = d.protect(10)

    assert {"x", "y", "z"} <= hidden and hidden & {"xy", "yz", "xz"}


def test_linked_numbers_are_hidden_together() -> None:
    # A school's n is 4: the sum of its scores goes with it, so its mean cannot be rebuilt.
    d = schools({"adams": 4, "lincoln": 30, "kennedy": 12})
    d.count("adams scores", 4.0, small=False)
    d.link("adams", "adams scores")

    assert "adams scores" in d.protect(10)


def test_weighted_sums_count_like_plain_ones() -> None:
    # Scores: 1 × (ones) + 5 × (fives) = the sum of scores, which is shown.
    d = Disclosure()
    d.count("ones", 3)
    d.count("fives", 40)
    d.count("scores", 203, small=False)
    d.add_up("scores", ["ones", "fives"], [1, 5])

    assert d.protect(10) == {"ones", "fives"}
