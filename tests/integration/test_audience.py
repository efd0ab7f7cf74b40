"""Audience filters on SQLite and PostgreSQL: one message per person, honest counts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from bot.core.audience import Audience, AudienceError, AudienceRules, Reach, parse_audience
from bot.core.messages import Channel
from bot.core.roster import RosterRules
from bot.services.roster import RosterImport
from storage import models
from storage.audience import count, recipients, resolve_audience, save_segment
from storage.roster import SqlRosterUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
SCHOOLS = {"lincoln-es": "Lincoln Elementary", "washington-ms": "Washington Middle"}
RULES = AudienceRules(
    languages=("en", "es", "vi"),
    default_language="en",
    roles=("parent", "student", "staff", "community"),
    channels=(Channel.SMS, Channel.TELEGRAM, Channel.SLACK),
)
ROSTER = """\
external_id,phone,language,school,role,grade,telegram,slack_user,consent
1,(312) 555-0101,es,lincoln-es,parent,3,,,
2,(312) 555-0102,vi,lincoln-es,parent,4,5550002,,
3,(312) 555-0103,en,washington-ms,parent,7,,,
4,(312) 555-0104,es,washington-ms,parent,6,,,
5,(312) 555-0105,es,lincoln-es,parent,3,,,no
6,,en,washington-ms,staff,,,U0STAFF6,
7,(312) 555-0107,en,,community,,,,
"""


@pytest.fixture
def district(engine: Engine, tmp_path: Path) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            [{"code": c, "name": n, "created_at": NOW} for c, n in SCHOOLS.items()],
        )
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    rules = RosterRules(RULES.languages, "en", RULES.roles, SCHOOLS)
    assert (
        RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(path).people_added
        == 7
    )
    contact = models.Contact.__table__
    with engine.begin() as connection:
        # 3 said STOP; 4's number failed for good; 2 last wrote on Telegram.
        connection.execute(
            update(contact).where(contact.c.address == "+13125550103"), {"opted_out_at": NOW}
        )
        connection.execute(
            update(contact).where(contact.c.address == "+13125550104"), {"invalid_at": NOW}
        )
        connection.execute(
            update(contact).where(contact.c.address == "5550002"), {"last_inbound_at": NOW}
        )
    return engine


def external_ids(engine: Engine, text: str, rules: AudienceRules = RULES) -> list[tuple[str, str]]:
    p = models.Participant.__table__
    with engine.connect() as connection:
        audience = resolve_audience(connection, text, rules)
        found = list(recipients(connection, audience, rules))
        names = dict(connection.execute(select(p.c.id, p.c.external_id)).all())
    return [(names[r.participant_id], r.reach.value) for r in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "all",
            [
                ("1", "send"),
                ("2", "send"),
                ("3", "opted_out"),
                ("4", "unreachable"),
                ("5", "declined"),
                ("6", "send"),
                ("7", "send"),
            ],
        ),
        ("role=parent,school=lincoln-es", [("1", "send"), ("2", "send"), ("5", "declined")]),
        ("school=Washington Middle,role=parent", [("3", "opted_out"), ("4", "unreachable")]),
        ("language=es|vi,grade=3", [("1", "send"), ("5", "declined")]),
        (
            "channel=slack",
            [(str(n), "unreachable") for n in (1, 2, 3, 4)]
            + [
                ("5", "declined"),
                ("6", "send"),
                ("7", "unreachable"),
            ],
        ),
    ],
    ids=["all", "role-and-school", "school-by-name", "languages-and-grade", "channel"],
)
def test_filters_select_people_and_classify_how_they_can_be_reached(
    district: Engine, text: str, expected: list[tuple[str, str]]
) -> None:
    assert external_ids(district, text) == expected


def test_each_person_gets_one_contact_the_one_they_last_wrote_from(district: Engine) -> None:
    with district.connect() as connection:
        audience = resolve_audience(connection, "school=lincoln-es,language=vi", RULES)
        (only,) = recipients(connection, audience, RULES)
    assert (only.reach, only.channel, only.address) == (Reach.SEND, Channel.TELEGRAM, "5550002")


def test_counts_add_up_by_channel_and_language(district: Engine) -> None:
    with district.connect() as connection:
        counts = count(connection, Audience(), RULES)
    assert (counts.people, counts.reachable, counts.opted_out) == (7, 4, 1)
    assert (counts.unreachable, counts.declined) == (1, 1)
    assert counts.by_channel == {"sms": 2, "telegram": 1, "slack": 1}
    assert counts.by_language == {"es": 1, "vi": 1, "en": 2}


def test_a_disabled_channel_makes_its_only_contacts_unreachable(district: Engine) -> None:
    sms_only = AudienceRules(RULES.languages, "en", RULES.roles, channels=(Channel.SMS,))
    assert external_ids(district, "role=staff", sms_only) == [("6", "unreachable")]
    with pytest.raises(AudienceError, match="channel 'telegram' is not turned on here"):
        external_ids(district, "channel=telegram", sms_only)


def test_not_answered_and_not_finished_look_at_that_activity_only(district: Engine) -> None:
    a, c, r, p = (
        models.Activity.__table__,
        models.Conversation.__table__,
        models.Response.__table__,
        models.Participant.__table__,
    )
    with district.begin() as connection:
        ids = dict(connection.execute(select(p.c.external_id, p.c.id)).all())
        activity_id = connection.execute(
            insert(a).returning(a.c.id),
            {
                "key": "priorities",
                "version": 1,
                "kind": "survey",
                "title": "Priorities",
                "source": "",
                "is_open": True,
                "loaded_at": NOW,
            },
        ).scalar_one()
        for who, status in (("1", "completed"), ("2", "active")):
            conversation_id = connection.execute(
                insert(c).returning(c.c.id),
                {
                    "participant_id": ids[who],
                    "activity_id": activity_id,
                    "status": status,
                    "answers": {},
                    "attempts": 0,
                    "started_at": NOW,
                    "updated_at": NOW,
                },
            ).scalar_one()
            connection.execute(
                insert(r),
                {
                    "participant_id": ids[who],
                    "conversation_id": conversation_id,
                    "activity_id": activity_id,
                    "question": "top",
                    "value": "safety",
                    "text": "1",
                    "status": "answered",
                    "language": "en",
                    "channel": "sms",
                    "created_at": NOW,
                },
            )
    assert [
        who for who, _ in external_ids(district, "school=lincoln-es,not-answered=priorities")
    ] == ["5"]
    assert [
        who for who, _ in external_ids(district, "school=lincoln-es,not-finished=priorities")
    ] == ["2", "5"]


def test_saved_segments_combine_with_the_rest_of_the_filter(district: Engine) -> None:
    assert save_segment(
        district, "lincoln-families", parse_audience("school=lincoln-es,role=parent"), NOW
    )
    assert not save_segment(
        district, "lincoln-families", parse_audience("school=lincoln-es,role=parent"), NOW
    )
    assert external_ids(district, "segment=lincoln-families,language=vi") == [("2", "send")]
    with pytest.raises(AudienceError, match="leaves nobody"):
        external_ids(district, "segment=lincoln-families,role=staff")
    with district.connect() as connection:
        actions = connection.execute(select(models.AuditEntry.action)).scalars().all()
    assert actions.count("segment.save") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty; write --to all"),
        ("colour=blue", "unknown filter 'colour'"),
        ("role", "is not key=value"),
        ("role=parent,role=staff", "role is given twice; write role=a|b"),
        ("channel=fax", "unknown channel"),
        ("school=hogwarts", "unknown school 'hogwarts' (schools: lincoln-es, washington-ms)"),
        (
            "language=fr,role=wizard",
            "'fr' is not a district language (en, es, vi); 'wizard' is not a role",
        ),
        ("not-answered=nope", "unknown activity 'nope'"),
        ("segment=nope", "unknown segment 'nope' (saved: none saved yet)"),
        ("group=lincoln-es/es", "write school/language/role, like lincoln-es/es/parent"),
        ("group=hogwarts/es/parent", "group=hogwarts/es/parent: unknown school 'hogwarts'"),
        ("under-represented=nope", "unknown activity 'nope'"),
        ("under-represented,under-represented=x", "under-represented is given twice"),
    ],
)
def test_bad_filters_say_what_is_wrong(district: Engine, text: str, message: str) -> None:
    with pytest.raises(AudienceError) as raised:
        external_ids(district, text)
    assert message in str(raised.value)


def test_the_canonical_form_round_trips() -> None:
    text = (
        "role=parent,school=lincoln-es,language=es|vi,channel=sms,grade=3,not-answered=a,"
        "group=lincoln-es/es/parent|washington-ms/vi/parent"
    )
    audience = parse_audience(text.replace("grade=3", "grade=03"))
    assert str(audience) == text
    assert Audience.from_json(audience.to_json()) == audience
    assert str(parse_audience("under-represented,role=parent")) == "role=parent,under-represented"


def test_groups_select_people_of_that_school_language_and_role(district: Engine) -> None:
    assert external_ids(district, "group=lincoln-es/vi/parent|Washington Middle/en/parent") == [
        ("2", "send"),
        ("3", "opted_out"),
    ]
