"""The counts behind the representation check, and follow-up plans, in SQL.

The rule itself (the four-fifths rule, the tables) is `bot.synthesis.representation`.
A respondent is a household (or a person outside any household) with at least
one answered question (of the activity, or of any activity), counted once in
each school its conversation saw: a school's round its own school, a district
activity every school of the household. A school's round is compared with its
own school's enrollment only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from bot.core.audience import Group
from bot.errors import RepresentationError
from bot.ports import FollowUp, HeardCounts
from storage import models
from storage.households import ties

__all__ = ["FOLLOW_UP_ACTION", "SqlRepresentation", "group_condition"]

enrollment = models.table(models.Enrollment)
participants = models.table(models.Participant)
responses = models.table(models.Response)
activities = models.table(models.Activity)
contacts = models.table(models.Contact)
conversations = models.table(models.Conversation)
audit = models.table(models.AuditEntry)

FOLLOW_UP_ACTION = "follow_up.planned"


def _activity_ids(connection: Connection, activity_key: str) -> list[int]:
    ids = list(
        connection.execute(select(activities.c.id).where(activities.c.key == activity_key))
        .scalars()
        .all()
    )
    if not ids:
        raise RepresentationError(f"no activity named {activity_key!r}: see `engage activity list`")
    return ids


def _scope(connection: Connection, activity_key: str) -> str | None:
    """The school an activity's newest version belongs to (None: the district's)."""
    _activity_ids(connection, activity_key)
    school: str | None = connection.execute(
        select(activities.c.school)
        .where(activities.c.key == activity_key)
        .order_by(activities.c.version.desc())
        .limit(1)
    ).scalar()
    return school


def group_condition(groups: Sequence[Group]) -> ColumnElement[bool]:
    """SQL: the participant belongs to one of `groups` (for the `under-represented` audience)."""
    tie = ties()
    return exists(
        select(tie.c.participant_id).where(
            tie.c.participant_id == participants.c.id,
            tuple_(tie.c.school, participants.c.language, participants.c.role).in_(
                [(g.school, g.language, g.role) for g in groups]
            ),
        )
    )


class SqlRepresentation:
    """`RepresentationStore` on the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def heard(self, activity_key: str | None) -> HeardCounts:
        with self.engine.connect() as connection:
            school = _scope(connection, activity_key) if activity_key is not None else None
            figures = select(
                enrollment.c.school,
                enrollment.c.language,
                enrollment.c.role,
                enrollment.c.count.label("enrolled"),
            )
            if not connection.execute(figures.limit(1)).first():
                raise RepresentationError(
                    "no enrollment figures: import them with `engage enrollment import FILE`"
                )
            if school is not None:
                figures = figures.where(enrollment.c.school == school)
            enrolled = {
                Group(f.school, f.language, f.role): int(f.enrolled)
                for f in connection.execute(figures)
            }
            answered: Any = responses.c.status == "answered"
            if activity_key is not None:
                answered = and_(
                    answered, responses.c.activity_id.in_(_activity_ids(connection, activity_key))
                )
            heard_in = select(responses.c.conversation_id).where(answered).distinct().subquery()
            rows = connection.execute(
                select(
                    conversations.c.participant_id,
                    conversations.c.household_id,
                    conversations.c.schools,
                    participants.c.language,
                    participants.c.role,
                )
                .join(heard_in, heard_in.c.conversation_id == conversations.c.id)
                .join(participants, participants.c.id == conversations.c.participant_id)
            ).all()
            # Conversations from before households recorded no schools: the person's own.
            unrecorded = {r.participant_id for r in rows if not r.schools}
            current: dict[int, set[str]] = {}
            if unrecorded:
                tie = ties()
                for pid, tied in connection.execute(
                    select(tie.c.participant_id, tie.c.school).where(
                        tie.c.participant_id.in_(unrecorded)
                    )
                ):
                    current.setdefault(pid, set()).add(tied)
        # A household is heard once per school (and language and role), however many of
        # its guardians answered and however many children it has there.
        households: dict[Group, set[tuple[str, int]]] = {}
        unknown: set[tuple[str, int]] = set()
        for row in rows:
            home = (
                ("h", row.household_id)
                if row.household_id is not None
                else ("p", row.participant_id)
            )
            schools = set(row.schools or ()) or current.get(row.participant_id, set())
            if school is not None:
                schools &= {school}
            if not schools or not row.language or not row.role:
                unknown.add(home)
                continue
            for seen in schools:
                households.setdefault(Group(seen, row.language, row.role), set()).add(home)
        heard = {group: len(homes) for group, homes in households.items()}
        counted = {home for homes in households.values() for home in homes}
        return HeardCounts(enrolled, heard, len(unknown - counted), school=school)

    def follow_up_reach(self, groups: Sequence[Group], activity_key: str | None) -> int:
        """A contact we may message, consent not refused, not forgotten, and no answer to
        `activity_key` yet."""
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
        with self.engine.connect() as connection:
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

    def record_follow_up(
        self,
        activity_key: str,
        groups: Sequence[Group],
        audience: int,
        filters: Sequence[str],
        actor: str,
        now: datetime,
    ) -> FollowUp:
        detail = {
            "activity": activity_key,
            "groups": [[g.school, g.language, g.role] for g in groups],
            "audience": audience,
            "filters": list(filters),
        }
        with self.engine.begin() as connection:
            entry_id = connection.execute(
                insert(audit).returning(audit.c.id),
                {"actor": actor, "action": FOLLOW_UP_ACTION, "detail": detail, "created_at": now},
            ).scalar_one()
        return FollowUp(
            int(entry_id), activity_key, tuple(groups), audience, tuple(filters), actor, now
        )

    def follow_up_plans(self, limit: int = 10) -> list[FollowUp]:
        with self.engine.connect() as connection:
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
