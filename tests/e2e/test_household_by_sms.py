"""A grandmother of two students at two schools answers both schools' rounds by SMS.

The roster gives her and her son one shared phone; each school broadcasts its
own round. Signed Twilio webhooks go into `engage serve`'s app under uvicorn;
invitations and replies go out through the outbox and the real twilio client to
a fake Twilio on loopback. The phone gets each round once, the second after the
first, naming its school; the export and the representation check attribute
each answer to its own school, once per household.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.authoring.activities import parse_activity
from bot.bootstrap import build_broadcasting, build_runtime, sync_schools
from bot.core.roster import RosterRules
from bot.services.inbound import utcnow
from bot.services.roster import RosterImport
from bot.settings import Settings
from bot.synthesis.representation import measure_representation
from bot.web.app import create_app
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from storage.export import tidy_responses
from storage.representation import SqlRepresentation
from storage.roster import SqlRosterUnitOfWork
from tests.conftest import EXAMPLES
from tests.e2e.test_sms_webhook import ACCOUNT, OUR_NUMBER, TOKEN, Bot, eventually
from tests.fakes.server import free_port, serve
from tests.fakes.twilio_api import run_fake_twilio

pytestmark = pytest.mark.e2e

PHONE = "+13125550123"
NEIGHBOUR = "+13125550177"
ROSTER = (
    "Student ID,School,Grade,Guardian ID,Guardian Name,Relationship,Phone,Home Language,"
    "Contact Order\n"
    "1001,lincoln-es,2,G1,Rosa Gómez,grandmother,(312) 555-0123,Spanish,1\n"
    "1002,roosevelt-ms,7,G1,Rosa Gómez,grandmother,(312) 555-0123,Spanish,1\n"
    "1002,roosevelt-ms,7,G2,Luis Gómez,father,(312) 555-0123,Spanish,2\n"
    "2001,roosevelt-ms,8,G3,Kim Lee,mother,(312) 555-0177,English,1\n"
)


def school_round(key: str, school: str) -> str:
    return f"""\
key: {key}
kind: feedback
version: 1
default_language: en
school: {school}
title:
  en: Draft plan
  es: Borrador del plan
intro:
  en: Our draft plan.
  es: Nuestro borrador.
questions:
  - key: support
    type: scale
    prompt:
      en: Do you support it?
      es: ¿Lo apoya?
    scale: {{min: 1, max: 5}}
"""


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    port = free_port()
    with run_fake_twilio(ACCOUNT, TOKEN) as twilio:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp_path / 'engage.db'}",
            public_url=f"http://127.0.0.1:{port}",
            district_file=EXAMPLES / "district.yaml",
            spool_dir=tmp_path / "spool",
            sms_per_second=0,
            quiet_hours="off",
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_from_number=OUR_NUMBER,
            twilio_api_base_url=twilio.url,
        )
        runtime = build_runtime(settings, detector=False, busy_timeout=0.2)
        migrate(runtime.engine)
        sync_schools(runtime.engine, runtime.district)
        district = runtime.district
        rules = RosterRules(
            district.languages,
            district.default_language,
            district.roles,
            {school.code: school.name for school in district.schools},
        )
        path = tmp_path / "sis.csv"
        path.write_text(ROSTER, encoding="utf-8")
        report = RosterImport(lambda: SqlRosterUnitOfWork(runtime.engine), rules, utcnow).run(path)
        assert report.bad == [] and report.people_added == 3
        for key, school in (("lincoln-draft", "lincoln-es"), ("roosevelt-draft", "roosevelt-ms")):
            source = school_round(key, school)
            store_activity(runtime.engine, parse_activity(source, f"{key}.yaml"), source, utcnow())
        with runtime.engine.begin() as connection:
            connection.execute(
                models.table(models.Enrollment).insert(),
                [
                    {
                        "school": s,
                        "language": la,
                        "role": "parent",
                        "count": n,
                        "imported_at": utcnow(),
                    }
                    for s, la, n in (
                        ("lincoln-es", "es", 20),
                        ("roosevelt-ms", "es", 10),
                        ("roosevelt-ms", "en", 10),
                    )
                ],
            )
        twilio.callback_target = settings.public_url
        with serve(create_app(runtime), port=port) as url:
            yield Bot(url, runtime, twilio, tmp_path / "spool")


def test_a_household_at_two_schools_answers_both_rounds_by_sms(bot: Bot) -> None:
    broadcasting = build_broadcasting(bot.runtime)
    for key in ("lincoln-draft", "roosevelt-draft"):
        plan = broadcasting.plan(key, "all", reminders=0)
        broadcasting.enqueue(broadcasting.confirm(plan, actor="e2e"))

    # Lincoln's round reaches the family's one phone once (Rosa and Luis share it);
    # Roosevelt's waits behind it there, and goes to Kim at once.
    eventually(lambda: len(bot.twilio.bodies_to(PHONE)) == 1 and bot.twilio.bodies_to(NEIGHBOUR))
    (first,) = bot.twilio.bodies_to(PHONE)
    assert "Para las familias de Escuela Primaria Lincoln:" in first and "¿Lo apoya?" in first
    assert "Roosevelt" not in first
    (kim,) = bot.twilio.bodies_to(NEIGHBOUR)
    assert "For families of Roosevelt Middle School:" in kim

    assert bot.text("4", "SM" + "1" * 32, PHONE).status_code == 200
    eventually(lambda: any("¿Lo apoya?" in b for b in bot.twilio.bodies_to(PHONE)[1:]))
    after = bot.twilio.bodies_to(PHONE)[1:]
    assert "Para las familias de Roosevelt Middle School:" in after
    assert bot.text("2", "SM" + "2" * 32, PHONE).status_code == 200
    assert bot.text("5", "SM" + "3" * 32, NEIGHBOUR).status_code == 200
    engine = bot.runtime.engine

    def answered() -> int:
        with engine.connect() as connection:
            return len(connection.execute(select(models.Response.id)).all())

    eventually(lambda: answered() == 3)
    # Nobody got a round twice.
    bodies = bot.twilio.bodies_to(PHONE)
    assert sum("Escuela Primaria Lincoln" in b for b in bodies) == 1
    assert sum("Para las familias de Roosevelt" in b for b in bodies) == 1

    secret = "district-secret"
    lincoln = tidy_responses(engine, "lincoln-draft", parse_activity, secret)
    roosevelt = tidy_responses(engine, "roosevelt-draft", parse_activity, secret)
    assert list(lincoln[["school", "grade", "value"]].itertuples(index=False, name=None)) == [
        ("lincoln-es", "2", "4")
    ]
    rows = roosevelt.sort_values("grade")
    assert list(rows[["school", "grade", "value"]].itertuples(index=False, name=None)) == [
        ("roosevelt-ms", "7", "2"),
        ("roosevelt-ms", "8", "5"),
    ]
    # One household, one key, in both schools' rounds.
    assert lincoln["household"][0] == rows["household"].iloc[0] != rows["household"].iloc[1]

    store = SqlRepresentation(engine)
    heard = {
        (g.group.school, g.group.language): (g.enrolled, g.respondents)
        for g in measure_representation(store, "roosevelt-draft").groups
    }
    assert heard == {("roosevelt-ms", "en"): (10, 1), ("roosevelt-ms", "es"): (10, 1)}
    lincoln_heard = measure_representation(store, "lincoln-draft")
    assert lincoln_heard.school == "lincoln-es" and lincoln_heard.respondents == 1
