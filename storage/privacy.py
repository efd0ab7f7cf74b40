"""Forget requests in SQL: the store behind bot.services.privacy (which holds the policy).

Every method of `SqlPrivacyUnitOfWork` runs in the one transaction the
service commits. On SQLite, `wipe_old_copies` then rewrites the file and
truncates the write-ahead log, which held the old pages (the words, the phone
number) until the next checkpoint. The connections zero cells as they are
freed (`secure_delete`, storage.database), but a row that moved when its page
was split leaves its old bytes in the page's unused space, where only VACUUM
reaches (tests/integration/test_privacy.py finds the number there without it).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.staff import ItemStatus
from bot.ports import ActivityRow, OutboxStatus, PersonOnFile, Scrubbed
from storage import consent, models
from storage.activities import audit_in
from storage.prepared import Prepared

__all__ = ["SqlPrivacyStore", "SqlPrivacyUnitOfWork", "is_forgotten_address"]

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
messages = models.table(models.Message)
responses = models.table(models.Response)
conversations = models.table(models.Conversation)
lets_talk = models.table(models.LetsTalk)
inbox_replies = models.table(models.InboxReply)
outbox = models.table(models.Outbox)
link_codes = models.table(models.LinkCode)
shared_contacts = models.table(models.SharedContact)
activities = models.table(models.Activity)
audit = models.table(models.AuditEntry)
ideas = models.table(models.Idea)
idea_translations = models.table(models.IdeaTranslation)
forgotten = models.table(models.ForgottenAddress)
inbound_queue = models.table(models.InboundQueue)
STAFF_REPLY_ACTION = "lets_talk.reply"
FORGOTTEN_BY = "forgotten"
# How long to wait for readers to let go of the write-ahead log.
WIPE_TRIES = 20


_FORGOTTEN = Prepared(select(forgotten.c.digest).where(forgotten.c.digest == bindparam("digest")))


def is_forgotten_address(connection: Connection, digest: str) -> bool:
    """Whether an address with this keyed hash belongs to someone forgotten."""
    return _FORGOTTEN.first(connection, {"digest": digest}) is not None


class SqlPrivacyStore:
    """`ledger_key` keys the hashes the consent ledger keeps of a forgotten person's
    addresses (storage.consent)."""

    def __init__(self, engine: Engine, ledger_key: bytes | None = None) -> None:
        self.engine = engine
        self.ledger_key = ledger_key

    def unit_of_work(self) -> SqlPrivacyUnitOfWork:
        return SqlPrivacyUnitOfWork(self.engine, self.ledger_key)

    def wipe_old_copies(self) -> bool:
        if self.engine.dialect.name != "sqlite":
            return True
        for attempt in range(WIPE_TRIES):
            # Outside any transaction: SQLAlchemy would BEGIN first, and neither VACUUM
            # nor a checkpoint can run inside one.
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("VACUUM")
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.close()
            except sqlite3.OperationalError:  # another writer holds the database
                busy = 1
            finally:
                raw.close()
            if not busy:
                return True
            time.sleep(0.05 * (attempt + 1))
        return False


class SqlPrivacyUnitOfWork:
    def __init__(self, engine: Engine, ledger_key: bytes | None = None) -> None:
        self.engine = engine
        self.ledger_key = ledger_key
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use the unit of work in a `with` block"
        return self._connection

    def __enter__(self) -> Self:
        self._connection = self.engine.connect()
        self._connection.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                self._connection.rollback()
        finally:
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        self.connection.commit()

    # -- finding -------------------------------------------------------------------------

    def person(self, participant_id: int) -> PersonOnFile | None:
        row = self.connection.execute(
            select(
                participants.c.id,
                participants.c.pseudonym,
                participants.c.export_salt,
                participants.c.forgotten_at,
            ).where(participants.c.id == participant_id)
        ).first()
        if row is None:
            return None
        addresses = self.connection.execute(
            select(contacts.c.channel, contacts.c.address)
            .where(
                contacts.c.participant_id == participant_id,
                contacts.c.address.not_like("forgotten:%"),
            )
            .order_by(contacts.c.id)
        ).all()
        return PersonOnFile(
            row.id,
            row.pseudonym,
            row.export_salt,
            row.forgotten_at,
            tuple((a.channel, a.address) for a in addresses),
        )

    def person_by_pseudonym(self, pseudonym: str) -> int | None:
        found = self.connection.execute(
            select(participants.c.id).where(participants.c.pseudonym == pseudonym)
        ).scalar()
        return int(found) if found is not None else None

    def person_by_address(self, channel: str, address: str) -> int | None:
        found = self.connection.execute(
            select(contacts.c.participant_id).where(
                contacts.c.channel == channel, contacts.c.address == address
            )
        ).scalar()
        return int(found) if found is not None else None

    def export_salts(self) -> Sequence[tuple[int, str]]:
        rows = self.connection.execute(
            select(participants.c.id, participants.c.export_salt).where(
                participants.c.export_salt.is_not(None)
            )
        )
        return [(row.id, row.export_salt) for row in rows]

    def answered_activities(self, participant_id: int) -> Sequence[ActivityRow]:
        used = select(responses.c.activity_id).where(responses.c.participant_id == participant_id)
        rows = self.connection.execute(
            select(
                activities.c.id,
                activities.c.key,
                activities.c.version,
                activities.c.source,
                activities.c.is_open,
            ).where(activities.c.id.in_(used))
        )
        return [ActivityRow(r.id, r.key, r.version, r.source, bool(r.is_open)) for r in rows]

    # -- removing ------------------------------------------------------------------------

    def _contact_ids(self, participant_id: int) -> list[int]:
        return list(
            self.connection.execute(
                select(contacts.c.id).where(contacts.c.participant_id == participant_id)
            ).scalars()
        )

    def record_forget_request(self, participant_id: int, actor: str, now: datetime) -> None:
        forgotten = ConsentChange(ConsentKind.OPT_OUT, ConsentSource.FORGET, actor=actor)
        consent.append(self.connection, self._contact_ids(participant_id), forgotten, now)

    def hash_consent_addresses(self, participant_id: int) -> None:
        consent.forget_addresses(self.connection, participant_id, self.ledger_key)

    def forget_contacts(self, participant_id: int, now: datetime) -> int:
        # Nor are they reached any more on a phone another guardian of the household carries.
        self.connection.execute(
            delete(shared_contacts).where(shared_contacts.c.participant_id == participant_id)
        )
        ids = self._contact_ids(participant_id)
        # What they sent and the engine has not run yet goes, and so do the handled
        # rows' sender keys (their addresses).
        addresses = self.connection.execute(
            select(contacts.c.channel, contacts.c.address).where(contacts.c.id.in_(ids))
        ).all()
        keys = [f"{channel}:{address}" for channel, address in addresses]
        if keys:
            self.connection.execute(delete(inbound_queue).where(inbound_queue.c.sender.in_(keys)))
        for contact_id in ids:
            self.connection.execute(
                update(contacts)
                .where(contacts.c.id == contact_id)
                .values(
                    address=f"forgotten:{contact_id}",
                    opted_out_at=func.coalesce(contacts.c.opted_out_at, now),
                    last_inbound_at=None,
                )
            )
        return len(ids)

    def cancel_outbox(self, participant_id: int) -> int:
        ids = self._contact_ids(participant_id)
        # In flight or not: a row marked sent later would log the body again.
        cancelled = self.connection.execute(
            update(outbox).where(
                outbox.c.contact_id.in_(ids),
                outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            ),
            {"status": OutboxStatus.WITHHELD, "error": "participant forgotten"},
        ).rowcount
        for contact_id in ids:
            self.connection.execute(
                update(outbox).where(outbox.c.contact_id == contact_id),
                {"address": f"forgotten:{contact_id}", "body": "", "choices": [], "place": None},
            )
        return int(cancelled or 0)

    def scrub_messages(self, participant_id: int) -> int:
        ids = self._contact_ids(participant_id)
        scrubbed = self.connection.execute(
            update(messages).where(
                (messages.c.participant_id == participant_id) | messages.c.contact_id.in_(ids)
            ),
            {"body": ""},
        ).rowcount
        return int(scrubbed or 0)

    def clear_answer_words(
        self, participant_id: int, free_text: Collection[tuple[int, str]]
    ) -> int:
        cleared = self.connection.execute(
            update(responses).where(responses.c.participant_id == participant_id), {"text": ""}
        ).rowcount
        for activity_id, question in free_text:
            self.connection.execute(
                update(responses).where(
                    responses.c.participant_id == participant_id,
                    responses.c.activity_id == activity_id,
                    responses.c.question == question,
                ),
                {"value": None},
            )
        return int(cleared or 0)

    def delete_answers(self, participant_id: int) -> int:
        deleted = self.connection.execute(
            delete(responses).where(responses.c.participant_id == participant_id)
        ).rowcount
        return int(deleted or 0)

    def scrub_lets_talk(self, participant_id: int, now: datetime) -> Scrubbed:
        said = self.connection.execute(
            select(lets_talk.c.id, lets_talk.c.slack_channel, lets_talk.c.slack_ts).where(
                lets_talk.c.participant_id == participant_id
            )
        ).all()
        threads = sorted(
            {
                f"{t.slack_channel or '?'}:{t.slack_ts}"
                for t in said
                if t.slack_ts is not None and not t.slack_ts.startswith("lease:")
            }
        )
        texts = self.connection.execute(
            update(lets_talk).where(lets_talk.c.participant_id == participant_id), {"text": ""}
        ).rowcount
        closed = self.connection.execute(
            update(lets_talk).where(
                lets_talk.c.participant_id == participant_id,
                lets_talk.c.status == ItemStatus.OPEN.value,
            ),
            {
                "status": ItemStatus.RESOLVED.value,
                "resolved_at": now,
                "resolved_by": FORGOTTEN_BY,
                "remind_at": None,
            },
        ).rowcount
        items = {t.id for t in said}
        if items:
            self.connection.execute(
                update(inbox_replies).where(inbox_replies.c.item_id.in_(items)),
                {"text": "", "translation": None},
            )
            self._forget_audited_replies(items)
        return Scrubbed(int(texts or 0), int(closed or 0), tuple(threads))

    def _forget_audited_replies(self, items: set[int]) -> None:
        """Staff replies to this person are kept in the audit log with their words."""
        for entry in self.connection.execute(
            select(audit.c.id, audit.c.detail).where(audit.c.action == STAFF_REPLY_ACTION)
        ).all():
            detail = dict(entry.detail or {})
            if detail.get("item") in items and detail.get("text"):
                detail["text"] = ""
                self.connection.execute(
                    update(audit).where(audit.c.id == entry.id), {"detail": detail}
                )

    def scrub_ideas(self, participant_id: int, now: datetime) -> int:
        mine = select(ideas.c.id).where(ideas.c.participant_id == participant_id)
        self.connection.execute(
            delete(idea_translations).where(idea_translations.c.idea_id.in_(mine))
        )
        scrubbed = self.connection.execute(
            update(ideas).where(ideas.c.participant_id == participant_id),
            {
                "text": "",
                "original": "",
                "status": "rejected",
                "note": "author forgotten",
                "updated_at": now,
            },
        ).rowcount
        return int(scrubbed or 0)

    def scrub_participant(self, participant_id: int, now: datetime) -> None:
        self.connection.execute(
            update(conversations).where(conversations.c.participant_id == participant_id),
            {"answers": {}},
        )
        self.connection.execute(
            update(conversations).where(
                conversations.c.participant_id == participant_id,
                conversations.c.status == "active",
            ),
            {"status": "abandoned", "question": None, "updated_at": now},
        )
        self.connection.execute(
            delete(link_codes).where(link_codes.c.participant_id == participant_id)
        )
        self.connection.execute(
            update(participants)
            .where(participants.c.id == participant_id)
            .values(
                name=None,
                place=None,
                external_id=None,
                pending=[],
                awaiting=None,
                onboarding=None,
                forgotten_at=func.coalesce(participants.c.forgotten_at, now),
                updated_at=now,
            )
        )

    def block_addresses(self, digests: Collection[str], now: datetime) -> None:
        known = set(
            self.connection.execute(
                select(forgotten.c.digest).where(forgotten.c.digest.in_(list(digests)))
            ).scalars()
        )
        new = [{"digest": d, "forgotten_at": now} for d in sorted(set(digests) - known)]
        if new:
            self.connection.execute(insert(forgotten), new)

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        audit_in(self.connection, actor, action, detail, now)
