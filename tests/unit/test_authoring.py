"""Activities written as YAML: what they build into, and each problem named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.authoring.activities import check_activity_file, load_activity_file, parse_activity
from bot.authoring.district import load_district_file
from bot.core.activity import (
    Activity,
    ActivityKind,
    Condition,
    Localized,
    Option,
    Question,
    QuestionType,
)
from bot.errors import ActivityError
from tests.conftest import EXAMPLES

ACTIVITY_FILES = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "district.yaml")
DISTRICT_LANGUAGES = load_district_file(EXAMPLES / "district.yaml").languages

# Lines 1-3 of most snippets below; their questions start on line 4.
HEAD = "key: demo\nkind: survey\ntitle: Demo\n"
TOP = """\
questions:
  - key: top
    type: single_choice
    prompt: What matters most?
    options:
      - {key: safety, label: Safety}
      - {key: reading, label: Reading}
"""


def problems(source: str) -> list[str]:
    with pytest.raises(ActivityError) as raised:
        parse_activity(source, "survey.yaml")
    return raised.value.problems


# -- the examples ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ACTIVITY_FILES, ids=lambda p: p.name)
def test_the_examples_are_valid_and_fully_translated(path: Path) -> None:
    report = check_activity_file(path, DISTRICT_LANGUAGES)
    assert report.errors == []
    assert report.activity is not None
    assert [w for w in report.warnings if "translation" in w] == []
    assert not [w for w in report.warnings if "in 'en'" in w], "English fits in 2 segments"


def test_the_survey_example_only_warns_about_its_six_ranked_options() -> None:
    report = check_activity_file(EXAMPLES / "family-priorities.yaml", DISTRICT_LANGUAGES)
    assert [warning.split(": ", 1)[1] for warning in report.warnings] == [
        "questions[priorities].prompt: 4 SMS segments in 'es' (UCS-2)",
        "questions[priorities].prompt: 3 SMS segments in 'vi' (UCS-2)",
    ]


def test_the_documented_example_is_valid_and_uses_every_question_type(tmp_path: Path) -> None:
    guide = (EXAMPLES.parent / "docs" / "activities.md").read_text("utf-8")
    example = guide.split("## A complete example", 1)[1].split("```yaml\n", 1)[1]
    path = tmp_path / "example.yaml"
    path.write_text(example.split("```", 1)[0], encoding="utf-8")
    report = check_activity_file(path, DISTRICT_LANGUAGES)
    assert (report.errors, report.warnings) == ([], [])
    assert report.activity is not None
    assert {q.type for q in report.activity.questions} == set(QuestionType)


def test_the_survey_example_asks_for_news_only_of_families_who_lack_it() -> None:
    survey = load_activity_file(EXAMPLES / "family-priorities.yaml")
    gap = survey.question("news-gap")
    assert gap is not None and gap.when == Condition("news-in-language", ("no",))
    assert survey.start_keywords == ("PLAN", "PLAN2030", "ENCUESTA", "KHẢO SÁT")


# -- what a file builds into -------------------------------------------------------------

EVERY_FIELD = """\
key: belonging-round-2
kind: feedback
version: 2
default_language: es
title: {es: Pertenencia, en: Belonging}
intro: Unas preguntas.
closing: {es: ¡Gracias!, en: Thank you!}
reminder: {es: "Recordatorio:", en: "Reminder:"}
round: spring 2026
start_keywords: PERTENENCIA
school: lincoln-es
questions:
  - key: safe
    type: scale
    prompt: {es: "¿Qué tan segura?", en: "How safe?"}
    scale: {min: 0, max: 10, min_label: {es: nada, en: not at all}, max_label: muy}
  - key: why-unsafe
    type: free_text
    optional: yes
    when: {question: safe, at_most: 4}
    prompt: ¿Por qué?
  - key: help
    type: multiple_choice
    max_choices: 2
    prompt: ¿Qué ayuda?
    options:
      - {key: tutoring, label: Tutoría}
      - {key: 2, label: {es: Comidas, en: Meals}}
      - {key: rides, label: Transporte}
  - key: news
    type: yes_no
    prompt: ¿Noticias?
    when: {question: help, any_of: tutoring}
  - key: note
    type: info
    prompt: Gracias.
"""


def es(text: str, en: str | None = None) -> Localized:
    return Localized({"es": text} if en is None else {"es": text, "en": en})


def test_every_field_is_built_into_the_activity() -> None:
    assert parse_activity(EVERY_FIELD, "round.yaml") == Activity(
        key="belonging-round-2",
        kind=ActivityKind.FEEDBACK,
        title=es("Pertenencia", "Belonging"),
        questions=(
            Question(
                "safe",
                QuestionType.SCALE,
                es("¿Qué tan segura?", "How safe?"),
                scale_min=0,
                scale_max=10,
                scale_min_label=es("nada", "not at all"),
                scale_max_label=es("muy"),
            ),
            Question(
                "why-unsafe",
                QuestionType.FREE_TEXT,
                es("¿Por qué?"),
                optional=True,
                when=Condition("safe", at_most=4),
            ),
            Question(
                "help",
                QuestionType.MULTIPLE_CHOICE,
                es("¿Qué ayuda?"),
                options=(
                    Option("tutoring", es("Tutoría")),
                    Option("2", es("Comidas", "Meals")),
                    Option("rides", es("Transporte")),
                ),
                max_choices=2,
            ),
            Question(
                "news",
                QuestionType.YES_NO,
                es("¿Noticias?"),
                when=Condition("help", any_of=("tutoring",)),
            ),
            Question("note", QuestionType.INFO, es("Gracias.")),
        ),
        version=2,
        intro=es("Unas preguntas."),
        closing=es("¡Gracias!", "Thank you!"),
        start_keywords=("PERTENENCIA",),
        school="lincoln-es",
        default_language="es",
        extra={"reminder": es("Recordatorio:", "Reminder:"), "round": "spring 2026"},
    )


def test_defaults_fill_what_a_file_leaves_out() -> None:
    activity = parse_activity(HEAD + TOP + "  - {key: safe, type: scale, prompt: Safe}\n", "x")
    assert (activity.version, activity.default_language, activity.intro) == (1, "en", None)
    assert (activity.start_keywords, activity.school, activity.extra) == ((), None, {})
    safe = activity.questions[1]
    assert (safe.scale_min, safe.scale_max, safe.optional, safe.when) == (1, 5, False, None)


def test_yes_no_and_norway_stay_text() -> None:
    source = HEAD + (
        "questions:\n"
        "  - {key: news, type: yes_no, prompt: News}\n"
        "  - {key: why, type: free_text, prompt: Why, when: {question: news, any_of: [no]}}\n"
        "  - {key: when, type: free_text, prompt: 2026-09-01, optional: on}\n"
    )
    activity = parse_activity(source.replace("title: Demo", "title: {en: Demo, no: Demo}"), "x")
    assert activity.title == Localized({"en": "Demo", "no": "Demo"})
    assert activity.questions[1].when == Condition("news", ("no",))
    assert activity.questions[2].prompt == Localized({"en": "2026-09-01"})
    assert activity.questions[2].optional is True


def test_an_update_needs_no_question() -> None:
    update = parse_activity("key: may-update\nkind: update\ntitle: May\nintro: Done!\n", "x")
    assert (update.kind, update.questions) == (ActivityKind.UPDATE, ())


def test_anchors_can_share_labels() -> None:
    source = HEAD + (
        "questions:\n"
        "  - key: a\n    type: scale\n    prompt: A\n"
        "    scale: &agree {min_label: Disagree, max_label: Agree}\n"
        "  - key: b\n    type: scale\n    prompt: B\n    scale: *agree\n"
    )
    first, second = parse_activity(source, "x").questions
    assert first.scale_max_label == second.scale_max_label == Localized({"en": "Agree"})


def test_parsing_is_deterministic() -> None:
    source = (EXAMPLES / "family-priorities.yaml").read_text("utf-8")
    assert parse_activity(source, "a.yaml") == parse_activity(source, "b.yaml")


# -- one rule, one row ---------------------------------------------------------------------

RULES: dict[str, tuple[str, str]] = {
    "key_missing": (
        "kind: survey\ntitle: Demo\n" + TOP,
        "survey.yaml:1: key: is required",
    ),
    "key_not_a_slug": (
        "key: Family Survey\nkind: survey\ntitle: Demo\n" + TOP,
        "survey.yaml:1: key: 'Family Survey' is not a key: use lowercase letters, digits "
        "and dashes, like top-priority",
    ),
    "key_over_40_characters": (
        f"key: {'a' * 41}\nkind: survey\ntitle: Demo\n" + TOP,
        "survey.yaml:1: key: is 41 characters long; at most 40",
    ),
    "kind_unknown": (
        "key: demo\nkind: poll\ntitle: Demo\n" + TOP,
        "survey.yaml:2: kind: 'poll' is not one of: survey, lets_talk, feedback, update, exchange",
    ),
    "version_below_one": (
        HEAD + "version: 0\n" + TOP,
        "survey.yaml:4: version: must be 1 or more",
    ),
    "version_not_a_number": (
        HEAD + "version: two\n" + TOP,
        "survey.yaml:4: version: must be a whole number",
    ),
    "default_language_not_a_code": (
        HEAD + "default_language: English\n" + TOP,
        "survey.yaml:4: default_language: 'English' is not a language code; use a code "
        "like en, es or vi",
    ),
    "title_missing": (
        "key: demo\nkind: survey\n" + TOP,
        "survey.yaml:1: title: is required",
    ),
    "title_a_list": (
        "key: demo\nkind: survey\ntitle: [Demo]\n" + TOP,
        "survey.yaml:3: title: must be a text, or a mapping of language to text",
    ),
    "text_without_the_default_language": (
        "key: demo\nkind: survey\ntitle: {es: Demostración}\n" + TOP,
        "survey.yaml:3: title: needs a text in 'en', the default language",
    ),
    "text_empty": (
        "key: demo\nkind: survey\ntitle:\n  en: Demo\n  es: ''\n" + TOP,
        "survey.yaml:5: title.es: is empty",
    ),
    "text_language_not_a_code": (
        "key: demo\nkind: survey\ntitle:\n  en: Demo\n  Spanish: Demostración\n" + TOP,
        "survey.yaml:5: title.Spanish: 'Spanish' is not a language code; use a code like "
        "en, es or vi",
    ),
    "text_comma_inside_braces": (
        HEAD + TOP.replace("label: Safety}", "label: {en: Safety, and belonging}}"),
        "survey.yaml:9: questions[top].options[0].label.and belonging: 'and belonging' is not "
        "a language code; use a code like en, es or vi (inside { }, a comma starts a new "
        "entry: put quotes around the text)",
    ),
    "field_unknown_but_close": (
        HEAD + "intro: Hi\nclosng: Bye\n" + TOP,
        "survey.yaml:5: closng: unknown field; did you mean 'closing'?",
    ),
    "field_unknown": (
        HEAD + TOP + "    colour: blue\n",
        "survey.yaml:11: questions[top].colour: unknown field; the fields here are key, type, "
        "prompt, options, max_choices, scale, optional, when",
    ),
    "field_twice": (
        HEAD + "title: Demo again\n" + TOP,
        "survey.yaml:4: title: appears twice; line 3 sets it too",
    ),
    "questions_missing": (
        HEAD,
        "survey.yaml:1: questions: a survey needs at least 1 question",
    ),
    "questions_not_a_list": (
        HEAD + "questions: {top: Why}\n",
        "survey.yaml:4: questions: must be a list (one '- ' line per item)",
    ),
    "question_key_missing": (
        HEAD + "questions:\n  - {type: free_text, prompt: Why}\n",
        "survey.yaml:5: questions[0].key: is required",
    ),
    "question_key_not_a_slug": (
        HEAD + "questions:\n  - {key: top_priority, type: free_text, prompt: Why}\n",
        "survey.yaml:5: questions[0].key: 'top_priority' is not a key: use lowercase "
        "letters, digits and dashes, like top-priority",
    ),
    "question_key_twice": (
        HEAD + TOP + "  - {key: top, type: free_text, prompt: Why}\n",
        "survey.yaml:11: questions[1].key: 'top' is already the key of questions[0]",
    ),
    "question_type_unknown": (
        HEAD + "questions:\n  - {key: why, type: essay, prompt: Why}\n",
        "survey.yaml:5: questions[why].type: 'essay' is not one of: single_choice, "
        "multiple_choice, scale, yes_no, ranking, free_text, info",
    ),
    "question_prompt_missing": (
        HEAD + "questions:\n  - {key: why, type: free_text}\n",
        "survey.yaml:5: questions[why].prompt: is required",
    ),
    "options_fewer_than_two": (
        HEAD + TOP.replace("      - {key: reading, label: Reading}\n", ""),
        "survey.yaml:8: questions[top].options: needs at least 2 options",
    ),
    "options_missing": (
        HEAD + "questions:\n  - {key: rank, type: ranking, prompt: Rank these}\n",
        "survey.yaml:5: questions[rank].options: needs at least 2 options",
    ),
    "options_not_allowed": (
        HEAD + TOP.replace("single_choice", "free_text"),
        "survey.yaml:8: questions[top].options: not allowed for a free_text question",
    ),
    "option_key_not_a_slug": (
        HEAD + TOP.replace("key: safety", "key: Safety First"),
        "survey.yaml:9: questions[top].options[0].key: 'Safety First' is not a key: use "
        "lowercase letters, digits and dashes, like top-priority",
    ),
    "option_key_twice": (
        HEAD + TOP.replace("key: reading", "key: safety"),
        "survey.yaml:10: questions[top].options[1].key: 'safety' is already the key of options[0]",
    ),
    "option_label_twice": (
        HEAD + TOP.replace("label: Reading", "label: SAFETY!"),
        "survey.yaml:10: questions[top].options[1].label.en: same text as options[0]; "
        "answers could not tell them apart",
    ),
    "max_choices_above_the_options": (
        HEAD + TOP.replace("single_choice", "multiple_choice") + "    max_choices: 3\n",
        "survey.yaml:11: questions[top].max_choices: is more than the 2 options",
    ),
    "max_choices_zero": (
        HEAD + TOP.replace("single_choice", "ranking") + "    max_choices: 0\n",
        "survey.yaml:11: questions[top].max_choices: must be 1 or more",
    ),
    "max_choices_not_allowed": (
        HEAD + TOP + "    max_choices: 1\n",
        "survey.yaml:11: questions[top].max_choices: only multiple_choice and ranking "
        "questions have it",
    ),
    "scale_not_allowed": (
        HEAD + "questions:\n  - {key: news, type: yes_no, prompt: News, scale: {max: 3}}\n",
        "survey.yaml:5: questions[news].scale: not allowed for a yes_no question",
    ),
    "scale_min_not_below_max": (
        HEAD + "questions:\n  - key: safe\n    type: scale\n    prompt: Safe\n"
        "    scale: {min: 5, max: 5}\n",
        "survey.yaml:8: questions[safe].scale.max: must be more than min (5)",
    ),
    "scale_over_11_points": (
        HEAD + "questions:\n  - key: safe\n    type: scale\n    prompt: Safe\n"
        "    scale: {min: 0, max: 11}\n",
        "survey.yaml:8: questions[safe].scale.max: a scale has at most 11 points (0 to 10)",
    ),
    "scale_below_zero": (
        HEAD + "questions:\n  - key: safe\n    type: scale\n    prompt: Safe\n"
        "    scale: {min: -2, max: 2}\n",
        "survey.yaml:8: questions[safe].scale.min: must be 0 or more",
    ),
    "scale_one_label": (
        HEAD + "questions:\n  - key: safe\n    type: scale\n    prompt: Safe\n"
        "    scale:\n      min_label: Not at all\n",
        "survey.yaml:8: questions[safe].scale: give both min_label and max_label, or neither",
    ),
    "optional_not_a_boolean": (
        HEAD + "questions:\n  - {key: why, type: free_text, prompt: Why, optional: maybe}\n",
        "survey.yaml:5: questions[why].optional: must be true or false",
    ),
    "when_unknown_question": (
        HEAD + TOP + "  - key: why\n    type: free_text\n    prompt: Why\n"
        "    when: {question: tops, any_of: [safety]}\n",
        "survey.yaml:14: questions[why].when.question: there is no question 'tops'",
    ),
    "when_later_question": (
        HEAD + "questions:\n  - key: why\n    type: free_text\n    prompt: Why\n"
        "    when: {question: top, any_of: [safety]}\n" + TOP.removeprefix("questions:\n"),
        "survey.yaml:8: questions[why].when.question: 'top' is questions[1]; a condition "
        "can only look at an earlier answer",
    ),
    "when_same_question": (
        HEAD + "questions:\n  - key: news\n    type: yes_no\n    prompt: News\n"
        "    when: {question: news, any_of: [yes]}\n",
        "survey.yaml:8: questions[news].when.question: 'news' is this question; a condition "
        "can only look at an earlier answer",
    ),
    "when_unknown_option": (
        HEAD + TOP + "  - key: why\n    type: free_text\n    prompt: Why\n"
        "    when:\n      question: top\n      any_of: [safety, buses]\n",
        "survey.yaml:16: questions[why].when.any_of[1]: 'buses' is not one of the answers to "
        "'top': safety, reading",
    ),
    "when_yes_no_answer": (
        HEAD + "questions:\n  - {key: news, type: yes_no, prompt: News}\n"
        "  - {key: why, type: free_text, prompt: Why, when: {question: news, any_of: nope}}\n",
        "survey.yaml:6: questions[why].when.any_of[0]: 'nope' is not one of the answers to "
        "'news': yes, no",
    ),
    "when_bounds_on_a_choice": (
        HEAD + TOP + "  - key: why\n    type: free_text\n    prompt: Why\n"
        "    when: {question: top, at_least: 2}\n",
        "survey.yaml:14: questions[why].when.at_least: only for a scale question; 'top' is "
        "a single_choice question",
    ),
    "when_any_of_on_a_scale": (
        HEAD + "questions:\n  - {key: safe, type: scale, prompt: Safe}\n"
        "  - {key: why, type: free_text, prompt: Why, when: {question: safe, any_of: [1]}}\n",
        "survey.yaml:6: questions[why].when.any_of: 'safe' is a scale question: use at_least "
        "or at_most",
    ),
    "when_outside_the_scale": (
        HEAD + "questions:\n  - {key: safe, type: scale, prompt: Safe}\n"
        "  - {key: why, type: free_text, prompt: Why, when: {question: safe, at_most: 0}}\n",
        "survey.yaml:6: questions[why].when.at_most: 0 is outside the scale (1 to 5)",
    ),
    "when_bounds_crossed": (
        HEAD + "questions:\n  - {key: safe, type: scale, prompt: Safe}\n  - key: why\n"
        "    type: free_text\n    prompt: Why\n    when: {question: safe, at_least: 4, at_most: 2}\n",
        "survey.yaml:9: questions[why].when.at_most: is less than at_least (4)",
    ),
    "when_on_free_text": (
        HEAD + "questions:\n  - {key: why, type: free_text, prompt: Why}\n"
        "  - {key: more, type: free_text, prompt: More, when: {question: why, any_of: [x]}}\n",
        "survey.yaml:6: questions[more].when.question: 'why' is a free_text question; a "
        "condition needs a choice, yes_no or scale question",
    ),
    "when_without_a_test": (
        HEAD + TOP + "  - {key: why, type: free_text, prompt: Why, when: {question: top}}\n",
        "survey.yaml:11: questions[why].when: needs any_of, or at_least / at_most",
    ),
    "start_keyword_means_stop": (
        HEAD + "start_keywords: [PLAN, Parar]\n" + TOP,
        "survey.yaml:4: start_keywords[1]: 'Parar' already means STOP; pick another word",
    ),
    "start_keyword_a_number": (
        HEAD + "start_keywords: [2030]\n" + TOP,
        "survey.yaml:4: start_keywords[0]: '2030' would be read as an answer; use a word like PLAN",
    ),
    "start_keyword_twice": (
        HEAD + "start_keywords:\n  - PLAN\n  - plan\n" + TOP,
        "survey.yaml:6: start_keywords[1]: 'plan' is already start_keywords[0]",
    ),
    "school_not_a_code": (
        HEAD + "school: Lincoln Elementary\n" + TOP,
        "survey.yaml:4: school: 'Lincoln Elementary' is not a school code: use lowercase "
        "letters, digits and dashes, like lincoln-es",
    ),
    "button_data_over_64_bytes": (
        "key: family-priorities-spring-2026-round-2\nkind: survey\ntitle: Demo\n"
        + TOP.replace("key: top", "key: most-important-priority"),
        "survey.yaml:9: questions[most-important-priority].options[0].key: the button data "
        "'q:family-priorities-spring-2026-round-2:most-important-priority:safety' is 70 "
        "bytes, more than Telegram's 64; shorten the activity, question or option key",
    ),
    "yaml_unquoted_colon": (
        HEAD + "intro: Plan 2030: have your say\n" + TOP,
        "survey.yaml:4: not valid YAML: mapping values are not allowed here; put quotes "
        "around a text that contains ': '",
    ),
    "yaml_question_mark_inside_braces": (
        HEAD + "questions:\n  - {key: why, type: free_text, prompt: Why?}\n",
        "survey.yaml:5: not valid YAML: expected ',' or '}', but got '?'; inside { } or "
        "[ ], put quotes around a text with , : or ?",
    ),
    "yaml_tab": (
        HEAD + "questions:\n\t- {key: why, type: free_text, prompt: Why}\n",
        "survey.yaml:5: not valid YAML: found character '\\t' that cannot start any token; "
        "indent with spaces, not tabs",
    ),
    "yaml_unclosed_quote": (
        HEAD + 'intro: "Hello\n' + TOP,
        "survey.yaml:12: not valid YAML: found unexpected end of stream (while scanning a "
        "quoted scalar on line 4)",
    ),
    "yaml_two_documents": (
        HEAD + TOP + "---\n" + HEAD,
        "survey.yaml:11: a second YAML document starts here; a file holds only one",
    ),
    "yaml_unsafe_tag": (
        HEAD + "intro: !!python/object/apply:os.system [ls]\n" + TOP,
        "survey.yaml:4: not valid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    "yaml_control_character": (
        HEAD + "intro: Hi\x00\n" + TOP,
        "survey.yaml:4: not valid YAML: character U+0000 is not allowed",
    ),
    "yaml_alias_bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
        "survey.yaml:1: the file holds more than 20000 values (an alias counts each time "
        "it is used)",
    ),
    "yaml_nested_too_deeply": (
        "key: " + "[" * 5000 + "]" * 5000 + "\n",
        "survey.yaml:1: the YAML is nested too deeply",
    ),
    "file_empty": (
        "",
        "survey.yaml:1: the file is empty; write an activity as fields (name: value)",
    ),
    "file_only_comments": (
        "# to do\n",
        "survey.yaml:1: the file is empty; write an activity as fields (name: value)",
    ),
    "file_a_list": (
        "# questions\n- key: top\n",
        "survey.yaml:2: an activity is a mapping of fields (name: value), not a list",
    ),
    "file_a_single_value": (
        "family survey\n",
        "survey.yaml:1: an activity is a mapping of fields (name: value), not a single value",
    ),
}


@pytest.mark.parametrize(("source", "expected"), RULES.values(), ids=RULES.keys())
def test_each_rule_names_file_line_and_field(source: str, expected: str) -> None:
    assert problems(source) == [expected]


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    source = """\
key: Demo
kind: poll
title: {es: Demostración}
colour: blue
start_keywords: [HELP]
questions:
  - key: top
    type: single_choice
    prompt: What matters most?
    options:
      - {key: safety, label: Safety}
  - key: top
    type: yes_no
    prompt: News?
    options: []
  - key: why
    type: free_txt
    prompt: Why?
  - key: more
    type: free_text
    prompt: More?
    when: {question: top, any_of: [buses]}
"""
    assert problems(source) == [
        "survey.yaml:1: key: 'Demo' is not a key: use lowercase letters, digits and dashes, "
        "like top-priority",
        "survey.yaml:2: kind: 'poll' is not one of: survey, lets_talk, feedback, update, exchange",
        "survey.yaml:3: title: needs a text in 'en', the default language",
        "survey.yaml:4: colour: unknown field; the fields here are key, kind, version, "
        "default_language, title, intro, closing, reminder, round, start_keywords, school, "
        "whatsapp_templates, questions, prompt, scope, seeds, reactions_per_participant, moderation, "
        "opens, closes",
        "survey.yaml:5: start_keywords[0]: 'HELP' already means HELP; pick another word",
        "survey.yaml:10: questions[0].options: needs at least 2 options",
        "survey.yaml:12: questions[1].key: 'top' is already the key of questions[0]",
        "survey.yaml:15: questions[1].options: not allowed for a yes_no question",
        "survey.yaml:17: questions[why].type: 'free_txt' is not one of: single_choice, "
        "multiple_choice, scale, yes_no, ranking, free_text, info",
        "survey.yaml:22: questions[more].when.any_of[0]: 'buses' is not one of the answers to "
        "'top': safety",
    ]


@given(st.text())
def test_any_text_is_an_activity_or_an_activity_error(source: str) -> None:
    try:
        parse_activity(source, "x.yaml")
    except ActivityError as error:
        assert error.problems and all(p.startswith("x.yaml:") for p in error.problems)


@given(st.text(alphabet=st.sampled_from(list("abc: -[]{}\n#&*!|>'\"?,"))))
def test_yaml_like_text_never_raises_anything_else(source: str) -> None:
    try:
        parse_activity(source, "x.yaml")
    except ActivityError:
        pass


# -- files and warnings ------------------------------------------------------------------

TRANSLATED = """\
key: demo
kind: survey
title: {en: Demo, es: Demostración}
questions:
  - key: top
    type: single_choice
    prompt: {en: "What matters most?", es: "¿Qué importa más?"}
    options:
      - {key: safety, label: {en: Safety, es: Seguridad}}
      - {key: reading, label: {en: Reading}}
"""


def write(tmp_path: Path, text: str, name: str = "survey.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_translations_are_warnings_not_errors(tmp_path: Path) -> None:
    path = write(tmp_path, TRANSLATED)
    report = check_activity_file(path, ["en", "es", "vi"])
    assert report.errors == []
    assert report.activity is not None
    assert report.warnings == [
        f"{path}:3: title: no 'vi' translation (the default language is shown)",
        f"{path}:7: questions[top].prompt: no 'vi' translation (the default language is shown)",
        f"{path}:9: questions[top].options[0].label: no 'vi' translation (the default "
        "language is shown)",
        f"{path}:10: questions[top].options[1].label: no 'es' translation (the default "
        "language is shown)",
        f"{path}:10: questions[top].options[1].label: no 'vi' translation (the default "
        "language is shown)",
    ]


def test_a_question_over_two_sms_segments_is_a_warning(tmp_path: Path) -> None:
    long_es = "¿Cuál de estas opciones es la más importante para usted y su familia este año?"
    path = write(
        tmp_path,
        TRANSLATED.replace("¿Qué importa más?", long_es).replace(
            "{en: Reading}", "{en: Reading, es: Lectura y matemáticas}"
        )
        + "      - {key: buses, label: {en: Buses, es: Autobuses y transporte escolar}}\n",
    )
    assert check_activity_file(path, ["en", "es"]).warnings == [
        f"{path}:7: questions[top].prompt: 3 SMS segments in 'es' (UCS-2)",
    ]


def test_curly_quotes_that_cost_a_segment_are_pointed_out(tmp_path: Path) -> None:
    prompt = "What’s the one thing — big or small — you’d change? " * 3
    path = write(
        tmp_path,
        f"key: demo\nkind: survey\ntitle: Demo\nquestions:\n"
        f'  - key: why\n    type: free_text\n    prompt: "{prompt.strip()}"\n',
    )
    assert check_activity_file(path, ["en"]).warnings == [
        f"{path}:7: questions[why].prompt: 3 SMS segments in 'en' (UCS-2); 1 with straight "
        "quotes and plain dashes",
    ]


def test_a_default_language_the_district_lacks_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "default_language: fr\n" + HEAD + TOP)
    assert check_activity_file(path, ["en"]).warnings[0] == (
        f"{path}:1: default_language: 'fr' is not one of the district's languages (en)"
    )


def test_a_translation_no_family_will_see_is_named_once_per_language(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "key: demo\nkind: survey\ntitle:\n  en: Our schools\n  de: Unsere Schulen\n"
        "  fr: Nos écoles\nquestions:\n  - key: q\n    type: free_text\n"
        "    prompt: {en: 'What?', de: 'Was?', fr: 'Quoi ?'}\n",
    )
    assert check_activity_file(path, ["en"]).warnings == [
        f"{path}:5: title.de: 'de' is not a language the bot speaks; no family sees these texts",
        f"{path}:6: title.fr: 'fr' is not one of the district's languages (en); no family sees "
        "these texts until district.yaml lists it",
    ]


def test_a_report_with_errors_has_no_activity(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD)
    report = check_activity_file(path, ["en"])
    assert report.activity is None
    assert report.errors == [f"{path}:1: questions: a survey needs at least 1 question"]
    assert report.warnings == []


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "excel.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + TOP).encode("utf-8"))
    assert load_activity_file(path).key == "demo"
    assert parse_activity("\ufeff" + HEAD + TOP, "x").key == "demo"


FILE_PROBLEMS = {
    "missing": (None, "{path}: no such file"),
    "a_folder": (b"", "{path}: is a folder, not a file"),
    "not_utf8": (
        (HEAD + "intro: Caf\xe9\n" + TOP).encode("latin-1"),
        "{path}:4: not UTF-8 text (byte 0xe9); save the file as UTF-8",
    ),
    "empty": (b"", "{path}:1: the file is empty; write an activity as fields (name: value)"),
}


@pytest.mark.parametrize(("content", "expected"), FILE_PROBLEMS.values(), ids=FILE_PROBLEMS.keys())
def test_unreadable_files_are_one_clear_error(
    tmp_path: Path, content: bytes | None, expected: str, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "survey.yaml"
    if request.node.callspec.id == "a_folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    message = expected.format(path=path)
    assert check_activity_file(path, ["en"]).errors == [message]
    with pytest.raises(ActivityError) as raised:
        load_activity_file(path)
    assert raised.value.problems == [message]
