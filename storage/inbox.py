"""The Let's Talk inbox in the database: threads, staff replies, resolving, the export.

A `lets_talk` row is posted to Slack once: `slack_channel`/`slack_ts` name
its thread. While a post is under way the row holds a lease in `slack_ts`
(`lease:<until>`), so several servers share the work and a crash mid-post
only delays it. A follow-up from someone whose thread is still open joins
that thread: it gets the same `slack_ts`, and the thread's first row (the
lowest id) is the one that is resolved and timed.

A staff reply is an outbox row (kind `staff_reply`, deduplicated on the Slack
event id) to the contact the thread's latest message came from, plus an
audit entry naming the staff member, the thread and what they wrote; the
synthesis pack exports both directions (bot.synthesis.pack.lets_talk_threads).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.inbox_report import ThreadRecord
from bot.core.routing import Route
from bot.core.staff import (
    CLOSED_BY_FAMILY,
    ClaimOutcome,
    InboxItem,
    InboxSummary,
    ItemStatus,
    ReplyOutcome,
    ReplyStatus,
    StaffReply,
    Translation,
    TranslationRequest,
)
from bot.core.urgency import Urgency
from bot.ports import OutboxKind, OutboxStatus
from storage import models
from storage.households import first_school

__all__ = ["SqlInbox"]

lets_talk = models.table(models.LetsTalk)
participants = models.table(models.Participant)
contacts = models.table(models.Contact)
outbox = models.table(models.Outbox)
audit = models.table(models.AuditEntry)
replies = models.table(models.InboxReply)
# What staff wrote, in the thread's language, as the family gets it.
Compose = Callable[[str | None, str], str]

LEASE = "lease:"
CLOSING = "closing"
STAFF_REPLY = OutboxKind.STAFF_REPLY
REPLY_ACTION = "lets_talk.reply"
CLAIM_ACTION = "lets_talk.claim"
REASSIGN_ACTION = "lets_talk.reassign"
RESOLVE_ACTION = "lets_talk.resolve"
# A follow-up joins an open thread this recent (district.yaml inbox.follow_up_within);
# older ones start afresh.
THREAD_WINDOW = timedelta(days=30)

_ITEM = (
    select(
        lets_talk.c.id,
        lets_talk.c.text,
        lets_talk.c.language.label("item_language"),
        lets_talk.c.status,
        lets_talk.c.slack_channel,
        lets_talk.c.slack_ts,
        lets_talk.c.first_response_at,
        lets_talk.c.resolved_at,
        lets_talk.c.resolved_by,
        lets_talk.c.created_at,
        lets_talk.c.participant_id,
        lets_talk.c.kind,
        lets_talk.c.urgency,
        lets_talk.c.concerns,
        lets_talk.c.topics,
        lets_talk.c.team,
        lets_talk.c.owner,
        lets_talk.c.claimed_by,
        lets_talk.c.claimed_at,
        lets_talk.c.due_at,
        participants.c.pseudonym,
        first_school().label("school"),
        participants.c.role,
        participants.c.language,
        contacts.c.channel,
    )
    .select_from(lets_talk)
    .join(participants, participants.c.id == lets_talk.c.participant_id)
    .join(contacts, contacts.c.id == lets_talk.c.contact_id)
)


def _lease(until: datetime) -> str:
    return LEASE + until.isoformat(timespec="seconds")


def _is_posted(ts: str | None) -> bool:
    return ts is not None and not ts.startswith(LEASE)


def _item(row: Any, thread: tuple[str, str] | None = None) -> InboxItem:
    slack_ts = row.slack_ts if _is_posted(row.slack_ts) else None
    return InboxItem(
        id=row.id,
        pseudonym=row.pseudonym,
        channel=row.channel,
        text=row.text,
        created_at=row.created_at,
        school=row.school,
        role=row.role,
        language=row.item_language or row.language,
        status=ItemStatus(row.status),
        thread_channel=thread[0] if thread is not None else row.slack_channel,
        thread_ts=thread[1] if thread is not None else slack_ts,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        urgency=Urgency(row.urgency or Urgency.NONE.value),
        concerns=tuple(row.concerns or ()),
        is_closing=row.kind == CLOSING,
        team=row.team,
        owner=row.owner,
        topics=tuple(row.topics or ()),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        due_at=row.due_at,
    )


class SqlInbox:
    """Inbox operations, each its own short transaction."""

    def __init__(self, engine: Engine, thread_window: timedelta = THREAD_WINDOW) -> None:
        self.engine = engine
        self.thread_window = thread_window
        self.is_postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self.is_postgres else sqlite.insert

    # -- posting -------------------------------------------------------------------

    def claim_unposted(self, now: datetime, limit: int, lease: timedelta) -> list[InboxItem]:
        """Lease up to `limit` items not yet in Slack, oldest first.

        A follow-up comes back with `thread_ts` set to its person's open
        thread; the caller posts it there and calls `mark_posted` with it.
        """
        due = and_(
            lets_talk.c.status == ItemStatus.OPEN.value,
            or_(
                lets_talk.c.slack_ts.is_(None),
                and_(lets_talk.c.slack_ts.like(LEASE + "%"), lets_talk.c.slack_ts < _lease(now)),
            ),
        )
        pick = select(lets_talk.c.id).where(due).order_by(lets_talk.c.id).limit(limit)
        if self.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        with self.engine.begin() as connection:
            ids = list(connection.execute(pick).scalars())
            if not ids:
                return []
            connection.execute(
                update(lets_talk).where(lets_talk.c.id.in_(ids)), {"slack_ts": _lease(now + lease)}
            )
            rows = connection.execute(
                _ITEM.where(lets_talk.c.id.in_(ids)).order_by(lets_talk.c.id)
            ).all()
            return [_item(row, self._open_thread(connection, row, now)) for row in rows]

    def _open_thread(
        self, connection: Connection, row: Any, now: datetime
    ) -> tuple[str, str] | None:
        """The channel and ts of the person's open thread that `row` joins, if any.

        An urgent message does not join a thread that is not urgent: it goes
        to the people on call in a thread of its own.
        """
        query = select(lets_talk.c.slack_channel, lets_talk.c.slack_ts).where(
            lets_talk.c.participant_id == row.participant_id,
            lets_talk.c.id < row.id,
            lets_talk.c.status == ItemStatus.OPEN.value,
            lets_talk.c.slack_ts.is_not(None),
            lets_talk.c.slack_ts.not_like(LEASE + "%"),
            lets_talk.c.created_at >= now - self.thread_window,
        )
        if row.urgency == Urgency.URGENT.value:
            query = query.where(lets_talk.c.urgency == Urgency.URGENT.value)
        found = connection.execute(query.order_by(lets_talk.c.id.desc()).limit(1)).first()
        return (found.slack_channel, found.slack_ts) if found is not None else None

    def mark_posted(
        self,
        item_id: int,
        channel: str,
        ts: str,
        route: Route | None = None,
        due_at: datetime | None = None,
        remind_at: datetime | None = None,
    ) -> None:
        """Record where an item was posted; a thread's first item keeps its route and deadline."""
        values: dict[str, Any] = {"slack_channel": channel, "slack_ts": ts}
        if route is not None:
            values.update(
                team=route.team,
                owner=route.owner,
                topics=list(route.topics),
                due_at=due_at,
                remind_at=remind_at,
            )
        with self.engine.begin() as connection:
            connection.execute(update(lets_talk).where(lets_talk.c.id == item_id), values)

    def set_aside(self, item_id: int, now: datetime) -> None:
        """Keep a thank-you that has no open thread to join, closed and unposted."""
        with self.engine.begin() as connection:
            connection.execute(
                update(lets_talk).where(lets_talk.c.id == item_id),
                {
                    "slack_ts": None,
                    "status": ItemStatus.RESOLVED.value,
                    "resolved_at": now,
                    "resolved_by": CLOSED_BY_FAMILY,
                },
            )

    # -- threads ---------------------------------------------------------------------

    def _root(self, connection: Connection, channel: str, ts: str) -> Any:
        return connection.execute(
            _ITEM.where(lets_talk.c.slack_channel == channel, lets_talk.c.slack_ts == ts)
            .order_by(lets_talk.c.id)
            .limit(1)
        ).first()

    def thread(self, channel: str, ts: str) -> InboxItem | None:
        """The item a Slack thread is about (its first message), if any."""
        with self.engine.connect() as connection:
            row = self._root(connection, channel, ts)
        return _item(row) if row is not None else None

    def item(self, item_id: int) -> InboxItem | None:
        with self.engine.connect() as connection:
            row = connection.execute(_ITEM.where(lets_talk.c.id == item_id)).first()
        return _item(row) if row is not None else None

    def add_staff_reply(
        self,
        reply: StaffReply,
        compose: Compose,
        now: datetime,
        translate: Translation | None = None,
    ) -> ReplyOutcome:
        """Queue a staff reply to the thread's participant, on the channel they last wrote from.

        The first staff member to reply claims an unclaimed thread; a reply by
        anyone else in a claimed thread is held (HELD) until its author says
        to send it or keep it as a note, so a family never gets two answers.
        `compose(language, text)` turns what staff wrote into what the family gets.
        With `translate`, the reply waits (TRANSLATING) for a translator in
        `translate.queue_channel` instead; `translation_requests` hands it out.
        """
        provider_id = f"slack:{reply.provider_id}"[:64]
        root_id = (
            select(func.min(lets_talk.c.id))
            .where(
                lets_talk.c.slack_channel == reply.thread_channel,
                lets_talk.c.slack_ts == reply.thread_ts,
            )
            .scalar_subquery()
        )
        with self.engine.begin() as connection:
            # A write first: it takes the lock, so two replies at once claim one after the other.
            connection.execute(
                update(lets_talk).where(
                    lets_talk.c.id == root_id, lets_talk.c.claimed_by.is_(None)
                ),
                {"claimed_by": reply.author, "claimed_at": now},
            )
            root = self._root(connection, reply.thread_channel, reply.thread_ts)
            if root is None:
                return ReplyOutcome.NOT_A_THREAD
            if root.claimed_by != reply.author:
                held = connection.execute(
                    self._insert(replies)
                    .values(
                        item_id=root.id,
                        author=reply.author,
                        text=reply.text,
                        status=ReplyStatus.HELD.value,
                        provider_id=provider_id,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["provider_id"])
                    .returning(replies.c.id)
                ).scalar()
                return ReplyOutcome.HELD if held is not None else ReplyOutcome.DUPLICATE
            if translate is not None:
                waiting = connection.execute(
                    self._insert(replies)
                    .values(
                        item_id=root.id,
                        author=reply.author,
                        text=reply.text,
                        language=translate.language,
                        written_in=translate.written_in,
                        status=ReplyStatus.TRANSLATING.value,
                        provider_id=provider_id,
                        queue_channel=translate.queue_channel,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["provider_id"])
                    .returning(replies.c.id)
                ).scalar()
                return ReplyOutcome.TRANSLATING if waiting else ReplyOutcome.DUPLICATE
            return self._queue(
                connection, root, reply.author, reply.text, provider_id, compose, now
            )

    def held_reply(self, provider_id: str) -> tuple[InboxItem, str] | None:
        """A reply still held, with the thread it is in, or None."""
        key = f"slack:{provider_id}"[:64]
        with self.engine.connect() as connection:
            held = connection.execute(
                select(replies.c.item_id, replies.c.text).where(
                    replies.c.provider_id == key, replies.c.status == ReplyStatus.HELD.value
                )
            ).first()
            if held is None:
                return None
            root = connection.execute(_ITEM.where(lets_talk.c.id == held.item_id)).one()
        return _item(root), held.text

    def release_held(
        self,
        provider_id: str,
        by: str,
        send: bool,
        compose: Compose,
        now: datetime,
        translate: Translation | None = None,
    ) -> ReplyOutcome:
        """Send a held reply after all (`send`; through the translators with `translate`),
        or keep it among staff as a note."""
        key = f"slack:{provider_id}"[:64]
        if not send:
            status = ReplyStatus.NOTE
        else:
            status = ReplyStatus.TRANSLATING if translate is not None else ReplyStatus.SENT
        values: dict[str, Any] = {"status": status.value}
        if translate is not None and send:
            values.update(
                language=translate.language,
                written_in=translate.written_in,
                queue_channel=translate.queue_channel,
            )
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(replies).where(
                    replies.c.provider_id == key, replies.c.status == ReplyStatus.HELD.value
                ),
                values,
            ).rowcount
            if not changed:
                return ReplyOutcome.DUPLICATE
            held = connection.execute(select(replies).where(replies.c.provider_id == key)).one()
            if not send:
                return ReplyOutcome.INTERNAL
            if status is ReplyStatus.TRANSLATING:
                return ReplyOutcome.TRANSLATING
            root = connection.execute(_ITEM.where(lets_talk.c.id == held.item_id)).one()
            outcome = self._queue(connection, root, by, held.text, key, compose, now, held.id)
            if outcome is not ReplyOutcome.QUEUED:
                connection.execute(
                    update(replies).where(replies.c.id == held.id),
                    {"status": ReplyStatus.CANCELLED.value},
                )
            return outcome

    def _queue(
        self,
        connection: Connection,
        root: Any,
        author: str,
        staff_text: str,
        provider_id: str,
        compose: Compose,
        now: datetime,
        reply_id: int | None = None,
    ) -> ReplyOutcome:
        latest = connection.execute(
            select(
                contacts.c.id,
                contacts.c.channel,
                contacts.c.address,
                contacts.c.opted_out_at,
                contacts.c.invalid_at,
            )
            .select_from(lets_talk)
            .join(contacts, contacts.c.id == lets_talk.c.contact_id)
            .where(
                lets_talk.c.slack_channel == root.slack_channel,
                lets_talk.c.slack_ts == root.slack_ts,
            )
            .order_by(lets_talk.c.id.desc())
            .limit(1)
        ).one()
        if latest.opted_out_at is not None:
            return ReplyOutcome.OPTED_OUT
        if latest.invalid_at is not None:
            return ReplyOutcome.UNREACHABLE
        language = root.item_language or root.language
        outbox_id = connection.execute(
            self._insert(outbox)
            .values(
                contact_id=latest.id,
                channel=latest.channel,
                address=latest.address,
                body=compose(language, staff_text),
                choices=[],
                kind=STAFF_REPLY,
                status=OutboxStatus.PENDING,
                attempts=0,
                not_before=now,
                dedup_key=provider_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(outbox.c.id)
        ).scalar()
        if outbox_id is None:
            return ReplyOutcome.DUPLICATE
        if reply_id is None:
            connection.execute(
                insert(replies),
                {
                    "item_id": root.id,
                    "author": author,
                    "text": staff_text,
                    "language": language,
                    "status": ReplyStatus.SENT.value,
                    "provider_id": provider_id,
                    "outbox_id": outbox_id,
                    "created_at": now,
                    "sent_at": now,
                },
            )
        else:
            connection.execute(
                update(replies).where(replies.c.id == reply_id),
                {"language": language, "outbox_id": outbox_id, "sent_at": now},
            )
        connection.execute(
            update(lets_talk).where(
                lets_talk.c.id == root.id, lets_talk.c.first_response_at.is_(None)
            ),
            {"first_response_at": now},
        )
        connection.execute(
            insert(audit),
            {
                "actor": f"slack:{author}",
                "action": REPLY_ACTION,
                "detail": {"item": root.id, "outbox_id": outbox_id, "text": staff_text},
                "created_at": now,
            },
        )
        return ReplyOutcome.QUEUED

    # -- translation -----------------------------------------------------------------

    def _request(self, row: Any) -> TranslationRequest:
        return TranslationRequest(
            reply_id=row.id,
            text=row.text,
            language=row.language or "",
            author=row.author,
            queue_channel=row.queue_channel,
            thread_channel=row.slack_channel,
            thread_ts=row.slack_ts,
            pseudonym=row.pseudonym,
            written_at=row.created_at,
        )

    _REQUEST = (
        select(
            replies.c.id,
            replies.c.text,
            replies.c.language,
            replies.c.author,
            replies.c.queue_channel,
            replies.c.created_at,
            replies.c.item_id,
            lets_talk.c.slack_channel,
            lets_talk.c.slack_ts,
            participants.c.pseudonym,
        )
        .select_from(replies)
        .join(lets_talk, lets_talk.c.id == replies.c.item_id)
        .join(participants, participants.c.id == lets_talk.c.participant_id)
    )

    def translation_requests(
        self, now: datetime, limit: int, lease: timedelta
    ) -> list[TranslationRequest]:
        """Lease replies waiting to be posted to the translators' channel, oldest first."""
        due = and_(
            replies.c.status == ReplyStatus.TRANSLATING.value,
            replies.c.queue_channel.is_not(None),
            or_(
                replies.c.queue_ts.is_(None),
                and_(replies.c.queue_ts.like(LEASE + "%"), replies.c.queue_ts < _lease(now)),
            ),
        )
        pick = select(replies.c.id).where(due).order_by(replies.c.id).limit(limit)
        if self.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        with self.engine.begin() as connection:
            ids = list(connection.execute(pick).scalars())
            if not ids:
                return []
            connection.execute(
                update(replies).where(replies.c.id.in_(ids)), {"queue_ts": _lease(now + lease)}
            )
            rows = connection.execute(
                self._REQUEST.where(replies.c.id.in_(ids)).order_by(replies.c.id)
            ).all()
        return [self._request(row) for row in rows]

    def mark_translation_posted(self, reply_id: int, ts: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(replies).where(replies.c.id == reply_id), {"queue_ts": ts})

    def add_translation(
        self, reply: StaffReply, compose: Compose, now: datetime
    ) -> tuple[ReplyOutcome, TranslationRequest | None]:
        """A translator's answer in a request's thread: it goes to the family, once.

        Both texts are kept: what staff wrote (`text`) and what the family got
        (`translation`).
        """
        provider_id = f"slack:{reply.provider_id}"[:64]
        in_thread = and_(
            replies.c.queue_channel == reply.thread_channel,
            replies.c.queue_ts == reply.thread_ts,
        )
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(replies).where(in_thread, replies.c.status == ReplyStatus.TRANSLATING.value),
                {
                    "status": ReplyStatus.SENT.value,
                    "translation": reply.text,
                    "translated_by": reply.author,
                    "translated_at": now,
                },
            ).rowcount
            waiting = connection.execute(self._REQUEST.where(in_thread)).first()
            if waiting is None:
                return ReplyOutcome.NOT_A_THREAD, None
            request = self._request(waiting)
            if not taken:
                return ReplyOutcome.DUPLICATE, request
            root = connection.execute(_ITEM.where(lets_talk.c.id == waiting.item_id)).one()
            outcome = self._queue(
                connection, root, waiting.author, reply.text, provider_id, compose, now, waiting.id
            )
            if outcome is not ReplyOutcome.QUEUED:
                connection.execute(
                    update(replies).where(replies.c.id == waiting.id),
                    {"status": ReplyStatus.CANCELLED.value},
                )
            return outcome, request

    # -- claims ----------------------------------------------------------------------

    def claim(
        self, item_id: int, user: str, now: datetime
    ) -> tuple[ClaimOutcome, InboxItem | None]:
        """Claim an open thread for `user`, unless someone else holds it."""
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(lets_talk).where(
                    lets_talk.c.id == item_id,
                    lets_talk.c.status == ItemStatus.OPEN.value,
                    or_(lets_talk.c.claimed_by.is_(None), lets_talk.c.claimed_by == user),
                ),
                {"claimed_by": user, "claimed_at": now},
            ).rowcount
            row = connection.execute(_ITEM.where(lets_talk.c.id == item_id)).first()
            if row is None:
                return ClaimOutcome.NOT_FOUND, None
            if not claimed:
                resolved = row.status == ItemStatus.RESOLVED.value
                return (ClaimOutcome.RESOLVED if resolved else ClaimOutcome.HELD), _item(row)
            connection.execute(
                insert(audit),
                {
                    "actor": f"slack:{user}",
                    "action": CLAIM_ACTION,
                    "detail": {"item": item_id},
                    "created_at": now,
                },
            )
        return ClaimOutcome.CLAIMED, _item(row)

    def reassign(
        self, item_id: int, to: str, by: str, now: datetime
    ) -> tuple[ClaimOutcome, InboxItem | None]:
        """Hand an open thread to `to`: they own and hold it now."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(lets_talk).where(
                    lets_talk.c.id == item_id, lets_talk.c.status == ItemStatus.OPEN.value
                ),
                {"claimed_by": to, "claimed_at": now, "owner": to},
            ).rowcount
            row = connection.execute(_ITEM.where(lets_talk.c.id == item_id)).first()
            if row is None:
                return ClaimOutcome.NOT_FOUND, None
            if not changed:
                return ClaimOutcome.RESOLVED, _item(row)
            connection.execute(
                insert(audit),
                {
                    "actor": f"slack:{by}",
                    "action": REASSIGN_ACTION,
                    "detail": {"item": item_id, "to": to},
                    "created_at": now,
                },
            )
        return ClaimOutcome.CLAIMED, _item(row)

    def resolve(self, item_id: int, by: str, now: datetime) -> InboxItem | None:
        """Mark an item's whole thread resolved (again is harmless); the updated first item."""
        with self.engine.begin() as connection:
            row = connection.execute(_ITEM.where(lets_talk.c.id == item_id)).first()
            if row is None:
                return None
            if row.status != ItemStatus.RESOLVED.value:
                same_thread = (
                    and_(
                        lets_talk.c.slack_channel == row.slack_channel,
                        lets_talk.c.slack_ts == row.slack_ts,
                    )
                    if _is_posted(row.slack_ts)
                    else lets_talk.c.id == item_id
                )
                connection.execute(
                    update(lets_talk).where(same_thread),
                    {"status": ItemStatus.RESOLVED.value, "resolved_at": now, "resolved_by": by},
                )
                connection.execute(
                    insert(audit),
                    {
                        "actor": f"slack:{by}",
                        "action": RESOLVE_ACTION,
                        "detail": {"item": item_id},
                        "created_at": now,
                    },
                )
            if _is_posted(row.slack_ts):
                row = self._root(connection, row.slack_channel, row.slack_ts)
            else:
                row = connection.execute(_ITEM.where(lets_talk.c.id == item_id)).first()
        return _item(row)

    # -- reporting -------------------------------------------------------------------

    def _roots(self, connection: Connection) -> list[Any]:
        """The first item of every thread (and every item not posted yet)."""
        first = (
            select(func.min(lets_talk.c.id))
            .where(lets_talk.c.slack_ts.is_not(None), lets_talk.c.slack_ts.not_like(LEASE + "%"))
            .group_by(lets_talk.c.slack_channel, lets_talk.c.slack_ts)
        )
        unposted = or_(lets_talk.c.slack_ts.is_(None), lets_talk.c.slack_ts.like(LEASE + "%"))
        return list(
            connection.execute(
                _ITEM.where(or_(lets_talk.c.id.in_(first), unposted)).order_by(lets_talk.c.id)
            ).all()
        )

    def roots(self) -> list[InboxItem]:
        """Every thread's first item (and every item not posted yet), oldest first."""
        with self.engine.connect() as connection:
            return [_item(row) for row in self._roots(connection)]

    def thread_records(self) -> list[ThreadRecord]:
        """Every thread for the export: its first item, the family's export salt, counts."""
        with self.engine.connect() as connection:
            roots = self._roots(connection)
            salts = dict(
                connection.execute(select(participants.c.id, participants.c.export_salt)).all()
            )
            sizes = {
                (row.slack_channel, row.slack_ts): row.messages
                for row in connection.execute(
                    select(
                        lets_talk.c.slack_channel,
                        lets_talk.c.slack_ts,
                        func.count().label("messages"),
                    )
                    .where(lets_talk.c.slack_ts.is_not(None))
                    .group_by(lets_talk.c.slack_channel, lets_talk.c.slack_ts)
                )
            }
            sent = {
                row.item_id: (row.replies, row.translated)
                for row in connection.execute(
                    select(
                        replies.c.item_id,
                        func.count().label("replies"),
                        func.count(replies.c.translation).label("translated"),
                    )
                    .where(replies.c.status == ReplyStatus.SENT.value)
                    .group_by(replies.c.item_id)
                )
            }
        records = []
        for row in roots:
            posted = _is_posted(row.slack_ts)
            replied, translated = sent.get(row.id, (0, 0))
            records.append(
                ThreadRecord(
                    item=_item(row),
                    export_salt=salts.get(row.participant_id) or "",
                    messages=sizes.get((row.slack_channel, row.slack_ts), 1) if posted else 1,
                    replies=replied,
                    translated=translated,
                )
            )
        return records

    def due_reminders(self, now: datetime, limit: int = 50) -> list[InboxItem]:
        """Unanswered open threads whose reminder time has come, each handed out once."""
        return self._take_due(lets_talk.c.remind_at, lets_talk.c.reminded_at, now, limit)

    def due_escalations(self, now: datetime, limit: int = 50) -> list[InboxItem]:
        """Unanswered open threads past their deadline, each handed out once."""
        return self._take_due(lets_talk.c.due_at, lets_talk.c.escalated_at, now, limit)

    def _take_due(self, when: Any, done: Any, now: datetime, limit: int) -> list[InboxItem]:
        waiting = and_(
            lets_talk.c.status == ItemStatus.OPEN.value,
            lets_talk.c.first_response_at.is_(None),
            done.is_(None),
        )
        with self.engine.begin() as connection:
            ids = list(
                connection.execute(
                    select(lets_talk.c.id)
                    .where(waiting, when.is_not(None), when <= now)
                    .order_by(when)
                    .limit(limit)
                ).scalars()
            )
            taken = [
                item_id
                for item_id in ids
                # Another server may take the same one: the first write wins.
                if connection.execute(
                    update(lets_talk).where(lets_talk.c.id == item_id, waiting),
                    {done.name: now},
                ).rowcount
            ]
            rows = connection.execute(
                _ITEM.where(lets_talk.c.id.in_(taken)).order_by(lets_talk.c.id)
            ).all()
        return [_item(row) for row in rows]

    def summary(self, now: datetime, limit: int = 10) -> InboxSummary:
        """Open threads (oldest first), how many await a first answer, and answer times."""
        with self.engine.connect() as connection:
            roots = self._roots(connection)
        open_ = [r for r in roots if r.status == ItemStatus.OPEN.value]
        recent = [
            r.first_response_at - r.created_at
            for r in roots
            if r.first_response_at is not None and r.first_response_at >= now - timedelta(days=30)
        ]
        median = None
        if recent:
            median = timedelta(seconds=statistics.median(d.total_seconds() for d in recent))
        return InboxSummary(
            open=len(open_),
            unanswered=sum(1 for r in open_ if r.first_response_at is None),
            oldest_open=min((r.created_at for r in open_), default=None),
            median_first_response=median,
            answered_last_30_days=len(recent),
            items=tuple(_item(r) for r in open_[:limit]),
        )
