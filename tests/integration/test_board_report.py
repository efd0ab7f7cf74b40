"""`engage report`: a print-ready board report of an activity, small counts hidden."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.cli import app
from storage import models
from tests.conftest import EXAMPLES
from tests.integration.round_data import Round, enroll, seed_round

SECRET = "district-secret-2026-board"


@pytest.fixture
def round_(engine: Engine) -> Round:
    """12 English-speaking parents at Lincoln answered everything; 3 at Adams in Spanish."""
    survey = seed_round(engine)
    for index in range(12):
        person = survey.person(phone=f"+1555050{index:04d}")
        survey.full_survey(person, why="The bus is late <again>")
    for index in range(3):
        person = survey.person(language="es", school="adams-ms", phone=f"+1555060{index:04d}")
        survey.full_survey(person, "es")
    enroll(engine, {("lincoln-es", "en", "parent"): 30, ("adams-ms", "es", "parent"): 40})
    return survey


def run(db_url: str, *args: str) -> object:
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_PSEUDONYM_SECRET": SECRET,
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)


def sections(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<section class="question" data-question="(\w+)">(.*?)</section>', html, re.S)
    )


def test_one_command_writes_a_print_ready_report_with_the_pack_summary(
    db_url: str, engine: Engine, round_: Round, tmp_path: Path
) -> None:
    path = tmp_path / "board.html"
    result = run(db_url, "report", "priorities", "-o", str(path))

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    said = " ".join(result.stderr.split())  # type: ignore[attr-defined]  # wrapped at 80 columns
    assert "written to" in said and "counts under 10 hidden" in said
    html = path.read_text()
    assert html.startswith("<!doctype html>") and "@page" in html
    assert "<h1>Family priorities</h1>" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from anywhere
    assert "15</strong>people answered" in html
    found = sections(html)
    assert list(found) == ["top", "many", "safe", "news", "rank", "why"]
    assert "What matters most?" in found["top"] and "n = 15 people" in found["top"]
    assert "data:image/png;base64," in found["top"]
    assert "<td>Reading</td><td class=n>&lt;10</td>" in found["top"]  # suppressed as in public
    assert "Average answer: <strong>4.0</strong> (n = 15)" in found["safe"]
    assert "shares add up to more than 100%" in found["many"]
    assert "<td class=n>1</td><td>Reading</td><td class=n>45</td>" in found["rank"]  # 15 × 3
    assert "Borda points" in html and "under-represented" in html
    assert "The bus is late" not in html  # no quotes unless asked for
    assert (path.stat().st_mode & 0o077) == 0  # the file is the owner's alone
    with engine.connect() as connection:
        entry = connection.execute(
            select(models.AuditEntry.__table__).where(models.AuditEntry.action == "export.report")
        ).one()
    assert entry.detail["activity"] == "priorities"


def test_quotes_come_only_when_asked_and_are_escaped(
    db_url: str, engine: Engine, round_: Round, tmp_path: Path
) -> None:
    path = tmp_path / "board.html"
    result = run(db_url, "report", "priorities", "-o", str(path), "--with-quotes")

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "“The bus is late &lt;again&gt;”" in sections(path.read_text())["why"]


def test_an_activity_with_no_answers_is_a_clear_error_and_writes_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    seed_round(engine)
    result = run(db_url, "report", "priorities", "-o", str(tmp_path / "board.html"))

    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "no answers yet" in str(result.exception) + result.output  # type: ignore[attr-defined]
    assert list(tmp_path.glob("board*")) == []
