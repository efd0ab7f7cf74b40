"""A new organizer's first hour, command by command, as README.md tells it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import EXAMPLES


def engage(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """`engage ARGS` in the current folder, with only the variables given."""
    clean = {
        "ENGAGE_DATABASE_URL": None,
        "ENGAGE_DISTRICT_FILE": None,
        "TWILIO_ACCOUNT_SID": None,
        "TWILIO_AUTH_TOKEN": None,
        "TELEGRAM_BOT_TOKEN": None,
        "SLACK_BOT_TOKEN": None,
    }
    return CliRunner().invoke(app, list(args), env={**clean, **(env or {})}, input=input)


def said(result: Result) -> str:
    """What the command printed, stdout and stderr, with Rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder with a copy of examples/, as in a new checkout; the working folder."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_loading_examples_glob_skips_the_district_file_with_a_note(folder: Path) -> None:
    files = sorted(str(p.relative_to(folder)) for p in (folder / "examples").glob("*.yaml"))
    env = {"ENGAGE_DISTRICT_FILE": "examples/district.yaml"}
    assert engage("init", env=env).exit_code == 0

    result = engage("activity", "load", *files, env=env)

    assert result.exit_code == 0, result.output
    text = said(result)
    assert "examples/district.yaml: a district file, not an activity: skipped" in text
    assert "examples/family-priorities.yaml: family-priorities-2026 v1 loaded" in text
    assert "examples/progress-update.yaml: progress-update-2026-10 v1 loaded" in text
    assert ": ok" not in text
    listed = said(engage("activity", "list", env=env))
    assert "family-priorities-2026" in listed and "lets-talk-belonging" in listed


def test_a_load_with_an_invalid_file_loads_nothing_and_never_says_ok(folder: Path) -> None:
    (folder / "bad.yaml").write_text("key: bad\nkind: survey\ntitle: x\n", encoding="utf-8")
    assert engage("init").exit_code == 0

    result = engage("activity", "load", "examples/family-priorities.yaml", "bad.yaml")

    assert result.exit_code == 1
    text = said(result)
    assert "bad.yaml:1: questions: a survey needs at least 1 question" in text
    assert "Nothing loaded: fix the errors above, then load again." in text
    assert "ok" not in text.replace("look", "")
    assert "family-priorities-2026" not in said(engage("activity", "list"))


def test_validate_checks_activities_and_notes_the_district_file(folder: Path) -> None:
    result = engage(
        "activity", "validate", "examples/district.yaml", "examples/progress-update.yaml"
    )

    assert result.exit_code == 0
    text = said(result)
    assert "examples/district.yaml: a district file, not an activity: skipped" in text
    assert "examples/progress-update.yaml: ok" in text
