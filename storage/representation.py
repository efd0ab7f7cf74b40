"""The counts behind the representation check, and follow-up plans, in SQL.

The rule itself (the four-fifths rule, the tables) is `bot.synthesis.representation`.
A respondent is a participant with at least one answered question (of the
activity, or of any activity).
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
            tie = select(ties()).distinct().subquery()
            counted = connection.execute(
                select(
                    tie.c.school,
                    participants.c.language,
                    participants.c.role,
                    func.count(func.distinct(participants.c.id)).label("respondents"),
                )
                .join(who, who.c.participant_id == participants.c.id)
                .outerjoin(tie, tie.c.participant_id == participants.c.id)
                .group_by(tie.c.school, participants.c.language, participants.c.role)
            ).all()
        heard = {
            Group(r.school, r.language, r.role): int(r.respondents)
            for r in counted
            if r.school and r.language and r.role
        }
        unknown = sum(int(r.respondents) for r in counted) - sum(heard.values())
        enrolled = {Group(f.school, f.language, f.role): int(f.enrolled) for f in figures}
        return HeardCounts(enrolled, heard, unknown)

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
