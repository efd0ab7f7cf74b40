"""The district file: the demo's settings, defaults, and each problem named by line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.authoring.district import (
    DistrictConfig,
    SchoolConfig,
    contact_warnings,
    load_district_file,
)
from bot.errors import ConfigError
from tests.conftest import EXAMPLES

BASE = "program_name: Riverside Plan\ncontact: Call 555-0100\nlanguages: [en, es]\n"


def test_the_example_holds_the_demo_district() -> None:
    assert load_district_file(EXAMPLES / "district.yaml") == DistrictConfig(
        program_name="Riverside Plan 2030",
        contact="Call 555-0100 or visit riverside.example.org/plan",
        contact_translations={
            "es": "Llame al 555-0100 o visite riverside.example.org/plan",
            "vi": "Gọi 555-0100 hoặc xem riverside.example.org/plan",
        },
        languages=["en", "es", "vi"],
        default_language="en",
        timezone="America/Chicago",
        roles=["parent", "student", "staff", "community"],
        schools=[
            SchoolConfig(
                code="lincoln-es",
                name="Lincoln Elementary",
                names={"es": "Escuela Primaria Lincoln", "vi": "Trường Tiểu học Lincoln"},
                aliases=["Lincoln", "林肯小学", "林肯"],
            ),
            SchoolConfig(code="garfield-es", name="Garfield Elementary"),
            SchoolConfig(code="roosevelt-ms", name="Roosevelt Middle School"),
            SchoolConfig(code="kennedy-hs", name="Kennedy High School"),
            SchoolConfig(code="riverside-hs", name="Riverside High School"),
            SchoolConfig(code="adult-ed", name="Riverside Adult Education"),
        ],
        onboarding=["language", "consent", "role", "school"],
        skippable=["role", "school"],
        first_activity="family-priorities-2026",
    )


def test_a_district_without_a_file_gets_defaults() -> None:
    district = DistrictConfig.default()
    assert (district.program_name, district.languages, district.schools) == (
        "District Strategic Plan",
        ["en", "es"],
        [],
    )
    assert (district.default_language, district.timezone) == ("en", "America/Chicago")
    assert district.onboarding == ["language", "consent", "role", "school"]
    assert district.skippable == ["role", "school"]


def test_fields_a_file_leaves_out_are_not_marked_as_set(tmp_path: Path) -> None:
    path = tmp_path / "district.yaml"
    path.write_text(BASE, encoding="utf-8")
    district = load_district_file(path)
    assert "timezone" not in district.model_fields_set
    assert district.roles == ["parent", "student", "staff", "community"]


SPOKEN = "en, ar, es, fr, ht, ko, pt, ru, so, tl, vi, zh"
PROBLEMS: dict[str, tuple[str, list[str]]] = {
    "program_name_missing": (
        "contact: Call 555-0100\nlanguages: [en, es]\n",
        ["1: program_name: is required"],
    ),
    "languages_empty": (
        BASE.replace("[en, es]", "[]"),
        ["3: languages: needs at least 1"],
    ),
    "language_not_spoken": (
        BASE.replace("[en, es]", "[en, xx]"),
        [f"3: languages[1]: 'xx' is not a language the bot speaks; use one of: {SPOKEN}"],
    ),
    "language_twice": (
        BASE.replace("[en, es]", "[en, es, en]"),
        ["3: languages: 'en' appears twice: languages[0] and languages[2]"],
    ),
    "default_language_not_listed": (
        BASE + "default_language: vi\n",
        ["4: default_language: 'vi' is not one of the languages: en, es"],
    ),
    "timezone_unknown": (
        BASE + "timezone: Central\n",
        ["4: timezone: 'Central' is not a time zone; use a name like America/Chicago"],
    ),
    "role_unknown": (
        BASE + "roles: [parent, teacher]\n",
        ["4: roles[1]: 'teacher' is not one of: parent, student, staff, community"],
    ),
    "school_code_not_a_code": (
        BASE + "schools:\n  - {code: Lincoln ES, name: Lincoln}\n",
        [
            "5: schools[0].code: 'Lincoln ES' is not a school code: use lowercase letters, "
            "digits and dashes, like lincoln-es"
        ],
    ),
    "school_code_twice": (
        BASE + "schools:\n  - {code: lincoln, name: Lincoln}\n  - {code: lincoln, name: L}\n",
        ["4: schools: 'lincoln' appears twice: schools[0].code and schools[1].code"],
    ),
    "school_name_twice": (
        BASE + "schools:\n  - {code: lincoln, name: Lincoln}\n  - {code: l2, name: LINCOLN}\n",
        ["4: schools: 'LINCOLN' appears twice: schools[0].name and schools[1].name"],
    ),
    "school_alias_of_another": (
        BASE
        + "schools:\n  - {code: lincoln, name: Lincoln}\n"
        + "  - {code: l2, name: Lincoln High, aliases: [lincoln]}\n",
        ["4: schools: 'lincoln' names two schools: schools[0] and schools[1]"],
    ),
    "school_name_in_a_language_not_spoken": (
        BASE + "schools:\n  - {code: lincoln, name: Lincoln, names: {xx: Linkon}}\n",
        ["5: schools[0].names.xx: 'xx' is not a language code; use a code like en, es or vi"],
    ),
    "school_name_missing": (
        BASE + "schools:\n  - code: lincoln\n",
        ["5: schools[0].name: is required"],
    ),
    "onboarding_step_unknown": (
        BASE + "onboarding: [language, grade]\n",
        ["4: onboarding[1]: 'grade' is not one of: language, consent, role, school"],
    ),
    "skippable_twice": (
        BASE + "skippable: [role, role]\n",
        ["4: skippable: 'role' appears twice: skippable[0] and skippable[1]"],
    ),
    "field_unknown": (
        BASE + "time_zone: America/Chicago\n",
        ["4: time_zone: unknown field; did you mean 'timezone'?"],
    ),
    "field_twice": (
        BASE + "contact: Call 555-0199\n",
        ["4: contact: appears twice; line 2 sets it too"],
    ),
    "yaml_broken": (
        BASE + "schools: [\n",
        ["5: not valid YAML: expected the node content, but found '<stream end>'"],
    ),
    "file_empty": (
        "",
        ["1: the file is empty; write the district file as fields (name: value)"],
    ),
    "file_a_list": (
        "- en\n",
        ["1: the district file is a mapping of fields (name: value), not a list"],
    ),
    "many_at_once": (
        "program_name: ''\ncontact: C\nlanguages: [en, xx]\ntimezone: Mars/Base\n",
        [
            "1: program_name: is empty",
            f"3: languages[1]: 'xx' is not a language the bot speaks; use one of: {SPOKEN}",
            "4: timezone: 'Mars/Base' is not a time zone; use a name like America/Chicago",
        ],
    ),
}


@pytest.mark.parametrize(("source", "expected"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_each_problem_names_line_and_field(
    tmp_path: Path, source: str, expected: list[str]
) -> None:
    path = tmp_path / "district.yaml"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_district_file(path)
    assert str(raised.value).split("\n") == [f"{path}:{line}" for line in expected]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"district\.yaml: no such file$"):
        load_district_file(tmp_path / "district.yaml")


@pytest.mark.parametrize(
    ("contact", "translations", "missing"),
    [
        ("Call 555-0100 or visit riverside.example.org/plan", {}, ["es", "vi"]),
        ("Call 555-0100", {"es": "Llame al 555-0100"}, ["vi"]),
        ("555-0100 · riverside.example.org/plan · plan@riverside.example.org", {}, []),
    ],
    ids=["words", "one-missing", "numbers-and-addresses"],
)
def test_a_contact_line_in_words_needs_each_language(
    contact: str, translations: dict[str, str], missing: list[str]
) -> None:
    district = DistrictConfig(
        program_name="Plan",
        contact=contact,
        contact_translations=translations,
        languages=["en", "es", "vi"],
    )
    assert [w.split(": no ")[1].split(" ")[0] for w in contact_warnings(district)] == missing
