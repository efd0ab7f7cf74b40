"""The four-fifths rule on counts alone, with no database."""

from __future__ import annotations

from bot.core.audience import Group
from bot.ports import HeardCounts
from bot.synthesis.representation import follow_up_filters, judge

LINCOLN_EN = Group("lincoln-es", "en", "parent")
ADAMS_ES = Group("adams-ms", "es", "parent")
ADAMS_STUDENTS = Group("adams-ms", "es", "student")


def test_a_group_under_four_fifths_of_the_district_rate_is_flagged() -> None:
    counts = HeardCounts(
        enrolled={LINCOLN_EN: 40, ADAMS_ES: 30, ADAMS_STUDENTS: 10},
        respondents={LINCOLN_EN: 12, ADAMS_ES: 4},
    )
    report = judge("priorities", counts)

    assert (report.enrolled, report.respondents, report.rate) == (80, 16, 0.2)
    assert [g.group for g in report.under_represented] == [ADAMS_ES, ADAMS_STUDENTS]


def test_a_group_exactly_at_four_fifths_is_not_flagged() -> None:
    # District rate 20/100 = 0.2; 0.8 × 0.2 × 50 = 8 respondents is the line.
    counts = HeardCounts(
        enrolled={LINCOLN_EN: 50, ADAMS_ES: 50}, respondents={LINCOLN_EN: 12, ADAMS_ES: 8}
    )
    assert judge(None, counts).under_represented == ()


def test_respondents_outside_the_figures_are_unmatched() -> None:
    counts = HeardCounts(
        enrolled={LINCOLN_EN: 10},
        respondents={LINCOLN_EN: 2, Group("nowhere", "en", "parent"): 3},
        unknown=1,
    )
    report = judge(None, counts)
    assert (report.respondents, report.unmatched) == (2, 4)


def test_nobody_heard_flags_nobody() -> None:
    report = judge(None, HeardCounts(enrolled={LINCOLN_EN: 10}, respondents={}))
    assert (report.rate, report.under_represented) == (0.0, ())


def test_each_flagged_group_gets_one_broadcast_filter() -> None:
    assert follow_up_filters("priorities", [ADAMS_ES]) == (
        "school=adams-ms,language=es,role=parent,not-answered=priorities",
    )


def test_a_flagged_group_shows_the_respondents_it_really_lacks() -> None:
    # District rate 10/100; Adams students expect 0.4 and have none: flagged, one short.
    counts = HeardCounts(enrolled={LINCOLN_EN: 96, ADAMS_STUDENTS: 4}, respondents={LINCOLN_EN: 10})
    report = judge(None, counts)
    (flagged,) = report.under_represented
    assert (flagged.group, flagged.gap) == (ADAMS_STUDENTS, 1)


def test_a_group_above_the_rate_does_not_hide_a_flagged_one_in_its_row() -> None:
    # Adams: Spanish parents 12/40 (above 20%), Spanish students 0/10 (flagged, 2 short).
    counts = HeardCounts(
        enrolled={LINCOLN_EN: 50, ADAMS_ES: 40, ADAMS_STUDENTS: 10},
        respondents={LINCOLN_EN: 8, ADAMS_ES: 12},
    )
    table = judge(None, counts).frame(("school", "language"))
    adams = table[table["school"] == "adams-ms"].iloc[0]
    assert bool(adams["under_represented"]) and adams["gap"] == 2
    assert adams["respondents"] == 12 and adams["enrolled"] == 50


def test_a_schools_own_round_keeps_its_school() -> None:
    counts = HeardCounts(
        enrolled={LINCOLN_EN: 10}, respondents={LINCOLN_EN: 1}, school="lincoln-es"
    )
    assert judge("lincoln-draft", counts).school == "lincoln-es"
