"""What importing a roster changes: the merged file compared with what is stored.

The roster is the truth about the people, students and links it lists:

- a guardian is found by SIS id, else by an address they hold (with the same
  name, or a name on neither side); two guardians of the file never take the
  same stored person;
- a student is found by SIS id, a child known only by school and grade by
  their guardian and school; a student's school and grade follow the file;
- a student's guardians are exactly the file's: a guardian the file no longer
  lists for them is unlinked; a student of a school the file covers (it lists
  students of it by SIS id) who is not in the file is unlinked from everyone;
- children known only by school and grade give way once their guardian has
  students with SIS ids; a person's own school follows the file when a row
  gives one without a student.

Rules that protect families: someone who opted out stays opted out (a new
address of theirs is stored opted out too); a language the family chose by
writing to us is kept; a changed phone retires the old one unless the family
has written from it; people who asked to be forgotten are left alone.
Answers are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.households import Guardian, Roster, Student
from bot.core.messages import Channel
from bot.core.roster import BadRow, fold

__all__ = [
    "FRONT_OFFICE",
    "REPLACED",
    "Change",
    "ContactRef",
    "KnownContact",
    "KnownLink",
    "KnownPerson",
    "KnownStudent",
    "NewContact",
    "NewLink",
    "NewPerson",
    "NewStudent",
    "PersonRef",
    "RosterKeys",
    "RosterPlan",
    "Snapshot",
    "StudentRef",
    "keys_of",
    "plan_import",
]

Address = tuple[Channel, str]
# A stored row's id, or the roster key of one the plan creates.
PersonRef = int | str
StudentRef = int | str
ContactRef = int | Address
# Why a contact is not texted though it works.
FRONT_OFFICE = "front office"
# Why a phone is no longer used: a later roster gave its person another.
REPLACED = "replaced by roster"


# -- what is stored -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownPerson:
    id: int
    external_id: str | None
    name: str | None
    role: str | None
    language: str | None
    consent: bool | None
    onboarding_started: bool
    forgotten: bool
    has_written: bool
    opted_out: bool
    place: str | None = None  # where they live, for quiet hours (Place.key())
    preferred_channel: str | None = None


@dataclass(frozen=True, slots=True)
class KnownContact:
    id: int
    owner: int
    channel: Channel
    address: str
    opted_out: bool
    invalid_reason: str | None
    has_written: bool
    sharers: tuple[int, ...] = ()

    @property
    def works(self) -> bool:
        """Not retired or failed (a front-office flag is not a failure)."""
        return self.invalid_reason in (None, FRONT_OFFICE)


@dataclass(frozen=True, slots=True)
class KnownStudent:
    id: int
    sis_id: str | None
    school: str
    grade: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class KnownLink:
    student_id: int
    participant_id: int
    relationship: str | None
    contact_order: int | None


@dataclass(frozen=True, slots=True)
class RosterKeys:
    """What a store must load for a roster: the ids and addresses it names."""

    external_ids: frozenset[str]
    addresses: frozenset[Address]
    sis_ids: frozenset[str]
    schools: frozenset[str]  # whose students not in the file are unlinked


@dataclass
class Snapshot:
    """Everything stored that a roster's keys touch."""

    people: dict[int, KnownPerson] = field(default_factory=dict)
    contacts: dict[Address, KnownContact] = field(default_factory=dict)
    students: dict[int, KnownStudent] = field(default_factory=dict)
    links: list[KnownLink] = field(default_factory=list)
    own_schools: dict[int, set[str]] = field(default_factory=dict)

    def by_external_id(self) -> dict[str, int]:
        return {p.external_id: p.id for p in self.people.values() if p.external_id}

    def by_sis_id(self) -> dict[str, int]:
        return {s.sis_id: s.id for s in self.students.values() if s.sis_id}

    def held_by(self) -> dict[int, list[KnownContact]]:
        """Contacts by each person who carries or shares them."""
        found: dict[int, list[KnownContact]] = {}
        for contact in self.contacts.values():
            for person in (contact.owner, *contact.sharers):
                found.setdefault(person, []).append(contact)
        return found


# -- what changes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPerson:
    key: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewContact:
    channel: Channel
    address: str
    owner: PersonRef
    opted_out: bool
    flag: str | None


@dataclass(frozen=True, slots=True)
class NewStudent:
    key: str
    sis_id: str | None
    school: str
    grade: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class NewLink:
    student: StudentRef
    person: PersonRef
    relationship: str | None
    contact_order: int | None


@dataclass(frozen=True, slots=True)
class Change:
    """One change, in plain words, with the line it comes from (0: not one line)."""

    line: int
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}" if self.line else self.text


@dataclass
class RosterPlan:
    """Every write an import makes, in the order a store applies them."""

    new_people: list[NewPerson] = field(default_factory=list)
    person_updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    new_students: list[NewStudent] = field(default_factory=list)
    student_updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    dropped_students: list[int] = field(default_factory=list)  # children known by school only
    new_contacts: list[NewContact] = field(default_factory=list)
    flags: list[tuple[int, str | None]] = field(default_factory=list)
    owner_changes: list[tuple[int, PersonRef]] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)
    new_shares: list[tuple[ContactRef, PersonRef]] = field(default_factory=list)
    dropped_shares: list[tuple[int, int]] = field(default_factory=list)
    new_links: list[NewLink] = field(default_factory=list)
    link_updates: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    dropped_links: list[tuple[int, int]] = field(default_factory=list)
    new_ties: list[tuple[PersonRef, str]] = field(default_factory=list)
    dropped_ties: list[tuple[int, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    skipped: list[BadRow] = field(default_factory=list)
    people_added: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    students_added: int = 0
    students_updated: int = 0
    students_withdrawn: int = 0

    @property
    def is_empty(self) -> bool:
        return not (
            self.new_people
            or self.person_updates
            or self.new_students
            or self.student_updates
            or self.dropped_students
            or self.new_contacts
            or self.flags
            or self.owner_changes
            or self.retired
            or self.new_shares
            or self.dropped_shares
            or self.new_links
            or self.link_updates
            or self.dropped_links
            or self.new_ties
            or self.dropped_ties
        )


def keys_of(roster: Roster) -> RosterKeys:
    """What to load from the store before planning `roster`."""
    return RosterKeys(
        external_ids=frozenset(g.external_id for g in roster.guardians.values() if g.external_id),
        addresses=frozenset(roster.holders),
        sis_ids=frozenset(s.sis_id for s in roster.students.values() if s.sis_id),
        schools=roster.covered_schools,
    )


def plan_import(roster: Roster, stored: Snapshot, default_language: str, now: Any) -> RosterPlan:
    """Everything importing `roster` changes in `stored`; `now` stamps consent given."""
    return _Planner(roster, stored, default_language, now).plan()


class _Planner:
    def __init__(self, roster: Roster, stored: Snapshot, default_language: str, now: Any) -> None:
        self.roster = roster
        self.stored = stored
        self.default_language = default_language
        self.now = now
        self.out = RosterPlan()
        self.person: dict[str, PersonRef] = {}  # guardian key -> stored id or own key
        self.student: dict[str, StudentRef] = {}
        self.held = stored.held_by()
        self.sis = stored.by_sis_id()
        self.links_of_student: dict[int, list[KnownLink]] = {}
        self.links_of_person: dict[int, list[KnownLink]] = {}
        for link in stored.links:
            self.links_of_student.setdefault(link.student_id, []).append(link)
            self.links_of_person.setdefault(link.participant_id, []).append(link)
        # Guardians the file gives students with SIS ids, and children known by school only.
        self.with_ids: set[str] = set()
        self.anonymous: dict[str, list[str]] = {}
        for student in roster.students.values():
            for key in student.guardians:
                if student.sis_id is not None:
                    self.with_ids.add(key)
                else:
                    self.anonymous.setdefault(key, []).append(student.key)

    def plan(self) -> RosterPlan:
        self._match_people()
        self.listed_people = {ref for ref in self.person.values() if isinstance(ref, int)}
        for guardian in self.roster.guardians.values():
            self._person(guardian)
        for address in self.roster.holders:
            self._contact(address)
        for student in self.roster.students.values():
            self._student(student)
        self._withdrawn()
        for guardian in self.roster.guardians.values():
            self._settle(guardian)
        return self.out

    # -- people ------------------------------------------------------------------------

    def _match_people(self) -> None:
        by_external = self.stored.by_external_id()
        taken: set[int] = set()
        for guardian in self.roster.guardians.values():
            found = by_external.get(guardian.external_id) if guardian.external_id else None
            if found is not None and found not in taken:
                taken.add(found)
                self.person[guardian.key] = found
        # By address: the same name first, then a name missing on one side.
        for exact in (True, False):
            for guardian in self.roster.guardians.values():
                if guardian.key in self.person:
                    continue
                found = self._by_address(guardian, taken, exact)
                if found is not None:
                    taken.add(found)
                    self.person[guardian.key] = found

    def _by_address(self, guardian: Guardian, taken: set[int], exact: bool) -> int | None:
        wanted = fold(guardian.name or "")
        for address in guardian.addresses:
            contact = self.stored.contacts.get(address)
            if contact is None:
                continue
            for pid in (contact.owner, *contact.sharers):
                person = self.stored.people.get(pid)
                if person is None or pid in taken:
                    continue
                if guardian.external_id and person.external_id:
                    continue  # two SIS ids: two people sharing a phone
                name = fold(person.name or "")
                if wanted == name or (not exact and (not wanted or not name)):
                    return pid
        return None

    def _person(self, guardian: Guardian) -> None:
        pid = self.person.get(guardian.key)
        if pid is None:
            self.person[guardian.key] = guardian.key
            self.out.new_people.append(NewPerson(guardian.key, self._new_values(guardian)))
            self.out.people_added += 1
            summary = ", ".join(
                v for v in (guardian.role, guardian.language or self.default_language) if v
            )
            self.out.changes.append(Change(guardian.lines[0], f"add {guardian.who} ({summary})"))
            return
        assert isinstance(pid, int)
        current = self.stored.people[pid]
        if current.forgotten:
            for line in guardian.lines:
                self.out.skipped.append(
                    BadRow(
                        self.roster.file,
                        line,
                        "guardian_id" if guardian.external_id else "phone",
                        "skipped: this person asked to be forgotten",
                    )
                )
            del self.person[guardian.key]
            return
        wanted: dict[str, Any] = {
            "role": guardian.role or current.role,
            "name": guardian.name or current.name,
            "external_id": guardian.external_id or current.external_id,
            "consent": current.consent if guardian.consent is None else guardian.consent,
            "preferred_channel": guardian.channel.value
            if guardian.channel is not None
            else current.preferred_channel,
            # A language the family chose by writing to us beats the SIS's.
            "language": current.language
            if (current.has_written and current.language) or guardian.language is None
            else guardian.language,
            "place": guardian.place or current.place,
        }
        changed = {k: v for k, v in wanted.items() if v != getattr(current, k)}
        shown = [f"{k}: {_shown(getattr(current, k))} → {_shown(v)}" for k, v in changed.items()]
        if guardian.consent is True and current.consent is not True:
            changed["consent_at"] = self.now
        if not current.onboarding_started:
            changed.update(onboarding_started=True, onboarding=None)
            shown = shown or ["onboarding answered by the roster"]
        if changed:
            self.out.person_updates.append((pid, changed))
            self.out.people_updated += 1
            self.out.changes.append(
                Change(guardian.lines[0], f"update {guardian.who}: {'; '.join(shown)}")
            )
        else:
            self.out.people_unchanged += 1

    def _new_values(self, guardian: Guardian) -> dict[str, Any]:
        return {
            "role": guardian.role,
            "language": guardian.language or self.default_language,
            "consent": guardian.consent,
            "consent_at": self.now if guardian.consent else None,
            "preferred_channel": guardian.channel.value if guardian.channel else None,
            "name": guardian.name,
            "external_id": guardian.external_id,
            "place": guardian.place,
        }

    # -- contacts ----------------------------------------------------------------------

    def _contact(self, address: Address) -> None:
        holders = [k for k in self.roster.holders[address] if k in self.person]
        if not holders:
            return
        flag = FRONT_OFFICE if address in self.roster.front_office else None
        stored = self.stored.contacts.get(address)
        first = self.roster.guardians[holders[0]]
        if stored is None:
            owner = self.person[holders[0]]
            self.out.new_contacts.append(
                NewContact(address[0], address[1], owner, self._opted_out(owner), flag)
            )
            if isinstance(owner, int):
                self.out.changes.append(Change(first.lines[0], f"{first.who}: {address[1]} added"))
            for key in holders[1:]:
                self.out.new_shares.append((address, self.person[key]))
            return
        if (
            stored.invalid_reason in (None, FRONT_OFFICE, REPLACED)
            and stored.invalid_reason != flag
        ):
            # A front office found or cleared, or a phone a roster replaced given again.
            self.out.flags.append((stored.id, flag))
            what = {FRONT_OFFICE: "flagged as a front office", None: "in use again"}[flag]
            self.out.changes.append(Change(first.lines[0], f"{address[1]}: {what}"))
        reached: set[PersonRef] = {stored.owner, *stored.sharers}
        listed = {self.person[key] for key in holders}
        if stored.owner in self.listed_people and stored.owner not in listed:
            # The file gives this phone to others, not to the one it carried: hand it over.
            owner = self.person[holders[0]]
            self.out.owner_changes.append((stored.id, owner))
            if isinstance(owner, int) and owner in stored.sharers:
                self.out.dropped_shares.append((stored.id, owner))
            reached = {owner, *stored.sharers}
            self.out.changes.append(Change(first.lines[0], f"{address[1]}: now {first.who}'s"))
        for key in holders:
            ref = self.person[key]
            if ref not in reached:
                self.out.new_shares.append((stored.id, ref))
                if isinstance(ref, int):
                    who = self.roster.guardians[key].who
                    self.out.changes.append(
                        Change(first.lines[0], f"{who}: reached on {address[1]} too")
                    )

    def _opted_out(self, ref: PersonRef) -> bool:
        # Someone who said STOP said it for every way we have of reaching them.
        return isinstance(ref, int) and self.stored.people[ref].opted_out

    def _retire(self, guardian: Guardian, pid: int) -> None:
        """Addresses the file no longer gives for a guardian, on a channel it gives."""
        mine = set(guardian.addresses)
        channels = {channel for channel, _ in mine}
        for contact in self.held.get(pid, ()):
            address = (contact.channel, contact.address)
            if address in mine or contact.channel not in channels:
                continue
            if contact.owner == pid and address in self.roster.holders:
                continue  # someone else in the file holds it now (see _contact)
            if contact.owner != pid:
                self.out.dropped_shares.append((contact.id, pid))
                self.out.changes.append(
                    Change(guardian.lines[0], f"{guardian.who}: no longer reached on {address[1]}")
                )
            elif contact.invalid_reason in (None, FRONT_OFFICE) and not contact.has_written:
                self.out.retired.append(contact.id)
                self.out.changes.append(
                    Change(guardian.lines[0], f"{guardian.who}: {address[1]} replaced")
                )

    # -- students and links ------------------------------------------------------------

    def _student(self, student: Student) -> None:
        guardians = {k: v for k, v in student.guardians.items() if k in self.person}
        if not guardians:
            return
        line = student.lines[0]
        found = self._find_student(student)
        if found is None:
            self.student[student.key] = student.key
            self.out.new_students.append(
                NewStudent(student.key, student.sis_id, student.school, student.grade, student.name)
            )
            self.out.students_added += 1
            shown = (
                f"student {student.sis_id} ({student.label})"
                if student.sis_id
                else (f"a student at {student.label}")
            )
            self.out.changes.append(Change(line, f"add {shown}"))
        else:
            self.student[student.key] = found.id
            self._student_update(student, found, line)
        ref = self.student[student.key]
        current = {
            link.participant_id: link
            for link in (self.links_of_student.get(ref, []) if isinstance(ref, int) else [])
        }
        for key, (relationship, order) in guardians.items():
            person = self.person[key]
            link = current.get(person) if isinstance(person, int) else None
            if link is None:
                self.out.new_links.append(NewLink(ref, person, relationship, order))
                if isinstance(ref, int):
                    who = self.roster.guardians[key].who
                    self.out.changes.append(
                        Change(line, f"student {_name(student)}: guardian {who} added")
                    )
                continue
            values: dict[str, Any] = {}
            if relationship is not None and relationship != link.relationship:
                values["relationship"] = relationship
            if order is not None and order != link.contact_order:
                values["contact_order"] = order
            if values:
                self.out.link_updates.append((link.student_id, link.participant_id, values))
        wanted = {self.person[k] for k in guardians}
        for pid, link in current.items():
            if pid not in wanted:
                self.out.dropped_links.append((link.student_id, pid))
                who = self._who(pid)
                self.out.changes.append(
                    Change(line, f"student {_name(student)}: guardian {who} removed")
                )

    def _find_student(self, student: Student) -> KnownStudent | None:
        if student.sis_id is not None:
            sid = self.sis.get(student.sis_id)
            return self.stored.students.get(sid) if sid is not None else None
        # A child known only by school: their guardian's, at that school.
        for key in student.guardians:
            pid = self.person.get(key)
            if not isinstance(pid, int):
                continue
            for link in self.links_of_person.get(pid, []):
                known = self.stored.students.get(link.student_id)
                if known and known.sis_id is None and known.school == student.school:
                    return known
        return None

    def _student_update(self, student: Student, found: KnownStudent, line: int) -> None:
        values: dict[str, Any] = {}
        shown = []
        if student.school != found.school:
            values["school"] = student.school
            shown.append(f"school {found.school} → {student.school}")
        if student.grade is not None and student.grade != found.grade:
            values["grade"] = student.grade
            shown.append(f"grade {found.grade or '—'} → {student.grade}")
        if student.name is not None and student.name != found.name:
            values["name"] = student.name
            shown.append("name")
        if values:
            values["updated_at"] = self.now
            self.out.student_updates.append((found.id, values))
            self.out.students_updated += 1
            self.out.changes.append(Change(line, f"student {_name(student)}: {', '.join(shown)}"))

    def _withdrawn(self) -> None:
        """Students of the schools the file covers who are not in it leave their guardians."""
        listed = {s.sis_id for s in self.roster.students.values() if s.sis_id}
        covered = self.roster.covered_schools
        for known in self.stored.students.values():
            if known.sis_id is None or known.sis_id in listed or known.school not in covered:
                continue
            links = self.links_of_student.get(known.id, [])
            if not links:
                continue
            for link in links:
                self.out.dropped_links.append((known.id, link.participant_id))
            self.out.students_withdrawn += 1
            self.out.changes.append(
                Change(
                    0,
                    f"student {known.sis_id} ({known.school}) is not in this file: no longer "
                    f"linked to {len(links)} guardian{'s' if len(links) != 1 else ''}",
                )
            )

    def _settle(self, guardian: Guardian) -> None:
        """A stored guardian's old addresses, children known by school, and own schools."""
        pid = self.person.get(guardian.key)
        if pid is None:
            return
        if isinstance(pid, str):
            for school in guardian.schools:
                self.out.new_ties.append((pid, school))
            return
        self._retire(guardian, pid)
        line = guardian.lines[0]
        own = self.stored.own_schools.get(pid, set())
        known = [
            self.stored.students[link.student_id]
            for link in self.links_of_person.get(pid, [])
            if link.student_id in self.stored.students
        ]
        anonymous = [s for s in known if s.sis_id is None]
        with_ids = guardian.key in self.with_ids
        kept_anonymous = {self.student.get(key) for key in self.anonymous.get(guardian.key, [])}
        for student in anonymous:
            if student.id in kept_anonymous:
                continue
            if with_ids or guardian.schools or kept_anonymous:
                # Known only by school; the roster now says where this person belongs.
                self.out.dropped_links.append((student.id, pid))
                self.out.dropped_students.append(student.id)
                self.out.changes.append(
                    Change(
                        line, f"{guardian.who}: no longer linked to a student at {student.school}"
                    )
                )
        if guardian.schools or kept_anonymous:
            for school in sorted(own - set(guardian.schools)):
                self.out.dropped_ties.append((pid, school))
                self.out.changes.append(Change(line, f"{guardian.who}: school {school} removed"))
        for school in guardian.schools:
            if school not in own:
                self.out.new_ties.append((pid, school))
                self.out.changes.append(Change(line, f"{guardian.who}: school {school} added"))

    def _who(self, pid: int) -> str:
        person = self.stored.people.get(pid)
        if person is not None and person.external_id:
            return f"#{person.external_id}"
        return f"participant {pid}"


def _name(student: Student) -> str:
    return student.sis_id or f"at {student.school}"


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
