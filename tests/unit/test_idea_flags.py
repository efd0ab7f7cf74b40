"""Ideas a moderator should look at twice: phone numbers, email addresses, names."""

from __future__ import annotations

import pytest

from bot.core.moderation import Flag, FlagKind, KnownName, NameIndex, flag_idea

ROSTER = NameIndex(
    [
        KnownName("María López", "student"),
        KnownName("Tom Baker", "staff"),
        KnownName("王小明", "student"),
        KnownName("Grace Park", "student"),
        KnownName("Al", "student"),
    ]
)

CASES = [
    ("More bilingual family nights", ()),
    ("Call me at 555-0134 about the buses", ((FlagKind.PHONE, "555-0134"),)),
    ("text (555) 010 0134", ((FlagKind.PHONE, "(555) 010 0134"),)),
    ("+1 555 010 0199 any time", ((FlagKind.PHONE, "+1 555 010 0199"),)),
    ("Grades 3-5 need more recess", ()),
    ("A budget of 1,000,000 dollars by 2026", ()),
    ("write to maria.l@example.org", ((FlagKind.EMAIL, "maria.l@example.org"),)),
    ("maria at gmail dot com can help", ((FlagKind.EMAIL, "maria at gmail dot com"),)),
    ("maria lopez is bullied on the bus", ((FlagKind.NAME, "María López (student)"),)),
    ("MARIA LÓPEZ needs help", ((FlagKind.NAME, "María López (student)"),)),
    ("The bus driver Baker is always late", ((FlagKind.NAME, "Tom Baker (staff)"),)),
    ("Park the buses on the side street", ()),
    ("a park near the school", ()),
    ("Mr. Smith is a great teacher", ((FlagKind.NAME, "Mr. Smith"),)),
    ("Cô Lan dạy rất hay", ((FlagKind.NAME, "Cô Lan"),)),
    ("La Sra. Díaz nos ayuda mucho", ((FlagKind.NAME, "Sra. Díaz"),)),
    ("王小明 在学校被欺负", ((FlagKind.NAME, "王小明 (student)"),)),
    ("We need more counselors, not fewer", ()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:32] for c in CASES])
def test_flags_name_what_a_moderator_should_check(
    text: str, expected: tuple[tuple[FlagKind, str], ...]
) -> None:
    assert flag_idea(text, ROSTER) == tuple(Flag(kind, detail) for kind, detail in expected)


def test_titles_are_flagged_without_a_roster() -> None:
    assert flag_idea("Coach Rivera should run the club") == (Flag(FlagKind.NAME, "Coach Rivera"),)


def test_a_flag_reads_as_its_kind_and_what_was_found() -> None:
    assert str(Flag(FlagKind.PHONE, "555-0134")) == "phone: 555-0134"
