"""Broadcasts in the database: create and schedule them, enqueue in batches, report progress.

Enqueueing walks the audience in participant-id order, one transaction per
batch. A batch writes its outbox rows with `INSERT … ON CONFLICT (dedup_key)
DO NOTHING` (key `b:<broadcast>:<contact>`), and changes a participant's
conversation state only for the rows it actually inserted. So a crash in the
middle of a broadcast, and any number of restarts (or two processes resuming
the same broadcast), end with one row per recipient and one conversation per
participant. A resumed broadcast simply walks the audience again from the start.

Status: `scheduled` (waiting for its time) → `enqueuing` → `queued` (every
row written; the sender does the rest), or `cancelled`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from bot.core.audience import Audience, AudienceCounts, AudienceRules, Reach, Recipient
from bot.core.broadcasts import (
    BatchOutcome,
    BroadcastError,
    BroadcastKind,
    BroadcastRecord,
    BroadcastStatus,
    LoadedState,
    Progress,
)
from bot.core.messages import Channel, Reply, Template
from bot.core.places import Place, place_of_number
from bot.core.state import ConversationState, ParticipantState
from bot.ports import ActivityRow, OutboxKind, OutboxStatus
from storage import models
from storage.activities import audit_in
from storage.audience import count, recipients, resolve_audience, save_segment
from storage.bulk import among, insert_rows, update_rows
from storage.households import activity_schools, conversation_schools, schools_of
from storage.states import state_of, with_state
from storage.unit_of_work import reply_to_row, template_to_row
from storage.withdrawals import withdraw_broadcasts

__all__ = ["BroadcastStore", "EnqueueBatch", "dedup_key"]

log = logging.getLogger(__name__)

broadcasts = models.table(models.Broadcast)
outbox = models.table(models.Outbox)
participants = models.table(models.Participant)
conversations = models.table(models.Conversation)
activities = models.table(models.Activity)
messages = models.table(models.Message)
contacts = models.table(models.Contact)

# Advisory-lock class for "this process is enqueueing broadcast N" (PostgreSQL).
_LOCK_CLASS = 7405


def dedup_key(broadcast_id: int, contact_id: int) -> str:
    """The outbox key that makes a broadcast reach a contact at most once."""
    return f"b:{broadcast_id}:{contact_id}"


# A batch makes one of each per person; named tuples are made several times faster than
# frozen dataclasses.
class _Message(NamedTuple):
    recipient: Recipient
    reply: Reply
    not_before: datetime
    template: Template | None = None


class _Start(NamedTuple):
    participant_id: int
    activity_id: int
    conversation: ConversationState


class EnqueueBatch:
    """One transaction of an enqueue: recipients, their states, then what to write.

    The caller decides per recipient (`send`, `set_pending`, `skip`); the store
    then writes it all at once. A conversation start or pending change tied to
    a message applies only when that message's outbox row was new.
    """

    def __init__(
        self,
        connection: Connection,
        broadcast_id: int,
        recipients_: list[Recipient],
        states: dict[int, LoadedState],
        now: datetime,
        introduced: frozenset[int] = frozenset(),
        places: Mapping[int, str] | None = None,
        households: Mapping[int, int | None] | None = None,
    ) -> None:
        self.connection = connection
        self.broadcast_id = broadcast_id
        self.recipients = recipients_
        self.states = states
        self.now = now
        self._introduced = introduced
        self._places = dict(places or {})
        self._households = households
        self.outcome = BatchOutcome(
            last_participant=max((r.person for r in recipients_), default=0)
        )
        self._messages: list[_Message] = []
        self._starts: dict[int, _Start] = {}
        self._pending_with_message: dict[int, tuple[str, ...]] = {}
        self._pending: dict[int, tuple[str, ...]] = {}
        for recipient in recipients_:
            self.outcome.people += 1
            match recipient.reach:
                case Reach.OPTED_OUT:
                    self.outcome.opted_out += 1
                case Reach.UNREACHABLE:
                    self.outcome.unreachable += 1
                case Reach.DECLINED:
                    self.outcome.declined += 1
                case Reach.SHARED:
                    self.outcome.shared += 1
                case _:
                    pass

    @property
    def reachable(self) -> Iterator[tuple[Recipient, LoadedState]]:
        for recipient in self.recipients:
            if recipient.reach is Reach.SEND and recipient.participant_id in self.states:
                yield recipient, self.states[recipient.participant_id]

    def place(self, recipient: Recipient) -> Place | None:
        """Where the family is: the roster's ZIP, else their number's area code."""
        stored = self._places.get(recipient.participant_id)
        found = Place.parse(stored) if stored else None
        if found is None and recipient.address:
            found = place_of_number(recipient.address)
        return found

    def is_introduced(self, recipient: Recipient) -> bool:
        """Whether the contact wrote to us, or was sent a message by us, before."""
        return recipient.contact_id in self._introduced

    def send(
        self,
        recipient: Recipient,
        reply: Reply,
        not_before: datetime,
        *,
        start: tuple[int, ConversationState] | None = None,
        pending: tuple[str, ...] | None = None,
        template: Template | None = None,
    ) -> None:
        """Queue `reply`; with it (only if the row is new) start a conversation, set pending.

        `template` stands in for it on WhatsApp outside the 24-hour window.
        """
        self._messages.append(_Message(recipient, reply, not_before, template))
        if start is not None:
            activity_id, conversation = start
            self._starts[recipient.participant_id] = _Start(
                recipient.participant_id, activity_id, conversation
            )
        if pending is not None:
            self._pending_with_message[recipient.participant_id] = pending

    def set_pending(self, recipient: Recipient, pending: tuple[str, ...]) -> None:
        """Queue the invitation behind the participant's current activity (idempotent)."""
        self._pending[recipient.participant_id] = pending
        self.outcome.waiting += 1

    def skip(self, recipient: Recipient) -> None:
        self.outcome.skipped += 1

    def activity(self, activity_id: int) -> ActivityRow | None:
        """A stored activity version, read in this batch's own transaction.

        Never through another connection: on SQLite the batch holds the one
        write lock, and a second connection's BEGIN would wait for it forever.
        """
        return read_activity(self.connection, activity_id)

    def write(self) -> BatchOutcome:
        inserted = self._insert_messages()
        self.outcome.queued += len(inserted)
        self.outcome.skipped += len(self._messages) - len(inserted)
        started_ids = {
            r.participant_id
            for r in (m.recipient for m in self._messages)
            if r.contact_id in inserted
        }
        starts = [s for pid, s in self._starts.items() if pid in started_ids]
        if starts:
            scopes = activity_schools(self.connection, [s.activity_id for s in starts])
            seen = conversation_schools(
                self.connection,
                [s.participant_id for s in starts],
                {s.participant_id: scopes.get(s.activity_id) for s in starts},
                self._households,
            )
            no_answers: dict[str, Any] = {}
            insert_rows(
                self.connection,
                conversations,
                _CONVERSATION_COLUMNS,
                [
                    (
                        s.participant_id,
                        s.activity_id,
                        "active",
                        s.conversation.question,
                        s.conversation.attempts,
                        no_answers,
                        *seen[s.participant_id],
                        self.now,
                        self.now,
                    )
                    for s in starts
                ],
            )
        pending = dict(self._pending)
        pending.update(
            {pid: p for pid, p in self._pending_with_message.items() if pid in started_ids}
        )
        update_rows(
            self.connection,
            participants,
            ("pending", "updated_at"),
            "id",
            [(list(value), self.now, pid) for pid, value in pending.items()],
        )
        return self.outcome

    def _insert_messages(self) -> set[int]:
        """Insert the outbox rows; the contact ids whose row is new."""
        if not self._messages:
            return set()
        # Most rows share a few replies: each one's choices and template made once
        # (by identity; the replies live as long as the batch).
        choices = _once_each(reply_to_row)
        template = _once_each(template_to_row)
        # Enum members' values read once, not per row (each read is a descriptor call;
        # members are singletons, so their ids name them).
        kind, status = OutboxKind.BROADCAST.value, OutboxStatus.PENDING.value
        channels = {id(c): c.value for c in Channel} | {id(None): ""}
        broadcast_id, now, places = self.broadcast_id, self.now, self._places
        rows = []
        for m in self._messages:
            recipient = m.recipient
            rows.append(
                (
                    recipient.contact_id,
                    channels[id(recipient.channel)],
                    recipient.address,
                    m.reply.text,
                    choices(m.reply),
                    kind,
                    status,
                    0,
                    m.not_before,
                    broadcast_id,
                    places.get(recipient.participant_id),
                    dedup_key(broadcast_id, recipient.contact_id or 0),
                    now,
                    template(m.template),
                )
            )
        new = insert_rows(
            self.connection,
            outbox,
            _OUTBOX_COLUMNS,
            rows,
            unless="dedup_key",
            returning="contact_id",
        )
        return set(new)


def _once_each(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`make`, run once per object (by identity, each object held while it is cached)."""
    made: dict[int, tuple[Any, Any]] = {}

    def run(value: Any) -> Any:
        found = made.get(id(value))
        if found is None:
            found = made[id(value)] = (value, make(value))
        return found[1]

    return run


_CONVERSATION_COLUMNS = (
    "participant_id",
    "activity_id",
    "status",
    "question",
    "attempts",
    "answers",
    "household_id",
    "schools",
    "started_at",
    "updated_at",
)
_OUTBOX_COLUMNS = (
    "contact_id",
    "channel",
    "address",
    "body",
    "choices",
    "kind",
    "status",
    "attempts",
    "not_before",
    "broadcast_id",
    "place",
    "dedup_key",
    "created_at",
    "template",
)


class BroadcastStore:
    """Broadcast rows and their outbox rows; each method is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    # -- creating ----------------------------------------------------------------

    def create(
        self,
        *,
        kind: BroadcastKind,
        audience: Audience,
        scheduled_at: datetime,
        now: datetime,
        actor: str,
        activity_id: int | None = None,
        message: Mapping[str, str] | None = None,
        reminders: Sequence[datetime] = (),
        detail: Mapping[str, object] | None = None,
        request_key: str | None = None,
    ) -> list[int]:
        """Create a broadcast and its scheduled reminders; ids, the broadcast's first.

        With `request_key` (a confirmation's nonce) a broadcast already created by
        that request is returned instead, alone: a replayed confirmation creates
        nothing more.
        """
        if request_key is not None:
            found = self.by_request(request_key)
            if found is not None:
                return [found]
        try:
            return self._create(
                kind,
                audience,
                scheduled_at,
                now,
                actor,
                activity_id,
                message,
                reminders,
                detail,
                request_key,
            )
        except IntegrityError:
            # The same confirmation, at the same moment, in another process.
            found = self.by_request(request_key) if request_key is not None else None
            if found is None:
                raise
            return [found]

    def by_request(self, request_key: str) -> int | None:
        """The broadcast a confirmation created, if it did."""
        with self.engine.connect() as connection:
            found = connection.execute(
                select(broadcasts.c.id).where(broadcasts.c.request_key == request_key)
            ).scalar()
        return int(found) if found is not None else None

    def _create(
        self,
        kind: BroadcastKind,
        audience: Audience,
        scheduled_at: datetime,
        now: datetime,
        actor: str,
        activity_id: int | None,
        message: Mapping[str, str] | None,
        reminders: Sequence[datetime],
        detail: Mapping[str, object] | None,
        request_key: str | None,
    ) -> list[int]:
        with self.engine.begin() as connection:
            broadcast_id = self._insert(
                connection, kind, audience, scheduled_at, now, actor, activity_id, message, None
            )
            if request_key is not None:
                connection.execute(
                    update(broadcasts).where(broadcasts.c.id == broadcast_id),
                    {"request_key": request_key},
                )
            ids = [broadcast_id]
            for moment in reminders:
                ids.append(
                    self._insert(
                        connection,
                        BroadcastKind.REMINDER,
                        audience,
                        moment,
                        now,
                        actor,
                        activity_id,
                        None,
                        broadcast_id,
                    )
                )
            audit_in(
                connection,
                actor,
                "broadcast.create",
                {
                    "broadcast": broadcast_id,
                    "kind": kind.value,
                    "audience": str(audience),
                    "scheduled_at": scheduled_at.isoformat(),
                    "reminders": ids[1:],
                    **(detail or {}),
                },
                now,
            )
        return ids

    def _insert(
        self,
        connection: Connection,
        kind: BroadcastKind,
        audience: Audience,
        scheduled_at: datetime,
        now: datetime,
        actor: str,
        activity_id: int | None,
        message: Mapping[str, str] | None,
        reminder_of: int | None,
    ) -> int:
        broadcast_id: int = connection.execute(
            insert(broadcasts).returning(broadcasts.c.id),
            {
                "activity_id": activity_id,
                "kind": kind.value,
                "message": dict(message or {}),
                "audience": audience.to_json(),
                "status": BroadcastStatus.SCHEDULED.value,
                "scheduled_at": scheduled_at,
                "reminder_of": reminder_of,
                "total": 0,
                "created_by": actor,
                "created_at": now,
            },
        ).scalar_one()
        return broadcast_id

    # -- reading -----------------------------------------------------------------

    def get(self, broadcast_id: int) -> BroadcastRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(_RECORD.where(broadcasts.c.id == broadcast_id)).first()
        return _record(row) if row is not None else None

    def activity(self, activity_id: int) -> ActivityRow | None:
        """A stored activity version (outside any enqueue transaction)."""
        with self.engine.connect() as connection:
            return read_activity(connection, activity_id)

    def latest_activity(self, key: str) -> ActivityRow | None:
        """The newest stored version of the activity `key`."""
        with self.engine.connect() as connection:
            newest = connection.execute(
                select(func.max(activities.c.id)).where(
                    activities.c.key == key,
                    activities.c.version
                    == select(func.max(activities.c.version))
                    .where(activities.c.key == key)
                    .scalar_subquery(),
                )
            ).scalar()
            return read_activity(connection, newest) if newest is not None else None

    # -- audiences ---------------------------------------------------------------

    def resolve_audience(self, text: str, rules: AudienceRules) -> Audience:
        with self.engine.connect() as connection:
            return resolve_audience(connection, text, rules)

    def count(self, audience: Audience, rules: AudienceRules) -> AudienceCounts:
        with self.engine.connect() as connection:
            return count(connection, audience, rules)

    def save_segment(self, name: str, audience: Audience, now: datetime, actor: str) -> bool:
        return save_segment(self.engine, name, audience, now, actor)

    def latest(self, limit: int = 20) -> list[BroadcastRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(_RECORD.order_by(broadcasts.c.id.desc()).limit(limit))
            return [_record(row) for row in rows]

    def due(self, now: datetime) -> list[int]:
        """Broadcasts to enqueue now: scheduled ones whose time came, and interrupted ones."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(broadcasts.c.id)
                    .where(
                        or_(
                            (broadcasts.c.status == BroadcastStatus.SCHEDULED.value)
                            & (broadcasts.c.scheduled_at <= now),
                            broadcasts.c.status == BroadcastStatus.ENQUEUING.value,
                        )
                    )
                    .order_by(broadcasts.c.scheduled_at, broadcasts.c.id)
                ).scalars()
            )

    def next_scheduled(self) -> datetime | None:
        with self.engine.connect() as connection:
            found: datetime | None = connection.execute(
                select(func.min(broadcasts.c.scheduled_at)).where(
                    broadcasts.c.status == BroadcastStatus.SCHEDULED.value
                )
            ).scalar()
            return found

    def progress(self, broadcast_id: int) -> Progress:
        """Counts of this broadcast's outbox rows by state, and of delivery reports."""
        record = self.get(broadcast_id)
        if record is None:
            raise BroadcastError(f"no broadcast {broadcast_id}: see engage broadcast status")
        progress = Progress(broadcast_id, record.status.value, paused=record.paused_at is not None)
        with self.engine.connect() as connection:
            by_status = connection.execute(
                select(
                    outbox.c.status,
                    func.count(),
                )
                .where(outbox.c.broadcast_id == broadcast_id)
                .group_by(outbox.c.status)
            ).all()
            delivery = connection.execute(
                select(messages.c.status, func.count())
                .select_from(outbox)
                .join(messages, messages.c.outbox_id == outbox.c.id)
                .where(outbox.c.broadcast_id == broadcast_id, messages.c.direction == "out")
                .group_by(messages.c.status)
            ).all()
        for status, number in by_status:
            progress.total += number
            match OutboxStatus(status):
                case OutboxStatus.PENDING:
                    progress.queued += number
                case OutboxStatus.SENDING:
                    progress.sending += number
                case OutboxStatus.SENT:
                    progress.sent += number
                case OutboxStatus.FAILED:
                    progress.failed += number
                case OutboxStatus.WITHHELD:
                    progress.opted_out += number
                case OutboxStatus.CANCELLED:
                    progress.cancelled += number
        for status, number in delivery:
            if status in ("delivered", "read"):
                progress.delivered += number
            elif status in ("undelivered", "failed"):
                progress.undelivered += number
        return progress

    # -- changing ----------------------------------------------------------------

    def cancel(self, broadcast_id: int, now: datetime, actor: str) -> int:
        """Stop a broadcast: it is not enqueued further and its unsent rows are cancelled,
        those a worker has claimed but not begun to send included.

        Returns how many queued messages were cancelled. Its reminders are cancelled too.
        """
        with self.engine.begin() as connection:
            ids = [broadcast_id] + list(
                connection.execute(
                    select(broadcasts.c.id).where(broadcasts.c.reminder_of == broadcast_id)
                ).scalars()
            )
            connection.execute(
                update(broadcasts).where(broadcasts.c.id.in_(ids)),
                {"status": BroadcastStatus.CANCELLED.value},
            )
            cancelled = withdraw_broadcasts(connection, ids, "broadcast cancelled")
            audit_in(
                connection,
                actor,
                "broadcast.cancel",
                {"broadcast": broadcast_id, "cancelled": cancelled},
                now,
            )
        return cancelled

    def pause(self, broadcast_id: int, now: datetime, actor: str) -> bool:
        """Hold a broadcast's unsent messages (each worker checks before every send);
        False when it was paused already."""
        return self._set_paused(broadcast_id, now, actor, paused=True)

    def resume(self, broadcast_id: int, now: datetime, actor: str) -> bool:
        """Let a paused broadcast's messages go again; False when it was not paused."""
        return self._set_paused(broadcast_id, now, actor, paused=False)

    def _set_paused(self, broadcast_id: int, now: datetime, actor: str, *, paused: bool) -> bool:
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(broadcasts).where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.paused_at.is_(None)
                    if paused
                    else broadcasts.c.paused_at.is_not(None),
                ),
                {"paused_at": now if paused else None},
            ).rowcount
            if changed:
                # Its reminders follow it: a paused broadcast does not remind anyone.
                connection.execute(
                    update(broadcasts).where(broadcasts.c.reminder_of == broadcast_id),
                    {"paused_at": now if paused else None},
                )
                action = "broadcast.pause" if paused else "broadcast.resume"
                audit_in(connection, actor, action, {"broadcast": broadcast_id}, now)
        return bool(changed)

    def start_enqueue(self, broadcast_id: int) -> bool:
        """Move a due broadcast to `enqueuing`; False if it is cancelled or already queued."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(broadcasts).where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status.in_(
                        [BroadcastStatus.SCHEDULED.value, BroadcastStatus.ENQUEUING.value]
                    ),
                ),
                {"status": BroadcastStatus.ENQUEUING.value},
            ).rowcount
        return bool(changed)

    def finish_enqueue(
        self, broadcast_id: int, outcome: BatchOutcome, now: datetime, actor: str
    ) -> bool:
        """Mark the broadcast queued with its total; False if it was cancelled meanwhile."""
        with self.engine.begin() as connection:
            total = connection.execute(
                select(func.count()).where(outbox.c.broadcast_id == broadcast_id)
            ).scalar_one()
            changed = connection.execute(
                update(broadcasts).where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status == BroadcastStatus.ENQUEUING.value,
                ),
                {"status": BroadcastStatus.QUEUED.value, "total": total, "enqueued_at": now},
            ).rowcount
            if changed:
                audit_in(
                    connection,
                    actor,
                    "broadcast.enqueued",
                    {"broadcast": broadcast_id, "total": total, **outcome.as_dict()},
                    now,
                )
        return bool(changed)

    def is_cancelled(self, broadcast_id: int) -> bool:
        with self.engine.connect() as connection:
            status = connection.execute(
                select(broadcasts.c.status).where(broadcasts.c.id == broadcast_id)
            ).scalar()
        return status == BroadcastStatus.CANCELLED.value

    def enqueue_lock(self, broadcast_id: int) -> _EnqueueLock | _NoLock:
        """Hold "I am enqueueing this broadcast" across processes (PostgreSQL; no-op on SQLite).

        Enqueueing twice at once is safe anyway (dedup keys); the lock saves the work.
        """
        return _EnqueueLock(self.engine, broadcast_id) if self.is_postgres else _NoLock()

    # -- enqueueing --------------------------------------------------------------

    def enqueue(
        self,
        broadcast_id: int,
        audience: Audience,
        rules: AudienceRules,
        now: datetime,
        decide: Callable[[EnqueueBatch], None],
        *,
        size: int = 1000,
        only: Sequence[int] | None = None,
        progress: Callable[[BatchOutcome], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> BatchOutcome:
        """Walk the audience in batches of `size` people, one transaction each.

        `decide` fills each batch (reading `batch.reachable`); the batch is then
        written and committed. `progress` sees the running totals after each
        commit; `stop` is asked between batches (a cancelled broadcast).
        """
        total = BatchOutcome()
        after = 0
        # The contacts this walk has reached: one message each, however many people
        # (a restart forgets them; the dedup keys still hold).
        seen: set[int] = set()
        while stop is None or not stop():
            with self.engine.begin() as connection:
                found = list(
                    recipients(
                        connection, audience, rules, after=after, limit=size, only=only, seen=seen
                    )
                )
                if not found:
                    break
                reachable = sorted({r.participant_id for r in found if r.reach is Reach.SEND})
                states, places, households = self._lock_and_load(connection, reachable)
                introduced = _introduced(
                    connection, [r.contact_id for r in found if r.contact_id is not None]
                )
                batch = EnqueueBatch(
                    connection, broadcast_id, found, states, now, introduced, places, households
                )
                decide(batch)
                total.merge(batch.write())
            after = total.last_participant
            if progress is not None:
                progress(total)
        if stop is not None and stop():
            # Cancelled while a batch was being written: withdraw what it added.
            with self.engine.begin() as connection:
                withdraw_broadcasts(connection, [broadcast_id], "broadcast cancelled")
        return total

    def _lock_and_load(
        self, connection: Connection, ids: list[int]
    ) -> tuple[dict[int, LoadedState], dict[int, str], dict[int, int | None]]:
        """The participants' states, where the roster says those it says live
        (`Place.key()`), and their households."""
        if not ids:
            return {}, {}, {}
        if self.is_postgres:
            # Lock first, then read: a read after the lock sees what an inbound
            # message committed while we waited (READ COMMITTED).
            connection.execute(
                select(participants.c.id)
                .where(among(connection, participants.c.id, ids))
                .order_by(participants.c.id)
                .with_for_update()
            ).all()
        rows = connection.execute(_STATE.where(among(connection, participants.c.id, ids))).all()
        found = schools_of(connection, ids)
        # Most people have no conversation yet and are in one of a few states (language,
        # role, schools): those share one ParticipantState (it is frozen). Such a state is
        # every column after the id, place and household, and the schools.
        shared: dict[tuple[Any, ...], ParticipantState] = {}
        loaded = {}
        places = {}
        households = {}
        for row in rows:
            pid, place, households[pid] = row[0], row[1], row[2]
            schools = found.get(pid, ())
            conversation, activity = row[_CONVERSATION], row[_CONVERSATION_ACTIVITY]
            if conversation is None:
                key = (row[3:], schools)
                state = shared.get(key)
                if state is None:
                    state = shared[key] = state_of(row, schools)
            else:
                state = state_of(row, schools)
            loaded[pid] = LoadedState(pid, state, conversation, activity)
            if place is not None:
                places[pid] = place
        return loaded, places, households

    def reminder_targets(self, broadcast_id: int, activity_key: str) -> list[int]:
        """Participants invited by `broadcast_id` whose conversation on the activity is still open."""
        with self.engine.connect() as connection:
            invited = (
                select(contacts.c.participant_id)
                .join(outbox, outbox.c.contact_id == contacts.c.id)
                .where(outbox.c.broadcast_id == broadcast_id, outbox.c.status == OutboxStatus.SENT)
            )
            rows = connection.execute(
                select(conversations.c.participant_id)
                .join(activities, activities.c.id == conversations.c.activity_id)
                .where(
                    conversations.c.status == "active",
                    activities.c.key == activity_key,
                    conversations.c.participant_id.in_(invited),
                )
                .distinct()
            )
            return sorted(rows.scalars())


def _introduced(connection: Connection, contact_ids: list[int]) -> frozenset[int]:
    """The contacts among `contact_ids` that wrote to us, or that a message of ours reached."""
    if not contact_ids:
        return frozenset()
    reached = (
        select(outbox.c.id)
        .where(outbox.c.contact_id == contacts.c.id, outbox.c.sent_at.is_not(None))
        .exists()
    )
    rows = connection.execute(
        select(contacts.c.id).where(
            among(connection, contacts.c.id, contact_ids),
            or_(contacts.c.last_inbound_at.is_not(None), reached),
        )
    )
    return frozenset(rows.scalars())


class _EnqueueLock:
    def __init__(self, engine: Engine, broadcast_id: int) -> None:
        self.engine = engine
        self.broadcast_id = broadcast_id
        self.connection: Connection | None = None

    def __enter__(self) -> bool:
        self.connection = self.engine.connect()
        held = self.connection.execute(
            text("SELECT pg_try_advisory_lock(:c, :b)"), {"c": _LOCK_CLASS, "b": self.broadcast_id}
        ).scalar()
        self.connection.commit()
        return bool(held)

    def __exit__(self, *exc: object) -> None:
        assert self.connection is not None
        try:
            self.connection.execute(
                text("SELECT pg_advisory_unlock(:c, :b)"),
                {"c": _LOCK_CLASS, "b": self.broadcast_id},
            )
            self.connection.commit()
        finally:
            self.connection.close()


class _NoLock:
    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        return None


def read_activity(connection: Connection, activity_id: int) -> ActivityRow | None:
    row = connection.execute(
        select(
            activities.c.id,
            activities.c.key,
            activities.c.version,
            activities.c.source,
            activities.c.is_open,
        ).where(activities.c.id == activity_id)
    ).first()
    if row is None:
        return None
    return ActivityRow(row.id, row.key, row.version, row.source, bool(row.is_open))


_RECORD = select(
    broadcasts.c.id,
    broadcasts.c.kind,
    broadcasts.c.status,
    broadcasts.c.audience,
    broadcasts.c.scheduled_at,
    broadcasts.c.created_by,
    broadcasts.c.created_at,
    broadcasts.c.total,
    broadcasts.c.activity_id,
    activities.c.key.label("activity_key"),
    broadcasts.c.message,
    broadcasts.c.reminder_of,
    broadcasts.c.enqueued_at,
    broadcasts.c.paused_at,
).outerjoin(activities, activities.c.id == broadcasts.c.activity_id)


def _record(row: Any) -> BroadcastRecord:
    return BroadcastRecord(
        id=row.id,
        kind=BroadcastKind(row.kind),
        status=BroadcastStatus(row.status),
        audience=Audience.from_json(row.audience or {}),
        scheduled_at=row.scheduled_at,
        created_by=row.created_by,
        created_at=row.created_at,
        total=row.total,
        activity_id=row.activity_id,
        activity_key=row.activity_key,
        message=dict(row.message or {}),
        reminder_of=row.reminder_of,
        enqueued_at=row.enqueued_at,
        paused_at=row.paused_at,
    )


_STATE = with_state(participants.c.id, participants.c.place, participants.c.household_id)
_CONVERSATION = list(_STATE.selected_columns.keys()).index("conversation_id")
_CONVERSATION_ACTIVITY = list(_STATE.selected_columns.keys()).index("activity_id")
