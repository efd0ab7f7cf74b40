"""Moderating and translating an exchange's ideas in SQL (bot.ports.ModerationUnitOfWork)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, union, update

from bot.core.ideas import IdeaStatus
from bot.core.messages import Channel
from bot.core.moderation import IdeaCard
from bot.ports import AuthorAddress
from storage import models
from storage.activities import audit_in
from storage.ideas import save_translation
from storage.unit_of_work import SqlUnitOfWork

__all__ = ["SqlModerationUnitOfWork"]

ideas = models.table(models.Idea)
translations = models.table(models.IdeaTranslation)
reactions = models.table(models.Reaction)
messages = models.table(models.Message)
contacts = models.table(models.Contact)
participants = models.table(models.Participant)


class SqlModerationUnitOfWork(SqlUnitOfWork):
    """The inbound unit of work's connection and outbox, with the moderator's statements."""

    def _cards(self, *where: Any) -> list[IdeaCard]:
        rows = self.connection.execute(
            select(ideas).where(*where).order_by(ideas.c.created_at, ideas.c.id)
        ).all()
        found: dict[int, dict[str, str]] = {row.id: {} for row in rows}
        if found:
            for idea_id, language, text in self.connection.execute(
                select(translations.c.idea_id, translations.c.language, translations.c.text).where(
                    translations.c.idea_id.in_(list(found))
                )
            ):
                found[idea_id][language] = text
        return [
            IdeaCard(
                id=row.id,
                activity=row.activity_key,
                number=row.number,
                text=row.text,
                original=row.original,
                language=row.language,
                status=row.status,
                created_at=row.created_at,
                flags=tuple(str(flag) for flag in row.flags or ()),
                note=row.note,
                is_seed=row.seed_key is not None,
                translations=found[row.id],
                reviewed_by=row.reviewed_by,
            )
            for row in rows
        ]

    def cards(self, activity_key: str | None, statuses: Collection[str]) -> list[IdeaCard]:
        where: list[Any] = [ideas.c.status.in_(list(statuses))]
        if activity_key is not None:
            where.append(ideas.c.activity_key == activity_key)
        return self._cards(*where)

    def card(self, activity_key: str, number: int) -> IdeaCard | None:
        found = self._cards(ideas.c.activity_key == activity_key, ideas.c.number == number)
        return found[0] if found else None

    def card_by_id(self, idea_id: int) -> IdeaCard | None:
        found = self._cards(ideas.c.id == idea_id)
        return found[0] if found else None

    def decide(
        self,
        idea_id: int,
        status: str,
        text: str | None,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "reviewed_by": actor,
            "reviewed_at": now,
            "updated_at": now,
        }
        if text is not None:
            values["text"] = text
        if note is not None:
            values["note"] = note
        if status == IdeaStatus.APPROVED:
            # Live from the first approval on; a second one (an edit) keeps the time.
            values["live_at"] = func.coalesce(ideas.c.live_at, now)
        self.connection.execute(update(ideas).where(ideas.c.id == idea_id).values(**values))

    def translate(self, idea_id: int, language: str, text: str, actor: str, now: datetime) -> None:
        save_translation(self.connection, idea_id, language, text, actor, now)

    def claim_author_notice(self, idea_id: int, now: datetime) -> AuthorAddress | None:
        claimed = self.connection.execute(
            update(ideas)
            .where(
                ideas.c.id == idea_id,
                ideas.c.author_told_at.is_(None),
                ideas.c.participant_id.is_not(None),
            )
            .values(author_told_at=now)
            .returning(ideas.c.message_id, ideas.c.participant_id)
        ).first()
        if claimed is None:
            return None
        row = self.connection.execute(
            select(contacts.c.id, contacts.c.channel, contacts.c.address, participants.c.language)
            .join(participants, participants.c.id == contacts.c.participant_id)
            .join(messages, messages.c.contact_id == contacts.c.id)
            .where(messages.c.id == claimed.message_id)
        ).first()
        if row is None or row.address is None:
            return None
        return AuthorAddress(row.id, Channel(row.channel), row.address, row.language)

    def heard(self, activity_key: str) -> Mapping[str, int]:
        people = union(
            select(reactions.c.participant_id.label("pid")).where(
                reactions.c.activity_key == activity_key
            ),
            select(ideas.c.participant_id.label("pid")).where(
                ideas.c.activity_key == activity_key, ideas.c.participant_id.is_not(None)
            ),
        ).subquery()
        rows = self.connection.execute(
            select(participants.c.language, func.count())
            .join(people, people.c.pid == participants.c.id)
            .group_by(participants.c.language)
        ).all()
        return {language or "": int(count) for language, count in rows}

    def claim_unposted(self, now: datetime, limit: int, lease: timedelta) -> list[IdeaCard]:
        waiting = (
            select(ideas.c.id)
            .where(
                (ideas.c.status == IdeaStatus.PENDING)
                | (
                    (ideas.c.status == IdeaStatus.APPROVED)
                    & (ideas.c.reviewed_by == "auto")
                    & ideas.c.participant_id.is_not(None)
                ),
                ideas.c.slack_ts.is_(None),
                (ideas.c.post_lease_until.is_(None)) | (ideas.c.post_lease_until < now),
            )
            .order_by(ideas.c.id)
            .limit(limit)
        )
        ids = list(self.connection.execute(waiting).scalars())
        if not ids:
            return []
        self.connection.execute(
            update(ideas).where(ideas.c.id.in_(ids)).values(post_lease_until=now + lease)
        )
        return self._cards(ideas.c.id.in_(ids))

    def mark_posted(self, idea_id: int, channel: str, ts: str) -> None:
        self.connection.execute(
            update(ideas)
            .where(ideas.c.id == idea_id)
            .values(slack_channel=channel, slack_ts=ts, post_lease_until=None)
        )

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        audit_in(self.connection, actor, action, detail, now)
