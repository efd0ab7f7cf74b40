"""Feedback rounds and progress updates expand into the engine's own question types."""

from __future__ import annotations

from typing import Any

import pytest

from bot.authoring.rounds import expand_rounds

SECTIONS = [
    {
        "key": "literacy",
        "title": {"en": "Reading by grade 3", "es": "Lectura en 3.º"},
        "summary": {"en": "Tutors in every school. Reports each term.", "es": "Tutores. Informes."},
        "link": "https://plan.example.org/1",
    },
    {
        "key": "counselors",
        "title": "Counselors",
        "summary": "One counselor per 250 students. Hired by 2027.",
        "link": "https://plan.example.org/2",
    },
]
LINES = {("kind",): 2, ("sections",): 5, ("sections", 0): 6, ("sections", 1): 11}


def feedback(**more: Any) -> dict[str, Any]:
    return {"key": "draft", "kind": "feedback", "title": "Draft plan", "sections": SECTIONS, **more}


def test_each_section_becomes_a_support_scale_and_an_optional_comment() -> None:
    data, lines, problems = expand_rounds(feedback(), LINES)
    assert problems == []
    assert "sections" not in data
    assert [(q["key"], q["type"], q.get("optional", False)) for q in data["questions"]] == [
        ("literacy", "scale", False),
        ("literacy-comment", "free_text", True),
        ("counselors", "scale", False),
        ("counselors-comment", "free_text", True),
    ]
    first = data["questions"][0]
    assert first["prompt"] == {
        "en": 'Part 1 of 2: "Reading by grade 3": Tutors in every school. Reports each term. '
        "Full text: https://plan.example.org/1\nHow much do you support this part?",
        "es": 'Parte 1 de 2: "Lectura en 3.º": Tutores. Informes. '
        "Texto completo: https://plan.example.org/1\n¿Qué tanto apoya esta parte?",
    }
    assert first["scale"]["min_label"] == {"en": "not at all", "es": "nada"}
    assert (
        data["questions"][1]["prompt"]["en"]
        == 'What would you change or add to "Reading by grade 3"?'
    )
    # Generated questions point at their section's line.
    assert [lines[("questions", n)] for n in range(4)] == [6, 6, 11, 11]


def test_explicit_questions_follow_the_sections_with_their_lines() -> None:
    extra = {"key": "missing", "type": "free_text", "prompt": "What is missing?"}
    data, lines, problems = expand_rounds(
        feedback(questions=[extra], comments=False, support_scale={"max": 4}),
        {**LINES, ("questions", 0): 20, ("questions", 0, "prompt"): 21},
    )
    assert problems == []
    assert [q["key"] for q in data["questions"]] == ["literacy", "counselors", "missing"]
    assert data["questions"][0]["scale"]["max"] == 4
    assert lines[("questions", 2)] == 20 and lines[("questions", 2, "prompt")] == 21
    assert ("questions", 0, "prompt") not in lines


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ([], [(("sections",), "list the draft plan's sections (at least 1)")]),
        (
            [{"key": "a", "title": "T", "summary": "S"}],
            [(("sections", 0, "link"), "is required")],
        ),
        (
            [{"key": "Bad Key", "title": "T", "summary": "S", "link": "ftp://x", "extra": 1}],
            [
                (("sections", 0, "extra"), "unknown field; use key, title, summary, link"),
                (("sections", 0, "key"), "use lowercase letters, digits and -, at most 24"),
                (("sections", 0, "link"), "must be an http(s) address"),
            ],
        ),
        (
            [SECTIONS[1], SECTIONS[1]],
            [(("sections", 1, "key"), "also the key of sections[0]")],
        ),
    ],
    ids=["empty", "missing-link", "bad-fields", "duplicate-key"],
)
def test_bad_sections_are_reported_by_path(
    sections: list[Any], expected: list[tuple[tuple[Any, ...], str]]
) -> None:
    _, _, problems = expand_rounds(feedback(sections=sections), LINES)
    assert problems == expected


def test_an_update_message_is_its_intro_and_a_pulse_its_only_question() -> None:
    pulse = {"key": "on-track", "type": "yes_no", "prompt": "Are we on track?"}
    data, lines, problems = expand_rounds(
        {"kind": "update", "message": "We hired 12 tutors.", "pulse": pulse},
        {("message",): 4, ("pulse",): 6},
    )
    assert problems == []
    assert data["intro"] == "We hired 12 tutors." and "message" not in data
    assert data["questions"] == [pulse]
    assert (lines[("intro",)], lines[("questions", 0)]) == (4, 6)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "update"}, [(("message",), "an update needs the message to send")]),
        (
            {"kind": "update", "message": "m", "questions": [{}, {}]},
            [(("questions",), "an update asks at most one question (write it as pulse:)")],
        ),
        (
            {"kind": "update", "message": "m", "pulse": {}, "questions": [{}]},
            [(("pulse",), "an update asks one pulse question, not questions too")],
        ),
        (
            {"kind": "survey", "sections": [], "pulse": {}},
            [
                (("sections",), "only a feedback round (kind: feedback) has this"),
                (("pulse",), "only an update (kind: update) has this"),
            ],
        ),
    ],
    ids=["no-message", "two-questions", "pulse-and-questions", "wrong-kind"],
)
def test_misplaced_round_fields_are_reported(
    data: dict[str, Any], expected: list[tuple[tuple[Any, ...], str]]
) -> None:
    assert expand_rounds(data, {})[2] == expected


def test_other_activities_pass_through_unchanged() -> None:
    survey = {"key": "s", "kind": "survey", "questions": [{"key": "q"}]}
    assert expand_rounds(survey, {("kind",): 2}) == (survey, {("kind",): 2}, [])


def test_the_example_feedback_round_and_update_parse() -> None:
    from bot.authoring.activities import load_activity_file
    from bot.core.activity import ActivityKind, QuestionType
    from tests.conftest import EXAMPLES

    round_ = load_activity_file(EXAMPLES / "draft-plan-feedback.yaml")
    assert round_.kind is ActivityKind.FEEDBACK
    assert [(q.key, q.type) for q in round_.questions][:2] == [
        ("reading", QuestionType.SCALE),
        ("reading-comment", QuestionType.FREE_TEXT),
    ]
    update = load_activity_file(EXAMPLES / "progress-update.yaml")
    assert update.kind is ActivityKind.UPDATE
    assert [q.key for q in update.questions] == ["on-track"]
    assert update.intro is not None and update.intro.get("en").startswith("Plan update")


def test_round_problems_name_the_file_line_and_field() -> None:
    from bot.authoring.activities import parse_activity
    from bot.errors import ActivityError

    source = """\
key: draft
kind: feedback
title: Draft plan
sections:
  - key: reading
    title: Reading
    summary: Tutors.
    link: https://plan.example.org/1
  - key: buses
    title: Buses
    summary: Routes.
    link: not-a-link
pulse: {key: x, type: yes_no, prompt: "Ok?"}
"""
    with pytest.raises(ActivityError) as raised:
        parse_activity(source, "draft.yaml")
    assert raised.value.problems == [
        "draft.yaml:12: sections[1].link: must be an http(s) address",
        "draft.yaml:13: pulse: only an update (kind: update) has this",
    ]
