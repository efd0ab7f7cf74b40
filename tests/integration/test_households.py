"""Students × guardians rosters on SQLite and PostgreSQL: households, shared phones,
re-imports that keep every answer, and nothing half-written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text

from bot.core.roster import RosterError, RosterRules
from bot.services.roster import RosterImport, RosterReport
from storage import models
from storage.roster import SqlRosterUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
LATER = datetime(2026, 10, 1, 15, 0)
RULES = RosterRules(
    languages=("en", "es", "vi"),
    default_language="en",
    roles=("parent", "student", "staff", "community"),
    schools={
        "lincoln-es": "Lincoln Elementary",
        "roosevelt-ms": "Roosevelt Middle School",
        "kennedy-hs": "Kennedy High School",
    },
)
SIS = "Student ID,School,Grade,Guardian ID,Guardian Name,Relationship,Phone,Email,Home Language,Contact Order\n"
OCTOBER = (
    SIS
    + "1001,lincoln-es,2,G1,Ana Pérez,mother,(312) 555-0101,,Spanish,1\n"
    + "1002,roosevelt-ms,7,G1,Ana Pérez,mother,(312) 555-0101,,Spanish,1\n"
    + "1002,roosevelt-ms,7,G2,Luis Pérez,father,(312) 555-0101,,Spanish,2\n"
    + "2001,kennedy-hs,10,G3,Kim Lee,mother,(312) 555-0103,kim@example.org,en,1\n"
    + "2001,kennedy-hs,10,G4,Sam Lee,father,(312) 555-0104,,en,2\n"
)


@pytest.fixture
def district(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.School)),
            [{"code": c, "name": n, "created_at": NOW} for c, n in RULES.schools.items()],
        )
    return engine


def run(engine: Engine, path: Path, now: datetime = NOW, dry_run: bool = False) -> RosterReport:
    return RosterImport(lambda: SqlRosterUnitOfWork(engine), RULES, lambda: now).run(
        path, dry_run=dry_run
    )


def write(folder: Path, body: str, name: str = "sis.csv") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def state(engine: Engine) -> dict[str, Any]:
    """Every roster table, ids included, to compare before and after."""
    tables = (
        models.Participant,
        models.Contact,
        models.SharedContact,
        models.Student,
        models.Guardianship,
        models.ParticipantSchool,
    )
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        for model in tables:
            table = models.table(model)
            columns = [c for c in table.c if c.name not in ("updated_at", "pseudonym")]
            order = list(table.primary_key.columns)
            found[table.name] = [
                tuple(r) for r in connection.execute(select(*columns).order_by(*order))
            ]
    return found


def households(engine: Engine) -> dict[str, int | None]:
    p = models.table(models.Participant)
    with engine.connect() as connection:
        return dict(connection.execute(select(p.c.external_id, p.c.household_id)).all())


def test_a_district_roster_becomes_households_with_shared_phones(
    district: Engine, tmp_path: Path
) -> None:
    report = run(district, write(tmp_path, OCTOBER))

    assert report.bad == []
    assert report.merges == [
        "lines 2, 3 and 4: two guardians sharing one phone, two students "
        "(lincoln-es grade 2, roosevelt-ms grade 7)",
        "lines 5 and 6: two guardians, one student (kennedy-hs grade 10)",
    ]
    homes = households(district)
    assert homes["G1"] == homes["G2"] != homes["G3"] == homes["G4"]
    with district.connect() as connection:
        contacts = connection.execute(select(func.count()).select_from(models.Contact)).scalar()
        shared = connection.execute(select(models.SharedContact.participant_id)).scalars().all()
        ids = dict(
            connection.execute(select(models.Participant.external_id, models.Participant.id)).all()
        )
    assert contacts == 3 and shared == [ids["G2"]]


def test_importing_the_same_roster_again_changes_nothing(district: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, OCTOBER)
    run(district, path)
    before = state(district)

    again = run(district, path, LATER)

    assert again.changes == [] and again.people_added == again.students_added == 0
    assert state(district) == before


def test_next_months_roster_moves_links_and_keeps_every_answer(
    district: Engine, tmp_path: Path
) -> None:
    run(district, write(tmp_path, OCTOBER))
    ids = {k: v for k, v in households(district).items()}
    with district.begin() as connection:
        pid = connection.execute(
            select(models.Participant.id).where(models.Participant.external_id == "G2")
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO activities (key, version, kind, title, source, is_open, loaded_at) "
                "VALUES ('s', 1, 'survey', 'S', 'x', true, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO conversations (participant_id, activity_id, status, attempts, answers,"
                " schools, started_at, updated_at) VALUES (:p, 1, 'completed', 0, '{}', '{}', "
                ":now, :now)"
            ),
            {"p": pid, "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO responses (participant_id, conversation_id, activity_id, question, "
                "value, text, status, language, channel, created_at) VALUES (:p, 1, 1, 'q', "
                "'\"a\"', '1', 'answered', 'es', 'sms', :now)"
            ),
            {"p": pid, "now": NOW},
        )
    november = (
        SIS
        + "1001,lincoln-es,2,G1,Ana Pérez,mother,(312) 555-0101,,Spanish,1\n"
        + "1002,kennedy-hs,9,G1,Ana Pérez,mother,(312) 555-0101,,Spanish,1\n"
        + "2001,kennedy-hs,10,G3,Kim Lee,mother,(312) 555-0103,,en,1\n"
        + "2001,kennedy-hs,10,G4,Sam Lee,father,(312) 555-0104,,en,2\n"
    )

    report = run(district, write(tmp_path, november, "november.csv"), LATER)

    assert report.changes == [
        "line 3: student 1002: school roosevelt-ms → kennedy-hs, grade 7 → 9",
        "line 3: student 1002: guardian #G2 removed",
    ]
    with district.connect() as connection:
        answers = connection.execute(select(func.count()).select_from(models.Response)).scalar()
    assert answers == 1
    homes = households(district)
    # Luis still shares Ana's phone, so he is still of her household.
    assert homes["G1"] == homes["G2"] == ids["G1"]


def test_a_failed_import_writes_nothing(district: Engine, tmp_path: Path) -> None:
    before = state(district)
    path = tmp_path / "broken.csv"
    good = "1001,lincoln-es,2,G1,Ana,mother,(312) 555-0101,,es,1\n"
    # A field longer than any CSV reader takes, on line 4: the file stops there.
    path.write_text(SIS + good + good.replace("1001", "1002") + '"' + "x" * 200_000 + '"\n')
    with pytest.raises(RosterError, match=r"broken.csv:4: field larger than field limit"):
        run(district, path)
    assert state(district) == before


def test_two_schools_files_make_one_household_of_a_family_in_both(
    district: Engine, tmp_path: Path
) -> None:
    run(district, write(tmp_path, SIS + "1001,lincoln-es,2,G1,Ana,mother,312-555-0101,,es,1\n"))
    run(
        district,
        write(
            tmp_path,
            SIS + "1002,roosevelt-ms,7,G9,Luis,father,312-555-0101,,es,1\n",
            "roosevelt.csv",
        ),
    )
    homes = households(district)
    assert homes["G1"] == homes["G9"] is not None


def test_every_kind_of_bad_input_is_reported_and_the_good_rows_imported(
    district: Engine, tmp_path: Path
) -> None:
    from bot.core.audience import Audience, AudienceRules, Reach
    from bot.core.messages import Channel
    from storage.audience import recipients

    header = "Student ID,School,Grade,Guardian ID,Guardian Name,Relationship,Phone,Phone Type,Home Language,Contact Order\n"
    body = (
        header
        + "1001,lincoln-es,2,G1,Ana Pérez,mother,(312) 555-0101,mobile,es,1\n"
        + "1001,roosevelt-ms,7,G2,Luis Pérez,father,(312) 555-0102,mobile,es,2\n"
        + "1002,lincoln-es,3,G3,Kim Lee,mother,555-12,,en,1\n"
        + "1003,lincoln-es,3,G4,Sam Lee,father,(312) 555-0104,landline,en,1\n"
        + "1004,lincoln-es,4,G5,Rosa Díaz,grandmother,,,es,1\n"
        + "1005,hogwarts,4,G6,Tom Riddle,father,(312) 555-0106,,en,1\n"
        # A school's front office, listed as the phone of 10,000 students' guardians.
        + "".join(
            f"F{n},kennedy-hs,{n % 4 + 9},GF{n},Guardian {n},guardian,(312) 555-0100,,en,1\n"
            for n in range(10_000)
        )
    )
    path = tmp_path / "sis.csv"
    path.write_bytes(body.encode("cp1252"))

    report = run(district, path)

    assert [str(bad) for bad in report.bad] == [
        f"{path}:3: school: student 1001 is at lincoln-es on line 2; a student is at one school",
        f"{path}:4: phone: '555-12' is not a valid phone number (default region US)",
        f"{path}:5: phone: '(312) 555-0104' is a landline (phone_type); it cannot receive texts",
        f"{path}:6: phone: #G5 has no phone, Telegram or Slack id to reach them",
        f"{path}:7: school: unknown school 'hogwarts'; see the schools in the district file",
    ]
    assert any("not UTF-8" in w or "Windows-1252" in w for w in report.warnings)
    assert any(
        w.startswith(
            f"{path}:8: phone: +13125550100 stands for 10,000 students: a school's front office?"
        )
        for w in report.warnings
    )
    assert report.people_added == 10_001
    p = models.table(models.Participant)
    with district.connect() as connection:
        names = dict(connection.execute(select(p.c.external_id, p.c.name)).all())
        rules = AudienceRules(RULES.languages, "en", RULES.roles, (Channel.SMS,))
        reach = [r.reach for r in recipients(connection, Audience(), rules)]
    assert names["G1"] == "Ana Pérez"
    # Ana is texted; the front office is not, for any of its 10,000 students' guardians.
    assert reach.count(Reach.SEND) == 1 and reach.count(Reach.UNREACHABLE) == 10_000
