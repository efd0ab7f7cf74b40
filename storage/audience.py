"""Audiences in the database: check a filter's names, save segments, select the people.

The filter's grammar and value types are in `bot.core.audience`.

An audience is people, reached on contacts: each person gets at most one
message per broadcast, on one contact, and each contact at most one message
however many people of the audience it stands for. The contact is the one
they last wrote from, else the first of SMS, Telegram, Slack; a guardian with
none of their own is reached on a phone they share with a guardian of their
household (who carries its conversation). A person is counted as
`opted_out` when every contact we could use said STOP, `unreachable` when we
have no usable contact on an enabled channel (none, or numbers that failed
for good), and `declined` when they said no to taking part.

`recipients()` is one SELECT over participants and their own contacts,
ordered by participant id (streamed, or read at once for a broadcast's batch),
with one more for the shared phones of each chunk of people who have no contact
of their own; `count()` folds the same stream into numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from bot.core.audience import (
    ANY_ACTIVITY,
    CHANNEL_PREFERENCE,
    SEGMENT_NAME,
    Audience,
    AudienceCounts,
    AudienceError,
    AudienceRules,
    Group,
    Reach,
    Recipient,
    parse_audience,
)
from bot.core.consent import ConsentKind, ConsentSource
from bot.core.messages import Channel
from storage import models
from storage.activities import audit_in
from storage.households import ties

__all__ = [
    "audience_query",
    "count",
    "recipients",
    "resolve_audience",
    "save_segment",
    "saved_segments",
    "shared_query",
]

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
conversations = models.table(models.Conversation)
responses = models.table(models.Response)
activities = models.table(models.Activity)
segments = models.table(models.Segment)
schools = models.table(models.School)
students = models.table(models.Student)
guardianships = models.table(models.Guardianship)
participant_schools = models.table(models.ParticipantSchool)
reactions = models.table(models.Reaction)
ideas = models.table(models.Idea)
shared_contacts = models.table(models.SharedContact)
consent_events = models.table(models.ConsentEvent)

# Ledger events that are a family's yes to messages on the very contact they concern: an
# opt-in (START, or the roster's `channel: whatsapp`), or consent in their own words there.
OWN_WORDS = (
    ConsentSource.KEYWORD.value,
    ConsentSource.REQUEST.value,
    ConsentSource.ONBOARDING.value,
)


def resolve_audience(connection: Connection, text: str, rules: AudienceRules) -> Audience:
    """Parse `text`, check every name it uses, expand saved segments; a ready Audience.

    Raises AudienceError listing every unknown school, language, role, channel,
    activity or segment at once.
    """
    audience = parse_audience(text)
    problems: list[str] = []
    for name in audience.segments:
        stored = connection.execute(
            select(segments.c.audience).where(segments.c.name == name)
        ).scalar()
        if stored is None:
            known = connection.execute(select(segments.c.name).order_by(segments.c.name))
            names = ", ".join(known.scalars()) or "none saved yet"
            problems.append(f"unknown segment {name!r} (saved: {names})")
            continue
        saved = Audience.from_json(stored)
        narrowed = audience.narrowed(saved)
        if narrowed.is_impossible(audience, saved):
            problems.append(f"segment {name!r} ({saved}) leaves nobody with the rest of the filter")
        audience = narrowed
    audience = replace(audience, segments=())
    school_codes = {
        _fold(value): code
        for code, name in connection.execute(select(schools.c.code, schools.c.name))
        for value in (code, name)
    }
    resolved_schools = []
    for school in audience.schools:
        code = school_codes.get(_fold(school))
        if code is None:
            names = ", ".join(sorted(set(school_codes.values()))) or "none loaded: run engage init"
            problems.append(f"unknown school {school!r} (schools: {names})")
        else:
            resolved_schools.append(code)
    language_codes = {code.lower(): code for code in rules.languages}
    resolved_languages = []
    for language in audience.languages:
        code = language_codes.get(language.lower())
        if code is None:
            problems.append(
                f"{language!r} is not a district language ({', '.join(rules.languages)})"
            )
        else:
            resolved_languages.append(code)
    for role in audience.roles:
        if role not in rules.roles:
            problems.append(f"{role!r} is not a role ({', '.join(rules.roles)})")
    for channel in audience.channels:
        if channel not in rules.channels:
            enabled = ", ".join(c.value for c in rules.channels) or "none"
            problems.append(f"channel {channel.value!r} is not turned on here (on: {enabled})")
    resolved_groups = []
    for group in audience.groups:
        code = school_codes.get(_fold(group.school))
        in_language = language_codes.get(group.language.lower())
        where = f"group={group.school}/{group.language}/{group.role}"
        if code is None:
            problems.append(f"{where}: unknown school {group.school!r}")
        elif in_language is None:
            problems.append(f"{where}: {group.language!r} is not a district language")
        elif group.role not in rules.roles:
            problems.append(f"{where}: {group.role!r} is not a role")
        else:
            resolved_groups.append(Group(code, in_language, group.role))
    keys = {
        *audience.not_answered,
        *audience.not_finished,
        *audience.took_part,
        *(k for k in audience.under_represented if k != ANY_ACTIVITY),
    }
    if keys:
        stored_keys = set(
            connection.execute(
                select(activities.c.key).where(activities.c.key.in_(keys)).distinct()
            ).scalars()
        )
        for key in sorted(keys - stored_keys):
            problems.append(f"unknown activity {key!r} (see engage activity list)")
    if problems:
        raise AudienceError("; ".join(problems))
    return replace(
        audience,
        schools=tuple(dict.fromkeys(resolved_schools)),
        languages=tuple(dict.fromkeys(resolved_languages)),
        groups=tuple(dict.fromkeys(resolved_groups)),
    )


def save_segment(
    engine: Engine, name: str, audience: Audience, now: datetime, actor: str = "cli"
) -> bool:
    """Save (or replace) a named audience; True when it is new."""
    if not SEGMENT_NAME.match(name):
        raise AudienceError(
            f"segment name {name!r}: use lowercase letters, digits, - and _ (at most 64)"
        )
    with engine.begin() as connection:
        existing = connection.execute(select(segments.c.id).where(segments.c.name == name)).scalar()
        data = audience.to_json()
        if existing is None:
            connection.execute(
                insert(segments), {"name": name, "audience": data, "created_at": now}
            )
        else:
            connection.execute(
                update(segments).where(segments.c.id == existing), {"audience": data}
            )
        audit_in(connection, actor, "segment.save", {"name": name, "audience": str(audience)}, now)
    return existing is None


def saved_segments(engine: Engine) -> list[tuple[str, Audience]]:
    """Every saved segment by name."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(segments.c.name, segments.c.audience).order_by(segments.c.name)
        )
        return [(name, Audience.from_json(data or {})) for name, data in rows]


# -- selecting -----------------------------------------------------------------


def _conditions(audience: Audience, default_language: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [participants.c.forgotten_at.is_(None)]
    if audience.roles:
        where.append(participants.c.role.in_(audience.roles))
    if audience.schools or audience.grades:
        where.append(_tied(audience.schools, audience.grades))
    if audience.languages:
        language = func.coalesce(participants.c.language, default_language)
        where.append(language.in_(audience.languages))
    if audience.groups:
        where.append(_in_groups(audience.groups, default_language))
    where.extend(_not_done(audience, participants.c.id))
    for key in audience.took_part:
        where.append(
            exists(
                select(reactions.c.id).where(
                    reactions.c.participant_id == participants.c.id,
                    reactions.c.activity_key == key,
                )
            )
            | exists(
                select(ideas.c.id).where(
                    ideas.c.participant_id == participants.c.id, ideas.c.activity_key == key
                )
            )
            | exists(
                select(responses.c.id)
                .join(activities, activities.c.id == responses.c.activity_id)
                .where(
                    responses.c.participant_id == participants.c.id,
                    responses.c.status == "answered",
                    activities.c.key == key,
                )
            )
        )
    return where


def _in_groups(groups: Sequence[Group], default_language: str) -> ColumnElement[bool]:
    """SQL: the participant is of one of `groups`: tied to its school, in its language and role."""
    tie = ties()
    language = func.coalesce(participants.c.language, default_language)
    return exists(
        select(tie.c.participant_id).where(
            tie.c.participant_id == participants.c.id,
            tuple_(tie.c.school, language, participants.c.role).in_(
                [(g.school, g.language, g.role) for g in groups]
            ),
        )
    )


def _not_done(audience: Audience, person: ColumnElement[int]) -> list[ColumnElement[bool]]:
    """SQL: `person` has not answered / not finished the activities the filter names."""
    where: list[ColumnElement[bool]] = []
    for key in audience.not_answered:
        answered = (
            select(responses.c.id)
            .join(activities, activities.c.id == responses.c.activity_id)
            .where(
                responses.c.participant_id == person,
                responses.c.status == "answered",
                activities.c.key == key,
            )
        )
        where.append(~exists(answered))
    for key in audience.not_finished:
        finished = (
            select(conversations.c.id)
            .join(activities, activities.c.id == conversations.c.activity_id)
            .where(
                conversations.c.participant_id == person,
                conversations.c.status == "completed",
                activities.c.key == key,
            )
        )
        where.append(~exists(finished))
    return where


def _tied(schools: Sequence[str], grades: Sequence[str]) -> ColumnElement[bool]:
    """SQL: the participant answers for a student at one of `schools` in one of `grades`
    (each when given), or, with no grade asked, belongs to one of `schools` themselves."""
    student: list[ColumnElement[bool]] = [guardianships.c.participant_id == participants.c.id]
    if schools:
        student.append(students.c.school.in_(schools))
    if grades:
        student.append(students.c.grade.in_(grades))
    through_student = exists(
        select(guardianships.c.student_id)
        .join(students, students.c.id == guardianships.c.student_id)
        .where(*student)
    )
    if grades:
        return through_student
    own = exists(
        select(participant_schools.c.school).where(
            participant_schools.c.participant_id == participants.c.id,
            participant_schools.c.school.in_(schools),
        )
    )
    return or_(through_student, own)


def _channels(audience: Audience, rules: AudienceRules) -> list[str]:
    return [c.value for c in (audience.channels or rules.channels) if c in rules.channels]


def audience_query(
    audience: Audience,
    rules: AudienceRules,
    *,
    after: int = 0,
    limit: int | None = None,
    only: Sequence[int] | None = None,
) -> Select[Any]:
    """The SELECT behind `recipients`: each matching person with their own contacts
    on the channels in use."""
    where = _conditions(audience, rules.default_language)
    if only is not None:
        where.append(participants.c.id.in_(only))
    people = select(participants.c.id).where(*where, participants.c.id > after)
    if limit is not None:
        people = people.order_by(participants.c.id).limit(limit)
    return (
        select(  # `_choose` reads these by position
            participants.c.id,
            participants.c.language,
            participants.c.consent,
            participants.c.preferred_channel,
            contacts.c.id.label("contact_id"),
            contacts.c.channel,
            contacts.c.address,
            contacts.c.opted_out_at,
            contacts.c.invalid_at,
            contacts.c.last_inbound_at,
            _opted_in_here().label("opted_in_here"),
        )
        .select_from(participants)
        .outerjoin(
            contacts,
            and_(
                contacts.c.participant_id == participants.c.id,
                contacts.c.channel.in_(_channels(audience, rules)),
            ),
        )
        .where(participants.c.id.in_(people.scalar_subquery()))
        .order_by(participants.c.id, contacts.c.id)
    )


def shared_query(
    audience: Audience, rules: AudienceRules, contact_ids: Sequence[int]
) -> Select[Any]:
    """The contacts `contact_ids` (shared with someone) and who carries each.

    Only a carrier who may be asked: not forgotten, consent not refused, and
    (for `not-answered`/`not-finished`) who has not answered on that phone already.
    The caller keeps the contacts on the channels in use: with the channel in the
    WHERE clause, SQLite walks its (channel, address) index, every phone of the
    district, instead of looking the few ids up.
    """
    carrier = participants.alias("carrier")
    return (
        select(
            carrier.c.id.label("carrier"),
            carrier.c.language,
            contacts.c.id.label("contact_id"),
            contacts.c.channel,
            contacts.c.address,
            contacts.c.opted_out_at,
            contacts.c.invalid_at,
            contacts.c.last_inbound_at,
            _opted_in_here().label("opted_in_here"),
        )
        .join(carrier, carrier.c.id == contacts.c.participant_id)
        .where(
            contacts.c.id.in_(contact_ids),
            carrier.c.forgotten_at.is_(None),
            or_(carrier.c.consent.is_(None), carrier.c.consent.is_(True)),
            *_not_done(audience, carrier.c.id),
        )
    )


# People are resolved this many at a time: their own contacts streamed, the
# phones some of them share looked up in one query.
_CHUNK = 2000


def _opted_in_here() -> ColumnElement[bool]:
    """The family said yes to messages from this very contact (in the consent ledger)."""
    return exists().where(
        consent_events.c.contact_id == contacts.c.id,
        or_(
            consent_events.c.kind == ConsentKind.OPT_IN.value,
            and_(
                consent_events.c.kind == ConsentKind.CONSENT_GIVEN.value,
                consent_events.c.source.in_(OWN_WORDS),
            ),
        ),
    )


def recipients(
    connection: Connection,
    audience: Audience,
    rules: AudienceRules,
    *,
    after: int = 0,
    limit: int | None = None,
    only: Sequence[int] | None = None,
    seen: set[int] | None = None,
) -> Iterator[Recipient]:
    """Every person of the audience in participant-id order, with the contact to use.

    A person with no contact of their own on the channels in use is reached
    on a phone they share with a guardian of their household who carries it.
    Each contact is used once: a second person it would reach is `Reach.SHARED`.
    `seen` holds the contacts used so far (pass the same set to every slice of
    one broadcast). `after`/`limit` select a slice by participant id (how
    broadcasts enqueue in batches, each read at once); without a limit rows are
    streamed, never all loaded.
    """
    used = seen if seen is not None else set()
    query = audience_query(audience, rules, after=after, limit=limit, only=only)
    rows: Iterable[Any]
    if limit is None:
        rows = connection.execute(query, execution_options={"yield_per": _CHUNK})
    else:
        rows = connection.execute(query).all()
    chunk: list[list[Any]] = []
    for _, person in groupby(rows, key=itemgetter(0)):  # the participant id
        chunk.append(list(person))
        if len(chunk) >= _CHUNK:
            yield from _resolve(connection, audience, rules, chunk, used)
            chunk = []
    if chunk:
        yield from _resolve(connection, audience, rules, chunk, used)


def count(connection: Connection, audience: Audience, rules: AudienceRules) -> AudienceCounts:
    """Fold the audience into the numbers shown before a broadcast is confirmed."""
    counts = AudienceCounts()
    for recipient in recipients(connection, audience, rules):
        counts.add(recipient)
    return counts


def _resolve(
    connection: Connection,
    audience: Audience,
    rules: AudienceRules,
    people: list[list[Any]],
    used: set[int],
) -> Iterator[Recipient]:
    chosen = [_choose(rows, rules.default_language) for rows in people]
    lacking = [r.participant_id for r in chosen if r.reach is Reach.UNREACHABLE]
    shared: dict[int, list[Any]] = {}
    if lacking:
        # Two plain lookups by index: joined, SQLite's planner scans every contact.
        pairs = connection.execute(
            select(shared_contacts.c.participant_id, shared_contacts.c.contact_id).where(
                shared_contacts.c.participant_id.in_(lacking)
            )
        ).all()
        if pairs:
            channels = _channels(audience, rules)
            found = {
                row.contact_id: row
                for row in connection.execute(
                    shared_query(audience, rules, sorted({c for _, c in pairs}))
                )
                if row.channel in channels
            }
            for person, contact in sorted(pairs):
                if contact in found:
                    shared.setdefault(person, []).append(found[contact])
    for recipient in chosen:
        if recipient.participant_id in shared:
            recipient = _through(recipient, shared[recipient.participant_id], rules)
        contact = recipient.contact_id
        if recipient.reach is Reach.SEND and contact is not None:
            if contact in used:
                recipient = replace(recipient, reach=Reach.SHARED)
            else:
                used.add(contact)
        yield recipient


def _choose(rows: list[Any], default_language: str) -> Recipient:
    # Unpacked: each attribute of a row is looked up by name, a Python call each.
    (pid, language, consent, _, contact, channel, address, opted_out, invalid, _, opted_in) = rows[
        0
    ]
    language = language or default_language
    if consent is False:
        return Recipient(pid, language, Reach.DECLINED)
    if (  # most people: one contact, and usable
        len(rows) == 1
        and contact is not None
        and opted_out is None
        and invalid is None
        and (channel != _WHATSAPP or opted_in)
    ):
        return Recipient(pid, language, Reach.SEND, contact, _CHANNELS[channel], address)
    usable = [
        r
        for r in rows
        if r.contact_id is not None
        and r.opted_out_at is None
        and r.invalid_at is None
        and _may_start(r)
    ]
    if usable:
        best = usable[0] if len(usable) == 1 else min(usable, key=_preference)
        return Recipient(
            pid, language, Reach.SEND, best.contact_id, _CHANNELS[best.channel], best.address
        )
    if any(r.contact_id is not None and r.opted_out_at is not None for r in rows):
        return Recipient(pid, language, Reach.OPTED_OUT)
    return Recipient(pid, language, Reach.UNREACHABLE)


def _may_start(row: Any) -> bool:
    # WhatsApp lets a business write first only to someone who opted in on WhatsApp.
    return bool(row.channel != _WHATSAPP or row.opted_in_here)


# Read once: an enum member's value is a descriptor call, and Channel(value) a lookup
# through the enum's machinery; a row a person asks for both.
_WHATSAPP = Channel.WHATSAPP.value
_CHANNELS = {channel.value: channel for channel in Channel}


def _through(recipient: Recipient, rows: list[Any], rules: AudienceRules) -> Recipient:
    """A person without a contact of their own, reached on a phone they share."""
    usable = [r for r in rows if r.opted_out_at is None and r.invalid_at is None and _may_start(r)]
    if usable:
        best = min(usable, key=_preference)
        return Recipient(
            best.carrier,
            best.language or rules.default_language,
            Reach.SEND,
            best.contact_id,
            _CHANNELS[best.channel],
            best.address,
            person_id=recipient.participant_id,
        )
    if any(r.opted_out_at is not None for r in rows):
        return replace(recipient, reach=Reach.OPTED_OUT)
    return recipient


def _preference(row: Any) -> tuple[int, float, int, int, int]:
    # The contact they last wrote from first, then the channel the roster says they
    # chose, then SMS, WhatsApp, Telegram, Slack.
    wrote = row.last_inbound_at
    recency = -wrote.timestamp() if wrote is not None else 0.0
    chosen = 0 if row.channel == getattr(row, "preferred_channel", None) else 1
    rank = next(
        (i for i, c in enumerate(CHANNEL_PREFERENCE) if c.value == row.channel),
        len(CHANNEL_PREFERENCE),
    )
    return (0 if wrote is not None else 1, recency, chosen, rank, row.contact_id)


def _fold(value: str) -> str:
    return value.strip().lower()
