"""The SQL unit of work: one connection, one transaction, the statements the service needs.

SQLAlchemy Core rather than the ORM on this path: an inbound message costs a
handful of statements and nothing else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from bot.core.consent import ConsentChange
from bot.core.ideas import IdeaTally, Vote
from bot.core.messages import Channel, Choice, InboundMessage, Reply, Template
from bot.core.moderation import KnownName
from bot.core.state import (
    ConversationState,
    ParticipantState,
    Response,
)
from bot.core.urgency import Assessment
from bot.errors import StoreBusy
from bot.ports import ActivityRow, OutboxKind, OutboxRow, OutboxStatus, SenderRecord
from storage import consent, models
from storage.households import (
    activity_school,
    add_own_schools,
    conversation_schools_one,
    schools_of_one,
)
from storage.prepared import Prepared, savepoint
from storage.privacy import is_forgotten_address
from storage.states import state_of, with_state

__all__ = [
    "SHARED",
    "Shared",
    "SqlUnitOfWork",
    "new_pseudonym",
    "reply_from_row",
    "reply_to_row",
]


class Shared:
    """One queued message's work in a batch's transaction (storage.inbound_queue), in
    the savepoint `point`. The first unit of work opened in it takes that savepoint
    for its own (`taken`): a message costs two savepoint statements, not four."""

    __slots__ = ("connection", "point", "taken")

    def __init__(self, connection: Connection, point: savepoint) -> None:
        self.connection = connection
        self.point = point
        self.taken = False


# Set by a batch of the inbound queue: units of work opened meanwhile (in this thread)
# become savepoints of its transaction.
SHARED: ContextVar[Shared | None] = ContextVar("shared", default=None)

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
conversations = models.table(models.Conversation)
activities = models.table(models.Activity)
messages = models.table(models.Message)
responses = models.table(models.Response)
outbox = models.table(models.Outbox)
lets_talk = models.table(models.LetsTalk)

_SENDER = with_state(
    contacts.c.id,
    contacts.c.participant_id,
    contacts.c.opted_out_at,
    participants.c.pseudonym,
    from_=contacts.join(participants, participants.c.id == contacts.c.participant_id),
)


# The statements every inbound message runs, built and compiled once and handed
# straight to the driver (storage.prepared).
_FIND_SENDER = _SENDER.where(
    contacts.c.channel == bindparam("channel"), contacts.c.address == bindparam("address")
)
_FIND_SENDER_LOCKED = _FIND_SENDER.with_for_update(of=participants)


def _record_inbound(dialect_insert: Any) -> Any:
    return (
        dialect_insert(messages)
        .values(
            direction="in",
            channel=bindparam("channel"),
            contact_id=bindparam("contact_id"),
            participant_id=bindparam("participant_id"),
            provider_id=bindparam("provider_id"),
            body=bindparam("body"),
            status="received",
            detected_language=bindparam("detected_language"),
            created_at=bindparam("now"),
            updated_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
        .returning(messages.c.id)
    )


_TOUCH_CONTACT = (
    update(contacts)
    .where(contacts.c.id == bindparam("contact_id"))
    .values(last_inbound_at=bindparam("now"))
)
_FIND = Prepared(_FIND_SENDER)
_FIND_LOCKED = Prepared(_FIND_SENDER_LOCKED)
_RECORD = {
    "postgresql": Prepared(_record_inbound(postgresql.insert)),
    "sqlite": Prepared(_record_inbound(sqlite.insert)),
}
_TOUCH = Prepared(_TOUCH_CONTACT)
# Bound names differ from the columns they set (SQLAlchemy keeps those for the SET clause).
_SAVE_PARTICIPANT = Prepared(
    update(participants).where(participants.c.id == bindparam("participant_key")),
    keys=[
        "language",
        "role",
        "consent",
        "onboarding",
        "onboarding_started",
        "awaiting",
        "attempts",
        "pending",
        "updated_at",
    ],
)
_CONVERSATION = update(conversations).where(conversations.c.id == bindparam("conversation_key"))
# What a conversation's row changes: on completion, as it goes on, or only its time.
_SAVE_CONVERSATION: dict[tuple[str, ...], Prepared] = {
    keys: Prepared(_CONVERSATION, keys=keys)
    for keys in (
        ("updated_at", "status", "completed_at", "question"),
        ("updated_at", "question", "attempts", "answers"),
        ("updated_at",),
    )
}
_RESPONSE_KEYS = (
    "participant_id",
    "conversation_id",
    "activity_id",
    "question",
    "value",
    "text",
    "status",
    "language",
    "detected_language",
    "channel",
    "message_id",
    "created_at",
)
_ADD_RESPONSES = Prepared(insert(responses), keys=_RESPONSE_KEYS)
_OUTBOX_KEYS = (
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
    "created_at",
)
_ENQUEUE = Prepared(insert(outbox), keys=_OUTBOX_KEYS)
_START_CONVERSATION = Prepared(
    insert(conversations).returning(conversations.c.id),
    keys=[
        "participant_id",
        "activity_id",
        "status",
        "attempts",
        "answers",
        "household_id",
        "schools",
        "started_at",
        "updated_at",
    ],
)
_ADD_PARTICIPANT = Prepared(
    insert(participants).returning(participants.c.id),
    keys=[
        "pseudonym",
        "role",
        "name",
        "onboarding_started",
        "attempts",
        "pending",
        "created_at",
        "updated_at",
    ],
)
_ADD_CONTACT = Prepared(
    insert(contacts).returning(contacts.c.id),
    keys=["participant_id", "channel", "address", "created_at"],
)


def new_pseudonym() -> str:
    """A random, stable handle for a participant, safe to show staff."""
    return "P-" + secrets.token_hex(5).upper()


def reply_to_row(reply: Reply) -> list[list[str]]:
    return [[c.key, c.label, c.payload] for c in reply.choices]


def reply_from_row(text: str, choices: Sequence[Sequence[str]] | None) -> Reply:
    return Reply(text, tuple(Choice(*c) for c in choices or ()))


def template_to_row(template: Template | None) -> dict[str, Any] | None:
    if template is None:
        return None
    return {"content_sid": template.content_sid, "variables": list(template.variables)}


def template_from_row(raw: Mapping[str, Any] | None) -> Template | None:
    if not raw or not isinstance(raw.get("content_sid"), str):
        return None
    return Template(raw["content_sid"], tuple(str(v) for v in raw.get("variables") or ()))


def _answers_to_json(state: ConversationState | None) -> dict[str, Any]:
    if state is None:
        return {}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in state.answers.items()}


class SqlUnitOfWork:
    """A transaction on `engine`; `commit()` keeps it, leaving the block without it rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._nested: savepoint | None = None
        # The message's own savepoint, taken (`Shared`), and whether it was committed.
        self._borrowed: Shared | None = None
        self._kept = False
        self._for_update = engine.dialect.name == "postgresql"
        # The schools each participant had when loaded: a new one is a school they named.
        self._schools: dict[int, tuple[str, ...]] = {}

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use the unit of work in a with block"
        return self._connection

    def __enter__(self) -> Self:
        shared = SHARED.get()
        if shared is not None:
            # Inside a batch of the inbound queue (storage.inbound_queue): a savepoint of
            # its transaction, so many messages share one commit and one that fails
            # takes nothing of the others with it. Nothing was written in the message's
            # savepoint before its first unit of work: that one uses it as its own.
            self._connection = shared.connection
            if shared.taken:
                self._nested = savepoint(
                    shared.connection, "unit_of_work", keep_on_exit=False
                ).__enter__()
            else:
                shared.taken, self._borrowed, self._kept = True, shared, False
            return self
        self._connection = self.engine.connect()
        self._connection.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        nested, self._nested = self._nested, None
        borrowed, self._borrowed = self._borrowed, None
        if borrowed is not None:
            self._connection = None
            if not self._kept:  # back to the message's start, which is this one's too
                borrowed.point.rollback()
                borrowed.taken = False
        elif nested is not None:
            self._connection = None
            nested.__exit__(exc_type, exc, tb)
        else:
            try:
                if connection.in_transaction():
                    connection.rollback()
            finally:
                connection.close()
                self._connection = None
        if isinstance(exc, DBAPIError):
            # A lock, a serialization failure or a uniqueness race: the service retries.
            raise StoreBusy(f"the database is busy: {type(exc).__name__}") from exc

    def commit(self) -> None:
        if self._borrowed is not None:
            self._kept = True  # the batch releases the message's savepoint
        elif self._nested is not None:
            self._nested.keep()
        else:
            self.connection.commit()

    def is_forgotten(self, digest: str) -> bool:
        return is_forgotten_address(self.connection, digest)

    # -- senders -------------------------------------------------------------

    def find_sender(self, channel: Channel, address: str) -> SenderRecord | None:
        # Two messages from one person at once take turns (PostgreSQL).
        query = _FIND_LOCKED if self._for_update else _FIND
        row = query.first(self.connection, {"channel": channel.value, "address": address})
        if row is None:
            return None
        schools = schools_of_one(self.connection, row.participant_id)
        self._schools[row.participant_id] = schools
        state = state_of(row, schools, opted_out=row.opted_out_at is not None)
        return SenderRecord(
            contact_id=row.id,
            participant_id=row.participant_id,
            pseudonym=row.pseudonym,
            state=state,
            conversation_id=row.conversation_id,
            conversation_activity_id=row.activity_id,
        )

    def add_sender(
        self,
        channel: Channel,
        address: str,
        now: datetime,
        *,
        role: str | None = None,
        name: str | None = None,
    ) -> SenderRecord:
        pseudonym = new_pseudonym()
        participant_id = _ADD_PARTICIPANT.scalar(
            self.connection,
            {
                "pseudonym": pseudonym,
                "role": role,
                "name": name,
                "onboarding_started": False,
                "attempts": 0,
                "pending": [],
                "created_at": now,
                "updated_at": now,
            },
        )
        contact_id = _ADD_CONTACT.scalar(
            self.connection,
            {
                "participant_id": participant_id,
                "channel": channel.value,
                "address": address,
                "created_at": now,
            },
        )
        return SenderRecord(contact_id, participant_id, pseudonym, ParticipantState(role=role))

    def add_contact(
        self, person: SenderRecord, channel: Channel, address: str, now: datetime
    ) -> SenderRecord:
        opted_out_at = self.connection.execute(
            select(contacts.c.opted_out_at).where(contacts.c.id == person.contact_id)
        ).scalar()
        self.connection.execute(
            insert(contacts),
            {
                "participant_id": person.participant_id,
                "channel": channel.value,
                "address": address,
                "opted_out_at": opted_out_at,
                "created_at": now,
            },
        )
        found = self.find_sender(channel, address)
        assert found is not None
        return found

    def record_inbound(
        self,
        sender: SenderRecord,
        message: InboundMessage,
        detected_language: str | None,
        now: datetime,
    ) -> int | None:
        statement = _RECORD[self.engine.dialect.name]
        message_id: int | None = statement.scalar(
            self.connection,
            {
                "channel": message.channel.value,
                "contact_id": sender.contact_id,
                "participant_id": sender.participant_id,
                "provider_id": message.provider_id,
                "body": message.text,
                "detected_language": detected_language,
                "now": now,
            },
        )
        if message_id is not None:
            # Quiet hours and audiences read when a person last wrote.
            _TOUCH.execute(self.connection, {"contact_id": sender.contact_id, "now": now})
        return message_id

    # -- activities ----------------------------------------------------------

    def activity(self, activity_id: int) -> ActivityRow | None:
        row = self.connection.execute(
            select(
                activities.c.id,
                activities.c.key,
                activities.c.version,
                activities.c.source,
                activities.c.is_open,
            ).where(activities.c.id == activity_id)
        ).first()
        return ActivityRow(*row) if row else None

    def open_activities(self) -> Sequence[ActivityRow]:
        """Open activities, newest first, without their source (see `activity`)."""
        rows = self.connection.execute(
            select(
                activities.c.id,
                activities.c.key,
                activities.c.version,
                literal(""),
                activities.c.is_open,
            )
            .where(activities.c.is_open.is_(True))
            .order_by(activities.c.id.desc())
        ).all()
        return [ActivityRow(*row) for row in rows]

    # -- state ---------------------------------------------------------------

    def save_participant(self, participant_id: int, state: ParticipantState, now: datetime) -> None:
        values: dict[str, Any] = {
            "language": state.language,
            "role": state.role,
            "consent": state.consent,
            "onboarding": state.onboarding.value if state.onboarding else None,
            "onboarding_started": state.onboarding_started,
            "awaiting": state.awaiting.value if state.awaiting else None,
            "attempts": state.attempts,
            "pending": list(state.pending),
            "updated_at": now,
        }
        _SAVE_PARTICIPANT.execute(self.connection, {**values, "participant_key": participant_id})
        known = self._schools.get(participant_id, ())
        named = [school for school in state.schools if school not in known]
        if named:
            add_own_schools(self.connection, participant_id, named, now)
            self._schools[participant_id] = (*known, *named)

    def start_conversation(self, participant_id: int, activity_id: int, now: datetime) -> int:
        scope = activity_school(self.connection, activity_id)
        household, schools = conversation_schools_one(self.connection, participant_id, scope)
        conversation_id: int = _START_CONVERSATION.scalar(
            self.connection,
            {
                "participant_id": participant_id,
                "activity_id": activity_id,
                "status": "active",
                "attempts": 0,
                "answers": {},
                "household_id": household,
                "schools": schools,
                "started_at": now,
                "updated_at": now,
            },
        )
        return conversation_id

    def save_conversation(
        self, conversation_id: int, state: ParticipantState, completed: bool, now: datetime
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if completed:
            values.update(status="completed", completed_at=now, question=None)
        elif state.conversation is not None:
            values.update(
                question=state.conversation.question,
                attempts=state.conversation.attempts,
                answers=_answers_to_json(state.conversation),
            )
        statement = _SAVE_CONVERSATION[tuple(values)]
        statement.execute(self.connection, {**values, "conversation_key": conversation_id})

    def add_responses(
        self,
        sender: SenderRecord,
        conversation_ids: dict[str, int],
        activity_ids: dict[str, int],
        responses_: Sequence[Response],
        message_id: int | None,
        channel: Channel,
        detected_language: str | None,
        now: datetime,
    ) -> None:
        rows = [
            {
                "participant_id": sender.participant_id,
                "conversation_id": conversation_ids[r.activity],
                "activity_id": activity_ids[r.activity],
                "question": r.question,
                "value": list(r.value) if isinstance(r.value, tuple) else r.value,
                "text": r.text,
                "status": r.status.value,
                "language": r.language,
                "detected_language": detected_language,
                "channel": channel.value,
                "message_id": message_id,
                "created_at": now,
            }
            for r in responses_
        ]
        _ADD_RESPONSES.execute_many(self.connection, rows)

    # -- outbox, opt-out, Let's Talk -------------------------------------------

    def enqueue(
        self,
        contact_id: int,
        channel: Channel,
        address: str,
        replies: Sequence[Reply],
        kind: OutboxKind,
        now: datetime,
        broadcast_id: int | None = None,
    ) -> None:
        rows = [
            {
                "contact_id": contact_id,
                "channel": channel.value,
                "address": address,
                "body": reply.text,
                "choices": reply_to_row(reply),
                "kind": kind,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "not_before": now,
                "broadcast_id": broadcast_id,
                "created_at": now,
            }
            for reply in replies
        ]
        _ENQUEUE.execute_many(self.connection, rows)

    def resume_after_template(self, contact_id: int, now: datetime) -> int:
        resumed = self.connection.execute(
            update(outbox)
            .where(
                outbox.c.contact_id == contact_id,
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.template_sent_at.is_not(None),
            )
            .values(not_before=now)
        ).rowcount
        return int(resumed or 0)

    def record_consent(
        self, sender: SenderRecord, change: ConsentChange, message_id: int | None, now: datetime
    ) -> None:
        """STOP reaches every contact of the person; START re-opens only the one it came on."""
        consent.apply(self.connection, sender.contact_id, change, now, message_id=message_id)

    def stop_contact(
        self, sender: SenderRecord, change: ConsentChange, message_id: int | None, now: datetime
    ) -> None:
        consent.opt_out_contact(self.connection, sender.contact_id, change, now, message_id)

    def add_lets_talk(
        self,
        sender: SenderRecord,
        message_id: int | None,
        text: str,
        language: str | None,
        now: datetime,
        assessment: Assessment | None = None,
        is_closing: bool = False,
    ) -> int:
        item_id: int = self.connection.execute(
            insert(lets_talk).returning(lets_talk.c.id),
            {
                "participant_id": sender.participant_id,
                "contact_id": sender.contact_id,
                "message_id": message_id,
                "text": text,
                "language": language,
                "status": "open",
                "created_at": now,
                "kind": "closing" if is_closing else "message",
                "urgency": assessment.urgency.value if assessment is not None else "none",
                "concerns": [c.value for c in assessment.concerns] if assessment else None,
            },
        ).scalar_one()
        return item_id

    # -- idea exchanges (storage.ideas holds the SQL) ----------------------------

    def idea_tallies(self, activity_key: str) -> Sequence[IdeaTally]:
        from storage import ideas

        return ideas.idea_tallies(self.connection, activity_key)

    def ideas_seen(self, participant_id: int, activity_key: str) -> set[int]:
        from storage import ideas

        return ideas.ideas_seen(self.connection, participant_id, activity_key)

    def is_idea_live(self, idea_id: int) -> bool:
        from storage import ideas

        return ideas.is_idea_live(self.connection, idea_id)

    def add_idea(
        self,
        sender: SenderRecord,
        activity_key: str,
        text: str,
        language: str,
        flags: Sequence[str],
        live: bool,
        message_id: int | None,
        now: datetime,
    ) -> int:
        from storage import ideas

        return ideas.add_idea(
            self.connection,
            activity_key=activity_key,
            participant_id=sender.participant_id,
            text=text,
            language=language,
            flags=flags,
            live=live,
            message_id=message_id,
            now=now,
        )

    def add_reaction(
        self,
        sender: SenderRecord,
        activity_key: str,
        idea_id: int,
        vote: Vote,
        channel: Channel,
        message_id: int | None,
        now: datetime,
    ) -> bool:
        from storage import ideas

        return ideas.react(
            self.connection,
            activity_key=activity_key,
            idea_id=idea_id,
            participant_id=sender.participant_id,
            vote=vote,
            channel=channel.value,
            message_id=message_id,
            now=now,
        )

    def roster_names(self) -> Sequence[KnownName]:
        from storage import ideas

        return ideas.roster_names(self.connection)

    # -- the sender's side -----------------------------------------------------

    def outbox_row(self, row: Any) -> OutboxRow:
        return OutboxRow(
            id=row.id,
            contact_id=row.contact_id,
            channel=Channel(row.channel),
            address=row.address,
            text=row.body,
            reply=reply_from_row(row.body, row.choices),
            kind=OutboxKind(row.kind),
            attempts=row.attempts,
        )


def state_snapshot(state: ParticipantState) -> dict[str, Any]:
    """A JSON-able view of a state, for debugging and the simulator."""
    return asdict(state)
