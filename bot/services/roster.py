"""Roster and enrollment imports for organizers: read, check, merge, compare, write.

    roster = RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, clock)
    report = roster.run(Path("sis-export.csv"), dry_run=True)   # what would change
    report = roster.run(Path("sis-export.csv"))                 # do it

A file is read whole and checked row by row (`bot.core.roster`), merged
into guardians, students, contacts and households (`bot.core.households`),
and compared with what is stored (`bot.core.roster_plan`); the changes are
written in one transaction, then every household is worked out again from
the links, so a family listed in two schools' files is one household. A dry
run stops before writing. Bad rows never stop the good ones; a file that
cannot be read at all imports nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.authoring.tables import read_table
from bot.core.audience import Group
from bot.core.households import assign_households, merge_rows
from bot.core.roster import (
    ALIASES,
    COLUMNS,
    REQUIRED,
    BadRow,
    RosterRow,
    RosterRules,
    RowReader,
)
from bot.core.roster_plan import keys_of, plan_import
from bot.ports import RosterUnitOfWork

__all__ = ["EnrollmentReport", "RosterImport", "RosterReport"]

ENROLLMENT_COLUMNS = ("school", "language", "role", "count")
# A report lists this many changes one by one; the rest are counted.
MAX_CHANGES = 500


@dataclass
class RosterReport:
    """What an import did (or, in a dry run, would do)."""

    file: str
    dry_run: bool = False
    rows: int = 0
    people_added: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    students_added: int = 0
    students_updated: int = 0
    students_withdrawn: int = 0
    households: int = 0
    front_office: int = 0
    changed: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "people_added": self.people_added,
            "people_updated": self.people_updated,
            "students_added": self.students_added,
            "students_updated": self.students_updated,
            "students_withdrawn": self.students_withdrawn,
            "households": self.households,
            "front_office": self.front_office,
            "bad": len(self.bad),
        }


@dataclass
class EnrollmentReport:
    file: str
    dry_run: bool = False
    rows: int = 0
    stored: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class RosterImport:
    """The organizer's imports against one store."""

    def __init__(
        self,
        unit_of_work: Callable[[], RosterUnitOfWork],
        rules: RosterRules,
        clock: Callable[[], datetime],
    ) -> None:
        self.unit_of_work = unit_of_work
        self.rules = rules
        self.clock = clock

    def run(
        self,
        path: Path,
        *,
        dry_run: bool = False,
        actor: str = "cli",
        progress: Callable[[int], None] | None = None,
    ) -> RosterReport:
        """Import (or with `dry_run`, preview) a roster file; see the module docstring.

        Raises RosterError when the file cannot be read or lacks a required
        column. `progress`, if given, is called with the number of rows read.
        """
        now = self.clock()
        table = read_table(path, REQUIRED, COLUMNS, ALIASES)
        reader = RowReader(self.rules, str(path))

        def rows() -> Iterator[RosterRow | list[BadRow]]:
            for count, (line, cells) in enumerate(table.rows, start=1):
                yield reader.read(line, cells)
                if progress is not None and count % 1000 == 0:
                    progress(count)

        roster = merge_rows(str(path), rows(), self.rules.max_students_per_phone)
        if progress is not None:
            progress(roster.rows)
        report = RosterReport(
            str(path),
            dry_run=dry_run,
            rows=roster.rows,
            households=len(roster.households),
            front_office=len(roster.front_office),
            warnings=[*table.warnings, *roster.warnings],
            merges=roster.merges,
        )
        with self.unit_of_work() as uow:
            plan = plan_import(roster, uow.load(keys_of(roster)), self.rules.default_language, now)
            report.bad = sorted([*roster.bad, *plan.skipped], key=lambda bad: bad.line)
            report.people_added = plan.people_added
            report.people_updated = plan.people_updated
            report.people_unchanged = plan.people_unchanged
            report.students_added = plan.students_added
            report.students_updated = plan.students_updated
            report.students_withdrawn = plan.students_withdrawn
            report.changed = len(plan.changes)
            report.changes = [str(change) for change in plan.changes[:MAX_CHANGES]]
            if dry_run:
                return report
            uow.apply(plan, now)
            uow.set_households(assign_households(uow.household_graph()), now)
            uow.audit(actor, "roster.import", report.summary(), now)
            uow.commit()
        return report

    def enrollment(
        self, path: Path, *, dry_run: bool = False, actor: str = "cli"
    ) -> EnrollmentReport:
        """Store how many people each school has per language and role (replacing older figures).

        Columns: school, language, role, count. Used to see who is under-represented.
        """
        now = self.clock()
        table = read_table(path, ENROLLMENT_COLUMNS, ENROLLMENT_COLUMNS, ALIASES)
        report = EnrollmentReport(str(path), dry_run=dry_run, warnings=list(table.warnings))
        reader = RowReader(self.rules, str(path))
        figures: dict[Group, tuple[int, int]] = {}
        for line, cells in table.rows:
            report.rows += 1
            problems: list[BadRow] = []
            school = reader.school(cells["school"]) if cells["school"] else None
            if school is None:
                problems.append(
                    reader.problem(line, "school", f"unknown school {cells['school']!r}")
                )
            language = reader.language(cells["language"]) if cells["language"] else None
            if language is None:
                problems.append(
                    reader.problem(
                        line, "language", f"{cells['language']!r} is not a district language"
                    )
                )
            role = reader.role(cells["role"])
            if role is None:
                problems.append(reader.problem(line, "role", f"{cells['role']!r} is not a role"))
            raw_count = cells["count"].replace(",", "").strip()
            count = int(raw_count) if raw_count.isdigit() else None
            if count is None:
                problems.append(
                    reader.problem(line, "count", f"{cells['count']!r} is not a whole number ≥ 0")
                )
            if problems:
                report.bad.extend(problems)
                continue
            assert school and language and role and count is not None
            group = Group(school, language, role)
            if group in figures:
                report.bad.append(
                    reader.problem(
                        line,
                        "school/language/role",
                        f"{school}/{language}/{role} is also on line {figures[group][1]}; "
                        f"the first row is kept",
                    )
                )
                continue
            figures[group] = (count, line)
        with self.unit_of_work() as uow:
            report.stored = uow.store_enrollment({g: c for g, (c, _) in figures.items()}, now)
            if not dry_run:
                detail: dict[str, object] = {
                    "file": str(path),
                    "stored": report.stored,
                    "bad": len(report.bad),
                }
                uow.audit(actor, "enrollment.import", detail, now)
                uow.commit()
        return report
