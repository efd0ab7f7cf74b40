"""Roster and enrollment import on SQLite and PostgreSQL: upsert, dry run, bad rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, insert, select, update

from bot.core.roster import RosterError, RosterRules
from bot.services.roster import EnrollmentReport, RosterImport, RosterReport
from storage import models
from storage.roster import SqlRosterUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
LATER = datetime(2026, 9, 8, 15, 0)
RULES = RosterRules(
    languages=("en", "es", "vi"),
    default_language="en",
    roles=("parent", "student", "staff", "community"),
    schools={"lincoln-es": "Lincoln Elementary", "washington-ms": "Washington Middle"},
)
HEADER = "external_id,name,phone,language,school,role,grade,consent,telegram,slack_user\n"


@pytest.fixture
def district(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            [
                {"code": code, "name": name, "created_at": NOW}
                for code, name in RULES.schools.items()
            ],
        )
    return engine


def import_roster(
    engine: Engine, path: Path, rules: RosterRules, now: datetime, *, dry_run: bool = False
) -> RosterReport:
    return RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: now).run(
        path, dry_run=dry_run
    )


def import_enrollment(
    engine: Engine, path: Path, rules: RosterRules, now: datetime
) -> EnrollmentReport:
    return RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: now).enrollment(path)


def write(tmp_path: Path, text: str, name: str = "roster.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def links(engine: Engine) -> dict[int, tuple[str | None, str | None]]:
    """Each participant's school and grade: a student they answer for, or their own school."""
    g, s, ps = models.Guardianship, models.Student, models.ParticipantSchool
    found: dict[int, tuple[str | None, str | None]] = {}
    with engine.connect() as connection:
        for pid, school, grade in connection.execute(
            select(g.participant_id, s.school, s.grade).join(s, s.id == g.student_id)
        ):
            found.setdefault(pid, (school, grade))
        for pid, school in connection.execute(select(ps.participant_id, ps.school)):
            found.setdefault(pid, (school, None))
    return found


def people(engine: Engine) -> list[tuple[object, ...]]:
    p, c = models.Participant, models.Contact
    tied = links(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                p.id,
                p.external_id,
                p.language,
                p.role,
                p.consent,
                p.onboarding_started,
                c.channel,
                c.address,
                c.opted_out_at.is_not(None),
                c.invalid_at.is_not(None),
            )
            .join(c, c.participant_id == p.id)
            .order_by(p.id, c.id)
        ).all()
    return [
        (
            row.external_id,
            row.language,
            tied.get(row.id, (None, None))[0],
            row.role,
            tied.get(row.id, (None, None))[1],
            *tuple(row)[4:],
        )
        for row in rows
    ]


def test_a_roster_imports_people_with_e164_phones_and_skips_onboarding(
    district: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER
        + "1001,Ana Pérez,(312) 555-0101,Spanish,Lincoln Elementary,Parent,03,yes,,\n"
        + "1002,Bao Tran,312.555.0102,vi,lincoln-es,guardian,K,,5550001,\n"
        + "2001,Kim Lee,,en,washington-ms,staff,,,,U0STAFF1\n",
    )
    report = import_roster(district, path, RULES, NOW)
    assert (report.rows, report.people_added, report.people_updated, report.bad) == (3, 3, 0, [])
    assert people(district) == [
        (
            "1001",
            "es",
            "lincoln-es",
            "parent",
            "3",
            True,
            True,
            "sms",
            "+13125550101",
            False,
            False,
        ),
        (
            "1002",
            "vi",
            "lincoln-es",
            "parent",
            "K",
            None,
            True,
            "sms",
            "+13125550102",
            False,
            False,
        ),
        (
            "1002",
            "vi",
            "lincoln-es",
            "parent",
            "K",
            None,
            True,
            "telegram",
            "5550001",
            False,
            False,
        ),
        (
            "2001",
            "en",
            "washington-ms",
            "staff",
            None,
            None,
            True,
            "slack",
            "U0STAFF1",
            False,
            False,
        ),
    ]
    with district.connect() as connection:
        audit = connection.execute(select(models.AuditEntry.action)).scalars().all()
    assert audit == ["roster.import"]


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_still_import(
    district: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER
        + "1,,(312) 555-0101,es,lincoln-es,parent,,,,\n"
        + "2,,555-12,es,lincoln-es,parent,,,,\n"
        + "3,,(312) 555-0103,fr,lincoln-es,parent,,,,\n"
        + "4,,(312) 555-0104,es,hogwarts,parent,,,,\n"
        + '5,"Multi\nline",(312) 555-0105,es,lincoln-es,wizard,,maybe,,\n'
        + "7,,(312) 555-0107,en,,community,,,,\n",
    )
    report = import_roster(district, path, RULES, NOW)
    assert [str(bad) for bad in report.bad] == [
        f"{path}:3: phone: '555-12' is not a valid phone number (default region US)",
        f"{path}:4: language: 'fr' is not a district language (en, es, vi)",
        f"{path}:5: school: unknown school 'hogwarts'; see the schools in the district file",
        f"{path}:6: role: 'wizard' is not a role (parent, student, staff, community)",
        f"{path}:6: consent: 'maybe' is not yes or no",
    ]
    assert report.people_added == 2
    assert [row[0] for row in people(district)] == ["1", "7"]


def test_reimport_updates_on_external_id_and_a_dry_run_changes_nothing(
    district: Engine, tmp_path: Path
) -> None:
    first = write(
        tmp_path,
        HEADER
        + "1001,,(312) 555-0101,es,lincoln-es,parent,3,,,\n"
        + "1002,,(312) 555-0102,vi,lincoln-es,parent,4,,,\n",
    )
    import_roster(district, first, RULES, NOW)
    second = write(
        tmp_path,
        HEADER
        + "1001,,(312) 555-0101,es,washington-ms,parent,6,,,\n"
        + "1002,,(312) 555-0102,vi,lincoln-es,parent,4,,,\n"
        + "1003,,(312) 555-0103,en,lincoln-es,parent,1,,,\n",
        name="second.csv",
    )
    before = people(district)
    preview = import_roster(district, second, RULES, LATER, dry_run=True)
    assert (preview.people_added, preview.people_unchanged, preview.students_added) == (1, 2, 2)
    assert preview.changes == [
        "line 4: add #1003 (parent, en)",
        "line 2: add a student at washington-ms grade 6",
        "line 4: add a student at lincoln-es grade 1",
        "line 2: #1001: no longer linked to a student at lincoln-es",
    ]
    assert people(district) == before
    report = import_roster(district, second, RULES, LATER)
    assert report.changes == preview.changes
    assert [row[:5] for row in people(district)] == [
        ("1001", "es", "washington-ms", "parent", "6"),
        ("1002", "vi", "lincoln-es", "parent", "4"),
        ("1003", "en", "lincoln-es", "parent", "1"),
    ]


def test_a_family_that_texted_first_is_matched_by_phone_and_keeps_its_language(
    district: Engine, tmp_path: Path
) -> None:
    p, c = models.Participant.__table__, models.Contact.__table__
    with district.begin() as connection:
        pid = connection.execute(
            insert(p).returning(p.c.id),
            {
                "pseudonym": "P-TEXTED",
                "language": "vi",
                "onboarding_started": True,
                "attempts": 0,
                "pending": [],
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).scalar_one()
        connection.execute(
            insert(c),
            {
                "participant_id": pid,
                "channel": "sms",
                "address": "+13125550101",
                "last_inbound_at": NOW,
                "created_at": NOW,
            },
        )
    path = write(tmp_path, HEADER + "1001,,(312) 555-0101,en,lincoln-es,parent,,,,\n")
    report = import_roster(district, path, RULES, LATER)
    assert (report.people_added, report.people_updated) == (0, 1)
    assert people(district) == [
        (
            "1001",
            "vi",
            "lincoln-es",
            "parent",
            None,
            None,
            True,
            "sms",
            "+13125550101",
            False,
            False,
        )
    ]


def test_a_new_phone_retires_the_old_one_and_an_opt_out_carries_over(
    district: Engine, tmp_path: Path
) -> None:
    import_roster(
        district, write(tmp_path, HEADER + "1001,,(312) 555-0101,es,,parent,,,,\n"), RULES, NOW
    )
    with district.begin() as connection:
        connection.execute(update(models.Contact.__table__), {"opted_out_at": NOW})
    path = write(tmp_path, HEADER + "1001,,(312) 555-0199,es,,parent,,,,\n", name="new.csv")
    report = import_roster(district, path, RULES, LATER)
    assert report.changes == [
        "line 2: #1001: +13125550199 added",
        "line 2: #1001: +13125550101 replaced",
    ]
    assert [row[7:] for row in people(district)] == [
        ("sms", "+13125550101", True, True),
        ("sms", "+13125550199", True, False),
    ]


def test_a_phone_a_second_guardian_lists_is_shared_not_taken(
    district: Engine, tmp_path: Path
) -> None:
    import_roster(
        district,
        write(tmp_path, HEADER + "1001,,(312) 555-0101,es,,parent,,,,\n"),
        RULES,
        NOW,
    )
    path = write(tmp_path, HEADER + "1002,,(312) 555-0101,es,,parent,,,,\n", name="b.csv")
    report = import_roster(district, path, RULES, LATER)
    assert (report.bad, report.people_added) == ([], 1)
    with district.connect() as connection:
        owner = connection.execute(select(models.Contact.participant_id)).scalar_one()
        sharer = connection.execute(select(models.SharedContact.participant_id)).scalar_one()
        ids = dict(
            connection.execute(select(models.Participant.external_id, models.Participant.id)).all()
        )
    assert (owner, sharer) == (ids["1001"], ids["1002"])


@pytest.mark.parametrize(
    ("encoding", "prefix", "warned"),
    [("utf-8", "\ufeff", False), ("cp1252", "", True), ("utf-16", "", False)],
    ids=["utf8-bom", "windows-1252", "utf16-excel-unicode-text"],
)
def test_bom_and_legacy_encodings_are_read(
    district: Engine, tmp_path: Path, encoding: str, prefix: str, warned: bool
) -> None:
    body = (
        prefix
        + "Phone;Home Language;School;Role;Name\n(312) 555-0101;Español;lincoln-es;parent;Iñés Peña\n"
    )
    path = write(tmp_path, body, encoding=encoding)
    report = import_roster(district, path, RULES, NOW)
    assert report.people_added == 1 and report.bad == []
    assert bool(report.warnings) is warned
    if warned:
        assert "not UTF-8" in report.warnings[0] and ":2:" in report.warnings[0]
    with district.connect() as connection:
        assert connection.execute(select(models.Participant.name)).scalar_one() == "Iñés Peña"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"name,grade\nAna,3\n", "missing column(s) phone, language, school"),
        (b"PK\x03\x04rest", "this is a spreadsheet (XLSX) file"),
        (
            b"phone,language,school,role\n\x81\x8d\x8f,es,x,parent\n",
            "neither UTF-8 nor Windows-1252",
        ),
    ],
    ids=["empty", "missing-columns", "xlsx-named-csv", "undecodable"],
)
def test_unreadable_files_fail_with_a_clear_message_and_import_nothing(
    district: Engine, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_roster(district, path, RULES, NOW)
    assert people(district) == []


def test_xlsx_rosters_read_numbers_as_text(district: Engine, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Phone Number", "Language", "School", "Role", "Grade", "Student ID"])
    sheet.append([13125550101, "es", "Lincoln Elementary", "parent", 3.0, 1001])
    sheet.append(["bad", "es", "lincoln-es", "parent", None, 1002])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    report = import_roster(district, path, RULES, NOW)
    assert (report.people_added, report.students_added) == (1, 1)
    assert [str(bad) for bad in report.bad] == [
        f"{path}:3: phone: 'bad' is not a valid phone number (default region US)"
    ]
    assert [row[:5] for row in people(district)] == [(None, "es", "lincoln-es", "parent", "3")]
    with district.connect() as connection:
        assert connection.execute(select(models.Student.sis_id)).scalar_one() == "1001"


def test_enrollment_figures_are_upserted_per_school_language_and_role(
    district: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "school,language,role,count\n"
        "lincoln-es,es,parent,310\n"
        'lincoln-es,en,parent,"1,204"\n'
        "hogwarts,en,parent,5\n"
        "lincoln-es,vi,parent,-3\n",
        name="enrollment.csv",
    )
    report = import_enrollment(district, path, RULES, NOW)
    assert report.stored == 2
    assert [str(bad) for bad in report.bad] == [
        f"{path}:4: school: unknown school 'hogwarts'",
        f"{path}:5: count: '-3' is not a whole number ≥ 0",
    ]
    again = write(tmp_path, "school,language,role,count\nlincoln-es,es,parent,320\n", "e2.csv")
    import_enrollment(district, again, RULES, LATER)
    e = models.Enrollment
    with district.connect() as connection:
        rows = connection.execute(
            select(e.school, e.language, e.role, e.count).order_by(e.language)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("lincoln-es", "en", "parent", 1204),
        ("lincoln-es", "es", "parent", 320),
    ]


def test_a_roster_names_languages_as_student_systems_do(district: Engine, tmp_path: Path) -> None:
    rules = RosterRules(
        languages=("en", "zh", "ht", "so", "tl"),
        default_language="en",
        roles=RULES.roles,
        schools=RULES.schools,
    )
    said = ["Cantonese", "Haitian Creole", "Kreyòl", "Somali", "Filipino", "Mandarin", "French"]
    path = write(
        tmp_path,
        HEADER
        + "".join(
            f"{n},,(312) 555-01{n:02d},{language},lincoln-es,parent,,,,\n"
            for n, language in enumerate(said, 1)
        ),
    )
    report = import_roster(district, path, rules, NOW)
    assert [str(bad) for bad in report.bad] == [
        f"{path}:8: language: 'French' is not a district language (en, zh, ht, so, tl)"
    ]
    assert [row[1] for row in people(district)] == ["zh", "ht", "ht", "so", "tl", "zh"]
