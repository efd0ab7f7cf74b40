"""The roster store in memory: `RosterUnitOfWork` without SQL, for the roster rules' tests.

A unit of work works on a copy of the store; `commit()` makes the copy the
store, leaving the block without it drops the copy (as a rolled-back
transaction would).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from bot.core.audience import Group
from bot.core.households import HouseholdGraph
from bot.core.messages import Channel
from bot.core.roster_plan import (
    FRONT_OFFICE,
    KnownContact,
    KnownLink,
    KnownPerson,
    KnownStudent,
    RosterKeys,
    RosterPlan,
    Snapshot,
)

__all__ = ["MemoryRoster", "Tables"]


@dataclass
class Tables:
    people: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    shared: set[tuple[int, int]] = field(default_factory=set)  # (contact, participant)
    students: dict[int, dict[str, Any]] = field(default_factory=dict)
    links: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    ties: set[tuple[int, str]] = field(default_factory=set)
    households: set[int] = field(default_factory=set)
    enrollment: dict[Group, int] = field(default_factory=dict)
    audit: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class MemoryRoster:
    """A store that outlives its units of work; `tables` is what is committed."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0

    def __call__(self) -> MemoryRosterUnitOfWork:
        return MemoryRosterUnitOfWork(self)

    def add_person(self, **values: Any) -> int:
        """A participant as the inbound path would make them (someone who texted in)."""
        pid = self.tables.new_id()
        self.tables.people[pid] = {
            "external_id": None,
            "name": None,
            "role": None,
            "language": None,
            "consent": None,
            "consent_at": None,
            "onboarding_started": False,
            "forgotten": False,
            "household_id": None,
            **values,
        }
        return pid

    def add_contact(self, owner: int, channel: Channel, address: str, **values: Any) -> int:
        cid = self.tables.new_id()
        self.tables.contacts[cid] = {
            "owner": owner,
            "channel": channel,
            "address": address,
            "opted_out": False,
            "invalid_reason": None,
            "has_written": False,
            **values,
        }
        return cid


class MemoryRosterUnitOfWork:
    def __init__(self, store: MemoryRoster) -> None:
        self.store = store
        self.t = Tables()

    def __enter__(self) -> Self:
        self.t = copy.deepcopy(self.store.tables)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.t = Tables()

    def commit(self) -> None:
        self.store.tables = copy.deepcopy(self.t)
        self.store.commits += 1

    def load(self, keys: RosterKeys) -> Snapshot:
        """Everything stored: the rules must pick out what the keys touch themselves."""
        t = self.t
        snapshot = Snapshot()
        for pid, p in t.people.items():
            mine = [c for c in t.contacts.values() if c["owner"] == pid]
            snapshot.people[pid] = KnownPerson(
                id=pid,
                external_id=p["external_id"],
                name=p["name"],
                role=p["role"],
                language=p["language"],
                consent=p["consent"],
                onboarding_started=p["onboarding_started"],
                forgotten=p["forgotten"],
                has_written=any(c["has_written"] for c in mine),
                opted_out=any(c["opted_out"] for c in mine),
                place=p.get("place"),
                preferred_channel=p.get("preferred_channel"),
            )
        for cid, c in t.contacts.items():
            snapshot.contacts[(c["channel"], c["address"])] = KnownContact(
                id=cid,
                owner=c["owner"],
                channel=c["channel"],
                address=c["address"],
                opted_out=c["opted_out"],
                invalid_reason=c["invalid_reason"],
                has_written=c["has_written"],
                sharers=tuple(sorted(p for k, p in t.shared if k == cid)),
            )
        for sid, s in t.students.items():
            snapshot.students[sid] = KnownStudent(
                sid, s["sis_id"], s["school"], s["grade"], s["name"]
            )
        snapshot.links = [
            KnownLink(sid, pid, link["relationship"], link["contact_order"])
            for (sid, pid), link in sorted(t.links.items())
        ]
        for pid, school in t.ties:
            snapshot.own_schools.setdefault(pid, set()).add(school)
        return snapshot

    def apply(self, plan: RosterPlan, now: datetime) -> None:
        t = self.t
        people: dict[str, int] = {}
        for person in plan.new_people:
            pid = people[person.key] = t.new_id()
            t.people[pid] = {
                "forgotten": False,
                "household_id": None,
                "onboarding_started": True,
                **person.values,
            }

        def ref(value: int | str) -> int:
            return value if isinstance(value, int) else people[value]

        for pid, values in plan.person_updates:
            t.people[pid].update(values)
        made: dict[str, int] = {}
        for student in plan.new_students:
            sid = made[student.key] = t.new_id()
            t.students[sid] = {
                "sis_id": student.sis_id,
                "school": student.school,
                "grade": student.grade,
                "name": student.name,
            }
        for sid, values in plan.student_updates:
            t.students[sid].update({k: v for k, v in values.items() if k != "updated_at"})
        addresses: dict[tuple[Channel, str], int] = {}
        for contact in plan.new_contacts:
            owner = ref(contact.owner)
            cid = addresses[(contact.channel, contact.address)] = t.new_id()
            t.contacts[cid] = {
                "owner": owner,
                "channel": contact.channel,
                "address": contact.address,
                "opted_out": contact.opted_out,
                "invalid_reason": contact.flag,
                "has_written": False,
            }
        for cid, flag in plan.flags:
            t.contacts[cid]["invalid_reason"] = flag
        for cid, owner in plan.owner_changes:
            t.contacts[cid]["owner"] = ref(owner)
        for cid in plan.retired:
            t.contacts[cid]["invalid_reason"] = "replaced by roster"
        for cid, pid in plan.dropped_shares:
            t.shared.discard((cid, pid))
        for contact_ref, person_ref in plan.new_shares:
            cid = contact_ref if isinstance(contact_ref, int) else addresses[contact_ref]
            t.shared.add((cid, ref(person_ref)))
        for sid, pid in plan.dropped_links:
            del t.links[(sid, pid)]
        for sid in plan.dropped_students:
            if not any(linked == sid for linked, _ in t.links):
                del t.students[sid]
        for link in plan.new_links:
            sid = link.student if isinstance(link.student, int) else made[link.student]
            t.links[(sid, ref(link.person))] = {
                "relationship": link.relationship,
                "contact_order": link.contact_order,
            }
        for sid, pid, values in plan.link_updates:
            t.links[(sid, pid)].update(values)
        for pid, school in plan.dropped_ties:
            t.ties.discard((pid, school))
        for person_ref, school in plan.new_ties:
            t.ties.add((ref(person_ref), school))

    def household_graph(self) -> HouseholdGraph:
        t = self.t
        shared = [
            (t.contacts[cid]["owner"], pid)
            for cid, pid in sorted(t.shared)
            if t.contacts[cid]["invalid_reason"] != FRONT_OFFICE
        ]
        linked = {pid for _, pid in t.links} | {p for pair in shared for p in pair}
        current = {
            pid: p["household_id"]
            for pid, p in t.people.items()
            if p["household_id"] is not None or pid in linked
        }
        return HouseholdGraph(sorted(t.links), shared, current)

    def set_households(self, changes: Mapping[int, int | None], now: datetime) -> None:
        made: dict[int, int] = {}
        for pid, household in sorted(changes.items()):
            if household is not None and household < 0:
                if household not in made:
                    made[household] = self.t.new_id()
                    self.t.households.add(made[household])
                household = made[household]
            self.t.people[pid]["household_id"] = household

    def store_enrollment(self, figures: Mapping[Group, int], now: datetime) -> int:
        self.t.enrollment.update(figures)
        return len(figures)

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None:
        self.t.audit.append((actor, action, detail))
