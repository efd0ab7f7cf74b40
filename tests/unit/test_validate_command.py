"""`engage activity validate`: what an organizer reads before loading an activity."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.authoring.activities import check_activity_file
from bot.cli import app
from tests.conftest import EXAMPLES

DISTRICT = {"ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml")}


def _validate(*args: str, env: dict[str, str] = DISTRICT) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["activity", "validate", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


def test_validate_counts_the_translated_texts_per_district_language() -> None:
    code, output = _validate(str(EXAMPLES / "family-priorities.yaml"))
    assert code == 0
    assert (
        "family-priorities.yaml: ok (4 warnings); translated: en 17/17, es 17/17, vi 17/17"
        in output
    )
    # A roster family's first message: who we are and how to stop, the intro, question 1.
    assert "intro: as a first message in 'es': 5 SMS segments (UCS-2)" in output


def test_validate_shows_each_message_sms_cost_per_language() -> None:
    code, output = _validate(str(EXAMPLES / "family-priorities.yaml"), "--segments")
    assert code == 0
    assert "│ questions[priorities].prompt │ 2 (GSM-7) │ 4 (UCS-2) │ 3 (UCS-2) │" in output
    assert "│ questions[connected].prompt │ 1 (GSM-7) │ 1 (GSM-7) │ 2 (UCS-2) │" in output


def test_validate_names_each_text_a_district_language_lacks(tmp_path: Path) -> None:
    district = tmp_path / "district.yaml"
    district.write_text(
        "program_name: Plan\ncontact: Call 555-0100\nlanguages: [en, so, ar]\n", encoding="utf-8"
    )
    activity = tmp_path / "a.yaml"
    activity.write_text(
        "key: a\nkind: survey\ntitle: {en: Our schools, so: Dugsiyadeena}\n"
        "questions:\n  - {key: q, type: free_text, prompt: 'What matters most?'}\n",
        encoding="utf-8",
    )
    report = check_activity_file(activity, ["en", "so", "ar"])
    assert report.translated == {"en": 2, "so": 1, "ar": 0}
    code, output = _validate(str(activity), env={"ENGAGE_DISTRICT_FILE": str(district)})
    assert code == 0
    assert f"warning {activity}:5: questions[q].prompt: no 'so' translation" in output
    assert f"warning {activity}:3: title: no 'ar' translation" in output
    assert "translated: en 2/2, so 1/2, ar 0/2" in output


def test_validate_fails_on_an_invalid_activity(tmp_path: Path) -> None:
    activity = tmp_path / "bad.yaml"
    activity.write_text("key: bad\nkind: survey\ntitle: x\n", encoding="utf-8")
    code, output = _validate(str(activity))
    assert code == 1
    assert f"error {activity}:1: questions: a survey needs at least 1 question" in output
