"""Who belongs to which school: the links between participants, students and households.

A participant is tied to a school through a student they answer for
(`guardianships`, the student's school and grade) or directly
(`participant_schools`: staff, a school named by text message). A household
is the guardians one roster links together, with their students; its
schools are its students' schools.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Select,
    Subquery,
    bindparam,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from storage import models
from storage.bulk import among
from storage.prepared import Prepared

__all__ = [
    "activity_school",
    "activity_schools",
    "add_own_schools",
    "conversation_schools",
    "conversation_schools_one",
    "first_school",
    "household_of",
    "schools_of",
    "schools_of_one",
    "ties",
]

participants = models.table(models.Participant)
students = models.table(models.Student)
guardianships = models.table(models.Guardianship)
participant_schools = models.table(models.ParticipantSchool)
activities = models.table(models.Activity)


def ties() -> Subquery:
    """(participant_id, school, grade) for every tie of a participant to a school.

    Through a student: the student's school and grade; of their own: the
    school and no grade.
    """
    through_students = select(
        guardianships.c.participant_id,
        students.c.school,
        students.c.grade,
    ).join(students, students.c.id == guardianships.c.student_id)
    own = select(
        participant_schools.c.participant_id,
        participant_schools.c.school,
        null().label("grade"),
    )
    return union_all(through_students, own).subquery("ties")


def first_school() -> ColumnElement[str]:
    """SQL, correlated to `participants`: one school of the participant (a student's
    first, by the SIS's contact order, else one of their own), or NULL; for listings
    that show one."""
    through_student = (
        select(students.c.school)
        .join(guardianships, guardianships.c.student_id == students.c.id)
        .where(guardianships.c.participant_id == participants.c.id)
        .order_by(
            guardianships.c.contact_order.is_(None), guardianships.c.contact_order, students.c.id
        )
        .limit(1)
        .scalar_subquery()
    )
    own = (
        select(participant_schools.c.school)
        .where(participant_schools.c.participant_id == participants.c.id)
        .order_by(participant_schools.c.school)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(through_student, own)


def _through_students(wanted: ColumnElement[bool]) -> Select[Any]:
    return (
        select(guardianships.c.participant_id, students.c.school)
        .join(students, students.c.id == guardianships.c.student_id)
        .where(wanted)
        .order_by(guardianships.c.participant_id, guardianships.c.contact_order, students.c.id)
    )


def _own(wanted: ColumnElement[bool]) -> Select[Any]:
    return (
        select(participant_schools.c.participant_id, participant_schools.c.school)
        .where(wanted)
        .order_by(participant_schools.c.participant_id, participant_schools.c.school)
    )


# Built once (SQLAlchemy then finds their compiled form by the statement alone): the
# inbound path asks for one participant's schools with every message.
_THROUGH_STUDENTS = _through_students(
    guardianships.c.participant_id.in_(bindparam("ids", expanding=True))
)
_OWN = _own(participant_schools.c.participant_id.in_(bindparam("ids", expanding=True)))
# More ids than this go as one parameter (a broadcast's batch), not one each.
_FEW = 10


# The same, for one participant in one statement (the inbound path, every message).
_ONE_THROUGH_STUDENTS = (
    select(
        literal(0).label("source"),
        guardianships.c.contact_order.label("rank"),
        students.c.id.label("student"),
        students.c.school,
    )
    .join(students, students.c.id == guardianships.c.student_id)
    .where(guardianships.c.participant_id == bindparam("participant"))
)
_ONE_OWN = select(
    literal(1).label("source"),
    null().label("rank"),
    null().label("student"),
    participant_schools.c.school,
).where(participant_schools.c.participant_id == bindparam("participant"))
_SCHOOLS_OF_ONE = Prepared(
    union_all(_ONE_THROUGH_STUDENTS, _ONE_OWN).order_by("source", "rank", "student", "school")
)


def schools_of_one(connection: Connection, participant_id: int) -> tuple[str, ...]:
    """`schools_of` one participant."""
    found = _SCHOOLS_OF_ONE.all(connection, {"participant": participant_id})
    return tuple(dict.fromkeys(row.school for row in found))


def schools_of(
    connection: Connection, participant_ids: Iterable[int]
) -> dict[int, tuple[str, ...]]:
    """Each participant's schools, in a stable order (their students' first, then their own)."""
    ids = list(participant_ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return {}
    if len(ids) <= _FEW:
        through = connection.execute(_THROUGH_STUDENTS, {"ids": ids}).all()
        own = connection.execute(_OWN, {"ids": ids}).all()
    else:
        through = connection.execute(
            _through_students(among(connection, guardianships.c.participant_id, ids))
        ).all()
        own = connection.execute(
            _own(among(connection, participant_schools.c.participant_id, ids))
        ).all()
    for pid, school in chain(through, own):
        schools = found.setdefault(pid, [])
        if school not in schools:
            schools.append(school)
    return {pid: tuple(schools) for pid, schools in found.items()}


def add_own_schools(
    connection: Connection, participant_id: int, schools: Iterable[str], now: datetime
) -> None:
    """Tie a participant to schools they named (onboarding, a deep link)."""
    rows = [
        {"participant_id": participant_id, "school": school, "created_at": now}
        for school in dict.fromkeys(schools)
    ]
    _ADD_OWN_SCHOOL.execute_many(connection, rows)


_ADD_OWN_SCHOOL = Prepared(
    participant_schools.insert(), keys=["participant_id", "school", "created_at"]
)


def household_of(connection: Connection, participant_id: int) -> int | None:
    household: int | None = connection.execute(
        select(participants.c.household_id).where(participants.c.id == participant_id)
    ).scalar()
    return household


_SCHOOL_OF_ACTIVITY = Prepared(
    select(activities.c.school).where(activities.c.id == bindparam("activity"))
)


def activity_school(connection: Connection, activity_id: int) -> str | None:
    """`activity_schools` of one activity version."""
    school: str | None = _SCHOOL_OF_ACTIVITY.scalar(connection, {"activity": activity_id})
    return school


_HOUSEHOLD = Prepared(
    select(participants.c.household_id).where(participants.c.id == bindparam("participant"))
)


def _ties_seen_together() -> Prepared:
    tie = ties()
    household = select(participants.c.id).where(participants.c.household_id == bindparam("home"))
    return Prepared(
        select(tie.c.school, tie.c.grade).where(
            or_(
                tie.c.participant_id == bindparam("participant"),
                tie.c.participant_id.in_(household),
            )
        )
    )


_SEEN_TOGETHER = _ties_seen_together()


def conversation_schools_one(
    connection: Connection, participant_id: int, school: str | None
) -> tuple[int | None, dict[str, list[str]]]:
    """`conversation_schools` of one participant starting an activity of `school`, in
    two statements (the inbound path)."""
    household: int | None = _HOUSEHOLD.scalar(connection, {"participant": participant_id})
    seen: dict[str, set[str]] = {}
    for tied, grade in _SEEN_TOGETHER.all(
        connection, {"participant": participant_id, "home": household}
    ):
        found = seen.setdefault(tied, set())
        if grade is not None:
            found.add(grade)
    return household, _as_seen(seen, school)


def conversation_schools(
    connection: Connection,
    participant_ids: Iterable[int],
    scope: Mapping[int, str | None],
    households: Mapping[int, int | None] | None = None,
) -> dict[int, tuple[int | None, dict[str, list[str]]]]:
    """What a new conversation records: the household, and school -> grades it saw.

    `scope` maps each participant to the school of the activity they start
    (None for a district activity). A school's round sees its own school (with
    the grades of the household's students there); a district activity sees
    every school of the household. A participant outside any household is
    seen alone. `households` gives the participants' households where the caller
    read them already (in the same transaction); the others are looked up.

    The database lists each household's schools and grades as one string, so a
    broadcast to a district reads a row a household; households listed alike (most
    are) share one worked-out view, which callers only read.
    """
    ids = list(participant_ids)
    if not ids:
        return {}
    known = households or {}
    homes = {pid: known[pid] for pid in ids if pid in known}
    unknown = [pid for pid in ids if pid not in homes]
    if unknown:
        homes.update(
            connection.execute(
                select(participants.c.id, participants.c.household_id).where(
                    among(connection, participants.c.id, unknown)
                )
            ).all()
        )
    alone = [pid for pid in ids if homes.get(pid) is None]
    parts: dict[tuple[bool, int], list[str]] = {}
    for in_household, key, listed in connection.execute(
        _listed_ties(connection, {h for h in homes.values() if h is not None}, alone)
    ).all():
        parts.setdefault((bool(in_household), key), []).append(listed)
    views: dict[tuple[str, str | None], dict[str, list[str]]] = {}
    result: dict[int, tuple[int | None, dict[str, list[str]]]] = {}
    for pid in ids:
        household = homes.get(pid)
        found = parts.get((True, household) if household is not None else (False, pid), ())
        key = (_ITEM.join(found), scope.get(pid))
        view = views.get(key)
        if view is None:
            view = views[key] = _seen_in(*key)
        result[pid] = (household, view)
    return result


# How a household's ties are listed in one string: `school<_GRADE>grade` (or the
# school alone when it has no grade), `_ITEM` between them; no code or grade holds either.
_ITEM, _GRADE = "\x1e", "\x1f"


def _listed_ties(
    connection: Connection, households: Collection[int], alone: Collection[int]
) -> CompoundSelect[Any]:
    """SQL: (in a household, household or participant id, ties listed) for `households`
    (each member's ties together) and the participants `alone`; a key may have two rows
    (ties through students, and schools of their own)."""
    item = func.coalesce(
        students.c.school.concat(literal(_GRADE)).concat(students.c.grade), students.c.school
    )
    selects = []
    for in_household, key, wanted in (
        (True, participants.c.household_id, households),
        (False, participants.c.id, alone),
    ):
        if not wanted:
            continue
        tag = literal(in_household)
        where = among(connection, key, wanted)
        selects.append(
            select(tag, key, func.aggregate_strings(item, _ITEM))
            .select_from(
                participants.join(
                    guardianships, guardianships.c.participant_id == participants.c.id
                ).join(students, students.c.id == guardianships.c.student_id)
            )
            .where(where)
            .group_by(key)
        )
        selects.append(
            select(tag, key, func.aggregate_strings(participant_schools.c.school, _ITEM))
            .select_from(
                participants.join(
                    participant_schools, participant_schools.c.participant_id == participants.c.id
                )
            )
            .where(where)
            .group_by(key)
        )
    return union_all(*selects)


def _seen_in(listed: str, school: str | None) -> dict[str, list[str]]:
    """School -> grades a conversation records from ties `listed` (see `_listed_ties`):
    every school, or only `school` (with the grades there)."""
    combined: dict[str, set[str]] = {}
    for item in listed.split(_ITEM) if listed else ():
        tied, has_grade, grade = item.partition(_GRADE)
        grades = combined.setdefault(tied, set())
        if has_grade:
            grades.add(grade)
    return _as_seen(combined, school)


def _as_seen(combined: Mapping[str, set[str]], school: str | None) -> dict[str, list[str]]:
    """School -> grades in order, of every school in `combined`, or only `school`."""
    if school is not None:
        combined = {school: combined.get(school, set())}
    return {s: sorted(g, key=_grade_order) for s, g in sorted(combined.items())}


def _grade_order(grade: str) -> tuple[int, str]:
    """PK, TK, K, then 1…12, then anything else."""
    early = {"PK": -2, "TK": -1, "K": 0}
    if grade in early:
        return (early[grade], grade)
    if grade.isdigit():
        return (int(grade), grade)
    return (100, grade)


def activity_schools(connection: Connection, activity_ids: Iterable[int]) -> dict[int, str | None]:
    """The school each activity version is scoped to (None: district-wide)."""
    ids = list(set(activity_ids))
    if not ids:
        return {}
    return dict(
        connection.execute(
            select(activities.c.id, activities.c.school).where(activities.c.id.in_(ids))
        ).all()
    )
