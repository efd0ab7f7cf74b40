"""Audiences: the filter an organizer types, and what a broadcast would reach.

Filter syntax (clauses are ANDed, `|` separates alternatives):

    role=parent,school=lincoln-es,language=es|vi,channel=sms,grade=3,
    not-answered=family-priorities-2026,not-finished=draft-plan,segment=NAME,
    took-part=belonging-ideas,
    group=lincoln-es/es/parent|adams-ms/vi/parent,under-represented=ACTIVITY

or `all` for everyone. Schools and languages may be given by code or name;
`storage.audience` checks the names against the database and selects the people.
`under-represented[=ACTIVITY]` stands for the groups the representation check
flags (for ACTIVITY, or over every answer); the broadcasting service turns it
into `group=` clauses (and `not-answered=ACTIVITY`) when the broadcast is planned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.core.messages import Channel
from bot.errors import EngageError

__all__ = [
    "ANY_ACTIVITY",
    "CHANNEL_PREFERENCE",
    "KEYS",
    "SEGMENT_NAME",
    "Audience",
    "AudienceCounts",
    "AudienceError",
    "AudienceRules",
    "Group",
    "Reach",
    "Recipient",
    "normal_grade",
    "parse_audience",
]

# Which contact a person is reached on when they never wrote to us.
CHANNEL_PREFERENCE: tuple[Channel, ...] = (
    Channel.SMS,
    Channel.WHATSAPP,
    Channel.TELEGRAM,
    Channel.SLACK,
)
KEYS = (
    "role",
    "school",
    "language",
    "channel",
    "grade",
    "not-answered",
    "not-finished",
    "took-part",
    "segment",
    "group",
    "under-represented",
)
# `under-represented` alone: flagged over every answer, not one activity's.
ANY_ACTIVITY = "*"
SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_GRADES = {"kg": "K", "k": "K", "kindergarten": "K", "pk": "PK", "pre-k": "PK", "prek": "PK"}


class AudienceError(EngageError):
    """A filter that cannot be used: bad syntax, an unknown school, an empty audience…"""


class Reach(StrEnum):
    SEND = "send"
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"
    DECLINED = "declined"
    # Reached by a message to a contact another person of the audience is reached on.
    SHARED = "shared"


@dataclass(frozen=True, slots=True)
class Audience:
    """One filter. Every field narrows the audience; an empty field does not."""

    roles: tuple[str, ...] = ()
    schools: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()
    grades: tuple[str, ...] = ()
    not_answered: tuple[str, ...] = ()
    not_finished: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    # Answered, shared an idea in or reacted in each of these activities.
    took_part: tuple[str, ...] = ()
    # (school, language, role) groups, any of which a person must belong to.
    groups: tuple[Group, ...] = ()
    # Activities whose under-represented groups are wanted (ANY_ACTIVITY: every answer).
    under_represented: tuple[str, ...] = ()

    def __str__(self) -> str:
        clauses = [
            f"{key}={'|'.join(values)}"
            for key, values in (
                ("role", self.roles),
                ("school", self.schools),
                ("language", self.languages),
                ("channel", tuple(c.value for c in self.channels)),
                ("grade", self.grades),
                *(("not-answered", (key,)) for key in self.not_answered),
                *(("not-finished", (key,)) for key in self.not_finished),
                *(("took-part", (key,)) for key in self.took_part),
                *(("segment", (name,)) for name in self.segments),
                ("group", tuple(f"{g.school}/{g.language}/{g.role}" for g in self.groups)),
            )
            if values
        ]
        clauses += [
            "under-represented" if key == ANY_ACTIVITY else f"under-represented={key}"
            for key in self.under_represented
        ]
        return ",".join(clauses) or "all"

    def to_json(self) -> dict[str, Any]:
        return {
            "role": list(self.roles),
            "school": list(self.schools),
            "language": list(self.languages),
            "channel": [c.value for c in self.channels],
            "grade": list(self.grades),
            "not_answered": list(self.not_answered),
            "not_finished": list(self.not_finished),
            "took_part": list(self.took_part),
            "group": [[g.school, g.language, g.role] for g in self.groups],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            roles=tuple(data.get("role", ())),
            schools=tuple(data.get("school", ())),
            languages=tuple(data.get("language", ())),
            channels=tuple(Channel(c) for c in data.get("channel", ())),
            grades=tuple(data.get("grade", ())),
            not_answered=tuple(data.get("not_answered", ())),
            not_finished=tuple(data.get("not_finished", ())),
            took_part=tuple(data.get("took_part", ())),
            groups=tuple(Group(*g) for g in data.get("group", ())),
        )

    def narrowed(self, other: Audience) -> Audience:
        """Both filters at once (a saved segment inside a filter)."""

        def both(mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> tuple[Any, ...]:
            if not mine:
                return theirs
            if not theirs:
                return mine
            return tuple(v for v in mine if v in theirs)

        return Audience(
            roles=both(self.roles, other.roles),
            schools=both(self.schools, other.schools),
            languages=both(self.languages, other.languages),
            channels=both(self.channels, other.channels),
            grades=both(self.grades, other.grades),
            not_answered=tuple(dict.fromkeys((*self.not_answered, *other.not_answered))),
            not_finished=tuple(dict.fromkeys((*self.not_finished, *other.not_finished))),
            took_part=tuple(dict.fromkeys((*self.took_part, *other.took_part))),
            groups=both(self.groups, other.groups),
            under_represented=tuple(
                dict.fromkeys((*self.under_represented, *other.under_represented))
            ),
        )

    def is_impossible(self, original: Audience, other: Audience) -> bool:
        """Whether narrowing emptied a dimension both filters restricted."""
        pairs = (
            (self.roles, original.roles, other.roles),
            (self.schools, original.schools, other.schools),
            (self.languages, original.languages, other.languages),
            (self.channels, original.channels, other.channels),
            (self.grades, original.grades, other.grades),
            (self.groups, original.groups, other.groups),
        )
        return any(not result and mine and theirs for result, mine, theirs in pairs)


@dataclass(frozen=True, slots=True, order=True)
class Group:
    """A community the district enrolls: families of one language at one school, in one role."""

    school: str
    language: str
    role: str


@dataclass(frozen=True, slots=True)
class AudienceRules:
    """What filters may name: the district's languages and roles, the channels turned on."""

    languages: Sequence[str]
    default_language: str
    roles: Sequence[str]
    channels: Sequence[Channel] = CHANNEL_PREFERENCE


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person of an audience and the contact a message would go to (if any).

    `participant_id` is whose conversation the message carries. A guardian with
    no contact of their own is reached on a phone they share with another
    guardian of their household: then `participant_id` is the one who carries
    that phone and `person_id` the guardian the filter matched.
    """

    participant_id: int
    language: str
    reach: Reach
    contact_id: int | None = None
    channel: Channel | None = None
    address: str | None = None
    person_id: int | None = None

    @property
    def person(self) -> int:
        """The person the filter matched (the order audiences are walked in)."""
        return self.person_id if self.person_id is not None else self.participant_id


@dataclass
class AudienceCounts:
    """The numbers an organizer sees before confirming a broadcast."""

    people: int = 0
    reachable: int = 0
    # People reached by a message to a contact counted in `reachable` already.
    shared: int = 0
    opted_out: int = 0
    unreachable: int = 0
    declined: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    by_language: Counter[str] = field(default_factory=Counter)

    def add(self, recipient: Recipient) -> None:
        self.people += 1
        match recipient.reach:
            case Reach.SEND:
                self.reachable += 1
                assert recipient.channel is not None
                self.by_channel[recipient.channel.value] += 1
                self.by_language[recipient.language] += 1
            case Reach.OPTED_OUT:
                self.opted_out += 1
            case Reach.UNREACHABLE:
                self.unreachable += 1
            case Reach.DECLINED:
                self.declined += 1
            case Reach.SHARED:
                self.shared += 1


# -- parsing -------------------------------------------------------------------


def parse_audience(text: str) -> Audience:
    """Parse a filter's syntax (see the module docstring); names are checked by resolve_audience.

    Raises AudienceError for an empty filter, an unknown key or a key given twice.
    """
    cleaned = text.strip()
    if not cleaned:
        raise AudienceError("the audience filter is empty; write --to all to reach everyone")
    if cleaned.lower() in ("all", "everyone", "*"):
        return Audience()
    found: dict[str, tuple[str, ...]] = {}
    repeatable = ("not-answered", "not-finished", "took-part", "segment")
    for clause in cleaned.split(","):
        key, sep, value = clause.partition("=")
        key = key.strip().lower().replace("_", "-")
        if key == "under-represented" and not sep:
            key, sep, value = key, "=", ANY_ACTIVITY
        if not sep:
            raise AudienceError(f"{clause.strip()!r} is not key=value (keys: {', '.join(KEYS)})")
        if key not in KEYS:
            raise AudienceError(f"unknown filter {key!r}; use one of: {', '.join(KEYS)}")
        values = tuple(v.strip() for v in value.split("|") if v.strip())
        if not values:
            raise AudienceError(f"{key}= needs a value")
        if key in found and key not in repeatable:
            raise AudienceError(f"{key} is given twice; write {key}=a|b for either")
        found[key] = (*found.get(key, ()), *values)
    try:
        channels = tuple(Channel(c.lower()) for c in found.get("channel", ()))
    except ValueError:
        known = ", ".join(c.value for c in CHANNEL_PREFERENCE)
        raise AudienceError(
            f"unknown channel in {'|'.join(found['channel'])!r}; use {known}"
        ) from None
    return Audience(
        roles=tuple(r.lower() for r in found.get("role", ())),
        schools=found.get("school", ()),
        languages=found.get("language", ()),
        channels=channels,
        grades=tuple(normal_grade(g) for g in found.get("grade", ())),
        not_answered=found.get("not-answered", ()),
        not_finished=found.get("not-finished", ()),
        took_part=found.get("took-part", ()),
        segments=tuple(s.lower() for s in found.get("segment", ())),
        groups=tuple(_group(value) for value in found.get("group", ())),
        under_represented=found.get("under-represented", ()),
    )


def _group(value: str) -> Group:
    parts = [p.strip() for p in value.split("/")]
    if len(parts) != 3 or not all(parts):
        raise AudienceError(
            f"group={value!r}: write school/language/role, like lincoln-es/es/parent"
        )
    return Group(parts[0], parts[1], parts[2].lower())


def normal_grade(value: str) -> str:
    """A grade as rosters store it: `K`, `PK`, `3` (`03` is `3`)."""
    cleaned = value.strip()
    alias = _GRADES.get(cleaned.lower())
    if alias:
        return alias
    return str(int(cleaned)) if cleaned.isdigit() else cleaned
