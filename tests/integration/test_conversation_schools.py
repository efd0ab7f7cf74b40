"""What a new conversation records of a family's schools, on SQLite and PostgreSQL: the
household, and school -> grades (every school of the household for a district activity,
only its own for a school's round)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert

from storage import models
from storage.households import conversation_schools

NOW = datetime(2026, 9, 1, 15, 0)
SCHOOLS = ("lincoln-es", "roosevelt-ms", "kennedy-hs", "garfield-es")

# Household 1: Ana (1) and Luis (2), with children at Lincoln (K, and 2 from Luis's
# side too), Roosevelt (7) and Kennedy (10); Luis also named Garfield himself.
# Household 2: Mai (3), one child at Lincoln in PK and one in grade 12 with no school
# year given at Kennedy. Bo (4) is in no household and named Roosevelt himself;
# Cy (5) is in no household and has no school at all.
STUDENTS = (
    (1, "lincoln-es", "K"),
    (2, "lincoln-es", "2"),
    (3, "roosevelt-ms", "7"),
    (4, "kennedy-hs", "10"),
    (5, "lincoln-es", "PK"),
    (6, "kennedy-hs", None),
    (7, "lincoln-es", "2"),
)
GUARDIANSHIPS = ((1, 1), (3, 1), (4, 1), (2, 2), (7, 2), (3, 2), (5, 3), (6, 3))
PEOPLE = ((1, 1), (2, 1), (3, 2), (4, None), (5, None))
OWN = ((2, "garfield-es"), (4, "roosevelt-ms"))


def district(engine: Engine) -> None:
    table = models.table
    with engine.begin() as connection:
        connection.execute(
            insert(table(models.School)),
            [{"code": code, "name": code, "created_at": NOW} for code in SCHOOLS],
        )
        connection.execute(
            insert(table(models.Household)), [{"id": h, "created_at": NOW} for h in (1, 2)]
        )
        connection.execute(
            insert(table(models.Participant)),
            [
                {
                    "id": pid,
                    "pseudonym": f"P-{pid}",
                    "household_id": household,
                    "role": "parent",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for pid, household in PEOPLE
            ],
        )
        connection.execute(
            insert(table(models.Student)),
            [
                {"id": sid, "school": school, "grade": grade, "created_at": NOW, "updated_at": NOW}
                for sid, school, grade in STUDENTS
            ],
        )
        connection.execute(
            insert(table(models.Guardianship)),
            [
                {"student_id": sid, "participant_id": pid, "created_at": NOW}
                for sid, pid in GUARDIANSHIPS
            ],
        )
        connection.execute(
            insert(table(models.ParticipantSchool)),
            [{"participant_id": pid, "school": s, "created_at": NOW} for pid, s in OWN],
        )


def test_a_district_activity_sees_every_school_of_the_household_with_its_grades_in_order(
    engine: Engine,
) -> None:
    district(engine)
    with engine.connect() as connection:
        seen = conversation_schools(connection, [1, 2, 3, 4, 5], dict.fromkeys(range(1, 6)))
        # Households the caller read already are taken as read; the others looked up.
        told = conversation_schools(connection, [1, 2, 3, 4, 5], {}, {1: 1, 3: 2, 5: None})
    assert told == seen
    household = {
        "garfield-es": [],
        "kennedy-hs": ["10"],
        "lincoln-es": ["K", "2"],
        "roosevelt-ms": ["7"],
    }
    assert seen == {
        1: (1, household),
        2: (1, household),
        3: (2, {"kennedy-hs": [], "lincoln-es": ["PK"]}),
        4: (None, {"roosevelt-ms": []}),
        5: (None, {}),
    }


def test_a_schools_round_sees_that_school_alone_with_the_households_grades_there(
    engine: Engine,
) -> None:
    district(engine)
    scope = {1: "lincoln-es", 2: "roosevelt-ms", 3: "roosevelt-ms", 4: "roosevelt-ms"}
    with engine.connect() as connection:
        seen = conversation_schools(connection, [1, 2, 3, 4], scope)
    assert seen == {
        1: (1, {"lincoln-es": ["K", "2"]}),
        2: (1, {"roosevelt-ms": ["7"]}),
        3: (2, {"roosevelt-ms": []}),
        4: (None, {"roosevelt-ms": []}),
    }


def test_grades_sort_as_schools_count_them_and_nobody_asked_about_gets_nothing(
    engine: Engine,
) -> None:
    district(engine)
    table = models.table
    with engine.begin() as connection:
        connection.execute(
            insert(table(models.Student)),
            [
                {
                    "id": 10 + n,
                    "school": "garfield-es",
                    "grade": grade,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n, grade in enumerate(("12", "TK", "Ungraded", "1", "PK", "K", "3"))
            ],
        )
        connection.execute(
            insert(table(models.Guardianship)),
            [{"student_id": 10 + n, "participant_id": 5, "created_at": NOW} for n in range(7)],
        )
    with engine.connect() as connection:
        seen = conversation_schools(connection, [5], {})
        assert conversation_schools(connection, [], {}) == {}
    assert seen == {5: (None, {"garfield-es": ["PK", "TK", "K", "1", "3", "12", "Ungraded"]})}
