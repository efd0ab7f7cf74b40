"""One person on SMS and WhatsApp with the same number: one participant, two contacts, and
a broadcast that reaches each person once, on the channel they use, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from bot.core.audience import Audience, AudienceRules, Reach
from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.messages import Channel, InboundMessage
from bot.core.roster import RosterRules
from bot.services.inbound import Service
from bot.services.roster import RosterImport
from storage import consent, models
from storage.audience import recipients
from storage.roster import SqlRosterUnitOfWork
from storage.unit_of_work import SqlUnitOfWork
from tests.integration.test_service import NOW, PROGRAM, Clock

PHONE = "+15550100141"
RULES = AudienceRules(
    languages=("en", "es"),
    default_language="en",
    roles=("parent", "student", "staff", "community"),
    channels=(Channel.SMS, Channel.WHATSAPP, Channel.TELEGRAM, Channel.SLACK),
)


@pytest.fixture
def service(engine: Engine) -> Service:
    return Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=Clock())


def write(service: Service, channel: Channel, body: str, sid: str) -> None:
    service.handle_inbound(InboundMessage(channel, PHONE, body, provider_id=sid))


def contacts(engine: Engine) -> list[tuple[int, str, bool]]:
    c = models.Contact
    with engine.connect() as connection:
        rows = connection.execute(
            select(c.participant_id, c.channel, c.opted_out_at).order_by(c.id)
        ).all()
    return [(pid, channel, stopped is not None) for pid, channel, stopped in rows]


def test_the_same_number_on_whatsapp_is_the_same_person(engine: Engine, service: Service) -> None:
    for n, body in enumerate(["Hola", "2", "sí"]):
        write(service, Channel.SMS, body, f"SM{n:032d}")
    write(service, Channel.WHATSAPP, "Hola", "SM" + "9" * 32)
    [(sms_person, _, _), (whatsapp_person, channel, _)] = contacts(engine)
    assert (sms_person, channel) == (whatsapp_person, "whatsapp")
    with engine.connect() as connection:
        people = connection.execute(select(models.Participant.language)).scalars().all()
    # Known already: no second onboarding, the language they chose on SMS.
    assert people == ["es"]


def test_the_same_number_on_sms_after_whatsapp_is_the_same_person(
    engine: Engine, service: Service
) -> None:
    write(service, Channel.WHATSAPP, "Hola", "SM" + "1" * 32)
    write(service, Channel.SMS, "Hola", "SM" + "2" * 32)
    assert [channel for _, channel, _ in contacts(engine)] == ["whatsapp", "sms"]
    assert len({person for person, _, _ in contacts(engine)}) == 1


def test_a_number_that_said_stop_on_sms_starts_stopped_on_whatsapp(
    engine: Engine, service: Service
) -> None:
    write(service, Channel.SMS, "Hola", "SM" + "1" * 32)
    write(service, Channel.SMS, "STOP", "SM" + "2" * 32)
    write(service, Channel.WHATSAPP, "Hola", "SM" + "3" * 32)
    assert [(channel, stopped) for _, channel, stopped in contacts(engine)] == [
        ("sms", True),
        ("whatsapp", True),
    ]


# -- a broadcast mixing SMS and WhatsApp contacts -----------------------------------------

# name -> (contacts: (channel, last wrote hours ago or None, opted in there), ...)
PEOPLE = {
    "sms-only": ((Channel.SMS, None, False),),
    "whatsapp-only": ((Channel.WHATSAPP, 2, True),),
    "both-wrote-whatsapp-last": ((Channel.SMS, 30, False), (Channel.WHATSAPP, 1, True)),
    "both-wrote-sms-last": ((Channel.SMS, 1, False), (Channel.WHATSAPP, 50, True)),
    "both-never-opted-in-on-whatsapp": ((Channel.SMS, 40, False), (Channel.WHATSAPP, 1, False)),
    "whatsapp-only-never-opted-in": ((Channel.WHATSAPP, 3, False),),
}
REACHED = {
    "sms-only": Channel.SMS,
    "whatsapp-only": Channel.WHATSAPP,
    "both-wrote-whatsapp-last": Channel.WHATSAPP,
    "both-wrote-sms-last": Channel.SMS,
    "both-never-opted-in-on-whatsapp": Channel.SMS,
    "whatsapp-only-never-opted-in": None,
}


def test_a_broadcast_reaches_each_person_once_on_the_channel_they_use(engine: Engine) -> None:
    names: dict[int, str] = {}
    with engine.begin() as connection:
        for n, (name, reach) in enumerate(PEOPLE.items()):
            person = connection.execute(
                insert(models.Participant.__table__).returning(models.Participant.id),
                {
                    "pseudonym": f"p{n}",
                    "external_id": name,
                    "language": "es",
                    "consent": True,
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ).scalar_one()
            names[person] = name
            for channel, hours, opted_in in reach:
                contact = connection.execute(
                    insert(models.Contact.__table__).returning(models.Contact.id),
                    {
                        "participant_id": person,
                        "channel": channel.value,
                        "address": f"+1555010{n:04d}",
                        "last_inbound_at": None if hours is None else NOW - timedelta(hours=hours),
                        "created_at": NOW,
                    },
                ).scalar_one()
                if opted_in:
                    change = ConsentChange(ConsentKind.CONSENT_GIVEN, ConsentSource.ONBOARDING)
                    consent.apply(connection, contact, change, NOW)
        # A roster's consent is no WhatsApp opt-in.
        roster_consent = ConsentChange(ConsentKind.CONSENT_GIVEN, ConsentSource.ROSTER)
        unopted = connection.execute(
            select(models.Contact.id).where(
                models.Contact.participant_id
                == next(p for p, n in names.items() if n == "whatsapp-only-never-opted-in")
            )
        ).scalar_one()
        consent.apply(connection, unopted, roster_consent, NOW)
        connection.execute(update(models.Participant.__table__).values(consent=True))
    with engine.connect() as connection:
        found = list(recipients(connection, Audience(), RULES))
    assert sorted(names[r.participant_id] for r in found) == sorted(PEOPLE), "each person once"
    assert {names[r.participant_id]: r.channel for r in found} == REACHED
    assert {names[r.participant_id]: r.reach for r in found}[
        "whatsapp-only-never-opted-in"
    ] is Reach.UNREACHABLE


def test_start_on_whatsapp_is_the_opt_in_of_a_family_known_by_sms(
    engine: Engine, service: Service
) -> None:
    for n, body in enumerate(["Hola", "2", "sí"]):
        write(service, Channel.SMS, body, f"SM{n:032d}")
    write(service, Channel.WHATSAPP, "Hola", "SM" + "8" * 32)
    write(service, Channel.WHATSAPP, "START", "SM" + "9" * 32)
    e = models.ConsentEvent
    with engine.connect() as connection:
        events = connection.execute(select(e.kind, e.source, e.channel).order_by(e.id)).all()
        found = list(recipients(connection, Audience(), RULES))
    assert [tuple(event) for event in events] == [
        ("consent_given", "onboarding", "sms"),
        ("opt_in", "keyword", "whatsapp"),
    ]
    # They wrote last on WhatsApp and opted in there: that is where broadcasts go.
    assert [r.channel for r in found] == [Channel.WHATSAPP]


# -- the roster's preferred channel -------------------------------------------------------

ROSTER = """\
external_id,phone,language,school,role,consent,channel
wa,(312) 555-0121,es,lincoln-es,parent,yes,WhatsApp
sms,(312) 555-0122,es,lincoln-es,parent,yes,sms
none,(312) 555-0123,es,lincoln-es,parent,yes,
fax,(312) 555-0124,es,lincoln-es,parent,yes,fax
"""


def test_the_roster_channel_decides_until_the_family_writes(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    rules = RosterRules(RULES.languages, "en", RULES.roles, {"lincoln-es": "Lincoln Elementary"})
    report = RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(path)
    assert [str(bad) for bad in report.bad] == [
        f"{path}:5: channel: 'fax' is not one of sms, whatsapp, telegram, slack"
    ]

    def reached() -> dict[str, Channel | None]:
        p = models.Participant.__table__
        with engine.connect() as connection:
            names = dict(connection.execute(select(p.c.id, p.c.external_id)).all())
            found = list(recipients(connection, Audience(), RULES))
        return {names[r.participant_id]: r.channel for r in found}

    # channel: whatsapp is the family's choice and the district's record of their opt-in.
    assert reached() == {"wa": Channel.WHATSAPP, "sms": Channel.SMS, "none": Channel.SMS}
    e = models.ConsentEvent
    with engine.connect() as connection:
        opt_ins = connection.execute(select(e.channel, e.source).where(e.kind == "opt_in")).all()
    assert [tuple(row) for row in opt_ins] == [("whatsapp", "roster")]
    # Once they write, the channel they wrote from decides: never both.
    with engine.begin() as connection:
        connection.execute(
            update(models.Contact.__table__)
            .where(
                models.Contact.__table__.c.channel == "sms",
                models.Contact.__table__.c.address == "+13125550121",
            )
            .values(last_inbound_at=NOW)
        )
    assert reached() == {"wa": Channel.SMS, "sms": Channel.SMS, "none": Channel.SMS}
