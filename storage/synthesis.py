"""What the synthesis pack, the board report and an exchange's report read (bot.ports.SynthesisStore)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from bot.core.versions import Parse, Version
from bot.ports import (
    ExchangeTables,
    LetsTalkLog,
    LetsTalkMessage,
    QueuedStaffReply,
    RepresentationStore,
    StaffReplyEntry,
)
from storage import models
from storage.activities import record_audit
from storage.export import activity_versions, snapshot, tidy_responses
from storage.households import first_school
from storage.ideas import exchange_tables, set_group_splits
from storage.representation import SqlRepresentation

__all__ = ["STAFF_REPLY_ACTION", "STAFF_REPLY_KINDS", "SqlSynthesisStore"]

lets_talk = models.table(models.LetsTalk)
participants = models.table(models.Participant)
outbox = models.table(models.Outbox)
contacts = models.table(models.Contact)
audit = models.table(models.AuditEntry)

# How storage.inbox records a staff member's reply to a Let's Talk thread.
STAFF_REPLY_KINDS = ("staff_reply",)
STAFF_REPLY_ACTION = "lets_talk.reply"


class SqlSynthesisStore:
    """bot.ports.SynthesisStore on the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._representation = SqlRepresentation(engine)

    @property
    def representation(self) -> RepresentationStore:
        return self._representation

    def versions(self, activity_key: str, parse: Parse) -> list[Version]:
        with self.engine.connect() as connection:
            return activity_versions(connection, activity_key, parse)

    def tidy_responses(
        self,
        activity_key: str,
        parse: Parse,
        secret: str,
        timezone: str,
        *,
        include_contacts: bool = False,
    ) -> pd.DataFrame:
        return tidy_responses(
            self.engine, activity_key, parse, secret, timezone, include_contacts=include_contacts
        )

    def lets_talk(self, version_ids: Sequence[int]) -> LetsTalkLog:
        ids = list(version_ids)
        with snapshot(self.engine) as connection:
            items = connection.execute(
                select(
                    lets_talk.c.id,
                    lets_talk.c.participant_id,
                    lets_talk.c.activity_id,
                    lets_talk.c.text,
                    lets_talk.c.language,
                    lets_talk.c.status,
                    lets_talk.c.slack_channel,
                    lets_talk.c.slack_ts,
                    lets_talk.c.created_at,
                    lets_talk.c.first_response_at,
                    lets_talk.c.resolved_at,
                    participants.c.role,
                    first_school().label("school"),
                    participants.c.export_salt,
                )
                .join(participants, participants.c.id == lets_talk.c.participant_id)
                .where(lets_talk.c.activity_id.in_(ids) | lets_talk.c.activity_id.is_(None))
                .order_by(lets_talk.c.created_at, lets_talk.c.id)
            ).all()
            roots = {
                (row.slack_channel, row.slack_ts): int(row.root)
                for row in connection.execute(
                    select(
                        lets_talk.c.slack_channel,
                        lets_talk.c.slack_ts,
                        func.min(lets_talk.c.id).label("root"),
                    )
                    .where(lets_talk.c.slack_ts.is_not(None))
                    .group_by(lets_talk.c.slack_channel, lets_talk.c.slack_ts)
                )
            }
            audited = connection.execute(
                select(audit.c.actor, audit.c.detail, audit.c.created_at)
                .where(audit.c.action == STAFF_REPLY_ACTION)
                .order_by(audit.c.created_at, audit.c.id)
            ).all()
            people = sorted({item.participant_id for item in items})
            queued = (
                connection.execute(
                    select(
                        outbox.c.id, outbox.c.body, outbox.c.created_at, contacts.c.participant_id
                    )
                    .join(contacts, contacts.c.id == outbox.c.contact_id)
                    .where(
                        outbox.c.kind.in_(STAFF_REPLY_KINDS),
                        contacts.c.participant_id.in_(people),
                    )
                    .order_by(outbox.c.created_at, outbox.c.id)
                ).all()
                if people
                else []
            )
        return LetsTalkLog(
            messages=tuple(LetsTalkMessage(**item._mapping) for item in items),
            roots=roots,
            audited_replies=tuple(StaffReplyEntry(**entry._mapping) for entry in audited),
            queued_replies=tuple(QueuedStaffReply(**reply._mapping) for reply in queued),
        )

    def exchange_tables(self, activity_key: str, language: str) -> ExchangeTables:
        with self.engine.connect() as connection:
            return exchange_tables(connection, activity_key, language)

    def set_group_splits(self, activity_key: str, splits: Mapping[int, float | None]) -> None:
        with self.engine.begin() as connection:
            set_group_splits(connection, activity_key, splits)

    def record_audit(
        self, actor: str, action: str, detail: dict[str, object], now: datetime
    ) -> None:
        record_audit(self.engine, actor, action, detail, now)
