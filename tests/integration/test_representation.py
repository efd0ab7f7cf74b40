"""Representation against enrollment on SQLite and PostgreSQL: rates, flags, follow-ups."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from bot.core.audience import Group
from bot.errors import RepresentationError
from bot.synthesis.representation import (
    measure_representation,
    plan_follow_up,
    under_represented_groups,
)
from storage import models
from storage.representation import SqlRepresentation
from tests.integration.round_data import Round, enroll, seed_round

NOW = datetime(2026, 9, 30, 12, 0)


@pytest.fixture
def round_(engine: Engine) -> Round:
    """District rate 20/100 = 20%: Lincoln English parents 12/40, Adams Spanish parents
    4/30 (13% < 0.8 × 20%), Adams Spanish students 0/10, Lincoln Vietnamese 4/20."""
    survey = seed_round(engine)
    groups = [
        ("lincoln-es", "en", "parent", 12),
        ("adams-ms", "es", "parent", 4),
        ("lincoln-es", "vi", "parent", 4),
    ]
    for school, language, role, count in groups:
        for _ in range(count):
            person = survey.person(
                school=school,
                language=language,
                role=role,
                phone=f"+1555{len(survey.people):07d}",
            )
            survey.answer(person, "top", "safety", "1")
    # Someone who only skipped is not a respondent; someone unknown is unmatched.
    skipper = survey.person(school="adams-ms", language="es", role="student", phone="+15559990001")
    survey.answer(skipper, "top", None, "SKIP", status="skipped")
    stranger = survey.person(school=None, language="en", role="parent")
    survey.answer(stranger, "top", "safety", "1")
    # Not yet answered, but reachable: the follow-up's audience.
    for index in range(3):
        survey.person(school="adams-ms", language="es", role="parent", phone=f"+155588800{index}")
    enroll(
        engine,
        {
            ("lincoln-es", "en", "parent"): 40,
            ("adams-ms", "es", "parent"): 30,
            ("adams-ms", "es", "student"): 10,
            ("lincoln-es", "vi", "parent"): 20,
        },
    )
    return survey


def test_rates_are_measured_per_school_language_and_role(engine: Engine, round_: Round) -> None:
    report = measure_representation(SqlRepresentation(engine), "priorities")

    assert (report.enrolled, report.respondents, report.rate) == (100, 20, 0.2)
    assert report.unmatched == 1
    figures = {g.group: (g.enrolled, g.respondents) for g in report.groups}
    assert figures == {
        Group("adams-ms", "es", "parent"): (30, 4),
        Group("adams-ms", "es", "student"): (10, 0),
        Group("lincoln-es", "en", "parent"): (40, 12),
        Group("lincoln-es", "vi", "parent"): (20, 4),
    }


def test_groups_under_four_fifths_of_the_district_rate_are_flagged(
    engine: Engine, round_: Round
) -> None:
    assert under_represented_groups(SqlRepresentation(engine), "priorities") == [
        Group("adams-ms", "es", "parent"),
        Group("adams-ms", "es", "student"),
    ]


def test_the_school_and_language_table_puts_the_biggest_gaps_first(
    engine: Engine, round_: Round
) -> None:
    table = measure_representation(SqlRepresentation(engine), "priorities").frame(
        ("school", "language")
    )

    assert table[["school", "language", "enrolled", "respondents", "gap"]].values.tolist() == [
        ["adams-ms", "es", 40, 4, 4],
        ["lincoln-es", "en", 40, 12, 0],
        ["lincoln-es", "vi", 20, 4, 0],
    ]
    assert table["under_represented"].tolist() == [True, False, False]
    assert table["response_rate"].round(2).tolist() == [0.1, 0.3, 0.2]


def test_without_an_activity_every_answer_counts(engine: Engine, round_: Round) -> None:
    assert measure_representation(SqlRepresentation(engine)).respondents == 20


def test_no_enrollment_and_unknown_activities_are_clear_errors(engine: Engine) -> None:
    seed_round(engine)
    with pytest.raises(RepresentationError, match="engage enrollment import"):
        measure_representation(SqlRepresentation(engine), "priorities")
    enroll(engine, {("lincoln-es", "en", "parent"): 10})
    with pytest.raises(RepresentationError, match="no activity named 'nope'"):
        measure_representation(SqlRepresentation(engine), "nope")


def test_an_empty_round_flags_nobody(engine: Engine) -> None:
    seed_round(engine)
    enroll(engine, {("lincoln-es", "en", "parent"): 10})

    report = measure_representation(SqlRepresentation(engine), "priorities")
    assert (report.rate, report.under_represented) == (0.0, ())


def test_a_follow_up_plan_targets_exactly_the_flagged_groups(engine: Engine, round_: Round) -> None:
    plan = plan_follow_up(SqlRepresentation(engine), "priorities", "dashboard:127.0.0.1", NOW)

    assert plan.groups == (Group("adams-ms", "es", "parent"), Group("adams-ms", "es", "student"))
    # The three Spanish-speaking Adams parents who have not answered (the skipper has no
    # answer either, and is an Adams student).
    assert plan.audience == 4
    assert plan.filters == (
        "school=adams-ms,language=es,role=parent,not-answered=priorities",
        "school=adams-ms,language=es,role=student,not-answered=priorities",
    )
    assert SqlRepresentation(engine).follow_up_plans() == [plan]
    with engine.connect() as connection:
        entry = connection.execute(
            select(models.AuditEntry.__table__).where(
                models.AuditEntry.action == "follow_up.planned"
            )
        ).one()
    assert entry.actor == "dashboard:127.0.0.1"


def test_a_follow_up_with_nobody_under_represented_is_refused(engine: Engine) -> None:
    survey = seed_round(engine)
    survey.answer(survey.person(), "top", "safety", "1")
    enroll(engine, {("lincoln-es", "en", "parent"): 1})

    with pytest.raises(RepresentationError, match="no group is under-represented"):
        plan_follow_up(SqlRepresentation(engine), "priorities", "cli", NOW)
    assert SqlRepresentation(engine).follow_up_plans() == []
