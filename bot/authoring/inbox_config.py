"""The `inbox:` section of the district file: teams, routing rules, the reply promise, urgency.

    inbox:
      reply_within: 48h            # business time, see business_hours
      remind_before: 4h
      follow_up_within: 30d        # a new message joins the family's open thread this recent
      business_hours: {days: [mon, tue, wed, thu, fri], hours: "00:00-24:00"}
      holidays: [2026-01-19, 2026-11-26]
      teams:
        - {name: family, channel: C0FAMILY, owner: S0FAMILY, lead: U0LEAD}
      default_team: family
      topics:
        transportation: {en: [bus*, pick up], es: [autobús, camión]}
      routes:
        - {topic: transportation, team: transportation}
        - {school: lincoln-es, team: lincoln, owner: U0PRINCIPAL}
        - {language: vi, team: vietnamese}
      urgent:
        channel: C0URGENT
        on_call: U0ONCALL
        contact: {en: "the safety line, 555-0199", es: "la línea de seguridad, 555-0199"}
        emergency_number: "911"
      translators: {channel: C0TRANSLATE}

Everything is optional: a district without teams has one, the Slack inbox
channel (SLACK_INBOX_CHANNEL), with no owner. Names that must refer to
something (a route's team, topic and school; the default team) are checked
by `reference_problems` once the whole file is read, so each problem names
its own line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bot.core.business_hours import BusinessHours
from bot.core.promise import ReplyPromise
from bot.core.routing import Routing, RoutingRule, Team, Topic, UrgentDesk

__all__ = [
    "InboxConfig",
    "parse_duration",
    "promise_for",
    "reference_problems",
    "routing_for",
]

FieldPath = tuple[str | int, ...]


def _slack_id(kinds: str, what: str) -> AfterValidator:
    pattern = re.compile(rf"^[{kinds}][A-Z0-9]{{2,}}$")

    def check(value: str) -> str:
        value = value.strip()
        if not pattern.match(value):
            raise PydanticCustomError(
                "slack_id", "'{value}' is not a Slack id: {what}", {"value": value, "what": what}
            )
        return value

    return AfterValidator(check)


SlackChannelId = Annotated[
    str,
    _slack_id("CG", "a channel's starts with C (its details show it at the bottom)"),
]
# A person (U…, W… on Enterprise Grid) or a user group (S…).
SlackOwner = Annotated[
    str,
    _slack_id(
        "UWS",
        "a person's starts with U or W (profile, ⋮, Copy member ID), a user group's with S",
    ),
]
SlackUser = Annotated[
    str, _slack_id("UW", "a person's starts with U or W (profile, ⋮, Copy member ID)")
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def parse_duration(text: str) -> timedelta:
    """`48h`, `2d`, `1d 12h` or `90m` as a timedelta; ValueError otherwise."""
    match = _DURATION.match(text.lower())
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 48h, 2d or 90m")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _duration(value: object) -> timedelta:
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(hours=value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            pass
    raise PydanticCustomError(
        "duration", "'{value}' is not a duration like 48h, 2d or 90m", {"value": str(value)}
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _weekdays() -> list[DayName]:
    return ["mon", "tue", "wed", "thu", "fri"]


class BusinessHoursConfig(_Strict):
    """When the reply promise's clock runs: these days, these local hours."""

    days: list[DayName] = Field(default_factory=_weekdays, min_length=1)
    hours: str = "00:00-24:00"

    @field_validator("hours")
    @classmethod
    def _window(cls, value: str) -> str:
        _hours(value)
        return value

    @property
    def opens(self) -> time:
        return _hours(self.hours)[0]

    @property
    def closes(self) -> time | None:
        return _hours(self.hours)[1]


def _hours(value: str) -> tuple[time, time | None]:
    problem = PydanticCustomError(
        "hours", "'{value}' is not opening hours like 08:00-17:00", {"value": value}
    )
    parts = value.replace("–", "-").split("-")
    if len(parts) != 2:
        raise problem
    try:
        opens = _clock(parts[0])
        closes = None if parts[1].strip() in ("24:00", "24") else _clock(parts[1])
    except ValueError:
        raise problem from None
    if closes is not None and closes <= opens:
        raise PydanticCustomError(
            "hours", "'{value}' closes before it opens; hours run within one day", {"value": value}
        )
    return opens, closes


def _clock(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


class TeamConfig(_Strict):
    """Staff who answer a share of the messages: their channel, owner and lead."""

    name: Name
    channel: SlackChannelId
    owner: SlackOwner | None = None
    lead: SlackUser | None = None


class RouteConfig(_Strict):
    """A routing rule: every condition given must hold; the first rule that matches wins."""

    team: Name
    school: list[str] | None = None
    topic: list[str] | None = None
    language: list[str] | None = None
    owner: SlackOwner | None = None

    @field_validator("school", "topic", "language", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class UrgentConfig(_Strict):
    """Where urgent messages go, who is on call, and what the family is told."""

    channel: SlackChannelId
    on_call: SlackOwner
    contact: dict[
        str, Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)]
    ] = Field(default_factory=dict)
    emergency_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=16)
    ] = "911"


class TranslatorsConfig(_Strict):
    """Where staff replies wait for a translation: a Slack channel (or the sheet only)."""

    channel: SlackChannelId | None = None


class InboxConfig(_Strict):
    """The district file's `inbox:` section."""

    reply_within: timedelta = timedelta(hours=48)
    remind_before: timedelta = timedelta(hours=4)
    # A family's new message joins their open thread if they last wrote in it this recently.
    follow_up_within: timedelta = timedelta(days=30)
    business_hours: BusinessHoursConfig = Field(default_factory=BusinessHoursConfig)
    holidays: list[date] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    default_team: Name | None = None
    topics: dict[Name, dict[str, list[Annotated[str, StringConstraints(min_length=1)]]]] = Field(
        default_factory=dict
    )
    routes: list[RouteConfig] = Field(default_factory=list)
    urgent: UrgentConfig | None = None
    translators: TranslatorsConfig = Field(default_factory=TranslatorsConfig)

    @field_validator("reply_within", "remind_before", "follow_up_within", mode="before")
    @classmethod
    def _durations(cls, value: object) -> timedelta:
        return _duration(value)

    @field_validator("reply_within", "follow_up_within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise PydanticCustomError("duration", "must be longer than zero", {})
        return value


def reference_problems(
    inbox: InboxConfig, schools: Sequence[str], languages: Sequence[str]
) -> list[tuple[FieldPath, str]]:
    """Names in the inbox section that refer to nothing, each at its own field."""
    problems: list[tuple[FieldPath, str]] = []
    teams = [team.name for team in inbox.teams]
    seen: set[str] = set()
    for index, team in enumerate(inbox.teams):
        if team.name in seen:
            problems.append((("inbox", "teams", index, "name"), f"'{team.name}' appears twice"))
        seen.add(team.name)
    known_teams = ", ".join(teams) or "none yet (add teams: first)"
    if inbox.default_team is not None and inbox.default_team not in teams:
        problems.append(
            (
                ("inbox", "default_team"),
                f"'{inbox.default_team}' is not a team; teams are: {known_teams}",
            )
        )
    if teams and inbox.default_team is None:
        problems.append((("inbox", "default_team"), "is required once there are teams"))
    for name, keywords in inbox.topics.items():
        for language in keywords:
            if language not in languages and language != "en":
                problems.append(
                    (
                        ("inbox", "topics", name, language),
                        f"'{language}' is not one of the district's languages: "
                        + ", ".join(languages),
                    )
                )
    for index, route in enumerate(inbox.routes):
        at: FieldPath = ("inbox", "routes", index)
        if route.team not in teams:
            problems.append(
                ((*at, "team"), f"'{route.team}' is not a team; teams are: {known_teams}")
            )
        for school in route.school or ():
            if school not in schools:
                problems.append(((*at, "school"), f"'{school}' is not a school code in schools:"))
        for topic in route.topic or ():
            if topic not in inbox.topics:
                problems.append(
                    (
                        (*at, "topic"),
                        f"'{topic}' is not a topic; topics are: "
                        + (", ".join(inbox.topics) or "none yet (add topics:)"),
                    )
                )
        for language in route.language or ():
            if language not in languages:
                problems.append(
                    (
                        (*at, "language"),
                        f"'{language}' is not one of the district's languages: "
                        + ", ".join(languages),
                    )
                )
        if not (route.school or route.topic or route.language):
            problems.append((at, "give a school, a topic or a language (or use default_team)"))
    if inbox.urgent is not None:
        for language in inbox.urgent.contact:
            if language not in languages:
                problems.append(
                    (
                        ("inbox", "urgent", "contact", language),
                        f"'{language}' is not one of the district's languages: "
                        + ", ".join(languages),
                    )
                )
    return problems


def promise_for(inbox: InboxConfig, timezone: str) -> ReplyPromise:
    """The reply promise the section describes, in the district's time zone."""
    hours = inbox.business_hours
    business = BusinessHours(
        ZoneInfo(timezone),
        days=frozenset(DAYS.index(day) for day in hours.days),
        opens=hours.opens,
        closes=hours.closes,
        holidays=frozenset(inbox.holidays),
    )
    return ReplyPromise(business, inbox.reply_within, inbox.remind_before)


def routing_for(
    inbox: InboxConfig,
    languages: Sequence[str],
    inbox_channel: str | None,
    contact: str,
    default_language: str,
) -> Routing | None:
    """The routing the section describes; without teams, one team: `inbox_channel`.

    None when there is nowhere to post (no teams and no inbox channel).
    `contact` (the program's) is the urgent contact when the section names none.
    """
    teams: Mapping[str, Team]
    if inbox.teams:
        teams = {t.name: Team(t.name, t.channel, t.owner, t.lead) for t in inbox.teams}
        default = inbox.default_team or inbox.teams[0].name
    elif inbox_channel:
        teams = {"inbox": Team("inbox", inbox_channel, None)}
        default = "inbox"
    else:
        return None
    urgent = None
    if inbox.urgent is not None:
        urgent = UrgentDesk(
            inbox.urgent.channel,
            inbox.urgent.on_call,
            dict(inbox.urgent.contact) or {default_language: contact},
            inbox.urgent.emergency_number,
        )
    try:
        return Routing(
            teams=teams,
            default_team=default,
            rules=tuple(
                RoutingRule(
                    team=route.team,
                    schools=frozenset(route.school or ()),
                    topics=frozenset(route.topic or ()),
                    languages=frozenset(route.language or ()),
                    owner=route.owner,
                )
                for route in inbox.routes
                if route.team in teams
            ),
            topics=tuple(
                Topic(name, {lang: tuple(words) for lang, words in keywords.items()})
                for name, keywords in inbox.topics.items()
            ),
            urgent=urgent,
            languages=tuple(languages),
        )
    except ValueError as error:  # reference_problems reports these first, line by line
        raise ValueError(f"inbox: {error}") from error
