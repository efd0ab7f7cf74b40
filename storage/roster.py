"""Rosters and enrollment figures from a student information system (CSV or XLSX).

A roster row is one person and how to reach them. Import is an upsert: a row
finds its participant by external id, else by phone (then Telegram, then
Slack handle), and updates it; otherwise it creates one. Rows that cannot be
imported (an invalid phone, an unknown school or language, …) are reported
as `file:line: field: problem` and never stop the good rows. A dry run does
all the work in a transaction and rolls it back, so what it reports is
exactly what an import would do.

Rules that protect families:
- A person who opted out stays opted out: a new phone or handle added to
  them is stored opted out too.
- A language the family chose by writing to us is kept; the roster's only
  fills a participant who never wrote.
- A changed phone retires the old number (it gets nothing more), unless the
  family has written to us from it.

Imported people skip the onboarding questions the roster answers (language,
role, school). `consent=no` means "never message"; a blank keeps what we knew.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.messages import Channel
from bot.core.vocabulary import vocabulary
from bot.errors import EngageError
from storage import consent, models
from storage.activities import audit_in
from storage.unit_of_work import new_pseudonym

__all__ = [
    "BadRow",
    "Change",
    "EnrollmentReport",
    "ImportReport",
    "RosterError",
    "RosterRules",
    "import_enrollment",
    "import_roster",
    "read_table",
]

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
enrollment = models.table(models.Enrollment)

REQUIRED = ("phone", "language", "school", "role")
OPTIONAL = ("telegram", "slack_user", "grade", "name", "external_id", "consent")
ENROLLMENT_COLUMNS = ("school", "language", "role", "count")
# Rows are matched and written this many at a time: a few statements per chunk, not per row.
CHUNK = 500
# A dry run lists this many changes one by one; the rest are counted.
MAX_CHANGES = 500

# What SIS exports call our columns.
COLUMN_ALIASES: Mapping[str, str] = {
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "cell": "phone",
    "cell_phone": "phone",
    "sms": "phone",
    "home_language": "language",
    "lang": "language",
    "preferred_language": "language",
    "school_code": "school",
    "site": "school",
    "telegram_id": "telegram",
    "telegram_chat_id": "telegram",
    "slack": "slack_user",
    "slack_id": "slack_user",
    "slack_user_id": "slack_user",
    "grade_level": "grade",
    "student_id": "external_id",
    "sis_id": "external_id",
    "id": "external_id",
    "full_name": "name",
    "sms_consent": "consent",
    "enrolled": "count",
    "students": "count",
    "number": "count",
}

ROLE_ALIASES: Mapping[str, str] = {
    "guardian": "parent",
    "parent/guardian": "parent",
    "family": "parent",
    "mother": "parent",
    "father": "parent",
    "teacher": "staff",
    "employee": "staff",
    "community member": "community",
}

GRADE_ALIASES: Mapping[str, str] = {
    "kg": "K",
    "k": "K",
    "kindergarten": "K",
    "pk": "PK",
    "pre-k": "PK",
    "prek": "PK",
    "tk": "TK",
}

YES = frozenset({"yes", "y", "true", "1", "si", "sí", "x", "opt-in", "opted in"})
NO = frozenset({"no", "n", "false", "0", "opt-out", "opted out"})

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TELEGRAM_ID = re.compile(r"^-?\d{1,20}$")


class RosterError(EngageError):
    """A roster or enrollment file that cannot be read at all (not one bad row)."""


@dataclass(frozen=True, slots=True)
class RosterRules:
    """What the district accepts: its languages, roles and schools (code -> name)."""

    languages: Sequence[str]
    default_language: str
    roles: Sequence[str]
    schools: Mapping[str, str]
    region: str = "US"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was not imported, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Change:
    """What importing one row does: `add` a person, or `update` some of their fields."""

    line: int
    who: str
    action: str
    fields: tuple[tuple[str, str, str], ...] = ()

    def __str__(self) -> str:
        if self.action == "add":
            details = ", ".join(f"{name}={new}" for name, _, new in self.fields if new)
            return f"line {self.line}: add {self.who} ({details})"
        details = "; ".join(
            f"{name}: {old or '—'} → {new or '—'}" for name, old, new in self.fields
        )
        return f"line {self.line}: update {self.who}: {details}"


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    file: str
    dry_run: bool = False
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.added + self.updated + self.unchanged

    def summary(self) -> dict[str, object]:
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
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


# -- reading -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Table:
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]
    warnings: tuple[str, ...] = ()


def read_table(path: Path, required: Sequence[str], known: Sequence[str]) -> _Table:
    """Open a CSV or XLSX file: normalized column names, then (line, {column: text}) rows.

    Raises RosterError when the file cannot be read or lacks a required column.
    """
    if not path.is_file():
        raise RosterError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        header, rows = _read_xlsx(path)
        warnings: list[str] = []
    elif suffix in (".csv", ".txt", ".tsv", ""):
        header, rows, warnings = _read_csv(path)
    elif suffix == ".xls":
        raise RosterError(f"{path}: old Excel .xls files are not read; save it as .xlsx or CSV")
    else:
        raise RosterError(f"{path}: not a CSV or XLSX file")
    columns = tuple(_column_name(name) for name in header)
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise RosterError(f"{path}:1: column {name!r} appears twice")
        seen.add(name)
    missing = [name for name in required if name not in columns]
    if missing:
        found = ", ".join(c for c in columns if c) or "none"
        raise RosterError(
            f"{path}:1: missing column(s) {', '.join(missing)} (found: {found}); "
            f"the first row must name the columns"
        )
    ignored = [h for h, c in zip(header, columns, strict=True) if c and c not in known]
    if ignored:
        warnings.append(f"{path}: ignored column(s): {', '.join(ignored)}")

    def cells() -> Iterator[tuple[int, dict[str, str]]]:
        for line, values in rows:
            if not any(v.strip() for v in values):
                continue
            record = {
                name: (values[i].strip() if i < len(values) else "")
                for i, name in enumerate(columns)
                if name in known
            }
            yield line, record

    return _Table(columns, cells(), tuple(warnings))


def _column_name(raw: str) -> str:
    name = re.sub(r"[\s\-./]+", "_", raw.strip().lower()).strip("_")
    return COLUMN_ALIASES.get(name, name)


def _decode(path: Path, raw: bytes) -> tuple[str, list[str]]:
    if raw.startswith(b"PK\x03\x04"):
        raise RosterError(f"{path}: this is a spreadsheet (XLSX) file; name it .xlsx")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export.
        return raw.decode("utf-16"), []
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise RosterError(
                f"{path}:{line}: the file is neither UTF-8 nor Windows-1252 text; "
                f"save it from Excel as 'CSV UTF-8'"
            ) from error
        warning = (
            f"{path}:{line}: the file is not UTF-8; read it as Windows-1252 (Excel's plain "
            f"'CSV'). Check names with accents, or save it as 'CSV UTF-8' next time"
        )
        return text, [warning]


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]], list[str]]:
    text, warnings = _decode(path, path.read_bytes())
    if "\x00" in text:
        raise RosterError(f"{path}: binary data in a CSV file; export the roster as CSV or XLSX")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError(f"{path}: the file is empty") from None
    except csv.Error as error:
        raise RosterError(f"{path}:1: {error}") from error

    def rows() -> Iterator[tuple[int, list[str]]]:
        # csv.reader counts physical lines; a record starts one after the last one ended.
        line = reader.line_num
        while True:
            start = line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise RosterError(f"{path}:{start}: {error}") from error
            line = reader.line_num
            yield start, values

    return header, rows(), warnings


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise RosterError(f"{path}: not a readable XLSX file ({error})") from error
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = [_cell(v) for v in next(values)]
    except StopIteration:
        book.close()
        raise RosterError(f"{path}: the first sheet is empty") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, row in enumerate(values, start=2):
                yield line, [_cell(v) for v in row]
        finally:
            book.close()

    return header, rows()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


# -- validating ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Person:
    line: int
    phone: str | None
    telegram: str | None
    slack_user: str | None
    language: str | None  # None: the cell was blank
    school: str | None
    role: str | None
    grade: str | None
    name: str | None
    external_id: str | None
    consent: bool | None

    def addresses(self) -> list[tuple[Channel, str]]:
        found = [
            (Channel.SMS, self.phone),
            (Channel.TELEGRAM, self.telegram),
            (Channel.SLACK, self.slack_user),
        ]
        return [(channel, address) for channel, address in found if address]

    @property
    def who(self) -> str:
        if self.external_id:
            return f"#{self.external_id}"
        return self.phone or self.telegram or self.slack_user or f"line {self.line}"


class _Validator:
    def __init__(self, rules: RosterRules, file: str) -> None:
        self.rules = rules
        self.file = file
        self.languages = {code.lower(): code for code in rules.languages}
        # Every name a language goes by ("Español", "Spanish", "Cantonese", "Kreyòl").
        names = vocabulary().names
        for code in rules.languages:
            for name in names.get(code, ()):
                self.languages.setdefault(_fold(name), code)
        self.schools: dict[str, str] = {}
        for code, name in rules.schools.items():
            self.schools[_fold(code)] = code
            self.schools[_fold(name)] = code
        self.roles = {role.lower(): role for role in rules.roles}
        for alias, role in ROLE_ALIASES.items():
            if role in rules.roles:
                self.roles[alias] = role

    def problem(self, line: int, column: str, message: str) -> BadRow:
        return BadRow(self.file, line, f"{column}: {message}")

    def language(self, value: str) -> str | None:
        folded = _fold(value)
        return self.languages.get(folded) or self.languages.get(folded.split("-")[0])

    def school(self, value: str) -> str | None:
        return self.schools.get(_fold(value))

    def person(self, line: int, cells: Mapping[str, str]) -> tuple[_Person | None, list[BadRow]]:
        problems: list[BadRow] = []
        phone = None
        raw_phone = cells.get("phone", "")
        if raw_phone:
            phone = _e164(raw_phone, self.rules.region)
            if phone is None:
                problems.append(
                    self.problem(
                        line,
                        "phone",
                        f"{raw_phone!r} is not a valid phone number "
                        f"(default region {self.rules.region})",
                    )
                )
        telegram = cells.get("telegram", "") or None
        if telegram and not _TELEGRAM_ID.match(telegram):
            problems.append(self.problem(line, "telegram", f"{telegram!r} is not a chat id"))
        slack_user = (cells.get("slack_user", "") or "").upper() or None
        if slack_user and not _SLACK_USER.match(slack_user):
            problems.append(
                self.problem(line, "slack_user", f"{slack_user!r} is not a Slack user id (U…)")
            )
        if not (raw_phone or telegram or slack_user):
            problems.append(self.problem(line, "phone", "no phone, telegram or slack_user"))
        raw_language = cells.get("language", "")
        language = self.language(raw_language) if raw_language else None
        if raw_language and language is None:
            known = ", ".join(self.rules.languages)
            problems.append(
                self.problem(
                    line, "language", f"{raw_language!r} is not a district language ({known})"
                )
            )
        raw_school = cells.get("school", "")
        school = self.school(raw_school) if raw_school else None
        if raw_school and school is None:
            problems.append(
                self.problem(
                    line,
                    "school",
                    f"unknown school {raw_school!r}; see the schools in the district file",
                )
            )
        raw_role = cells.get("role", "")
        role = self.roles.get(raw_role.strip().lower()) if raw_role else None
        if raw_role and role is None:
            known = ", ".join(self.rules.roles)
            problems.append(self.problem(line, "role", f"{raw_role!r} is not a role ({known})"))
        raw_consent = cells.get("consent", "").strip().lower()
        consent: bool | None = None
        if raw_consent in YES:
            consent = True
        elif raw_consent in NO:
            consent = False
        elif raw_consent:
            problems.append(self.problem(line, "consent", f"{raw_consent!r} is not yes or no"))
        grade = _grade(cells.get("grade", ""))
        if grade is not None and len(grade) > 16:
            problems.append(self.problem(line, "grade", "longer than 16 characters"))
        external_id = cells.get("external_id", "") or None
        if external_id is not None and len(external_id) > 64:
            problems.append(self.problem(line, "external_id", "longer than 64 characters"))
        name = (cells.get("name", "") or None) and cells["name"][:200]
        if problems:
            return None, problems
        person = _Person(
            line,
            phone,
            telegram,
            slack_user,
            language,
            school,
            role,
            grade,
            name,
            external_id,
            consent,
        )
        return person, []


def _fold(value: str) -> str:
    """Case- and accent-insensitive form, for matching names people type."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _grade(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    alias = GRADE_ALIASES.get(value.lower())
    if alias:
        return alias
    if value.isdigit():
        return str(int(value))
    return value


# -- importing -----------------------------------------------------------------


def import_roster(
    engine: Engine,
    path: Path,
    rules: RosterRules,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "cli",
    progress: Any = None,
) -> ImportReport:
    """Import (or with `dry_run`, preview) a roster file; see the module docstring.

    `progress`, if given, is called with the number of rows handled so far.
    """
    table = read_table(path, REQUIRED, (*REQUIRED, *OPTIONAL))
    report = ImportReport(str(path), dry_run=dry_run, warnings=list(table.warnings))
    validator = _Validator(rules, str(path))
    seen: dict[tuple[str, str], int] = {}
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            chunk: list[_Person] = []
            for line, cells in table.rows:
                report.rows += 1
                person, problems = validator.person(line, cells)
                if person is None:
                    report.bad.extend(problems)
                    continue
                duplicate = _duplicate(person, seen)
                if duplicate is not None:
                    report.bad.append(BadRow(str(path), line, duplicate))
                    continue
                chunk.append(person)
                if len(chunk) >= CHUNK:
                    _upsert(connection, chunk, report, rules.default_language, now)
                    chunk = []
                    if progress is not None:
                        progress(report.rows)
            if chunk:
                _upsert(connection, chunk, report, rules.default_language, now)
            if progress is not None:
                progress(report.rows)
            if dry_run:
                transaction.rollback()
            else:
                audit_in(connection, actor, "roster.import", report.summary(), now)
                transaction.commit()
        finally:
            if transaction.is_active:
                transaction.rollback()
    return report


def _duplicate(person: _Person, seen: dict[tuple[str, str], int]) -> str | None:
    keys = [("external_id", person.external_id)] if person.external_id else []
    keys += [(channel.value, address) for channel, address in person.addresses()]
    for kind, value in keys:
        earlier = seen.get((kind, value))
        if earlier is not None:
            column = {"sms": "phone", "slack": "slack_user"}.get(kind, kind)
            return f"{column}: {value} is also on line {earlier}; the first row is kept"
    for kind, value in keys:
        seen[(kind, value)] = person.line
    return None


_PERSON_FIELDS = ("role", "school", "language", "grade", "name", "external_id", "consent")


def _upsert(
    connection: Connection,
    chunk: list[_Person],
    report: ImportReport,
    default_language: str,
    now: datetime,
) -> None:
    by_external = _participants_by_external_id(
        connection, [p.external_id for p in chunk if p.external_id]
    )
    by_address = _contacts_by_address(connection, chunk)
    matched: dict[int, int] = {}
    for person in chunk:
        pid = by_external.get(person.external_id) if person.external_id else None
        if pid is None:
            pid = next((by_address[a][0] for a in person.addresses() if a in by_address), None)
        if pid is not None:
            matched[person.line] = pid
    existing = _load_participants(connection, set(matched.values()))
    new_people: list[_Person] = []
    updates: list[dict[str, Any]] = []
    new_contacts: list[dict[str, Any]] = []
    retired: list[int] = []
    consented: dict[int, bool] = {}  # the roster's consent column, where it changed
    for person in chunk:
        pid = matched.get(person.line)
        conflict = _conflict(person, pid, by_address, existing)
        if conflict is not None:
            report.bad.append(BadRow(report.file, person.line, conflict))
            continue
        if pid is None:
            new_people.append(person)
            continue
        current = existing[pid]
        if current.forgotten:
            report.bad.append(
                BadRow(report.file, person.line, "skipped: this person asked to be forgotten")
            )
            continue
        changes, values = _differences(person, current, now)
        contact_changes = []
        for channel, address in person.addresses():
            if (channel, address) in by_address:
                continue
            for old in current.contacts:
                if old.channel == channel.value and old.retire_on_change:
                    retired.append(old.id)
                    contact_changes.append((_address_field(channel), old.address, address))
                    break
            else:
                contact_changes.append((_address_field(channel), "", address))
            new_contacts.append(_contact_row(pid, channel, address, current.opted_out, now))
        if not changes and not contact_changes:
            report.unchanged += 1
            continue
        report.updated += 1
        if changes:
            updates.append({"pid": pid, **values, "updated_at": now})
            if values["consent"] != current.consent and values["consent"] is not None:
                consented[pid] = values["consent"]
        _note(report, Change(person.line, person.who, "update", (*changes, *contact_changes)))
    if updates:
        _apply_updates(connection, updates)
    if retired:
        connection.execute(
            update(contacts).where(contacts.c.id.in_(retired)),
            {"invalid_at": now, "invalid_reason": "replaced by roster"},
        )
    if new_people:
        ids = (
            connection.execute(
                insert(participants).returning(participants.c.id, sort_by_parameter_order=True),
                [_participant_row(person, default_language, now) for person in new_people],
            )
            .scalars()
            .all()
        )
        for pid, person in zip(ids, new_people, strict=True):
            for channel, address in person.addresses():
                new_contacts.append(_contact_row(pid, channel, address, False, now))
            if person.consent is not None:
                consented[pid] = person.consent
            report.added += 1
            fields = tuple(
                (name, "", _shown(getattr(person, name)))
                for name in (*_PERSON_FIELDS, "phone", "telegram", "slack_user")
            )
            _note(report, Change(person.line, person.who, "add", fields))
    if new_contacts:
        connection.execute(insert(contacts), new_contacts)
    _record_consent(connection, consented, now)


def _record_consent(connection: Connection, consented: Mapping[int, bool], now: datetime) -> None:
    """The roster's consent column, as events in the consent ledger (one per contact)."""
    for value, kind in ((True, ConsentKind.CONSENT_GIVEN), (False, ConsentKind.CONSENT_WITHDRAWN)):
        pids = [pid for pid, given in consented.items() if given is value]
        if pids:
            theirs = select(contacts.c.id).where(contacts.c.participant_id.in_(pids))
            consent.append(connection, theirs, ConsentChange(kind, ConsentSource.ROSTER), now)


def _note(report: ImportReport, change: Change) -> None:
    if len(report.changes) < MAX_CHANGES:
        report.changes.append(change)


def _address_field(channel: Channel) -> str:
    return {Channel.SMS: "phone", Channel.SLACK: "slack_user"}.get(channel, channel.value)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True, slots=True)
class _StoredContact:
    id: int
    channel: str
    address: str
    retire_on_change: bool


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    role: str | None
    school: str | None
    language: str | None
    grade: str | None
    name: str | None
    external_id: str | None
    consent: bool | None
    onboarding_started: bool
    forgotten: bool
    contacts: tuple[_StoredContact, ...]
    opted_out: bool
    has_written: bool


def _participants_by_external_id(connection: Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = connection.execute(
        select(participants.c.external_id, participants.c.id).where(
            participants.c.external_id.in_(ids)
        )
    )
    return {external_id: pid for external_id, pid in rows}


def _contacts_by_address(
    connection: Connection, chunk: Iterable[_Person]
) -> dict[tuple[Channel, str], tuple[int, int]]:
    """(channel, address) -> (participant id, contact id) for addresses we already know."""
    wanted: dict[Channel, set[str]] = {}
    for person in chunk:
        for channel, address in person.addresses():
            wanted.setdefault(channel, set()).add(address)
    found: dict[tuple[Channel, str], tuple[int, int]] = {}
    for channel, addresses in wanted.items():
        rows = connection.execute(
            select(contacts.c.address, contacts.c.participant_id, contacts.c.id).where(
                contacts.c.channel == channel.value, contacts.c.address.in_(addresses)
            )
        )
        for address, pid, contact_id in rows:
            found[(channel, address)] = (pid, contact_id)
    return found


def _load_participants(connection: Connection, ids: set[int]) -> dict[int, _Stored]:
    if not ids:
        return {}
    people = connection.execute(
        select(
            participants.c.id,
            participants.c.role,
            participants.c.school,
            participants.c.language,
            participants.c.grade,
            participants.c.name,
            participants.c.external_id,
            participants.c.consent,
            participants.c.onboarding_started,
            participants.c.forgotten_at,
        ).where(participants.c.id.in_(ids))
    ).all()
    reach: dict[int, list[Any]] = {}
    for row in connection.execute(
        select(
            contacts.c.participant_id,
            contacts.c.id,
            contacts.c.channel,
            contacts.c.address,
            contacts.c.opted_out_at,
            contacts.c.invalid_at,
            contacts.c.last_inbound_at,
        ).where(contacts.c.participant_id.in_(ids))
    ):
        reach.setdefault(row.participant_id, []).append(row)
    stored: dict[int, _Stored] = {}
    for p in people:
        rows = reach.get(p.id, [])
        stored[p.id] = _Stored(
            id=p.id,
            role=p.role,
            school=p.school,
            language=p.language,
            grade=p.grade,
            name=p.name,
            external_id=p.external_id,
            consent=p.consent,
            onboarding_started=bool(p.onboarding_started),
            forgotten=p.forgotten_at is not None,
            contacts=tuple(
                _StoredContact(
                    r.id,
                    r.channel,
                    r.address,
                    retire_on_change=r.invalid_at is None and r.last_inbound_at is None,
                )
                for r in rows
            ),
            opted_out=any(r.opted_out_at is not None for r in rows),
            has_written=any(r.last_inbound_at is not None for r in rows),
        )
    return stored


def _conflict(
    person: _Person,
    pid: int | None,
    by_address: Mapping[tuple[Channel, str], tuple[int, int]],
    existing: Mapping[int, _Stored],
) -> str | None:
    for channel, address in person.addresses():
        owner = by_address.get((channel, address))
        if owner is not None and owner[0] != pid:
            holder = existing.get(owner[0])
            other = f" (#{holder.external_id})" if holder and holder.external_id else ""
            return (
                f"{_address_field(channel)}: {address} belongs to another person{other}; "
                f"fix the row or that person first"
            )
    if pid is not None and person.external_id:
        current = existing.get(pid)
        if current is not None and current.external_id not in (None, person.external_id):
            return (
                f"external_id: {person.who}'s contact is already #{current.external_id}; "
                f"one phone, one person"
            )
    return None


def _differences(
    person: _Person, current: _Stored, now: datetime
) -> tuple[tuple[tuple[str, str, str], ...], dict[str, Any]]:
    wanted: dict[str, Any] = {
        "role": person.role or current.role,
        "school": person.school or current.school,
        "grade": person.grade or current.grade,
        "name": person.name or current.name,
        "external_id": person.external_id or current.external_id,
        "consent": current.consent if person.consent is None else person.consent,
        # A language the family chose by writing to us beats the SIS's.
        "language": current.language
        if (current.has_written and current.language) or person.language is None
        else person.language,
    }
    changes = tuple(
        (name, _shown(getattr(current, name)), _shown(value))
        for name, value in wanted.items()
        if value != getattr(current, name)
    )
    values = dict(wanted)
    if person.consent is True and current.consent is not True:
        values["consent_at"] = now
    if not current.onboarding_started:
        values.update(onboarding_started=True, onboarding=None)
        if not changes:
            changes = (("onboarding", "", "answered by the roster"),)
    return changes, values


def _apply_updates(connection: Connection, updates: list[dict[str, Any]]) -> None:
    # One statement shape per set of keys, run as executemany.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for keys, rows in groups.items():
        statement = (
            update(participants)
            .where(participants.c.id == bindparam("pid"))
            .values({k: bindparam(k) for k in keys if k != "pid"})
        )
        connection.execute(statement, rows)


def _participant_row(person: _Person, default_language: str, now: datetime) -> dict[str, Any]:
    return {
        "pseudonym": new_pseudonym(),
        "role": person.role,
        "school": person.school,
        "language": person.language or default_language,
        "consent": person.consent,
        "consent_at": now if person.consent else None,
        # The roster answered the onboarding questions already.
        "onboarding": None,
        "onboarding_started": True,
        "attempts": 0,
        "pending": [],
        "grade": person.grade,
        "name": person.name,
        "external_id": person.external_id,
        "created_at": now,
        "updated_at": now,
    }


def _contact_row(
    pid: int, channel: Channel, address: str, opted_out: bool, now: datetime
) -> dict[str, Any]:
    return {
        "participant_id": pid,
        "channel": channel.value,
        "address": address,
        # Someone who said STOP said it for every way we have of reaching them.
        "opted_out_at": now if opted_out else None,
        "created_at": now,
    }


# -- enrollment ----------------------------------------------------------------


def import_enrollment(
    engine: Engine,
    path: Path,
    rules: RosterRules,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "cli",
) -> EnrollmentReport:
    """Store how many people each school has per language and role (replacing older figures).

    Columns: school, language, role, count. Used to see who is under-represented.
    """
    table = read_table(path, ENROLLMENT_COLUMNS, ENROLLMENT_COLUMNS)
    report = EnrollmentReport(str(path), dry_run=dry_run, warnings=list(table.warnings))
    validator = _Validator(rules, str(path))
    figures: dict[tuple[str, str, str], tuple[int, int]] = {}
    for line, cells in table.rows:
        report.rows += 1
        problems: list[BadRow] = []
        school = validator.school(cells["school"]) if cells["school"] else None
        if school is None:
            problems.append(
                validator.problem(line, "school", f"unknown school {cells['school']!r}")
            )
        language = validator.language(cells["language"]) if cells["language"] else None
        if language is None:
            problems.append(
                validator.problem(
                    line, "language", f"{cells['language']!r} is not a district language"
                )
            )
        role = validator.roles.get(cells["role"].strip().lower())
        if role is None:
            problems.append(validator.problem(line, "role", f"{cells['role']!r} is not a role"))
        raw_count = cells["count"].replace(",", "").strip()
        count = int(raw_count) if raw_count.isdigit() else None
        if count is None:
            problems.append(
                validator.problem(line, "count", f"{cells['count']!r} is not a whole number ≥ 0")
            )
        if problems:
            report.bad.extend(problems)
            continue
        assert school and language and role and count is not None
        key = (school, language, role)
        if key in figures:
            report.bad.append(
                BadRow(
                    str(path),
                    line,
                    f"school/language/role: {school}/{language}/{role} is also on line "
                    f"{figures[key][1]}; the first row is kept",
                )
            )
            continue
        figures[key] = (count, line)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            known = {
                (r.school, r.language, r.role): r.id
                for r in connection.execute(
                    select(
                        enrollment.c.id,
                        enrollment.c.school,
                        enrollment.c.language,
                        enrollment.c.role,
                    )
                )
            }
            fresh = [
                {"school": s, "language": la, "role": r, "count": c, "imported_at": now}
                for (s, la, r), (c, _) in figures.items()
                if (s, la, r) not in known
            ]
            stale = [
                {"eid": known[key], "count": c, "imported_at": now}
                for key, (c, _) in figures.items()
                if key in known
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
            report.stored = len(figures)
            if dry_run:
                transaction.rollback()
            else:
                detail = {"file": str(path), "stored": report.stored, "bad": len(report.bad)}
                audit_in(connection, actor, "enrollment.import", detail, now)
                transaction.commit()
        finally:
            if transaction.is_active:
                transaction.rollback()
    return report
