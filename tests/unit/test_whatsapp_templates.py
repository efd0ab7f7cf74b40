"""WhatsApp templates declared in activity files: read, checked, and filled per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.authoring.activities import check_activity_file, parse_activity
from bot.core.messages import Template
from bot.core.whatsapp import WhatsAppTemplate
from bot.errors import ActivityError

EN = "HX" + "a" * 32
ES = "HX" + "b" * 32
ACTIVITY = f"""\
key: demo
kind: survey
title: {{en: Our schools, es: Nuestras escuelas}}
intro: {{en: Tell us what matters., es: Díganos qué importa.}}
whatsapp_templates:
  en: {{content_sid: {EN}, variables: [program, title]}}
  es:
    content_sid: {ES}
    variables: [program, title, intro]
questions:
  - key: why
    type: free_text
    prompt: {{en: "Why?", es: "¿Por qué?"}}
"""


def problems(source: str) -> list[str]:
    with pytest.raises(ActivityError) as raised:
        parse_activity(source, "survey.yaml")
    return raised.value.problems


def test_templates_are_read_per_language() -> None:
    activity = parse_activity(ACTIVITY, "survey.yaml")
    assert activity.whatsapp_templates == {
        "en": WhatsAppTemplate(EN, ("program", "title")),
        "es": WhatsAppTemplate(ES, ("program", "title", "intro")),
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", Template(EN, ("Riverside Plan 2030", "Our schools"))),
        ("es", Template(ES, ("Riverside Plan 2030", "Nuestras escuelas", "Díganos qué importa."))),
        # A language the activity lacks reads the default language, template and all.
        ("vi", Template(EN, ("Riverside Plan 2030", "Our schools"))),
    ],
    ids=["en", "es", "vi-reads-en"],
)
def test_a_template_is_filled_in_the_family_language(language: str, expected: Template) -> None:
    activity = parse_activity(ACTIVITY, "survey.yaml")
    assert activity.whatsapp_template(language, "Riverside Plan 2030") == expected


def test_a_language_without_a_template_has_none() -> None:
    source = ACTIVITY.replace(f"  en: {{content_sid: {EN}, variables: [program, title]}}\n", "")
    activity = parse_activity(source, "survey.yaml")
    assert activity.whatsapp_template("en", "Riverside") is None


def test_an_activity_without_templates_has_none() -> None:
    head, _, rest = ACTIVITY.partition("whatsapp_templates:")
    source = head + "questions:" + rest.partition("questions:")[2]
    assert parse_activity(source, "survey.yaml").whatsapp_template("es", "R") is None


RULES = {
    "sid_not_a_content_sid": (
        ACTIVITY.replace(EN, "HX123"),
        "survey.yaml:6: whatsapp_templates.en.content_sid: 'HX123' is not a Content SID; copy "
        "the template's SID from Twilio (HX and 32 letters and digits)",
    ),
    "sid_missing": (
        ACTIVITY.replace(f"content_sid: {EN}, ", ""),
        "survey.yaml:6: whatsapp_templates.en.content_sid: is required",
    ),
    "language_not_a_code": (
        ACTIVITY.replace("  en: {content_sid", "  English: {content_sid"),
        "survey.yaml:6: whatsapp_templates.English: 'English' is not a language code; use a "
        "code like en, es or vi",
    ),
    "language_the_activity_lacks": (
        ACTIVITY.replace("  es:\n", "  vi:\n"),
        "survey.yaml:7: whatsapp_templates.vi: the activity has no 'vi' texts (its title has "
        "none), so no family would get this template; translate the activity or remove the "
        "template",
    ),
    "variable_unknown": (
        ACTIVITY.replace("[program, title]", "[program, name]"),
        "survey.yaml:6: whatsapp_templates.en.variables[1]: 'name' is not a template variable; "
        "use program, title, intro, reminder",
    ),
    "variable_the_activity_lacks": (
        ACTIVITY.replace("[program, title]", "[reminder]"),
        "survey.yaml:6: whatsapp_templates.en.variables[0]: the activity has no reminder to "
        "fill it with",
    ),
    "variable_untranslated": (
        ACTIVITY.replace("es: Díganos qué importa.", "fr: Dites-nous."),
        "survey.yaml:9: whatsapp_templates.es.variables[2]: the intro has no 'es' text; the "
        "template would mix languages",
    ),
    "unknown_field": (
        ACTIVITY.replace("variables: [program, title]}", "variables: [title], varables: [intro]}"),
        "survey.yaml:6: whatsapp_templates.en.varables: unknown field; did you mean 'variables'?",
    ),
}


@pytest.mark.parametrize(("source", "expected"), RULES.values(), ids=RULES.keys())
def test_each_template_rule_names_file_line_and_field(source: str, expected: str) -> None:
    assert problems(source) == [expected]


def test_district_languages_without_a_template_are_warned(tmp_path: Path) -> None:
    path = tmp_path / "survey.yaml"
    path.write_text(
        ACTIVITY.replace("title: {en: Our schools,", "title: {vi: Trường học, en: Our schools,"),
        encoding="utf-8",
    )
    warnings = check_activity_file(path, ["en", "es", "vi"]).warnings
    assert (
        f"{path}:5: whatsapp_templates: no 'vi' template: WhatsApp families reading vi who "
        "have not written in 24 hours cannot be sent this activity"
    ) in warnings


def test_a_template_in_a_language_the_district_lacks_is_warned(tmp_path: Path) -> None:
    path = tmp_path / "survey.yaml"
    path.write_text(ACTIVITY, encoding="utf-8")
    assert check_activity_file(path, ["en"]).warnings == [
        f"{path}:3: title.es: 'es' is not one of the district's languages (en); no family sees "
        "these texts until district.yaml lists it",
        f"{path}:7: whatsapp_templates.es: 'es' is not one of the district's languages (en); "
        "no family gets this template",
    ]


def test_the_documented_templates_are_valid() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "activities.md").read_text("utf-8")
    section = guide.split("### WhatsApp templates", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    head = "key: demo\nkind: update\ntitle: {en: News, es: Noticias}\nmessage: {en: Hi, es: Hola}\n"
    activity = parse_activity(head + block, "guide.yaml")
    assert sorted(activity.whatsapp_templates) == ["en", "es"]
