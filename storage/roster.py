"""Roster imports in SQL: load what a roster touches, write its plan, settle households.

The rules live in `bot.core.roster`, `bot.core.households` and
`bot.core.roster_plan`; this module only reads and writes rows, a few
statements per thousand of them, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from bot.core.audience import Group
from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.households import HouseholdGraph
from bot.core.messages import Channel
from bot.core.roster_plan import (
    FRONT_OFFICE,
    ContactRef,
    KnownContact,
    KnownLink,
    KnownPerson,
    KnownStudent,
    PersonRef,
    RosterKeys,
    RosterPlan,
    Snapshot,
    StudentRef,
)
from bot.errors import StoreBusy
from storage import consent, models
from storage.activities import audit_in
from storage.bulk import insert_rows, update_rows
from storage.unit_of_work import new_pseudonym

__all__ = ["SqlRosterUnitOfWork"]

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
shared = models.table(models.SharedContact)
students = models.table(models.Student)
guardianships = models.table(models.Guardianship)
participant_schools = models.table(models.ParticipantSchool)
households = models.table(models.Household)
enrollment = models.table(models.Enrollment)

# Ids in one IN (…): well under SQLite's and psycopg's parameter limits.
CHUNK = 500
T = TypeVar("T")


def _chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    block: list[T] = []
    for value in values:
        block.append(value)
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


class SqlRosterUnitOfWork:
    """`RosterUnitOfWork` on the database: one connection, one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use the unit of work in a with block"
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
        connection = self.connection
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
        if isinstance(exc, DBAPIError):
            raise StoreBusy(
                f"the database is busy or changed while importing ({type(exc).__name__}); "
                f"nothing was imported: run the import again"
            ) from exc

    def commit(self) -> None:
        self.connection.commit()

    # -- loading -----------------------------------------------------------------------

    def load(self, keys: RosterKeys) -> Snapshot:
        connection = self.connection
        people: set[int] = set()
        for names in _chunks(sorted(keys.external_ids)):
            people.update(
                connection.execute(
                    select(participants.c.id).where(participants.c.external_id.in_(names))
                ).scalars()
            )
        contact_ids: set[int] = set()
        by_channel: dict[Channel, list[str]] = {}
        for channel, address in keys.addresses:
            by_channel.setdefault(channel, []).append(address)
        for channel, addresses in by_channel.items():
            for texts in _chunks(sorted(addresses)):
                for cid, owner in connection.execute(
                    select(contacts.c.id, contacts.c.participant_id).where(
                        contacts.c.channel == channel.value, contacts.c.address.in_(texts)
                    )
                ):
                    contact_ids.add(cid)
                    people.add(owner)
        for block in _chunks(sorted(contact_ids)):
            people.update(
                connection.execute(
                    select(shared.c.participant_id).where(shared.c.contact_id.in_(block))
                ).scalars()
            )
        found_students: dict[int, KnownStudent] = {}
        student_query = select(
            students.c.id, students.c.sis_id, students.c.school, students.c.grade, students.c.name
        )
        for sis_ids in _chunks(sorted(keys.sis_ids)):
            for row in connection.execute(student_query.where(students.c.sis_id.in_(sis_ids))):
                found_students[row.id] = KnownStudent(*row)
        if keys.schools:
            for row in connection.execute(
                student_query.where(
                    students.c.school.in_(sorted(keys.schools)), students.c.sis_id.is_not(None)
                )
            ):
                found_students[row.id] = KnownStudent(*row)
        links: dict[tuple[int, int], KnownLink] = {}
        link_query = select(
            guardianships.c.student_id,
            guardianships.c.participant_id,
            guardianships.c.relationship,
            guardianships.c.contact_order,
        )
        for ids in _chunks(sorted(found_students)):
            for link in connection.execute(link_query.where(guardianships.c.student_id.in_(ids))):
                links[(link.student_id, link.participant_id)] = KnownLink(*link)
                people.add(link.participant_id)
        for ids in _chunks(sorted(people)):
            for link in connection.execute(
                link_query.where(guardianships.c.participant_id.in_(ids))
            ):
                links[(link.student_id, link.participant_id)] = KnownLink(*link)
        missing = {known.student_id for known in links.values()} - set(found_students)
        for ids in _chunks(sorted(missing)):
            for row in connection.execute(student_query.where(students.c.id.in_(ids))):
                found_students[row.id] = KnownStudent(*row)
        snapshot = Snapshot(students=found_students, links=list(links.values()))
        self._load_people(snapshot, people)
        return snapshot

    def _load_people(self, snapshot: Snapshot, ids: set[int]) -> None:
        connection = self.connection
        held: dict[int, list[Any]] = {}
        contact_rows: dict[int, Any] = {}
        contact_query = select(
            contacts.c.id,
            contacts.c.participant_id,
            contacts.c.channel,
            contacts.c.address,
            contacts.c.opted_out_at,
            contacts.c.invalid_reason,
            contacts.c.invalid_at,
            contacts.c.last_inbound_at,
        )
        sharing: dict[int, list[int]] = {}
        for block in _chunks(sorted(ids)):
            for row in connection.execute(
                contact_query.where(contacts.c.participant_id.in_(block))
            ):
                contact_rows[row.id] = row
                held.setdefault(row.participant_id, []).append(row)
            for cid, pid in connection.execute(
                select(shared.c.contact_id, shared.c.participant_id).where(
                    shared.c.participant_id.in_(block)
                )
            ):
                sharing.setdefault(cid, []).append(pid)
        extra = set(sharing) - set(contact_rows)
        for block in _chunks(sorted(extra)):
            for row in connection.execute(contact_query.where(contacts.c.id.in_(block))):
                contact_rows[row.id] = row
        for block in _chunks(sorted(contact_rows)):
            for cid, pid in connection.execute(
                select(shared.c.contact_id, shared.c.participant_id).where(
                    shared.c.contact_id.in_(block)
                )
            ):
                if pid not in sharing.setdefault(cid, []):
                    sharing[cid].append(pid)
        for row in contact_rows.values():
            try:
                channel = Channel(row.channel)
            except ValueError:
                continue
            reason = row.invalid_reason if row.invalid_at is not None else None
            if row.invalid_at is not None and reason is None:
                reason = "invalid"
            snapshot.contacts[(channel, row.address)] = KnownContact(
                id=row.id,
                owner=row.participant_id,
                channel=channel,
                address=row.address,
                opted_out=row.opted_out_at is not None,
                invalid_reason=reason,
                has_written=row.last_inbound_at is not None,
                sharers=tuple(sorted(sharing.get(row.id, []))),
            )
        for block in _chunks(sorted(ids)):
            for person in connection.execute(
                select(
                    participants.c.id,
                    participants.c.external_id,
                    participants.c.name,
                    participants.c.role,
                    participants.c.language,
                    participants.c.consent,
                    participants.c.onboarding_started,
                    participants.c.forgotten_at,
                    participants.c.place,
                    participants.c.preferred_channel,
                ).where(participants.c.id.in_(block))
            ):
                mine = held.get(person.id, [])
                snapshot.people[person.id] = KnownPerson(
                    id=person.id,
                    external_id=person.external_id,
                    name=person.name,
                    role=person.role,
                    language=person.language,
                    consent=person.consent,
                    onboarding_started=bool(person.onboarding_started),
                    forgotten=person.forgotten_at is not None,
                    has_written=any(c.last_inbound_at is not None for c in mine),
                    opted_out=any(c.opted_out_at is not None for c in mine),
                    place=person.place,
                    preferred_channel=person.preferred_channel,
                )
            for pid, school in connection.execute(
                select(participant_schools.c.participant_id, participant_schools.c.school).where(
                    participant_schools.c.participant_id.in_(block)
                )
            ):
                snapshot.own_schools.setdefault(pid, set()).add(school)

    # -- writing -----------------------------------------------------------------------

    def apply(self, plan: RosterPlan, now: datetime) -> None:
        connection = self.connection
        person_ids = self._add_people(plan, now)

        def person(ref: PersonRef) -> int:
            return ref if isinstance(ref, int) else person_ids[ref]

        _update_many(connection, participants, participants.c.id, plan.person_updates, now)
        student_ids: dict[str, int] = {}
        if plan.new_students:
            rows: list[dict[str, Any]] = [
                {
                    "sis_id": s.sis_id,
                    "school": s.school,
                    "grade": s.grade,
                    "name": s.name,
                    "created_at": now,
                    "updated_at": now,
                }
                for s in plan.new_students
            ]
            ids = _insert_returning(connection, students, rows)
            student_ids = {s.key: sid for s, sid in zip(plan.new_students, ids, strict=True)}

        def student(ref: StudentRef) -> int:
            return ref if isinstance(ref, int) else student_ids[ref]

        _update_many(connection, students, students.c.id, plan.student_updates, None)
        contact_ids: dict[tuple[Channel, str], int] = {}
        if plan.new_contacts:
            rows = [
                {
                    "participant_id": person(c.owner),
                    "channel": c.channel.value,
                    "address": c.address,
                    "opted_out_at": now if c.opted_out else None,
                    "invalid_at": now if c.flag else None,
                    "invalid_reason": c.flag,
                    "created_at": now,
                }
                for c in plan.new_contacts
            ]
            ids = _insert_returning(connection, contacts, rows)
            contact_ids = {
                (c.channel, c.address): cid for c, cid in zip(plan.new_contacts, ids, strict=True)
            }

        def contact(ref: ContactRef) -> int:
            return ref if isinstance(ref, int) else contact_ids[ref]

        if plan.flags:
            connection.execute(
                update(contacts)
                .where(contacts.c.id == bindparam("cid"))
                .values(invalid_at=bindparam("at"), invalid_reason=bindparam("why")),
                [
                    {"cid": cid, "at": now if flag else None, "why": flag}
                    for cid, flag in plan.flags
                ],
            )
        for cid, owner in plan.owner_changes:
            connection.execute(
                update(contacts).where(contacts.c.id == cid), {"participant_id": person(owner)}
            )
        for block in _chunks(plan.retired):
            connection.execute(
                update(contacts).where(contacts.c.id.in_(block)),
                {"invalid_at": now, "invalid_reason": "replaced by roster"},
            )
        for cid, pid in plan.dropped_shares:
            connection.execute(
                delete(shared).where(shared.c.contact_id == cid, shared.c.participant_id == pid)
            )
        if plan.new_shares:
            rows = [
                {"contact_id": contact(c), "participant_id": person(p), "created_at": now}
                for c, p in plan.new_shares
            ]
            _insert(connection, shared, _unique(rows, ("contact_id", "participant_id")))
        for pairs in _chunks(plan.dropped_links):
            connection.execute(
                delete(guardianships).where(
                    or_(
                        *(
                            and_(
                                guardianships.c.student_id == sid,
                                guardianships.c.participant_id == pid,
                            )
                            for sid, pid in pairs
                        )
                    )
                )
            )
        if plan.dropped_students:
            still_linked = select(guardianships.c.student_id)
            for ids in _chunks(plan.dropped_students):
                connection.execute(
                    delete(students).where(
                        students.c.id.in_(ids), students.c.id.not_in(still_linked)
                    )
                )
        if plan.new_links:
            rows = [
                {
                    "student_id": student(link.student),
                    "participant_id": person(link.person),
                    "relationship": link.relationship,
                    "contact_order": link.contact_order,
                    "created_at": now,
                }
                for link in plan.new_links
            ]
            _insert(connection, guardianships, rows)
        for sid, pid, values in plan.link_updates:
            connection.execute(
                update(guardianships).where(
                    guardianships.c.student_id == sid, guardianships.c.participant_id == pid
                ),
                values,
            )
        for pid, school in plan.dropped_ties:
            connection.execute(
                delete(participant_schools).where(
                    participant_schools.c.participant_id == pid,
                    participant_schools.c.school == school,
                )
            )
        if plan.new_ties:
            rows = [
                {"participant_id": person(p), "school": school, "created_at": now}
                for p, school in plan.new_ties
            ]
            _insert(connection, participant_schools, rows)
        self._record_consent(plan, person, now)

    def _record_consent(
        self, plan: RosterPlan, person: Callable[[PersonRef], int], now: datetime
    ) -> None:
        """The roster's consent column, where it changed, as events in the consent ledger."""
        given: dict[int, bool] = {}
        for new in plan.new_people:
            if new.values.get("consent") is not None:
                given[person(new.key)] = bool(new.values["consent"])
        for pid, values in plan.person_updates:
            if values.get("consent") is not None:
                given[pid] = bool(values["consent"])
        for value, kind in (
            (True, ConsentKind.CONSENT_GIVEN),
            (False, ConsentKind.CONSENT_WITHDRAWN),
        ):
            pids = [pid for pid, said in given.items() if said is value]
            for block in _chunks(pids):
                theirs = select(contacts.c.id).where(contacts.c.participant_id.in_(block))
                consent.append(
                    self.connection, theirs, ConsentChange(kind, ConsentSource.ROSTER), now
                )
        # `channel: whatsapp` is the district's record that the family chose WhatsApp on
        # its forms: their opt-in there, which WhatsApp asks for before we write first.
        chose = [person(new.key) for new in plan.new_people if _chose_whatsapp(new.values)]
        chose += [pid for pid, values in plan.person_updates if _chose_whatsapp(values)]
        for block in _chunks(chose):
            theirs = select(contacts.c.id).where(
                contacts.c.participant_id.in_(block),
                contacts.c.channel == Channel.WHATSAPP.value,
                contacts.c.opted_out_at.is_(None),
            )
            change = ConsentChange(
                ConsentKind.OPT_IN, ConsentSource.ROSTER, words="channel: whatsapp"
            )
            consent.append(self.connection, theirs, change, now)

    def _add_people(self, plan: RosterPlan, now: datetime) -> dict[str, int]:
        if not plan.new_people:
            return {}
        rows = [
            {
                "pseudonym": new_pseudonym(),
                **person.values,
                # The roster answered the onboarding questions already.
                "onboarding": None,
                "onboarding_started": True,
                "attempts": 0,
                "pending": [],
                "created_at": now,
                "updated_at": now,
            }
            for person in plan.new_people
        ]
        ids = _insert_returning(self.connection, participants, rows)
        return {person.key: pid for person, pid in zip(plan.new_people, ids, strict=True)}

    # -- households --------------------------------------------------------------------

    def household_graph(self) -> HouseholdGraph:
        connection = self.connection
        links = connection.execute(
            select(guardianships.c.student_id, guardianships.c.participant_id)
        ).all()
        sharing = connection.execute(
            select(contacts.c.participant_id, shared.c.participant_id)
            .join(contacts, contacts.c.id == shared.c.contact_id)
            .where(
                or_(contacts.c.invalid_reason.is_(None), contacts.c.invalid_reason != FRONT_OFFICE)
            )
        ).all()
        current = dict(
            connection.execute(
                select(participants.c.id, participants.c.household_id).where(
                    participants.c.household_id.is_not(None)
                    | participants.c.id.in_(select(guardianships.c.participant_id))
                    | participants.c.id.in_(select(shared.c.participant_id))
                )
            ).all()
        )
        return HouseholdGraph(
            guardianships=[(s, p) for s, p in links],
            shared=[(o, p) for o, p in sharing],
            current=current,
        )

    def set_households(self, changes: Mapping[int, int | None], now: datetime) -> None:
        if not changes:
            return
        connection = self.connection
        fresh = sorted({h for h in changes.values() if h is not None and h < 0}, reverse=True)
        made: dict[int, int] = {}
        if fresh:
            ids = _insert_returning(connection, households, [{"created_at": now} for _ in fresh])
            made = dict(zip(fresh, ids, strict=True))
        update_rows(
            connection,
            participants,
            ("household_id",),
            "id",
            [(made.get(h, h) if h is not None else None, pid) for pid, h in changes.items()],
        )

    # -- enrollment and audit ----------------------------------------------------------

    def store_enrollment(self, figures: Mapping[Group, int], now: datetime) -> int:
        connection = self.connection
        known = {
            Group(r.school, r.language, r.role): r.id
            for r in connection.execute(
                select(
                    enrollment.c.id, enrollment.c.school, enrollment.c.language, enrollment.c.role
                )
            )
        }
        fresh = [
            {
                "school": g.school,
                "language": g.language,
                "role": g.role,
                "count": n,
                "imported_at": now,
            }
            for g, n in figures.items()
            if g not in known
        ]
        stale = [
            {"eid": known[g], "count": n, "imported_at": now}
            for g, n in figures.items()
            if g in known
        ]
        if fresh:
            connection.execute(insert(enrollment), fresh)
        if stale:
            connection.execute(
                update(enrollment)
                .where(enrollment.c.id == bindparam("eid"))
                .values(count=bindparam("count"), imported_at=bindparam("imported_at")),
                stale,
            )
        return len(figures)

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        audit_in(self.connection, actor, action, detail, now)


def _insert_returning(
    connection: Connection, table: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert many rows; their new ids, in the rows' order.

    The ids are taken first and the rows inserted with them: RETURNING in the
    rows' order makes SQLAlchemy insert one row a statement on SQLite, which
    costs a 200,000-row roster minutes.
    """
    if not rows:
        return []
    ids = _take_ids(connection, table, len(rows))
    _insert(connection, table, ({"id": new, **row} for row, new in zip(rows, ids, strict=True)))
    return ids


def _insert(connection: Connection, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows, a few hundred a statement (rows naming the same columns together),
    a few thousand at a time in memory."""
    for block in _chunks(rows, 5000):
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in block:
            shapes.setdefault(tuple(row), []).append(tuple(row.values()))
        for columns, values in shapes.items():
            insert_rows(connection, table, columns, values)


def _take_ids(connection: Connection, table: Any, count: int) -> list[int]:
    """`count` ids nobody else can take: from the table's sequence on PostgreSQL; on
    SQLite after the largest, as this transaction holds the one write lock."""
    if connection.dialect.name == "postgresql":
        taken = connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        ).scalars()
        return sorted(int(i) for i in taken)
    largest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(largest + 1, largest + count + 1))


def _update_many(
    connection: Connection,
    table: Any,
    key: Any,
    updates: Sequence[tuple[int, dict[str, Any]]],
    now: datetime | None,
) -> None:
    """One UPDATE statement shape per set of changed columns, run as executemany."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row_id, values in updates:
        row = {**values, **({"updated_at": now} if now is not None else {})}
        groups.setdefault(tuple(row), []).append((*row.values(), row_id))
    for columns, rows in groups.items():
        update_rows(connection, table, columns, key.name, rows)


def _unique(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _chose_whatsapp(values: Mapping[str, object]) -> bool:
    return values.get("preferred_channel") == Channel.WHATSAPP.value
