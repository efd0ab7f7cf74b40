"""Households from roster rows: one person per guardian, one contact per phone.

The rules, in the order they apply:

- **Same guardian id → one person**; rows without one name the same person
  when they give the same first address and name.
- **Same student id → one student**, at one school in one grade: a later row
  putting the student elsewhere is a bad row.
- **Same phone → one contact.** Guardians listing one phone share it; its
  first holder (by the SIS's contact order, then by line) is the one whose
  conversation it carries, so it gets each message once.
- **A phone standing for more students than a family has** (more than
  `max_students_per_phone`) is a front office: kept, flagged, never texted by
  default, and never used to join households.
- **Households** are the guardians joined by a student or a shared phone,
  with their students. Each household that more than one row built is
  reported in plain words: `lines 2 and 9: one guardian, two students
  (lincoln-es grade 2, roosevelt-ms grade 7)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.messages import Channel
from bot.core.roster import BadRow, RosterRow

__all__ = [
    "Guardian",
    "HouseholdGraph",
    "Roster",
    "Student",
    "assign_households",
    "merge_rows",
    "numbered",
]

Address = tuple[Channel, str]

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(slots=True)
class Guardian:
    """A person of the roster, with everything their rows say about them."""

    key: str
    lines: list[int]
    external_id: str | None
    name: str | None
    role: str | None
    language: str | None
    consent: bool | None
    addresses: list[Address] = field(default_factory=list)
    schools: list[str] = field(default_factory=list)  # their own, not through a student
    who: str = ""
    place: str | None = None  # where they live, for quiet hours (Place.key())
    channel: Channel | None = None  # the one the family chose (the roster's `channel`)


@dataclass(slots=True)
class Student:
    """A student of the roster: SIS id (or a child known by school and grade), and guardians."""

    key: str
    sis_id: str | None
    school: str
    grade: str | None
    name: str | None
    lines: list[int]
    # guardian key -> (relationship, contact order)
    guardians: dict[str, tuple[str | None, int | None]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.school} grade {self.grade}" if self.grade else self.school


@dataclass
class Roster:
    """The good rows of one file, merged."""

    file: str
    rows: int = 0
    guardians: dict[str, Guardian] = field(default_factory=dict)
    students: dict[str, Student] = field(default_factory=dict)
    # address -> guardian keys holding it; the first carries the conversation
    holders: dict[Address, list[str]] = field(default_factory=dict)
    front_office: dict[Address, int] = field(default_factory=dict)
    households: list[tuple[str, ...]] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def covered_schools(self) -> frozenset[str]:
        """Schools whose students (by SIS id) this file lists: it is their whole roster."""
        return frozenset(s.school for s in self.students.values() if s.sis_id is not None)


def numbered(count: int, noun: str) -> str:
    """`one guardian`, `two students`, `12 students`."""
    amount = _WORDS[count] if count < len(_WORDS) else f"{count:,}"
    return f"{amount} {noun}{'' if count == 1 else 's'}"


def merge_rows(
    file: str,
    rows: Iterable[RosterRow | list[BadRow]],
    max_students_per_phone: int,
) -> Roster:
    """Merge a file's rows (or their problems) into guardians, students, contacts, households."""
    roster = Roster(file)
    orders: dict[tuple[Address, str], tuple[int, int]] = {}
    phone_students: dict[Address, set[str]] = {}
    phone_lines: dict[Address, int] = {}
    for row in rows:
        roster.rows += 1
        if isinstance(row, list):
            roster.bad.extend(row)
            continue
        problem = _conflict(roster, row)
        if problem is not None:
            roster.bad.append(problem)
            continue
        _add(roster, row, orders)
        student = row.student_key
        for address in row.addresses:
            phone_lines.setdefault(address, row.line)
            if student is not None:
                phone_students.setdefault(address, set()).add(student)
    for address, keys in roster.holders.items():
        # The holder the SIS would call first carries the conversation.
        keys.sort(key=lambda key: orders[(address, key)])
    for address, students in phone_students.items():
        if len(students) > max_students_per_phone:
            roster.front_office[address] = len(students)
            roster.warnings.append(
                f"{file}:{phone_lines[address]}: phone: {address[1]} stands for "
                f"{len(students):,} students: a school's front office? It is kept but not "
                f"texted, and joins no households (--max-students-per-phone "
                f"{max_students_per_phone} is the limit)"
            )
    roster.households = _households(roster)
    # Each guardian's students, once: looking them up per household would be quadratic.
    students_of: dict[str, list[Student]] = {}
    for known in roster.students.values():
        for key in known.guardians:
            students_of.setdefault(key, []).append(known)
    roster.merges = [_describe(roster, household, students_of) for household in roster.households]
    roster.merges = [m for m in roster.merges if m]
    return roster


def _conflict(roster: Roster, row: RosterRow) -> BadRow | None:
    key = row.student_key
    if key is None or row.student_id is None:
        return None
    known = roster.students.get(key)
    if known is None:
        return None
    first = known.lines[0]
    if row.school != known.school:
        return BadRow(
            roster.file,
            row.line,
            "school",
            f"student {row.student_id} is at {known.school} on line {first}; "
            f"a student is at one school",
        )
    if row.grade is not None and known.grade is not None and row.grade != known.grade:
        return BadRow(
            roster.file,
            row.line,
            "grade",
            f"student {row.student_id} is in grade {known.grade} on line {first}",
        )
    return None


def _add(
    roster: Roster, row: RosterRow, orders: dict[tuple[Address, str], tuple[int, int]]
) -> None:
    key = row.guardian_key
    guardian = roster.guardians.get(key)
    if guardian is None:
        guardian = roster.guardians[key] = Guardian(
            key=key,
            lines=[],
            external_id=row.guardian_id,
            name=row.name,
            role=row.role,
            language=row.language,
            consent=row.consent,
            who=row.who,
            place=row.place,
            channel=row.channel,
        )
    else:
        _fill(roster, guardian, row)
    guardian.lines.append(row.line)
    for address in row.addresses:
        if address not in guardian.addresses:
            guardian.addresses.append(address)
        holders = roster.holders.setdefault(address, [])
        if key not in holders:
            holders.append(key)
            rank = row.contact_order if row.contact_order is not None else 1_000_000
            orders[(address, key)] = (rank, row.line)
    student_key = row.student_key
    if student_key is None:
        if row.school is not None and row.school not in guardian.schools:
            guardian.schools.append(row.school)
        return
    assert row.school is not None
    student = roster.students.get(student_key)
    if student is None:
        student = roster.students[student_key] = Student(
            key=student_key,
            sis_id=row.student_id,
            school=row.school,
            grade=row.grade,
            name=row.student_name,
            lines=[],
        )
    else:
        student.grade = student.grade or row.grade
        student.name = student.name or row.student_name
    student.lines.append(row.line)
    relationship = row.relationship
    if relationship is None and row.student_id is None:
        # A child known only by school and grade: the row's person is their guardian.
        relationship = "self" if row.role == "student" else "guardian"
    if key not in student.guardians:
        student.guardians[key] = (relationship, row.contact_order)


def _fill(roster: Roster, guardian: Guardian, row: RosterRow) -> None:
    """A later row of a known guardian fills blanks; where it differs, the first row wins."""
    first = guardian.lines[0]
    for name, value in (("language", row.language), ("role", row.role)):
        kept = getattr(guardian, name)
        if value is None:
            continue
        if kept is None:
            setattr(guardian, name, value)
        elif kept != value:
            roster.warnings.append(
                f"{roster.file}:{row.line}: {name}: {guardian.who} is {kept} on line {first}; "
                f"{kept} is kept"
            )
    guardian.name = guardian.name or row.name
    guardian.place = guardian.place or row.place
    guardian.channel = guardian.channel or row.channel
    if guardian.consent is None:
        guardian.consent = row.consent
    elif row.consent is False:
        guardian.consent = False  # a "no" anywhere is a no


def _households(roster: Roster) -> list[tuple[str, ...]]:
    parent: dict[str, str] = {key: key for key in roster.guardians}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def join(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for student in roster.students.values():
        keys = list(student.guardians)
        for other in keys[1:]:
            join(keys[0], other)
    for address, keys in roster.holders.items():
        if address in roster.front_office:
            continue
        for other in keys[1:]:
            join(keys[0], other)
    groups: dict[str, list[str]] = {}
    for key in roster.guardians:
        groups.setdefault(find(key), []).append(key)
    return [tuple(members) for members in groups.values()]


def _describe(
    roster: Roster, household: Sequence[str], students_of: Mapping[str, list[Student]]
) -> str:
    guardians = [roster.guardians[key] for key in household]
    lines = sorted({line for g in guardians for line in g.lines})
    if len(lines) < 2:
        return ""
    found = {id(s): s for key in household for s in students_of.get(key, ())}
    students = sorted(found.values(), key=lambda s: s.lines[0])
    phones = {a for g in guardians for a in g.addresses if a not in roster.front_office}
    people = numbered(len(guardians), "guardian")
    if len(guardians) > 1 and len(phones) < len(guardians):
        people += f" sharing {numbered(len(phones), 'phone')}"
    parts = [people]
    if students:
        shown = ", ".join(s.label for s in students[:4]) + (", …" if len(students) > 4 else "")
        parts.append(f"{numbered(len(students), 'student')} ({shown})")
    return f"{_lines(lines)}: {', '.join(parts)}"


def _lines(lines: Sequence[int]) -> str:
    if len(lines) > 5:
        return f"lines {', '.join(str(n) for n in lines[:4])} … ({len(lines)} lines)"
    if len(lines) == 1:
        return f"line {lines[0]}"
    return f"lines {', '.join(str(n) for n in lines[:-1])} and {lines[-1]}"


# -- households of the whole district ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class HouseholdGraph:
    """What joins people into households, as stored: who answers for which student,
    which contacts are shared, and the household each person is in now."""

    guardianships: Sequence[tuple[int, int]]  # (student id, participant id)
    shared: Sequence[tuple[int, int]]  # (contact owner, participant sharing it)
    current: Mapping[int, int | None]  # participant id -> household id


def assign_households(graph: HouseholdGraph) -> dict[int, int | None]:
    """Each linked participant's household: an existing id where its members mostly
    had one, else None for "a new household"; only participants whose answer differs
    from `graph.current` are returned (a new household is `-n` for the n-th new one).

    People joined to no student and no other person keep no household.
    """
    parent: dict[int, int] = {}

    def find(key: int) -> int:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def join(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_student: dict[int, int] = {}
    linked: set[int] = set()
    for student, person in graph.guardianships:
        linked.add(person)
        first = by_student.setdefault(student, person)
        join(first, person)
    for owner, person in graph.shared:
        linked.update((owner, person))
        join(owner, person)
    groups: dict[int, list[int]] = {}
    for person in linked:
        groups.setdefault(find(person), []).append(person)
    claimed: set[int] = set()
    answer: dict[int, int | None] = {}
    fresh = 0
    # Bigger groups choose first, so a split leaves the old id with the larger part.
    for members in sorted(groups.values(), key=lambda m: (-len(m), min(m))):
        votes: dict[int, int] = {}
        for person in members:
            household = graph.current.get(person)
            if household is not None and household not in claimed:
                votes[household] = votes.get(household, 0) + 1
        if votes:
            chosen: int = min(votes, key=lambda h: (-votes[h], h))
            claimed.add(chosen)
        else:
            fresh += 1
            chosen = -fresh
        for person in members:
            if graph.current.get(person) != chosen:
                answer[person] = chosen
    for person, household in graph.current.items():
        if household is not None and person not in linked:
            answer[person] = None
    return answer
