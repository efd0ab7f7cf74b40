"""The database schema (SQLAlchemy 2). All times are naive UTC."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Activity",
    "AuditEntry",
    "Base",
    "Broadcast",
    "ChannelPause",
    "ConsentEvent",
    "Enrollment",
    "ForgottenAddress",
    "Idea",
    "InboundQueue",
    "IdeaTranslation",
    "Guardianship",
    "Household",
    "InboxReply",
    "LinkCode",
    "Segment",
    "SendRate",
    "Contact",
    "Conversation",
    "DashboardSession",
    "LetsTalk",
    "Message",
    "Outbox",
    "Participant",
    "Reaction",
    "ParticipantSchool",
    "Response",
    "School",
    "SharedContact",
    "Student",
    "table",
]

# Named constraints, so migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def new_export_salt() -> str:
    """A participant's random value, which exports turn into their key."""
    return secrets.token_hex(16)


def table(model: type[Base]) -> Table:
    """The Core table of a model, for the Core statements storage/ runs."""
    return cast(Table, model.__table__)


class School(Base):
    __tablename__ = "schools"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Household(Base):
    """Guardians linked by their students or by a shared phone, with those students.

    A household is counted once per school it has a student at, and its phones
    are reached once per broadcast. People no roster links to anyone have none.
    """

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, like a participant's: exports print a keyed hash of it as the household key.
    export_salt: Mapped[str | None] = mapped_column(String(32), default=new_export_salt)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Participant(Base):
    """A person: family member, student, staff or community member.

    `pseudonym` is random and safe to show staff; the engine's progress outside
    an activity (onboarding step, pending invitations) lives here too.
    `export_salt` is random too: exports print a keyed hash of it (never of the
    id, which counts up), so a key tells nothing without the district's secret.
    Their schools are links: students they answer for (`guardianships`) and
    schools they named themselves (`participant_schools`). `external_id` is the
    SIS's id for the person (a guardian id).
    """

    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    export_salt: Mapped[str | None] = mapped_column(String(32), default=new_export_salt)
    role: Mapped[str | None] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    consent: Mapped[bool | None] = mapped_column(Boolean)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The channel the roster says the family chose (sms, whatsapp …); a broadcast uses it
    # when they have not written to us from any contact.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    onboarding: Mapped[str | None] = mapped_column(String(32))
    onboarding_started: Mapped[bool] = mapped_column(Boolean, default=False)
    awaiting: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[list[Any]] = mapped_column(JSON, default=list)
    name: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    forgotten_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Where they live, from the roster's ZIP or address, for quiet hours (bot.core.places).
    place: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Student(Base):
    """A student as the SIS knows them: id, school and grade (a name only if imported).

    A student without `sis_id` stands for a child we know only by school and
    grade (a one-row-per-family roster, or data from before students existed).
    """

    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    sis_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.code"), index=True)
    grade: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Guardianship(Base):
    """A participant answers for a student: a guardian, or the student (`self`)."""

    __tablename__ = "guardianships"
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id"), primary_key=True, index=True
    )
    relationship: Mapped[str | None] = mapped_column(String(32))
    # The SIS's preferred contact order among the student's guardians (1 first).
    contact_order: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ParticipantSchool(Base):
    """A school a participant belongs to other than through a student (staff, onboarding)."""

    __tablename__ = "participant_schools"
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.code"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Contact(Base):
    """One way to reach a participant: a channel and an address, with its opt-out state.

    `participant_id` is the person whose conversation the contact carries;
    other guardians of the household who share it are in `shared_contacts`.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_contacts_channel_address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    invalid_at: Mapped[datetime | None] = mapped_column(DateTime)
    invalid_reason: Mapped[str | None] = mapped_column(String(64))
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SharedContact(Base):
    """Another guardian reached on a contact that carries someone else's conversation."""

    __tablename__ = "shared_contacts"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Activity(Base):
    """One version of an activity definition; `source` is the YAML it was loaded from."""

    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_activities_key_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    school: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime)


class Conversation(Base):
    """A participant's progress through one activity.

    `household_id` and `schools` (school -> grades of the household's students
    there) are what the round saw when it started: a school's round holds its
    own school, a district activity every school of the household.
    """

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_participant_status", "participant_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # active | completed | abandoned
    question: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    household_id: Mapped[int | None] = mapped_column(Integer)
    schools: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Message(Base):
    """Every message in or out. `provider_id` is unique per channel and direction:
    a redelivered webhook collides here and changes nothing."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "provider_id", name="uq_messages_provider_id"),
        Index("ix_messages_participant", "participant_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    channel: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    error_code: Mapped[str | None] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detected_language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Response(Base):
    """One answer (or skip, or an answer we could not understand, kept as said)."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_activity_question", "activity_id", "question"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    detected_language: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Outbox(Base):
    """A message waiting to be sent. Rows are written in the same transaction as
    what caused them, then claimed and sent by the sender loop."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16))  # bot.ports.OutboxKind
    status: Mapped[str] = mapped_column(String(16))  # bot.ports.OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    # When this claim's provider call began (NULL: claimed, not yet in flight). A STOP
    # or a cancel withdraws every row not in flight, claimed or not.
    sending_at: Mapped[datetime | None] = mapped_column(DateTime)
    provider_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(500))
    broadcast_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Where the family lives (the roster's ZIP), for quiet hours; NULL: their number's area.
    place: Mapped[str | None] = mapped_column(String(160))
    # Set for broadcast rows ("b:<broadcast>:<contact>"): enqueueing twice after a
    # crash cannot queue the same message twice.
    dedup_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # WhatsApp: the approved template ({"content_sid", "variables"}) sent in this
    # message's place outside the 24-hour window, and when it went; the message
    # itself then waits for the family's answer.
    template: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    template_sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class InboundQueue(Base):
    """What a provider sent, recorded before it was told we have it; the engine
    drains it in arrival order per sender. `provider_id` is unique per channel, so
    a redelivery changes nothing. A handled row keeps no payload (it lives on in
    `messages`); a row that failed `attempts` times is parked with its error."""

    __tablename__ = "inbound_queue"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id", name="uq_inbound_queue_provider_id"),
        Index("ix_inbound_queue_status", "status", "id"),
        Index("ix_inbound_queue_sender", "sender", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # bot.ports.QueuedKind
    # Whose turn this is: messages of one sender are handled one at a time, in order.
    sender: Mapped[str] = mapped_column(String(200))
    payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    status: Mapped[str] = mapped_column(String(12))  # bot.ports.QueuedStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)


class LetsTalk(Base):
    """A message a participant wants the district to hear, waiting for staff."""

    __tablename__ = "lets_talk"
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # message | closing (a thank-you that closed its thread)
    kind: Mapped[str] = mapped_column(String(16), server_default="message")
    # urgent | possible | none, and what it is about (bot.core.urgency)
    urgency: Mapped[str] = mapped_column(String(16), server_default="none")
    concerns: Mapped[list[Any] | None] = mapped_column(JSON)
    topics: Mapped[list[Any] | None] = mapped_column(JSON)
    # Routing and the reply promise, set on the thread's first item when it is posted.
    team: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    remind_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)


class InboxReply(Base):
    """A staff member's answer in a Let's Talk thread, and what became of it.

    status: sent | held (another staff member holds the thread: asked before
    sending) | note (kept among staff) | translating (waits for a translation)
    | cancelled. `text` is what staff wrote, `translation` what the family got
    when it had to be translated; both are kept. `queue_ts` names the post in
    the translators' channel (a `lease:` while being posted).
    """

    __tablename__ = "inbox_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("lets_talk.id"), index=True)
    author: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    written_in: Mapped[str | None] = mapped_column(String(16))
    translation: Mapped[str | None] = mapped_column(Text)
    translated_by: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    provider_id: Mapped[str] = mapped_column(String(128), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    queue_channel: Mapped[str | None] = mapped_column(String(32))
    queue_ts: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    translated_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class ForgottenAddress(Base):
    """An address whose owner asked to be forgotten, kept only as a keyed hash
    (bot.core.keys), so a late message from it is dropped, not taken for a new person."""

    __tablename__ = "forgotten_addresses"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(DateTime)


class DashboardSession(Base):
    """An organizer signed in to the dashboard; signing out revokes it on every server."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who did what as an organizer: loads, exports, broadcasts, forgets."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Broadcast(Base):
    """An organizer's send to an audience: an activity invitation, an update or a reminder."""

    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    kind: Mapped[str] = mapped_column(String(16))  # activity | update | reminder | message
    message: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # language -> text
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the filter
    status: Mapped[str] = mapped_column(String(16))  # scheduled | enqueuing | queued | cancelled
    # Set while an organizer has paused it: nothing of it is sent, its rows wait.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    scheduled_at: Mapped[datetime] = mapped_column(DateTime)
    reminder_of: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"))
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The confirmation that created it (a Slack button's nonce): a replayed tap finds
    # this broadcast instead of creating another.
    request_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)


class Segment(Base):
    """A saved audience filter, by name."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Enrollment(Base):
    """How many people a school has per language and role, for representation."""

    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("school", "language", "role", name="uq_enrollment_school_language_role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    school: Mapped[str] = mapped_column(ForeignKey("schools.code"))
    language: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class LinkCode(Base):
    """A one-time code that joins a new channel (Telegram) to a participant's identity."""

    __tablename__ = "link_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    channel: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Idea(Base):
    """An idea in an exchange: a participant's, or a seed the organizers wrote in the activity file.

    Ideas belong to the exchange's key, not to one version of it: a new
    version keeps every idea and reaction. `number` is the exchange's own
    numbering from 0 (Polis's comment id). `text` is what is shown (after a
    moderator's edit) in `language`, the language it was written in;
    `original` is what was written. `agree`, `disagree` and `passed` are kept
    with every reaction, so picking the next idea never counts reactions.
    """

    __tablename__ = "ideas"
    __table_args__ = (
        UniqueConstraint("activity_key", "number", name="uq_ideas_activity_key_number"),
        UniqueConstraint("activity_key", "seed_key", name="uq_ideas_activity_key_seed_key"),
        Index("ix_ideas_activity_key_status", "activity_key", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_key: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    seed_key: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    original: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    live_at: Mapped[datetime | None] = mapped_column(DateTime)
    author_told_at: Mapped[datetime | None] = mapped_column(DateTime)
    agree: Mapped[int] = mapped_column(Integer, default=0)
    disagree: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    group_split: Mapped[float | None] = mapped_column(Float)
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    post_lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class IdeaTranslation(Base):
    """An idea in another language than the one it was written in; by whom it was translated."""

    __tablename__ = "idea_translations"
    __table_args__ = (
        UniqueConstraint("idea_id", "language", name="uq_idea_translations_idea_id_language"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    language: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    translated_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Reaction(Base):
    """A participant's reaction to an idea: agree 1, disagree -1, pass 0 (Polis's values).

    One per participant and idea: a second tap on an earlier idea changes it.
    """

    __tablename__ = "reactions"
    __table_args__ = (
        UniqueConstraint("idea_id", "participant_id", name="uq_reactions_idea_id_participant_id"),
        Index("ix_reactions_participant_activity", "participant_id", "activity_key"),
        Index("ix_reactions_activity_key", "activity_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    activity_key: Mapped[str] = mapped_column(String(64))
    vote: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ConsentEvent(Base):
    """One change to whether a person may be messaged (bot.core.consent): the ledger.

    Rows are only ever added. Forgetting a person is the one exception: their
    rows keep the event, its time, channel and source, but the address is
    replaced by a keyed hash of it and the words are dropped.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_contact", "contact_id", "id"),
        Index("ix_consent_events_participant", "participant_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(128))
    # HMAC-SHA256 of "channel:address", set when the person is forgotten.
    address_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # bot.core.consent.ConsentKind
    source: Mapped[str] = mapped_column(String(24))  # bot.core.consent.ConsentSource
    words: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ChannelPause(Base):
    """A channel the provider refused our configuration for (bot.ports.ChannelPause).

    One row per channel and credentials fingerprint: a worker started with other
    credentials is not held by it.
    """

    __tablename__ = "channel_pauses"
    __table_args__ = (
        UniqueConstraint("channel", "credentials", name="uq_channel_pauses_channel_credentials"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    credentials: Mapped[str] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime] = mapped_column(DateTime)
    probe_after: Mapped[datetime] = mapped_column(DateTime)


class SendRate(Base):
    """The send rate a worker (or `engage serve`) uses on a channel, as it last said.

    Previews of broadcasts estimate with it, not with the rate of the machine the
    organizer types on.
    """

    __tablename__ = "send_rates"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    per_second: Mapped[float] = mapped_column(Float)
    reported_at: Mapped[datetime] = mapped_column(DateTime)
