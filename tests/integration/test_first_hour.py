"""A new organizer's first hour, command by command, as README.md tells it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import EngageError
from tests.conftest import EXAMPLES, ROOT


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


def _export_rows(folder: Path) -> int:
    lines = (folder / "engage-demo-export.csv").read_text(encoding="utf-8").splitlines()
    return len(lines) - 1


def test_the_demo_starts_afresh_each_time(folder: Path) -> None:
    first = engage("demo")
    assert first.exit_code == 0, first.output
    assert _export_rows(folder) == 14

    second = engage("demo")

    assert second.exit_code == 0, second.output
    assert _export_rows(folder) == 14
    assert "Gracias por su mensaje" not in second.output
    assert said(second).count("elegir su idioma, responda con una cifra") == 1
    assert "engage simulate --demo" in second.output


def test_simulate_and_serve_find_the_demos_database(folder: Path) -> None:
    assert engage("demo").exit_code == 0

    chat = engage("simulate", "--demo", "--as", "+15550100199", input="hola\n")

    assert chat.exit_code == 0, chat.output
    assert "Riverside Plan 2030" in chat.output  # the examples' district, not the defaults
    assert not (folder / "engage.db").exists()
    assert "lets-talk-belonging" in said(engage("activity", "list", "--demo"))


def test_demo_commands_say_to_run_the_demo_first(folder: Path) -> None:
    for command in (["simulate", "--demo"], ["serve", "--demo"], ["activity", "list", "--demo"]):
        result = engage(*command)
        assert result.exit_code == 1
        assert isinstance(result.exception, EngageError)
        assert "no demo database in this folder" in str(result.exception)
        assert "run `engage demo` here first" in str(result.exception)
    assert not (folder / "engage-demo.db").exists()


def test_commands_elsewhere_never_create_an_empty_database(folder: Path) -> None:
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    for command in (["export", "family-priorities-2026"], ["simulate"], ["activity", "list"]):
        result = CliRunner().invoke(
            app, ["--verbose", *command], env={"ENGAGE_DATABASE_URL": "sqlite:///engage.db"}
        )
        assert result.exit_code == 1
        problem = str(result.exception)
        assert f"no database at {folder / 'engage.db'}" in problem
        assert (
            "ENGAGE_DATABASE_URL=sqlite:///engage.db, relative to the folder you are in" in problem
        )
        assert "run `engage init` to create one here" in problem
    assert not (folder / "engage.db").exists()
    assert engage("init").exit_code == 0
    assert (folder / "engage.db").exists()


def test_a_missing_district_file_names_the_folder_it_was_looked_for_in(folder: Path) -> None:
    result = engage("init", env={"ENGAGE_DISTRICT_FILE": "district.yaml"})

    assert result.exit_code == 1
    assert (
        f"ENGAGE_DISTRICT_FILE=district.yaml: no such file in {folder}; use the file's full path"
        in str(result.exception)
    )


def test_finding_nothing_says_which_database_and_district_file(folder: Path) -> None:
    env = {
        **os.environ,
        "ENGAGE_DISTRICT_FILE": str(folder / "examples" / "district.yaml"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("ENGAGE_DATABASE_URL", None)
    run = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True, cwd=folder)

    result = subprocess.run(
        [*run, "export", "family-priorities-2026"],
        env=env,
        capture_output=True,
        text=True,
        cwd=folder,
    )

    assert result.returncode == 1
    text = " ".join(result.stderr.split())
    assert "no activity named 'family-priorities-2026'" in text
    assert (
        f"(using database {folder / 'engage.db'}; "
        f"district file {folder / 'examples' / 'district.yaml'})" in text
    )


@pytest.fixture
def district(folder: Path) -> dict[str, str]:
    """A district with the examples' activities loaded and roster imported; no provider."""
    env = {"ENGAGE_DISTRICT_FILE": "examples/district.yaml"}
    assert engage("init", env=env).exit_code == 0
    activities = [str(p) for p in sorted(Path("examples").glob("*.yaml"))]
    assert engage("activity", "load", *activities, env=env).exit_code == 0
    assert engage("roster", "import", "examples/roster.csv", env=env).exit_code == 0
    return env


def test_a_dry_run_needs_no_provider_credentials(district: dict[str, str]) -> None:
    result = engage("broadcast", "family-priorities-2026", "--to", "all", "--dry-run", env=district)

    assert result.exit_code == 0, result.output
    assert "will be sent     11 (slack 2, sms 9)" in result.stdout
    assert "no channel is configured here" in result.stderr
    assert result.stderr.splitlines()[-1] == "Dry run: nothing sent."
    refused = engage("broadcast", "family-priorities-2026", "--to", "all", "--yes", env=district)
    assert "no channel is configured here" in str(refused.exception)


def test_reminders_count_from_the_first_send_and_skip_quiet_hours(
    district: dict[str, str],
) -> None:
    # Typed at 23:00, inside quiet hours (20:00-08:00): the first SMS goes at 08:00.
    late = engage(
        "broadcast", "family-priorities-2026", "--to", "all", "--dry-run",
        "--at", "2030-03-04T23:00", env=district,
    )  # fmt: skip
    assert late.exit_code == 0, late.output
    assert "reminders        2030-03-08 08:00 CST" in late.stdout
    # 36 hours after 10:00 is 22:00, quiet: the reminder waits for 08:00.
    spaced = engage(
        "broadcast", "family-priorities-2026", "--to", "all", "--dry-run",
        "--at", "2030-03-04T10:00", "--reminders", "2", "--reminder-delay", "36h", env=district,
    )  # fmt: skip
    assert "reminders        2030-03-06 08:00 CST, 2030-03-08 08:00 CST" in spaced.stdout


def test_a_progress_update_gets_no_reminders_unless_asked(district: dict[str, str]) -> None:
    update = ["broadcast", "progress-update-2026-10", "--to", "all", "--dry-run"]

    plain = engage(*update, env={**district, "ENGAGE_REMINDERS": "2"})
    asked = engage(*update, "--reminders", "1", env=district)

    assert plain.exit_code == 0, plain.output
    assert "reminders" not in plain.stdout
    assert "reminders" in asked.stdout


def test_broadcast_status_reads_whole_at_80_columns(district: dict[str, str]) -> None:
    sms = {
        **district,
        "TWILIO_ACCOUNT_SID": "AC" + "3" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+13125550100",
    }
    to = "role=parent,school=lincoln-es,language=es|vi"
    sent = engage("broadcast", "family-priorities-2026", "--to", to, "--yes", env=sms)
    assert sent.exit_code == 0, sent.output

    status = engage("broadcast", "status", env=sms)

    assert status.exit_code == 0, status.output
    assert "…" not in status.stdout
    assert all(len(line) <= 80 for line in status.stdout.splitlines())
    assert "family-priorities-2026" in status.stdout
    assert "activity to" in status.stdout and "role=parent,school=" in status.stdout
    assert "times in America/Chicago" in status.stdout


def test_help_shows_flags_without_a_type() -> None:
    shown = engage("--help").output + engage("broadcast", "--help").output

    assert "<bool>" not in shown
    assert "--verbose" in shown and "--dry-run" in shown


def test_problems_name_questions_and_sections_by_their_keys(folder: Path) -> None:
    survey = folder / "survey.yaml"
    survey.write_text(
        "key: s\nkind: survey\ntitle: S\nquestions:\n"
        "  - {key: first, type: free_text, prompt: 'Why'}\n"
        "  - {key: grade, type: scale, prompt: 'How', scale: {min: 5, max: 1}}\n",
        encoding="utf-8",
    )
    feedback = folder / "examples" / "draft-plan-feedback.yaml"

    bad = engage("activity", "validate", str(survey))
    costs = engage("activity", "validate", str(feedback), "--segments")

    assert "survey.yaml:6: questions[grade].scale.max: must be more than min (5)" in said(bad)
    assert "questions[1]" not in said(bad)
    assert "sections[reading].comment " in said(costs)
    assert "sections[reading] " in said(costs) and "questions[0]" not in said(costs)


def test_loading_says_which_activity_a_family_starts_after_signing_up(folder: Path) -> None:
    district = folder / "examples" / "district.yaml"
    env = {"ENGAGE_DISTRICT_FILE": str(district)}
    assert engage("init", env=env).exit_code == 0

    chosen = engage("activity", "load", "examples/family-priorities.yaml", env=env)
    district.write_text(
        district.read_text(encoding="utf-8").replace(
            "first_activity: family-priorities-2026", "first_activity: gone-2020"
        ),
        encoding="utf-8",
    )
    missing = engage("activity", "load", "examples/family-priorities.yaml", env=env)

    assert chosen.exit_code == 0 and "first_activity" not in chosen.output
    assert "the district file's first_activity, 'gone-2020', is not an open activity" in said(
        missing
    )


def test_the_preview_estimates_at_the_rate_the_workers_send(
    district: dict[str, str], folder: Path
) -> None:
    from bot.bootstrap import build_runtime, report_send_rates
    from bot.settings import Settings

    preview = ["broadcast", "family-priorities-2026", "--to", "all", "--dry-run"]
    before = engage(*preview, env=district)
    assert "sms 1.0/s" in said(before) and "no worker has said its own yet" in said(before)
    worker = build_runtime(
        Settings(
            database_url=f"sqlite:///{folder / 'engage.db'}",
            twilio_account_sid="AC" + "3" * 32,
            twilio_auth_token="token",
            twilio_from_number="+13125550100",
            sms_per_second=9.0,
        ),
        detector=False,
    )
    report_send_rates(worker)  # what `engage worker` and `engage serve` do on start
    worker.engine.dispose()

    after = engage(*preview, env={**district, "ENGAGE_SMS_PER_SECOND": "1"})

    assert "sms 9.0/s" in said(after) and "(as the workers send)" in said(after)
    assert "~1 s at" in said(after)  # 9 texts at 9 a second
