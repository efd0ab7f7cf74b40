"""Roster rows from a student information system, read and checked one at a time.

Two shapes are read, and may be mixed in one file:

- **student × guardian** (what SIS exports really hold): one row per student
  and guardian: `student_id`, `school`, `grade`, the guardian's `guardian_id`
  or `name`, `relationship`, `phone`, `email`, `language` (the home language)
  and `contact_order` (the SIS's preferred order among the student's
  guardians, 1 first);
- **one row per person** (no `student_id`): a family, student, staff member or
  community member with their `school` and perhaps `grade`.

A row that cannot be used is reported as `file:line: column: problem` and
left out whole; `bot.core.households` merges the good rows into households.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import phonenumbers

from bot.core.messages import Channel
from bot.core.places import place_of_zip
from bot.core.vocabulary import vocabulary
from bot.errors import EngageError

__all__ = [
    "ALIASES",
    "CHANNEL_WORDS",
    "COLUMNS",
    "MAX_STUDENTS_PER_PHONE",
    "REQUIRED",
    "BadRow",
    "PhoneReader",
    "RosterError",
    "RosterRow",
    "RosterRules",
    "RowReader",
    "fold",
    "normal_grade",
]

# Columns a roster must name, and every column it may have.
REQUIRED = ("phone", "language", "school")
COLUMNS = (
    "student_id",
    "student_name",
    "school",
    "grade",
    "guardian_id",
    "name",
    "relationship",
    "role",
    "phone",
    "phone_type",
    "email",
    "telegram",
    "slack_user",
    "channel",
    "language",
    "contact_order",
    "consent",
    "zip",
    "address",
)

# What SIS exports call our columns (after folding case, spaces and -./#).
ALIASES: Mapping[str, str] = {
    "sis_id": "student_id",
    "student_number": "student_id",
    "student_no": "student_id",
    "studentid": "student_id",
    "student": "student_name",
    "student_full_name": "student_name",
    "school_code": "school",
    "school_name": "school",
    "site": "school",
    "building": "school",
    "grade_level": "grade",
    "gr": "grade",
    "external_id": "guardian_id",
    "id": "guardian_id",
    "parent_id": "guardian_id",
    "guardian_number": "guardian_id",
    "contact_id": "guardian_id",
    "person_id": "guardian_id",
    "guardian_name": "name",
    "parent_name": "name",
    "contact_name": "name",
    "full_name": "name",
    "relation": "relationship",
    "relationship_to_student": "relationship",
    "contact_relationship": "relationship",
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "cell": "phone",
    "cell_phone": "phone",
    "sms": "phone",
    "guardian_phone": "phone",
    "primary_phone": "phone",
    "phone_kind": "phone_type",
    "line_type": "phone_type",
    "email_address": "email",
    "guardian_email": "email",
    "home_language": "language",
    "lang": "language",
    "preferred_language": "language",
    "primary_language": "language",
    "correspondence_language": "language",
    "telegram_id": "telegram",
    "telegram_chat_id": "telegram",
    "slack": "slack_user",
    "slack_id": "slack_user",
    "slack_user_id": "slack_user",
    "preferred_contact_order": "contact_order",
    "contact_priority": "contact_order",
    "priority": "contact_order",
    "contact_sequence": "contact_order",
    "sms_consent": "consent",
    "zip_code": "zip",
    "zipcode": "zip",
    "postal_code": "zip",
    "postcode": "zip",
    "home_zip": "zip",
    "mailing_zip": "zip",
    "street_address": "address",
    "home_address": "address",
    "mailing_address": "address",
    "residence_address": "address",
    "preferred_channel": "channel",
    "contact_channel": "channel",
    "contact_method": "channel",
    "preferred_contact_method": "channel",
}

# What a roster may write in `channel`: the way the family chose to be reached.
CHANNEL_WORDS: Mapping[str, Channel] = {
    "sms": Channel.SMS,
    "text": Channel.SMS,
    "texto": Channel.SMS,
    "whatsapp": Channel.WHATSAPP,
    "wa": Channel.WHATSAPP,
    "telegram": Channel.TELEGRAM,
    "slack": Channel.SLACK,
}

ROLE_ALIASES: Mapping[str, str] = {
    "guardian": "parent",
    "parent/guardian": "parent",
    "family": "parent",
    "mother": "parent",
    "father": "parent",
    "grandmother": "parent",
    "grandfather": "parent",
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
# Phone types a SIS may give that cannot receive a text.
NOT_TEXTABLE = frozenset({"landline", "land line", "land", "fax", "pager", "tdd", "tty"})
# More students than a family has: a phone listed for them is a school's front office.
MAX_STUDENTS_PER_PHONE = 10
# Regions sharing +1 (the North American Numbering Plan), read by a faster path.
NANP = frozenset({"US", "CA", "PR", "GU", "VI", "AS", "MP"})

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TELEGRAM_ID = re.compile(r"^-?\d{1,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ADDRESS_ZIP = re.compile(
    r"\b(\d{5})(?:-\d{4})?\s*(?:,?\s*(?:USA?|United States))?\s*$", re.IGNORECASE
)
_PLAIN_NUMBER = re.compile(r"^[\s()+.\-\d]+$")


class RosterError(EngageError):
    """A roster or enrollment file that cannot be read at all (not one bad row)."""


@dataclass(frozen=True, slots=True)
class RosterRules:
    """What the district accepts: its languages, roles and schools (code -> name).

    A phone standing for more than `max_students_per_phone` students is taken
    for a school's front office: kept, not texted, and not used to join
    households.
    """

    languages: Sequence[str]
    default_language: str
    roles: Sequence[str]
    schools: Mapping[str, str]
    region: str = "US"
    max_students_per_phone: int = MAX_STUDENTS_PER_PHONE


@dataclass(frozen=True, slots=True)
class BadRow:
    """A problem with one row: `file:line: column: problem`."""

    file: str
    line: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.problem}"


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One usable row: a person, how to reach them, and the student or school they are for."""

    line: int
    guardian_id: str | None
    name: str | None
    role: str | None
    relationship: str | None
    language: str | None  # None: the cell was blank
    consent: bool | None
    contact_order: int | None
    addresses: tuple[tuple[Channel, str], ...]
    school: str | None
    student_id: str | None = None
    student_name: str | None = None
    grade: str | None = None
    # Where the family lives, for quiet hours (`Place.key()`), from the ZIP or address.
    place: str | None = None
    # The channel the family chose on the district's forms (`channel` column).
    channel: Channel | None = None

    @property
    def guardian_key(self) -> str:
        """The person this row is about: their SIS id, else their first address and name."""
        if self.guardian_id:
            return f"id:{self.guardian_id}"
        channel, address = self.addresses[0]
        return f"at:{channel.value}:{address}|{fold(self.name or '')}"

    @property
    def student_key(self) -> str | None:
        """The student this row is about: by SIS id; without one, a child known only by
        school and grade (or, for a student's own row, themselves at their school)."""
        if self.student_id:
            return f"sis:{self.student_id}"
        if self.school is not None and self.grade is not None:
            return f"anon:{self.guardian_key}|{self.school}"
        return None

    @property
    def who(self) -> str:
        if self.guardian_id:
            return f"#{self.guardian_id}"
        return self.name or self.addresses[0][1]


def fold(value: str) -> str:
    """Case- and accent-insensitive form, for matching names people type."""
    if value.isascii():  # the usual case: nothing to decompose
        return value.strip().lower()
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normal_grade(raw: str) -> str | None:
    """A grade as stored: `K`, `PK`, `TK`, `3` (`03` is `3`); None when blank."""
    value = raw.strip()
    if not value:
        return None
    alias = GRADE_ALIASES.get(value.lower())
    if alias:
        return alias
    if value.isdigit():
        return str(int(value))
    return value


class PhoneReader:
    """Phone numbers as people write them, in E.164, with the reason one cannot be used.

    `phonenumbers` takes a fifth of a millisecond a number; a roster of
    200,000 rows repeats numbers and, in North America, shares area codes and
    exchanges, so answers are remembered per distinct text and, for plain
    NANP numbers, per area code and exchange (which alone decide validity there).
    """

    def __init__(self, region: str) -> None:
        self.region = region.upper()
        self._seen: dict[str, tuple[str | None, str | None]] = {}
        self._exchanges: dict[str, tuple[bool, bool]] = {}

    def read(self, raw: str) -> tuple[str | None, str | None]:
        """(E.164, None), or (None, why it cannot be texted)."""
        found = self._seen.get(raw)
        if found is None:
            found = self._seen[raw] = self._read(raw)
        return found

    def _read(self, raw: str) -> tuple[str | None, str | None]:
        national = self._nanp_digits(raw)
        if national is not None:
            valid, landline = self._exchange(national)
            if not valid:
                return None, self._invalid(raw)
            if landline:
                return None, f"{raw!r} is a landline; it cannot receive texts"
            return "+1" + national, None
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None, self._invalid(raw)
        if not phonenumbers.is_valid_number(number):
            return None, self._invalid(raw)
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
            return None, f"{raw!r} is a landline; it cannot receive texts"
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None

    def _invalid(self, raw: str) -> str:
        return f"{raw!r} is not a valid phone number (default region {self.region})"

    def _nanp_digits(self, raw: str) -> str | None:
        """The ten national digits of a plain North American number, else None."""
        if not _PLAIN_NUMBER.match(raw):
            return None
        digits = re.sub(r"\D", "", raw)
        international = raw.lstrip().startswith("+")
        if len(digits) == 11 and digits[0] == "1" and (international or self.region in NANP):
            return digits[1:]
        if len(digits) == 10 and not international and self.region in NANP:
            return digits
        return None

    def _exchange(self, national: str) -> tuple[bool, bool]:
        key = national[:6]
        found = self._exchanges.get(key)
        if found is None:
            number = phonenumbers.parse("+1" + national, None)
            valid = phonenumbers.is_valid_number(number)
            kind = phonenumbers.number_type(number)
            found = (valid, kind == phonenumbers.PhoneNumberType.FIXED_LINE)
            self._exchanges[key] = found
        return found


class RowReader:
    """Checks each row against the district's rules; a RosterRow, or every problem it has."""

    def __init__(self, rules: RosterRules, file: str) -> None:
        self.rules = rules
        self.file = file
        self.phones = PhoneReader(rules.region)
        self.languages = {code.lower(): code for code in rules.languages}
        # Every name a language goes by ("Español", "Spanish", "Cantonese", "Kreyòl").
        names = vocabulary().names
        for code in rules.languages:
            for name in names.get(code, ()):
                self.languages.setdefault(fold(name), code)
        self.schools: dict[str, str] = {}
        for code, name in rules.schools.items():
            self.schools[fold(code)] = code
            self.schools[fold(name)] = code
        self.roles = {role.lower(): role for role in rules.roles}
        for alias, role in ROLE_ALIASES.items():
            if role in rules.roles:
                self.roles[alias] = role

    def problem(self, line: int, column: str, message: str) -> BadRow:
        return BadRow(self.file, line, column, message)

    def language(self, value: str) -> str | None:
        folded = fold(value)
        return self.languages.get(folded) or self.languages.get(folded.split("-")[0])

    def school(self, value: str) -> str | None:
        return self.schools.get(fold(value))

    def role(self, value: str) -> str | None:
        return self.roles.get(value.strip().lower())

    def read(self, line: int, cells: Mapping[str, str]) -> RosterRow | list[BadRow]:
        """The row, or its problems (all of them, each naming its column)."""
        problems: list[BadRow] = []
        addresses: list[tuple[Channel, str]] = []

        raw_phone = cells.get("phone", "")
        phone_type = cells.get("phone_type", "").strip().lower()
        raw_channel = cells.get("channel", "").strip().lower()
        channel = CHANNEL_WORDS.get(raw_channel) if raw_channel else None
        if raw_channel and channel is None:
            known = ", ".join(dict.fromkeys(c.value for c in CHANNEL_WORDS.values()))
            problems.append(self.problem(line, "channel", f"{raw_channel!r} is not one of {known}"))
        if raw_phone:
            phone, why = self.phones.read(raw_phone)
            if phone is None:
                problems.append(self.problem(line, "phone", why or "not a phone number"))
            elif phone_type in NOT_TEXTABLE:
                problems.append(
                    self.problem(
                        line,
                        "phone",
                        f"{raw_phone!r} is a {phone_type} (phone_type); it cannot receive texts",
                    )
                )
            else:
                addresses.append((Channel.SMS, phone))
                if channel is Channel.WHATSAPP:
                    # The same number on WhatsApp, where the family chose to be reached.
                    addresses.append((Channel.WHATSAPP, phone))
        if channel is Channel.WHATSAPP and not raw_phone:
            problems.append(self.problem(line, "channel", "whatsapp needs the family's phone"))
        telegram = cells.get("telegram", "")
        if telegram:
            if _TELEGRAM_ID.match(telegram):
                addresses.append((Channel.TELEGRAM, telegram))
            else:
                problems.append(self.problem(line, "telegram", f"{telegram!r} is not a chat id"))
        slack_user = cells.get("slack_user", "").upper()
        if slack_user:
            if _SLACK_USER.match(slack_user):
                addresses.append((Channel.SLACK, slack_user))
            else:
                problems.append(
                    self.problem(line, "slack_user", f"{slack_user!r} is not a Slack user id (U…)")
                )
        email = cells.get("email", "")
        if email and not _EMAIL.match(email):
            problems.append(self.problem(line, "email", f"{email!r} is not an email address"))

        guardian_id = cells.get("guardian_id", "") or None
        name = (cells.get("name", "") or None) and cells["name"][:200]
        if not addresses and not problems:
            who = f"#{guardian_id}" if guardian_id else (name or "this person")
            hint = " (an email alone cannot be texted)" if email else ""
            problems.append(
                self.problem(
                    line, "phone", f"{who} has no phone, Telegram or Slack id to reach them{hint}"
                )
            )

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
        student_id = cells.get("student_id", "") or None
        if student_id is not None and len(student_id) > 64:
            problems.append(self.problem(line, "student_id", "longer than 64 characters"))
        if student_id is not None and not raw_school:
            problems.append(self.problem(line, "school", f"student {student_id} has no school"))
        raw_role = cells.get("role", "")
        role = self.role(raw_role) if raw_role else None
        if raw_role and role is None:
            known = ", ".join(self.rules.roles)
            problems.append(self.problem(line, "role", f"{raw_role!r} is not a role ({known})"))
        relationship = cells.get("relationship", "").strip().lower()[:32] or None
        if role is None and relationship is not None:
            role = self.roles.get(relationship)
        if role is None and student_id is not None and "parent" in self.rules.roles:
            role = "parent"
        raw_consent = cells.get("consent", "").strip().lower()
        consent: bool | None = None
        if raw_consent in YES:
            consent = True
        elif raw_consent in NO:
            consent = False
        elif raw_consent:
            problems.append(self.problem(line, "consent", f"{raw_consent!r} is not yes or no"))
        grade = normal_grade(cells.get("grade", ""))
        if grade is not None and len(grade) > 16:
            problems.append(self.problem(line, "grade", "longer than 16 characters"))
        raw_order = cells.get("contact_order", "").strip()
        contact_order = int(raw_order) if raw_order.isdigit() else None
        if raw_order and contact_order is None:
            problems.append(
                self.problem(line, "contact_order", f"{raw_order!r} is not a whole number")
            )
        if guardian_id is not None and len(guardian_id) > 64:
            problems.append(self.problem(line, "guardian_id", "longer than 64 characters"))
        raw_zip = cells.get("zip", "").strip()
        found = place_of_zip(raw_zip) if raw_zip else None
        if raw_zip and found is None:
            problems.append(self.problem(line, "zip", f"{raw_zip!r} is not a US ZIP code"))
        if found is None:
            # An address ends with its ZIP: "12 Elm St, Chicago, IL 60614".
            written = _ADDRESS_ZIP.search(cells.get("address", ""))
            found = place_of_zip(written.group(1)) if written else None
        if problems:
            return problems
        if role == "student" and student_id is None:
            relationship = "self"
        return RosterRow(
            channel=channel,
            line=line,
            guardian_id=guardian_id,
            name=name,
            role=role,
            relationship=relationship,
            language=language,
            consent=consent,
            contact_order=contact_order,
            addresses=tuple(addresses),
            school=school,
            student_id=student_id,
            student_name=(cells.get("student_name", "") or None) and cells["student_name"][:200],
            grade=grade,
            place=found.key() if found is not None else None,
        )
