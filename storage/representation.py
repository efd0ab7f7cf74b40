"""Whose voices are missing: response rates against enrollment, per school × language × role.

The rule (docs/synthesis.md): the district-wide rate R is respondents over
enrollment across every enrolled group. A group (school, language, role) with
n enrolled and r respondents is under-represented when r < ratio × R × n,
that is when its response rate is below `ratio` (default 0.8, the
"four-fifths rule") of the district's. A group nobody in which has answered
is always under-represented once anyone has answered. A respondent is a
participant with at least one answered question (of the activity, or of any
activity); people whose school, language or role is unknown, or not in the
enrollment figures, are counted apart as `unmatched`.

`under_represented_groups` is what the broadcast audience `under-represented`
targets (`group_condition` is its SQL); `plan_follow_up` records a follow-up
with one exact `engage broadcast` audience filter per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from bot.errors import EngageError
from storage import models

__all__ = [
    "DEFAULT_RATIO",
    "FollowUp",
    "Group",
    "GroupFigures",
    "Representation",
    "RepresentationError",
    "count_audience",
    "measure_representation",
    "follow_up_plans",
    "group_condition",
    "plan_follow_up",
    "under_represented_groups",
]

DEFAULT_RATIO = 0.8

enrollment = models.table(models.Enrollment)
participants = models.table(models.Participant)
responses = models.table(models.Response)
activities = models.table(models.Activity)
contacts = models.table(models.Contact)
audit = models.table(models.AuditEntry)

FOLLOW_UP_ACTION = "follow_up.planned"


class RepresentationError(EngageError):
    """Representation cannot be measured: no enrollment figures, or an unknown activity."""


@dataclass(frozen=True, slots=True, order=True)
class Group:
    """A community the district enrolls: families of one language at one school, in one role."""

    school: str
    language: str
    role: str


@dataclass(frozen=True, slots=True)
class GroupFigures:
    group: Group
    enrolled: int
    respondents: int
    expected: float
    under_represented: bool

    @property
    def rate(self) -> float:
        return self.respondents / self.enrolled if self.enrolled else 0.0


@dataclass(frozen=True, slots=True)
class Representation:
    """Figures for every enrolled group, with the district-wide rate and the rule's ratio."""

    activity: str | None
    ratio: float
    groups: tuple[GroupFigures, ...]
    unmatched: int

    @property
    def enrolled(self) -> int:
        return sum(g.enrolled for g in self.groups)

    @property
    def respondents(self) -> int:
        return sum(g.respondents for g in self.groups)

    @property
    def rate(self) -> float:
        return self.respondents / self.enrolled if self.enrolled else 0.0

    @property
    def under_represented(self) -> tuple[GroupFigures, ...]:
        return tuple(g for g in self.groups if g.under_represented)

    def frame(self, by: tuple[str, ...] = ("school", "language", "role")) -> pd.DataFrame:
        """A table per `by` (a subset of school, language, role), biggest gaps first.

        A row is under-represented when any group in it is; `gap` is how many
        more respondents it would take to reach the district-wide rate.
        """
        records = [
            {
                "school": g.group.school,
                "language": g.group.language,
                "role": g.group.role,
                "enrolled": g.enrolled,
                "respondents": g.respondents,
                "expected": g.expected,
                "under_represented": g.under_represented,
            }
            for g in self.groups
        ]
        columns = list(by)
        frame = pd.DataFrame.from_records(
            records,
            columns=[
                "school",
                "language",
                "role",
                "enrolled",
                "respondents",
                "expected",
                "under_represented",
            ],
        )
        if frame.empty:
            return pd.DataFrame(
                columns=columns
                + ["enrolled", "respondents", "response_rate", "index", "gap", "under_represented"]
            )
        grouped = (
            frame.groupby(columns, sort=True)
            .agg(
                enrolled=("enrolled", "sum"),
                respondents=("respondents", "sum"),
                expected=("expected", "sum"),
                under_represented=("under_represented", "any"),
            )
            .reset_index()
        )
        grouped["response_rate"] = (grouped["respondents"] / grouped["enrolled"]).where(
            grouped["enrolled"] > 0
        )
        grouped["index"] = (grouped["respondents"] / grouped["expected"]).where(
            grouped["expected"] > 0
        )
        grouped["gap"] = (grouped["expected"] - grouped["respondents"]).clip(lower=0).round()
        grouped["gap"] = grouped["gap"].astype("int64")
        grouped = grouped.sort_values(
            ["under_represented", "gap"] + columns, ascending=[False, False] + [True] * len(columns)
        ).reset_index(drop=True)
        return grouped[
            columns
            + ["enrolled", "respondents", "response_rate", "index", "gap", "under_represented"]
        ]


def _activity_ids(connection: Connection, activity_key: str) -> list[int]:
    ids = list(
        connection.execute(select(activities.c.id).where(activities.c.key == activity_key))
        .scalars()
        .all()
    )
    if not ids:
        raise RepresentationError(f"no activity named {activity_key!r}: see `engage activity list`")
    return ids


def measure_representation(
    engine: Engine, activity_key: str | None = None, *, ratio: float = DEFAULT_RATIO
) -> Representation:
    """Response rates against enrollment for `activity_key` (or any activity, when None).

    Raises RepresentationError when no enrollment is imported or the activity
    is unknown.
    """
    with engine.connect() as connection:
        figures = connection.execute(
            select(
                enrollment.c.school,
                enrollment.c.language,
                enrollment.c.role,
                enrollment.c.count.label("enrolled"),
            )
        ).all()
        if not figures:
            raise RepresentationError(
                "no enrollment figures: import them with `engage enrollment import FILE`"
            )
        answered: Any = responses.c.status == "answered"
        if activity_key is not None:
            answered = and_(
                answered, responses.c.activity_id.in_(_activity_ids(connection, activity_key))
            )
        who = select(responses.c.participant_id).where(answered).distinct().subquery()
        counted = connection.execute(
            select(
                participants.c.school,
                participants.c.language,
                participants.c.role,
                func.count().label("respondents"),
            )
            .join(who, who.c.participant_id == participants.c.id)
            .group_by(participants.c.school, participants.c.language, participants.c.role)
        ).all()
    heard = {
        Group(r.school, r.language, r.role): int(r.respondents)
        for r in counted
        if r.school and r.language and r.role
    }
    enrolled = {Group(f.school, f.language, f.role): int(f.enrolled) for f in figures}
    unmatched = sum(int(r.respondents) for r in counted) - sum(
        n for g, n in heard.items() if g in enrolled
    )
    total_enrolled = sum(enrolled.values())
    total_heard = sum(heard.get(g, 0) for g in enrolled)
    rate = total_heard / total_enrolled if total_enrolled else 0.0
    groups = []
    for group in sorted(enrolled):
        n = enrolled[group]
        r = heard.get(group, 0)
        expected = rate * n
        groups.append(
            GroupFigures(
                group=group,
                enrolled=n,
                respondents=r,
                expected=expected,
                under_represented=n > 0 and r < ratio * expected,
            )
        )
    return Representation(activity_key, ratio, tuple(groups), unmatched)


def under_represented_groups(
    engine: Engine, activity_key: str | None = None, *, ratio: float = DEFAULT_RATIO
) -> list[Group]:
    """The (school, language, role) groups under-represented in `activity_key`, sorted.

    This is the broadcast audience `under-represented`: a participant belongs
    to it when their school, language and role are one of these groups.
    Empty when nobody has answered yet (no rate to compare with).
    """
    return [
        g.group for g in measure_representation(engine, activity_key, ratio=ratio).under_represented
    ]


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up planned for the under-represented groups of an activity.

    `filters` has one audience filter per group, in `engage broadcast` syntax:
    each reaches exactly that group's people who have not answered yet.
    """

    id: int
    activity: str
    groups: tuple[Group, ...]
    audience: int
    filters: tuple[str, ...]
    requested_by: str
    requested_at: datetime


def group_condition(groups: list[Group]) -> ColumnElement[bool]:
    """SQL: the participant belongs to one of `groups` (for the `under-represented` audience)."""
    return tuple_(participants.c.school, participants.c.language, participants.c.role).in_(
        [(g.school, g.language, g.role) for g in groups]
    )


def count_audience(connection: Connection, groups: list[Group], activity_key: str | None) -> int:
    """How many people a follow-up to `groups` would reach: a contact we may message,
    consent not refused, not forgotten, and no answer to `activity_key` yet."""
    if not groups:
        return 0
    reachable = exists().where(
        contacts.c.participant_id == participants.c.id,
        contacts.c.opted_out_at.is_(None),
        contacts.c.invalid_at.is_(None),
    )
    query = (
        select(func.count())
        .select_from(participants)
        .where(
            group_condition(groups),
            participants.c.forgotten_at.is_(None),
            participants.c.consent.is_not(False),
            reachable,
        )
    )
    if activity_key is not None:
        ids = _activity_ids(connection, activity_key)
        query = query.where(
            ~exists().where(
                responses.c.participant_id == participants.c.id,
                responses.c.activity_id.in_(ids),
                responses.c.status == "answered",
            )
        )
    return int(connection.execute(query).scalar_one())


def _filters(activity_key: str, groups: list[Group]) -> tuple[str, ...]:
    return tuple(
        f"school={g.school},language={g.language},role={g.role},not-answered={activity_key}"
        for g in groups
    )


def plan_follow_up(
    engine: Engine,
    activity_key: str,
    actor: str,
    now: datetime,
    *,
    ratio: float = DEFAULT_RATIO,
) -> FollowUp:
    """Plan a follow-up inviting the under-represented groups of `activity_key` again.

    The plan is recorded (audit log, action `follow_up.planned`) with the
    groups, how many people it would reach and one `engage broadcast`
    audience filter per group; nothing is sent until an organizer broadcasts
    it. Raises RepresentationError when no group is under-represented.
    """
    groups = under_represented_groups(engine, activity_key, ratio=ratio)
    if not groups:
        raise RepresentationError(f"no group is under-represented in {activity_key}")
    filters = _filters(activity_key, groups)
    with engine.begin() as connection:
        size = count_audience(connection, groups, activity_key)
        detail = {
            "activity": activity_key,
            "groups": [[g.school, g.language, g.role] for g in groups],
            "audience": size,
            "filters": list(filters),
        }
        entry_id = connection.execute(
            insert(audit).returning(audit.c.id),
            {"actor": actor, "action": FOLLOW_UP_ACTION, "detail": detail, "created_at": now},
        ).scalar_one()
    return FollowUp(int(entry_id), activity_key, tuple(groups), size, filters, actor, now)


def follow_up_plans(engine: Engine, limit: int = 10) -> list[FollowUp]:
    """The newest follow-up plans, newest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit.c.id, audit.c.actor, audit.c.detail, audit.c.created_at)
            .where(audit.c.action == FOLLOW_UP_ACTION)
            .order_by(audit.c.id.desc())
            .limit(limit)
        ).all()
    plans = []
    for row in rows:
        detail = row.detail or {}
        plans.append(
            FollowUp(
                id=row.id,
                activity=str(detail.get("activity", "")),
                groups=tuple(Group(*g) for g in detail.get("groups", [])),
                audience=int(detail.get("audience", 0)),
                filters=tuple(detail.get("filters", [])),
                requested_by=row.actor,
                requested_at=row.created_at,
            )
        )
    return plans
