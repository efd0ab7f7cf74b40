"""Households on SQLite and PostgreSQL: every guardian of every student reached, each
phone once per broadcast, and both schools' rounds for a family at two schools."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from bot.authoring.activities import parse_activity
from bot.core.audience import AudienceRules
from bot.core.disclosure import introduce
from bot.core.messages import Channel, InboundMessage, Reply
from bot.core.roster import RosterRules
from bot.core.state import Program, School
from bot.services.broadcasting import Broadcasting, BroadcastPolicy
from bot.services.inbound import Service
from bot.services.roster import RosterImport
from storage import models
from storage.activities import store_activity
from storage.audience import recipients, resolve_audience
from storage.broadcasts import BroadcastStore
from storage.roster import SqlRosterUnitOfWork
from storage.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es", "vi"),
    schools=(
        School("lincoln-es", "Lincoln Elementary", names=(("es", "Primaria Lincoln"),)),
        School("roosevelt-ms", "Roosevelt Middle", names=(("es", "Secundaria Roosevelt"),)),
        School("kennedy-hs", "Kennedy High"),
    ),
)
SCHOOLS = {s.code: s.name for s in PROGRAM.schools}
RULES = AudienceRules(
    languages=PROGRAM.languages,
    default_language="en",
    roles=PROGRAM.roles,
    channels=(Channel.SMS, Channel.TELEGRAM),
)
POLICY = BroadcastPolicy(rates={Channel.SMS: 10.0}, reminders=0)
SIS = "Student ID,School,Grade,Guardian ID,Guardian Name,Relationship,Phone,Home Language,Contact Order\n"
# Ana and Luis share one phone (Ana's, she is called first) for two children at two
# schools; Jorge, an uncle, lists that phone too for a cousin at Kennedy. Mai and Binh
# are two guardians of one child with two phones. Rosa answers for one child.
ROSTER = (
    SIS
    + "1001,lincoln-es,2,G1,Ana,mother,(312) 555-0101,es,1\n"
    + "1002,roosevelt-ms,7,G1,Ana,mother,(312) 555-0101,es,1\n"
    + "1002,roosevelt-ms,7,G2,Luis,father,(312) 555-0101,es,2\n"
    + "3001,kennedy-hs,10,G3,Jorge,uncle,(312) 555-0101,es,1\n"
    + "4001,roosevelt-ms,6,G6,Mai,mother,(312) 555-0106,vi,1\n"
    + "4001,roosevelt-ms,6,G7,Binh,father,(312) 555-0107,vi,2\n"
    + "5001,lincoln-es,K,G8,Rosa,grandmother,(312) 555-0108,en,1\n"
)


def round_source(key: str, school: str) -> str:
    return f"""\
key: {key}
kind: feedback
version: 1
default_language: en
school: {school}
title: {{en: Draft plan, es: Borrador, vi: Dự thảo}}
intro: {{en: Our draft plan., es: Nuestro borrador., vi: Bản dự thảo.}}
questions:
  - key: support
    type: scale
    prompt:
      en: Do you support it?
      es: ¿Lo apoya?
      vi: Quý vị ủng hộ không?
    scale: {{min: 1, max: 5}}
"""


ROUNDS = {"lincoln-round": "lincoln-es", "roosevelt-round": "roosevelt-ms"}


@pytest.fixture
def district(engine: Engine, tmp_path: Path) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.School)),
            [{"code": c, "name": n, "created_at": NOW} for c, n in SCHOOLS.items()],
        )
    path = tmp_path / "sis.csv"
    path.write_text(ROSTER, encoding="utf-8")
    rules = RosterRules(PROGRAM.languages, "en", PROGRAM.roles, SCHOOLS)
    report = RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(path)
    assert report.bad == []
    for key, school in ROUNDS.items():
        source = round_source(key, school)
        store_activity(engine, parse_activity(source, f"{key}.yaml"), source, NOW)
    return engine


@pytest.fixture
def broadcasting(district: Engine) -> Broadcasting:
    return Broadcasting(
        BroadcastStore(district), PROGRAM, RULES, POLICY, parse_activity, lambda: NOW
    )


def ids(engine: Engine) -> dict[int, str]:
    p = models.table(models.Participant)
    with engine.connect() as connection:
        return dict(connection.execute(select(p.c.id, p.c.external_id)).all())


def reached(engine: Engine, text: str) -> list[tuple[str, str, str, str | None]]:
    """(person matched, reach, whose conversation, address) for each person of an audience."""
    names = ids(engine)
    with engine.connect() as connection:
        audience = resolve_audience(connection, text, RULES)
        found = list(recipients(connection, audience, RULES))
    return [(names[r.person], r.reach.value, names[r.participant_id], r.address) for r in found]


def outbox(engine: Engine) -> list[tuple[str, str]]:
    o = models.table(models.Outbox)
    with engine.connect() as connection:
        rows = connection.execute(select(o.c.address, o.c.body).order_by(o.c.id)).all()
    return [tuple(r) for r in rows]


PHONE = "+13125550101"


def first_contact(body: str, language: str) -> str:
    return introduce(Reply(body), PROGRAM.name, language).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "school=roosevelt-ms",
            [
                ("G1", "send", "G1", PHONE),
                ("G2", "shared", "G1", PHONE),
                ("G6", "send", "G6", "+13125550106"),
                ("G7", "send", "G7", "+13125550107"),
            ],
        ),
        # Jorge has no phone of his own: his message goes to the phone he shares,
        # in the conversation of Ana, who carries it.
        ("school=kennedy-hs", [("G3", "send", "G1", PHONE)]),
        ("grade=K|10", [("G3", "send", "G1", PHONE), ("G8", "send", "G8", "+13125550108")]),
        (
            "language=es",
            [
                ("G1", "send", "G1", PHONE),
                ("G2", "shared", "G1", PHONE),
                ("G3", "shared", "G1", PHONE),
            ],
        ),
        (
            "role=parent,channel=telegram",
            [(g, "unreachable", g, None) for g in ("G1", "G2", "G3", "G6", "G7", "G8")],
        ),
    ],
    ids=["school", "through-a-shared-phone", "grade", "language", "channel"],
)
def test_every_guardian_of_every_student_is_reached_and_each_phone_once(
    district: Engine, text: str, expected: list[tuple[str, str, str, str | None]]
) -> None:
    assert reached(district, text) == expected


def test_the_numbers_count_people_and_messages_apart(broadcasting: Broadcasting) -> None:
    counts = broadcasting.preview("school=roosevelt-ms")
    assert (counts.people, counts.reachable, counts.shared) == (4, 3, 1)
    assert counts.by_channel == {"sms": 3}


def test_a_shared_phone_that_said_stop_keeps_everyone_on_it_out(district: Engine) -> None:
    contacts = models.table(models.Contact)
    with district.begin() as connection:
        connection.execute(
            update(contacts).where(contacts.c.address == PHONE), {"opted_out_at": NOW}
        )
    assert reached(district, "school=kennedy-hs") == [("G3", "opted_out", "G3", None)]


def test_not_answered_asks_no_phone_whose_carrier_answered(
    district: Engine, broadcasting: Broadcasting
) -> None:
    kennedy = """\
key: kennedy-round
kind: feedback
version: 1
default_language: en
school: kennedy-hs
title: {en: Kennedy}
questions:
  - key: support
    type: scale
    prompt:
      en: Support?
    scale: {min: 1, max: 5}
"""
    store_activity(district, parse_activity(kennedy, "k.yaml"), kennedy, NOW)
    broadcasting.enqueue(broadcasting.confirm(broadcasting.plan("kennedy-round", "all"), "ana"))
    service = Service(lambda: SqlUnitOfWork(district), PROGRAM, clock=lambda: NOW)
    service.handle_inbound(InboundMessage(Channel.SMS, PHONE, "4", provider_id="SMin1"))
    assert reached(district, "school=kennedy-hs,not-answered=kennedy-round") == [
        ("G3", "unreachable", "G3", None)
    ]


def test_a_household_at_two_schools_gets_both_rounds_one_after_the_other(
    district: Engine, broadcasting: Broadcasting
) -> None:
    lincoln = broadcasting.confirm(broadcasting.plan("lincoln-round", "all"), "ana")
    first = broadcasting.enqueue(lincoln)
    roosevelt = broadcasting.confirm(broadcasting.plan("roosevelt-round", "all"), "ana")
    second = broadcasting.enqueue(roosevelt)
    assert first is not None and second is not None
    # Lincoln: Ana's phone and Rosa's. Roosevelt: Ana's phone is busy with Lincoln's
    # round, so it waits there (Luis's share of it counts as reached); Mai and Binh.
    assert (first.queued, second.queued, second.waiting, second.shared) == (2, 2, 1, 1)
    # Each opens with who is writing (first contact), then names the school.
    assert outbox(district) == [
        (
            PHONE,
            first_contact(
                "Para las familias de Primaria Lincoln:\n\nNuestro borrador.\n\n"
                "¿Lo apoya? Responda con una cifra del 1 al 5.",
                "es",
            ),
        ),
        (
            "+13125550108",
            first_contact(
                "For families of Lincoln Elementary:\n\nOur draft plan.\n\n"
                "Do you support it? Reply with a number from 1 to 5.",
                "en",
            ),
        ),
        *(
            (
                phone,
                first_contact(
                    "Gửi các gia đình của Roosevelt Middle:\n\nBản dự thảo.\n\n"
                    "Quý vị ủng hộ không? Trả lời bằng một số từ 1 đến 5.",
                    "vi",
                ),
            )
            for phone in ("+13125550106", "+13125550107")
        ),
    ]
    # Ana answers Lincoln's round; Roosevelt's follows on the same phone, naming its school.
    service = Service(lambda: SqlUnitOfWork(district), PROGRAM, clock=lambda: NOW)
    service.handle_inbound(InboundMessage(Channel.SMS, PHONE, "4", provider_id="SMin1"))
    sent = [body for address, body in outbox(district) if address == PHONE]
    assert sent[2:] == [
        "Para las familias de Secundaria Roosevelt:",
        "Nuestro borrador.",
        "¿Lo apoya? Responda con una cifra del 1 al 5.",
    ]
    cv, a = models.table(models.Conversation), models.table(models.Activity)
    with district.connect() as connection:
        rows = connection.execute(
            select(a.c.key, cv.c.status, cv.c.schools)
            .join(a, a.c.id == cv.c.activity_id)
            .where(cv.c.participant_id == next(k for k, v in ids(district).items() if v == "G1"))
            .order_by(cv.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("lincoln-round", "completed", {"lincoln-es": ["2"]}),
        ("roosevelt-round", "active", {"roosevelt-ms": ["7"]}),
    ]


def test_a_second_broadcast_of_the_same_round_sends_nobody_anything(
    district: Engine, broadcasting: Broadcasting
) -> None:
    broadcasting.enqueue(broadcasting.confirm(broadcasting.plan("roosevelt-round", "all"), "a"))
    before = outbox(district)
    again = broadcasting.enqueue(
        broadcasting.confirm(broadcasting.plan("roosevelt-round", "all"), "a")
    )
    assert again is not None and again.queued == 0
    assert outbox(district) == before
