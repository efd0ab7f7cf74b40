"""The consent ledger in SQL: append events with the state they change, read a
person's history, stream the ledger for the district's records, forget.

Every change is written by `apply` (or `append`) in the caller's transaction,
together with the current state it changes (`contacts.opted_out_at`,
`participants.consent`), so the two never disagree.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    case,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)

from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.messages import Channel
from storage import models
from storage.prepared import Prepared
from storage.withdrawals import withhold_contacts

__all__ = [
    "LedgerEntry",
    "address_hash",
    "append",
    "apply",
    "forget_addresses",
    "history",
    "opt_out_contact",
    "record_staff_opt_out",
    "stream",
]

events = models.table(models.ConsentEvent)
contacts = models.table(models.Contact)
participants = models.table(models.Participant)

FORGOTTEN_PREFIX = "forgotten:"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One event as the district's records show it; `address` is None once forgotten."""

    id: int
    at: datetime
    kind: ConsentKind
    source: ConsentSource
    channel: str
    address: str | None
    address_hash: str | None
    participant: str
    words: str | None
    code: str | None
    actor: str | None
    message_id: int | None


def address_hash(channel: str, address: str, key: bytes) -> str:
    """The keyed hash a forgotten person's ledger keeps instead of their address."""
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()


def append(
    connection: Connection,
    contact_ids: Iterable[int] | Select[tuple[int]],
    change: ConsentChange,
    now: datetime,
    *,
    message_id: int | None = None,
) -> int:
    """Add `change` to the ledger once for each of these contacts; how many rows."""
    ids = contact_ids if isinstance(contact_ids, Select) else list(contact_ids)
    rows = _event_rows(
        literal(change.kind.value),
        literal(change.source.value),
        literal(change.words),
        literal(change.code),
        literal(change.actor),
        literal(message_id),
        literal(now),
    ).where(contacts.c.id.in_(ids))
    added = connection.execute(
        insert(events).from_select(_EVENT_COLUMNS, rows).returning(events.c.id)
    )
    return len(added.all())


_EVENT_COLUMNS = [
    "participant_id",
    "contact_id",
    "channel",
    "address",
    "kind",
    "source",
    "words",
    "code",
    "actor",
    "message_id",
    "created_at",
]


def _event_rows(*values: ColumnElement[Any]) -> Select[Any]:
    """An event's row for each contact selected: its person, channel and address (none
    once forgotten), then `values` (kind, source, words, code, actor, message_id, time)."""
    live_address = case(
        (contacts.c.address.like(f"{FORGOTTEN_PREFIX}%"), null()), else_=contacts.c.address
    )
    return select(
        contacts.c.participant_id, contacts.c.id, contacts.c.channel, live_address, *values
    )


# The inbound path's consent statements, for the contact a message came from.
_APPEND_ONE = Prepared(
    insert(events).from_select(
        _EVENT_COLUMNS,
        _event_rows(
            *(
                bindparam(name, type_=events.c[column].type)
                for name, column in (
                    ("kind", "kind"),
                    ("source", "source"),
                    ("words", "words"),
                    ("code", "code"),
                    ("actor", "actor"),
                    ("message_id", "message_id"),
                    ("now", "created_at"),
                )
            )
        ).where(contacts.c.id == bindparam("contact")),
    )
)
_PERSON = select(contacts.c.participant_id).where(contacts.c.id == bindparam("contact"))
_OPT_IN = Prepared(
    update(contacts).where(contacts.c.id == bindparam("contact")), keys=["opted_out_at"]
)
_CONSENT = Prepared(
    update(participants).where(participants.c.id == _PERSON.scalar_subquery()),
    keys=["consent", "consent_at"],
)
_WITHDRAW = Prepared(
    update(participants).where(participants.c.id == _PERSON.scalar_subquery()),
    keys=["consent"],
)


def apply(
    connection: Connection,
    contact_id: int,
    change: ConsentChange,
    now: datetime,
    *,
    message_id: int | None = None,
) -> None:
    """Record `change`, which came from (or is about) `contact_id`, and change the state it names.

    An opt-out covers every contact of the person and withholds everything not yet
    in flight to them; an opt-in re-opens only the contact it came from.
    """
    match change.kind:
        case ConsentKind.OPT_OUT:
            person = select(contacts.c.participant_id).where(contacts.c.id == contact_id)
            _opt_out_person(connection, person.scalar_subquery(), change, now, message_id)
            return
        case ConsentKind.OPT_IN:
            _OPT_IN.execute(connection, {"contact": contact_id, "opted_out_at": None})
        case ConsentKind.CONSENT_GIVEN:
            _CONSENT.execute(
                connection, {"contact": contact_id, "consent": True, "consent_at": now}
            )
        case ConsentKind.CONSENT_WITHDRAWN:
            _WITHDRAW.execute(connection, {"contact": contact_id, "consent": False})
        case ConsentKind.HELP:
            pass
    _APPEND_ONE.execute(
        connection,
        {
            "contact": contact_id,
            "kind": change.kind.value,
            "source": change.source.value,
            "words": change.words,
            "code": change.code,
            "actor": change.actor,
            "message_id": message_id,
            "now": now,
        },
    )


def record_staff_opt_out(
    connection: Connection, participant_id: int, change: ConsentChange, now: datetime
) -> int:
    """An opt-out staff recorded for a person (they called, wrote a letter); how many
    contacts it covers."""
    return _opt_out_person(connection, literal(participant_id), change, now, None)


def _opt_out_person(
    connection: Connection,
    participant: ColumnElement[Any],
    change: ConsentChange,
    now: datetime,
    message_id: int | None,
) -> int:
    theirs = select(contacts.c.id).where(contacts.c.participant_id == participant)
    connection.execute(
        update(contacts).where(contacts.c.id.in_(theirs), contacts.c.opted_out_at.is_(None)),
        {"opted_out_at": now},
    )
    # Claimed rows too: a worker holding one finds it gone before its provider call.
    withhold_contacts(connection, theirs, "opted out")
    return append(connection, theirs, change, now, message_id=message_id)


def opt_out_contact(
    connection: Connection,
    contact_id: int,
    change: ConsentChange,
    now: datetime,
    message_id: int | None = None,
) -> None:
    """Opt out one contact only (the person blocked us on that channel), with its event."""
    connection.execute(
        update(contacts).where(contacts.c.id == contact_id, contacts.c.opted_out_at.is_(None)),
        {"opted_out_at": now},
    )
    withhold_contacts(connection, [contact_id], f"opted out ({change.source.value})")
    append(connection, [contact_id], change, now, message_id=message_id)


def forget_addresses(connection: Connection, participant_id: int, key: bytes | None) -> int:
    """Keep a forgotten person's events, but only a keyed hash of each address (none
    without a key), and no words."""
    rows = connection.execute(
        select(events.c.id, events.c.channel, events.c.address).where(
            events.c.participant_id == participant_id
        )
    ).all()
    for row in rows:
        values: dict[str, object] = {"address": None, "words": None}
        if row.address is not None and key is not None:
            values["address_hash"] = address_hash(row.channel, row.address, key)
        connection.execute(update(events).where(events.c.id == row.id), values)
    return len(rows)


_ENTRY = (
    select(
        events.c.id,
        events.c.created_at,
        events.c.kind,
        events.c.source,
        events.c.channel,
        events.c.address,
        events.c.address_hash,
        participants.c.pseudonym,
        events.c.words,
        events.c.code,
        events.c.actor,
        events.c.message_id,
    )
    .select_from(events)
    .join(participants, participants.c.id == events.c.participant_id)
)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        at=row.created_at,
        kind=ConsentKind(row.kind),
        source=ConsentSource(row.source),
        channel=row.channel,
        address=row.address,
        address_hash=row.address_hash,
        participant=row.pseudonym,
        words=row.words,
        code=row.code,
        actor=row.actor,
        message_id=row.message_id,
    )


def history(
    connection: Connection,
    *,
    participant_id: int | None = None,
    address: tuple[Channel, str] | None = None,
    key: bytes | None = None,
) -> list[LedgerEntry]:
    """A person's events, oldest first: by participant, or by an address (a forgotten
    one is found by its keyed hash when `key` is given)."""
    found = []
    if participant_id is not None:
        found.append(events.c.participant_id == participant_id)
    if address is not None:
        channel, value = address
        found.append((events.c.channel == channel.value) & (events.c.address == value))
        if key is not None:
            found.append(events.c.address_hash == address_hash(channel.value, value, key))
    if not found:
        return []
    rows = connection.execute(_ENTRY.where(or_(*found)).order_by(events.c.id))
    return [_entry(row) for row in rows]


def stream(
    engine: Engine, since: datetime | None = None, chunk: int = 5000
) -> Iterator[LedgerEntry]:
    """Every event (from `since`, naive UTC), oldest first, read `chunk` at a time."""
    after = 0
    while True:
        query = _ENTRY.where(events.c.id > after).order_by(events.c.id).limit(chunk)
        if since is not None:
            query = query.where(events.c.created_at >= since)
        with engine.connect() as connection:
            rows = [_entry(row) for row in connection.execute(query)]
        if not rows:
            return
        yield from rows
        after = rows[-1].id
