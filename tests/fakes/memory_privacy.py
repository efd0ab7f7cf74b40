"""An in-memory store for forget requests: implements bot.ports.PrivacyStore (and the spool's
ParkedMessages), so the privacy rules are tested without SQL.

A unit of work works on a copy of the data and puts it back on `commit`;
leaving the block without committing drops every change, as a transaction would.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from bot.ports import ActivityRow, PersonOnFile, Scrubbed


@dataclass
class Person:
    id: int
    pseudonym: str
    export_salt: str
    name: str | None = None
    external_id: str | None = None
    pending: list[str] = field(default_factory=list)
    forgotten_at: datetime | None = None


@dataclass
class Contact:
    id: int
    participant_id: int
    channel: str
    address: str
    opted_out_at: datetime | None = None


@dataclass
class Answer:
    participant_id: int
    activity_id: int
    question: str
    value: Any
    text: str


@dataclass
class Item:
    """A Let's Talk message and the staff replies to it."""

    id: int
    participant_id: int
    text: str
    status: str = "open"
    slack: str | None = None
    replies: list[str] = field(default_factory=list)
    resolved_by: str | None = None


@dataclass
class Data:
    people: dict[int, Person] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    messages: list[tuple[int, str]] = field(default_factory=list)  # (participant, body)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    ideas: list[dict[str, Any]] = field(default_factory=list)
    activities: dict[int, ActivityRow] = field(default_factory=dict)
    forgotten: dict[str, datetime] = field(default_factory=dict)
    audit: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    consent: list[tuple[str, str, str]] = field(default_factory=list)  # (address, kind, source)


class MemoryPrivacyStore:
    def __init__(self) -> None:
        self.data = Data()
        self.commits = 0
        self.wipes = 0

    def unit_of_work(self) -> MemoryPrivacyUnitOfWork:
        return MemoryPrivacyUnitOfWork(self)

    def wipe_old_copies(self) -> bool:
        self.wipes += 1
        return True

    # -- seeding, for tests ------------------------------------------------------------

    def add_person(self, pseudonym: str, salt: str, **fields: Any) -> int:
        person_id = len(self.data.people) + 1
        self.data.people[person_id] = Person(person_id, pseudonym, salt, **fields)
        return person_id

    def add_contact(self, person: int, channel: str, address: str) -> int:
        contact = Contact(len(self.data.contacts) + 1, person, channel, address)
        self.data.contacts.append(contact)
        return contact.id


class MemoryPrivacyUnitOfWork:
    def __init__(self, store: MemoryPrivacyStore) -> None:
        self.store = store
        self.data = copy.deepcopy(store.data)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.store.data = copy.deepcopy(self.data)
        self.store.commits += 1

    def _contacts(self, person: int) -> list[Contact]:
        return [c for c in self.data.contacts if c.participant_id == person]

    def person(self, participant_id: int) -> PersonOnFile | None:
        found = self.data.people.get(participant_id)
        if found is None:
            return None
        addresses = tuple(
            (c.channel, c.address)
            for c in self._contacts(participant_id)
            if not c.address.startswith("forgotten:")
        )
        return PersonOnFile(
            found.id, found.pseudonym, found.export_salt, found.forgotten_at, addresses
        )

    def person_by_pseudonym(self, pseudonym: str) -> int | None:
        return next((p.id for p in self.data.people.values() if p.pseudonym == pseudonym), None)

    def person_by_address(self, channel: str, address: str) -> int | None:
        return next(
            (
                c.participant_id
                for c in self.data.contacts
                if (c.channel, c.address) == (channel, address)
            ),
            None,
        )

    def export_salts(self) -> Sequence[tuple[int, str]]:
        return [(p.id, p.export_salt) for p in self.data.people.values()]

    def answered_activities(self, participant_id: int) -> Sequence[ActivityRow]:
        used = {a.activity_id for a in self.data.answers if a.participant_id == participant_id}
        return [row for key, row in self.data.activities.items() if key in used]

    def record_forget_request(self, participant_id: int, actor: str, now: datetime) -> None:
        for contact in self._contacts(participant_id):
            self.data.consent.append((contact.address, "opt_out", "forget"))

    def hash_consent_addresses(self, participant_id: int) -> None:
        mine = {c.address for c in self.data.contacts if c.participant_id == participant_id}
        mine |= {
            f"forgotten:{c.id}" for c in self.data.contacts if c.participant_id == participant_id
        }
        self.data.consent = [
            ("hashed", kind, source) if address in mine else (address, kind, source)
            for address, kind, source in self.data.consent
        ]

    def forget_contacts(self, participant_id: int, now: datetime) -> int:
        mine = self._contacts(participant_id)
        for contact in mine:
            contact.address = f"forgotten:{contact.id}"
            contact.opted_out_at = contact.opted_out_at or now
        return len(mine)

    def cancel_outbox(self, participant_id: int) -> int:
        ids = {c.id for c in self._contacts(participant_id)}
        cancelled = 0
        for row in self.data.outbox:
            if row["contact_id"] in ids:
                if row["status"] in ("pending", "sending"):
                    row["status"] = "withheld"
                    cancelled += 1
                row["body"] = ""
        return cancelled

    def scrub_messages(self, participant_id: int) -> int:
        mine = [i for i, (p, _) in enumerate(self.data.messages) if p == participant_id]
        for index in mine:
            self.data.messages[index] = (participant_id, "")
        return len(mine)

    def clear_answer_words(
        self, participant_id: int, free_text: Collection[tuple[int, str]]
    ) -> int:
        mine = [a for a in self.data.answers if a.participant_id == participant_id]
        for answer in mine:
            answer.text = ""
            if (answer.activity_id, answer.question) in free_text:
                answer.value = None
        return len(mine)

    def delete_answers(self, participant_id: int) -> int:
        before = len(self.data.answers)
        self.data.answers = [a for a in self.data.answers if a.participant_id != participant_id]
        return before - len(self.data.answers)

    def scrub_lets_talk(self, participant_id: int, now: datetime) -> Scrubbed:
        mine = [i for i in self.data.items if i.participant_id == participant_id]
        closed = 0
        for item in mine:
            item.text, item.replies = "", ["" for _ in item.replies]
            if item.status == "open":
                item.status, item.resolved_by = "resolved", "forgotten"
                closed += 1
        threads = tuple(sorted({i.slack for i in mine if i.slack}))
        return Scrubbed(len(mine), closed, threads)

    def scrub_ideas(self, participant_id: int, now: datetime) -> int:
        mine = [i for i in self.data.ideas if i["participant_id"] == participant_id]
        for idea in mine:
            idea.update(text="", status="rejected")
        return len(mine)

    def scrub_participant(self, participant_id: int, now: datetime) -> None:
        person = self.data.people[participant_id]
        person.name = person.external_id = None
        person.pending = []
        person.forgotten_at = person.forgotten_at or now

    def block_addresses(self, digests: Collection[str], now: datetime) -> None:
        for digest in digests:
            self.data.forgotten.setdefault(digest, now)

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        self.data.audit.append((actor, action, dict(detail)))


class MemorySpool:
    """Messages parked while the database was busy: (channel, address, text)."""

    def __init__(self) -> None:
        self.parked: list[tuple[str, str, str]] = []

    def purge(self, channel: str, address: str) -> int:
        before = len(self.parked)
        self.parked = [m for m in self.parked if (m[0], m[1]) != (channel, address)]
        return before - len(self.parked)
