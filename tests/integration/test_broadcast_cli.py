"""The organizer's commands: roster import, segments and broadcasts, as typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from bot.authoring.activities import parse_activity
from bot.cli import app
from bot.services.inbound import utcnow
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from tests.conftest import EXAMPLES

ACCOUNT = "AC" + "3" * 32


@pytest.fixture
def run(db_url: str, engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_QUIET_HOURS": "off",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+13125550100",
    }

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=True)

    migrate(engine)
    source = (EXAMPLES / "family-priorities.yaml").read_text("utf-8")
    store_activity(engine, parse_activity(source, "family-priorities.yaml"), source, utcnow())
    return invoke


def count(engine: Engine, model: type[models.Base]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_roster_dry_run_lists_changes_and_bad_rows_and_changes_nothing(
    run, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "phone,language,school,role\n(312) 555-0101,es,lincoln-es,parent\n555,es,lincoln-es,parent\n"
    )
    result = run("roster", "import", str(roster), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "line 2: add +13125550101" in result.output
    assert f"{roster}:3: phone: '555' is not a valid phone number" in result.output
    assert "1 people would be added" in result.output and "Dry run" in result.output
    assert count(engine, models.Participant) == 0
    assert run("roster", "import", str(roster)).exit_code == 0
    assert count(engine, models.Participant) == 1


def test_a_broadcast_shows_its_numbers_asks_and_queues(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    assert run("roster", "import", str(EXAMPLES / "roster.csv")).exit_code == 0
    preview = run("broadcast", "family-priorities-2026", "--to", "role=parent", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "will be sent" in preview.output and "declined" in preview.output
    assert count(engine, models.Broadcast) == 0
    refused = run("broadcast", "family-priorities-2026", "--to", "role=parent", input="n\n")
    assert refused.exit_code == 1 and count(engine, models.Broadcast) == 0
    sent = run(
        "broadcast", "family-priorities-2026", "--to", "role=parent", "--yes", "--reminders", "0"
    )
    assert sent.exit_code == 0, sent.output
    assert "Broadcast #1: 7 message(s) queued" in sent.output
    status = run("broadcast", "status", "1")
    assert "queued 7 · sent 0 · delivered 0 · failed 0 · opted out 0 · cancelled 0" in status.output
    assert run("segment", "save", "lincoln", "--to", "school=lincoln-es").exit_code == 0
    assert "school=lincoln-es" in run("segment", "list").output
    paused = run("broadcast", "pause", "1")
    assert "Broadcast #1 paused; 7 message(s) wait" in paused.output
    assert "(queued, paused)" in run("broadcast", "status", "1").output
    assert "already paused" in str(run("broadcast", "pause", "1").exception)
    assert "Broadcast #1 resumed; 7 message(s) to send" in run("broadcast", "resume", "1").output
    cancelled = run("broadcast", "cancel", "1")
    assert "7 queued message(s) withdrawn" in cancelled.output
    status = run("broadcast", "status", "1")
    assert (
        "(cancelled): queued 0 · sent 0 · delivered 0 · failed 0 · opted out 0 · cancelled 7"
        in (status.output)
    )
    assert "is cancelled; it cannot resume" in str(run("broadcast", "resume", "1").exception)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "school=hogwarts"), "unknown school 'hogwarts'"),
        (("--to", "all", "--at", "2020-01-01T10:00"), "is in the past"),
        ((), "add --to FILTER"),
        (("--to", ""), "the audience filter is empty"),
    ],
    ids=["unknown-school", "past", "no-audience", "empty-filter"],
)
def test_bad_broadcasts_fail_with_one_line(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run("broadcast", "family-priorities-2026", *args)
    assert result.exit_code != 0
    assert message in str(result.exception)


def test_representation_rates_have_a_decimal_and_under_represented_is_an_audience(
    run, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.round_data import enroll, seed_round

    survey = seed_round(engine)
    for n in range(3):
        person = survey.person(school="lincoln-es", language="en", phone=f"+1312555020{n}")
        survey.answer(person, "top", "safety", "1")
    for n in range(4):
        survey.person(school="adams-ms", language="es", phone=f"+1312555030{n}")
    enroll(engine, {("lincoln-es", "en", "parent"): 40, ("adams-ms", "es", "parent"): 300})

    report = run("representation", "priorities", "--by", "school")
    assert report.exit_code == 0, report.output
    said = " ".join(report.output.split())
    assert "District rate 0.9%" in said
    assert "under-represented: 1 of 2 row(s) flagged." in said
    assert "7.5%" in said and "nobody yet" in said

    plan = run("broadcast", "priorities", "--to", "under-represented=priorities", "--dry-run")
    assert plan.exit_code == 0, plan.output
    said = " ".join(plan.output.split())
    assert "group=adams-ms/es/parent" in said
    assert "people matching 4" in said
