"""The roster rules on the in-memory store: households, shared phones, bad rows, re-imports."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.households import HouseholdGraph, assign_households
from bot.core.messages import Channel
from bot.core.roster import PhoneReader, RosterRules
from bot.core.roster_plan import FRONT_OFFICE
from bot.services.roster import RosterImport, RosterReport
from tests.fakes.memory_roster import MemoryRoster

NOW = datetime(2026, 9, 1, 15, 0)
RULES = RosterRules(
    languages=("en", "es", "vi"),
    default_language="en",
    roles=("parent", "student", "staff", "community"),
    schools={
        "lincoln-es": "Lincoln Elementary",
        "garfield-es": "Garfield Elementary",
        "roosevelt-ms": "Roosevelt Middle School",
        "kennedy-hs": "Kennedy High School",
    },
)
SIS = "student_id,school,grade,guardian_id,guardian_name,relationship,phone,email,home_language,contact_order\n"


def run(
    store: MemoryRoster,
    folder: Path,
    text: str,
    *,
    dry_run: bool = False,
    rules: RosterRules = RULES,
) -> RosterReport:
    path = folder / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return RosterImport(store, rules, lambda: NOW).run(path, dry_run=dry_run)


def people(store: MemoryRoster) -> dict[str, dict[str, object]]:
    return {p["external_id"] or p["name"]: p for p in store.tables.people.values()}


def student_schools(store: MemoryRoster) -> dict[str, tuple[str, str | None]]:
    return {s["sis_id"]: (s["school"], s["grade"]) for s in store.tables.students.values()}


def guardians_of(store: MemoryRoster, sis_id: str) -> list[str]:
    t = store.tables
    sid = next(k for k, s in t.students.items() if s["sis_id"] == sis_id)
    return sorted(str(t.people[pid]["external_id"]) for s, pid in t.links if s == sid)


def test_a_guardian_of_two_students_at_two_schools_is_one_person_in_one_household(
    tmp_path: Path,
) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,2,G1,Ana Pérez,mother,(312) 555-0101,,Spanish,1\n"
        + "2002,kennedy-hs,10,G2,Bao Tran,father,(312) 555-0102,,vi,1\n"
        + "1003,roosevelt-ms,7,G1,Ana Pérez,mother,(312) 555-0101,ana@example.org,es,1\n",
    )

    assert report.bad == []
    assert report.merges == [
        "lines 2 and 4: one guardian, two students (lincoln-es grade 2, roosevelt-ms grade 7)"
    ]
    assert (report.people_added, report.students_added, report.households) == (2, 3, 2)
    ana = people(store)["G1"]
    assert (ana["role"], ana["language"], ana["name"]) == ("parent", "es", "Ana Pérez")
    assert guardians_of(store, "1001") == guardians_of(store, "1003") == ["G1"]
    assert [c["address"] for c in store.tables.contacts.values()] == [
        "+13125550101",
        "+13125550102",
    ]
    households = {p["household_id"] for p in store.tables.people.values()}
    assert len(households) == 2 and None not in households


def test_two_guardians_sharing_one_phone_are_two_people_and_one_contact(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,3,G1,Maria Lopez,mother,312-555-0101,,es,2\n"
        + "1001,lincoln-es,3,G2,Jose Lopez,father,312-555-0101,,es,1\n",
    )

    assert report.merges == [
        "lines 2 and 3: two guardians sharing one phone, one student (lincoln-es grade 3)"
    ]
    [contact] = store.tables.contacts.values()
    owner = store.tables.people[int(str(contact["owner"]))]
    # The SIS's first contact carries the conversation; the other guardian shares the phone.
    assert owner["external_id"] == "G2"
    [(_, sharer)] = store.tables.shared
    assert store.tables.people[sharer]["external_id"] == "G1"
    assert len({p["household_id"] for p in store.tables.people.values()}) == 1


def test_two_guardians_of_one_child_with_two_phones_are_one_household(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,K,G1,Maria,mother,312-555-0101,,es,1\n"
        + "1001,lincoln-es,K,G2,Jose,father,312-555-0199,,en,2\n",
    )

    assert report.merges == ["lines 2 and 3: two guardians, one student (lincoln-es grade K)"]
    assert len(store.tables.contacts) == 2 and store.tables.shared == set()
    assert len({p["household_id"] for p in store.tables.people.values()}) == 1


def test_a_grandmother_of_three_at_three_schools(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        SIS
        + "1,lincoln-es,1,G9,Rosa,grandmother,312-555-0109,,es,1\n"
        + "2,roosevelt-ms,6,G9,Rosa,grandmother,312-555-0109,,es,1\n"
        + "3,kennedy-hs,11,G9,Rosa,grandmother,312-555-0109,,es,1\n",
    )

    assert report.merges == [
        "lines 2, 3 and 4: one guardian, three students "
        "(lincoln-es grade 1, roosevelt-ms grade 6, kennedy-hs grade 11)"
    ]
    assert people(store)["G9"]["role"] == "parent"
    relationships = {link["relationship"] for link in store.tables.links.values()}
    assert relationships == {"grandmother"}


def test_bad_rows_are_reported_by_line_and_column_and_the_rest_imported(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        "student_id,school,grade,guardian_id,phone,phone_type,email,language\n"
        + "1001,lincoln-es,2,G1,312-555-0101,mobile,,es\n"
        + "1001,roosevelt-ms,7,G2,312-555-0102,mobile,,es\n"
        + "1002,lincoln-es,3,G3,555-12,,,en\n"
        + "1003,lincoln-es,3,G4,312-555-0104,landline,,en\n"
        + "1004,lincoln-es,4,G5,,,g5@example.org,en\n"
        + "1005,hogwarts,4,G6,312-555-0106,,,en\n"
        + "1006,lincoln-es,5,G7,312-555-0107,,,fr\n",
    )

    assert [str(bad) for bad in report.bad] == [
        f"{tmp_path}/roster.csv:3: school: student 1001 is at lincoln-es on line 2; "
        "a student is at one school",
        f"{tmp_path}/roster.csv:4: phone: '555-12' is not a valid phone number (default region US)",
        f"{tmp_path}/roster.csv:5: phone: '312-555-0104' is a landline (phone_type); "
        "it cannot receive texts",
        f"{tmp_path}/roster.csv:6: phone: #G5 has no phone, Telegram or Slack id to reach them "
        "(an email alone cannot be texted)",
        f"{tmp_path}/roster.csv:7: school: unknown school 'hogwarts'; see the schools in the "
        "district file",
        f"{tmp_path}/roster.csv:8: language: 'fr' is not a district language (en, es, vi)",
    ]
    assert student_schools(store) == {"1001": ("lincoln-es", "2")}
    assert list(people(store)) == ["G1"]


def test_a_front_office_phone_is_kept_flagged_and_joins_no_households(tmp_path: Path) -> None:
    store = MemoryRoster()
    rows = "".join(
        f"{n},lincoln-es,{n % 5 + 1},G{n},Parent {n},mother,312-555-0100,,en,1\n"
        for n in range(1, 13)
    )
    report = run(
        store, tmp_path, SIS + rows + "99,lincoln-es,1,G99,Ana,mother,312-555-0199,,es,1\n"
    )

    assert report.front_office == 1
    assert report.warnings == [
        f"{tmp_path}/roster.csv:2: phone: +13125550100 stands for 12 students: a school's "
        "front office? It is kept but not texted, and joins no households "
        "(--max-students-per-phone 10 is the limit)"
    ]
    office = next(c for c in store.tables.contacts.values() if c["address"] == "+13125550100")
    assert office["invalid_reason"] == FRONT_OFFICE
    # Twelve parents on one front-office phone are twelve households, not one.
    assert len({p["household_id"] for p in store.tables.people.values()}) == 13


def test_a_dry_run_reports_everything_and_writes_nothing(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,2,G1,Ana,mother,312-555-0101,,es,1\n"
        + "1002,roosevelt-ms,7,G1,Ana,mother,312-555-0101,,es,1\n",
        dry_run=True,
    )

    assert report.merges and report.people_added == 1 and report.students_added == 2
    assert report.changes[:2] == [
        "line 2: add #G1 (parent, es)",
        "line 2: add student 1001 (lincoln-es grade 2)",
    ]
    assert store.commits == 0 and store.tables.people == {}


def test_next_months_roster_moves_a_student_and_removes_a_guardian(tmp_path: Path) -> None:
    store = MemoryRoster()
    run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,5,G1,Ana,mother,312-555-0101,,es,1\n"
        + "1001,lincoln-es,5,G2,Luis,father,312-555-0102,,es,2\n"
        + "2001,kennedy-hs,9,G3,Kim,mother,312-555-0103,,en,1\n",
    )
    report = run(
        store,
        tmp_path,
        SIS
        + "1001,roosevelt-ms,6,G1,Ana,mother,312-555-0101,,es,1\n"
        + "2001,kennedy-hs,9,G3,Kim,mother,312-555-0103,,en,1\n",
    )

    assert report.changes == [
        "line 2: student 1001: school lincoln-es → roosevelt-ms, grade 5 → 6",
        "line 2: student 1001: guardian #G2 removed",
    ]
    assert student_schools(store)["1001"] == ("roosevelt-ms", "6")
    assert guardians_of(store, "1001") == ["G1"]
    # Luis stays a person (his answers are his), in no household now.
    assert people(store)["G2"]["household_id"] is None


def test_a_student_missing_from_a_schools_roster_leaves_their_guardians(tmp_path: Path) -> None:
    store = MemoryRoster()
    run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,5,G1,Ana,mother,312-555-0101,,es,1\n"
        + "1002,lincoln-es,2,G2,Bo,father,312-555-0102,,en,1\n"
        + "2001,kennedy-hs,9,G3,Kim,mother,312-555-0103,,en,1\n",
    )
    # Lincoln's roster alone: Kennedy's students are not Lincoln's to withdraw.
    report = run(store, tmp_path, SIS + "1001,lincoln-es,5,G1,Ana,mother,312-555-0101,,es,1\n")

    assert report.students_withdrawn == 1
    assert report.changes == [
        "student 1002 (lincoln-es) is not in this file: no longer linked to 1 guardian"
    ]
    assert guardians_of(store, "2001") == ["G3"]


def test_families_keep_their_opt_out_and_the_language_they_chose(tmp_path: Path) -> None:
    store = MemoryRoster()
    texted = store.add_person(language="vi", onboarding_started=True)
    store.add_contact(texted, Channel.SMS, "+13125550101", opted_out=True, has_written=True)
    run(
        store,
        tmp_path,
        SIS
        + "1001,lincoln-es,2,G1,,mother,312-555-0101,,es,1\n"
        + "1002,lincoln-es,2,G1,,mother,312-555-0177,,es,1\n",
    )

    person = store.tables.people[texted]
    assert (person["external_id"], person["language"]) == ("G1", "vi")
    assert {c["address"]: c["opted_out"] for c in store.tables.contacts.values()} == {
        "+13125550101": True,
        "+13125550177": True,
    }


def test_someone_forgotten_is_not_imported_again(tmp_path: Path) -> None:
    store = MemoryRoster()
    gone = store.add_person(external_id="G1", forgotten=True)
    report = run(store, tmp_path, SIS + "1001,lincoln-es,2,G1,,mother,312-555-0101,,es,1\n")

    assert [str(b) for b in report.bad] == [
        f"{tmp_path}/roster.csv:2: guardian_id: skipped: this person asked to be forgotten"
    ]
    assert store.tables.contacts == {} and store.tables.links == {}
    assert store.tables.people[gone]["external_id"] == "G1"


def test_the_one_row_per_family_shape_still_imports(tmp_path: Path) -> None:
    store = MemoryRoster()
    text = (
        "external_id,name,phone,language,school,role,grade,consent,telegram,slack_user\n"
        "S1001,Ana Pérez,(312) 555-0101,es,lincoln-es,parent,3,yes,,\n"
        "S1007,Gabriel Ruiz,(312) 555-0107,es,kennedy-hs,student,11,yes,,\n"
        "T2001,Maria Lopez,,en,lincoln-es,staff,,,,U0STAFF01\n"
    )
    first = run(store, tmp_path, text)
    assert (first.bad, first.people_added, first.students_added) == ([], 3, 2)
    relationships = sorted(str(link["relationship"]) for link in store.tables.links.values())
    assert relationships == ["guardian", "self"]
    staff = people(store)["T2001"]
    assert (next(pid for pid, p in store.tables.people.items() if p is staff), "lincoln-es") in (
        store.tables.ties
    )
    # Ana's family moves; the child known only by school and grade moves with her.
    moved = run(store, tmp_path, text.replace("lincoln-es,parent,3", "garfield-es,parent,4"))
    assert moved.changes == [
        "line 2: add a student at garfield-es grade 4",
        "line 2: #S1001: no longer linked to a student at lincoln-es",
    ]
    schools = sorted(s["school"] for s in store.tables.students.values())
    assert schools == ["garfield-es", "kennedy-hs"]


def test_households_split_when_a_roster_unlinks_them() -> None:
    graph = HouseholdGraph(
        guardianships=[(1, 10), (1, 11), (2, 12)],
        shared=[],
        current={10: 7, 11: 7, 12: 7, 13: 7},
    )
    # 10 and 11 keep household 7; 12 gets a new one; 13 is linked to nobody any more.
    assert assign_households(graph) == {12: -1, 13: None}


# -- importing any roster twice changes nothing the second time ------------------------

phones = st.sampled_from([f"312-555-01{n:02d}" for n in range(12)])
rows = st.lists(
    st.tuples(
        st.sampled_from(["", "1001", "1002", "1003", "2001", "2002"]),
        st.sampled_from(list(RULES.schools)),
        st.sampled_from(["", "K", "2", "7"]),
        st.sampled_from(["", "G1", "G2", "G3", "G4"]),
        st.sampled_from(["", "Ana", "Bao", "Rosa"]),
        st.sampled_from(["", "mother", "father", "grandmother"]),
        phones,
        st.sampled_from(["", "es", "vi", "English"]),
        st.sampled_from(["", "1", "2"]),
        st.sampled_from(["", "parent", "student", "staff"]),
    ),
    min_size=1,
    max_size=14,
)


@given(first=rows, second=rows)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_importing_any_roster_twice_changes_nothing_the_second_time(
    tmp_path: Path, first: list[tuple[str, ...]], second: list[tuple[str, ...]]
) -> None:
    store = MemoryRoster()
    header = (
        "student_id,school,grade,guardian_id,name,relationship,phone,language,contact_order,role\n"
    )
    for roster in (first, second):
        text = header + "".join(",".join(row) + "\n" for row in roster)
        run(store, tmp_path, text)
        before = replace(store.tables, audit=[])
        again = run(store, tmp_path, text)
        assert again.changes == [] and again.people_added == again.students_added == 0
        assert replace(store.tables, audit=[]) == before


# -- phone numbers: the fast path agrees with phonenumbers ---------------------------------


@given(
    digits=st.text(alphabet=string.digits, min_size=10, max_size=10),
    style=st.sampled_from(
        ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}{b}{c}"]
    ),
)
@settings(max_examples=400, deadline=None)
def test_the_north_american_shortcut_reads_numbers_as_phonenumbers_does(
    digits: str, style: str
) -> None:
    import phonenumbers

    raw = style.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    fast = PhoneReader("US").read(raw)
    number = phonenumbers.parse(raw, "US")
    textable = phonenumbers.is_valid_number(number) and (
        phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.FIXED_LINE
    )
    slow = (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if textable
        else None
    )
    assert fast[0] == slow


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0958", (None, "'+44 20 7946 0958' is a landline; it cannot receive texts")),
        ("+44 7911 123456", ("+447911123456", None)),
        ("(312) 555-0101 ext 4", ("+13125550101", None)),
    ],
)
def test_numbers_outside_north_america_take_the_long_way(
    raw: str, expected: tuple[str | None, str | None]
) -> None:
    assert PhoneReader("US").read(raw) == expected


def test_a_zip_or_an_address_says_where_a_family_lives_for_quiet_hours(tmp_path: Path) -> None:
    store = MemoryRoster()
    report = run(
        store,
        tmp_path,
        "guardian_id,phone,language,school,zip_code,home_address\n"
        "G1,312-555-0101,en,lincoln-es,96813,\n"  # a Chicago number, living in Honolulu
        'G2,312-555-0102,en,lincoln-es,,"1 Main St, El Paso, TX 79901-1234"\n'
        "G3,312-555-0103,en,lincoln-es,,\n"
        "G4,312-555-0104,en,lincoln-es,9681,\n",
    )
    assert [str(bad) for bad in report.bad] == [
        f"{tmp_path}/roster.csv:5: zip: '9681' is not a US ZIP code"
    ]
    places = {key: person["place"] for key, person in people(store).items()}
    # A state's every zone where a ZIP alone cannot tell (Texas: Central and Mountain).
    assert places == {
        "G1": "HI:Pacific/Honolulu",
        "G2": "TX:America/Chicago,America/Denver",
        "G3": None,
    }
    # A later roster with a new ZIP moves them; one without keeps what is known.
    run(
        store,
        tmp_path,
        "guardian_id,phone,language,school,zip\n"
        "G1,312-555-0101,en,lincoln-es,60614\n"
        "G2,312-555-0102,en,lincoln-es,\n",
    )
    places = {key: person["place"] for key, person in people(store).items()}
    assert places["G1"] == "IL:America/Chicago" and places["G2"].startswith("TX:")
