"""The district file's inbox section: teams, routes, the reply promise, urgency; its problems by line."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.authoring.district import load_district_file
from bot.authoring.inbox_config import parse_duration, promise_for, routing_for
from bot.core.routing import Route
from bot.errors import ConfigError

BASE = """\
program_name: Riverside Plan
contact: Call 555-0100
languages: [en, es, vi]
timezone: America/Chicago
schools:
  - {code: lincoln-es, name: Lincoln Elementary}
  - {code: kennedy-hs, name: Kennedy High School}
"""
INBOX = """\
inbox:
  reply_within: 2d
  remind_before: 6h
  business_hours: {days: [mon, tue, wed, thu, fri], hours: "07:30-16:30"}
  holidays: [2026-01-19, 2026-11-26]
  teams:
    - {name: family, channel: C0FAMILY, owner: S0FAMILY, lead: U0LEAD}
    - {name: transport, channel: C0BUS, owner: U0BUS, lead: U0BUSLEAD}
    - {name: lincoln, channel: C0LINCOLN, owner: U0PRINCIPAL}
  default_team: family
  topics:
    transportation: {en: [bus*, pick up], es: [autobús, camión], vi: [xe buýt]}
  routes:
    - {topic: transportation, team: transport}
    - {school: lincoln-es, team: lincoln}
    - {language: [vi], team: family, owner: U0LIAISON}
  urgent:
    channel: C0URGENT
    on_call: U0ONCALL
    contact: {en: "the safety line, 555-0199", es: "la línea de seguridad, 555-0199"}
    emergency_number: "911"
  translators: {channel: C0TRANSLATE}
  follow_up_within: 14d
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "district.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_inbox_section_routes_and_keeps_its_promise(tmp_path: Path) -> None:
    district = load_district_file(write(tmp_path, BASE + INBOX))
    inbox = district.inbox
    routing = routing_for(inbox, district.languages, None, district.contact, "en")
    assert routing is not None
    assert routing.route("el autobús no pasó", "lincoln-es", "es") == Route(
        "transport", "C0BUS", "U0BUS", "U0BUSLEAD", ("transportation",)
    )
    assert routing.route("more art", "lincoln-es", "en").team == "lincoln"
    assert routing.route("cảm ơn", "kennedy-hs", "vi").owner == "U0LIAISON"
    assert routing.route("more art", "kennedy-hs", "en").owner == "S0FAMILY"
    assert routing.urgent is not None and routing.urgent.contact_in("vi", "en").endswith("0199")
    assert inbox.translators.channel == "C0TRANSLATE"
    assert inbox.follow_up_within == timedelta(days=14)
    assert load_district_file(write(tmp_path, BASE)).inbox.follow_up_within == timedelta(days=30)
    promise = promise_for(inbox, district.timezone)
    assert promise.within == timedelta(days=2) and promise.remind_before == timedelta(hours=6)
    assert promise.hours.opens == time(7, 30) and promise.hours.closes == time(16, 30)
    assert promise.hours.holidays == {date(2026, 1, 19), date(2026, 11, 26)}
    # Friday 16:00 in Chicago, 48 hours of 07:30-16:30 weekdays: half an hour on
    # Friday, Monday 19 January off, nine hours on each of the next five working
    # days, and 2.5 on Tuesday 27 January: 10:00 in Chicago.
    assert promise.due_at(datetime(2026, 1, 16, 22)) == datetime(2026, 1, 27, 16)


def test_without_teams_the_inbox_channel_is_the_one_team(tmp_path: Path) -> None:
    district = load_district_file(write(tmp_path, BASE))
    routing = routing_for(district.inbox, district.languages, "C0INBOX", district.contact, "en")
    assert routing is not None
    assert routing.route("hello", None, "en") == Route("inbox", "C0INBOX", None)
    assert routing_for(district.inbox, district.languages, None, district.contact, "en") is None
    promise = promise_for(district.inbox, district.timezone)
    assert promise.within == timedelta(hours=48)
    assert promise.hours.days == frozenset(range(5)) and promise.hours.closes is None


PROBLEMS = {
    "an unknown team": (
        INBOX.replace("team: lincoln}", "team: lincon}"),
        [
            "district.yaml:22: inbox.routes[1].team: 'lincon' is not a team; "
            "teams are: family, transport, lincoln"
        ],
    ),
    "an unknown school and topic": (
        INBOX.replace("school: lincoln-es", "school: lincon-es").replace(
            "topic: transportation", "topic: buses"
        ),
        [
            "district.yaml:21: inbox.routes[0].topic: 'buses' is not a topic; "
            "topics are: transportation",
            "district.yaml:22: inbox.routes[1].school: 'lincon-es' is not a school code in schools:",
        ],
    ),
    "a language the district does not use": (
        INBOX.replace("language: [vi]", "language: [ko]"),
        [
            "district.yaml:23: inbox.routes[2].language: 'ko' is not one of the district's "
            "languages: en, es, vi"
        ],
    ),
    "a slack id that is not one": (
        INBOX.replace("owner: U0BUS,", "owner: '@bus-team',"),
        [
            "district.yaml:15: inbox.teams[1].owner: '@bus-team' is not a Slack id: a person's "
            "starts with U or W (profile, ⋮, Copy member ID), a user group's with S"
        ],
    ),
    "a bad duration and hours": (
        INBOX.replace("2d", "two days").replace("07:30-16:30", "16:30-07:30"),
        [
            "district.yaml:9: inbox.reply_within: 'two days' is not a duration like 48h, 2d or 90m",
            "district.yaml:11: inbox.business_hours.hours: '16:30-07:30' closes before it opens; "
            "hours run within one day",
        ],
    ),
    "a missing default team": (
        INBOX.replace("  default_team: family\n", ""),
        ["district.yaml:8: inbox.default_team: is required once there are teams"],
    ),
}


@pytest.mark.parametrize(("inbox", "expected"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_each_inbox_problem_names_its_line(tmp_path: Path, inbox: str, expected: list[str]) -> None:
    path = write(tmp_path, BASE + inbox)
    with pytest.raises(ConfigError) as raised:
        load_district_file(path)
    assert str(raised.value).replace(str(tmp_path) + "/", "").splitlines() == expected


@pytest.mark.parametrize(
    ("text", "hours"),
    [("48h", 48), ("2d", 48), ("1d 12h", 36), ("90m", 1.5), ("36H", 36)],
)
def test_durations_read_as_a_person_writes_them(text: str, hours: float) -> None:
    assert parse_duration(text) == timedelta(hours=hours)


def test_a_duration_without_a_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("48")
