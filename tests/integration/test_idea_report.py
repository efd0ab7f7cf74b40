"""`engage ideas report` and the synthesis pack of an exchange, on SQLite and PostgreSQL:
the Polis files read back with pandas, and public output without small cells or Polis files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.authoring.activities import parse_activity
from bot.cli import app
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from tests.conftest import EXAMPLES
from tests.integration.exchange_data import seed_exchange

KEY = "belonging"
EXCHANGE = f"""\
key: {KEY}
kind: exchange
title: Ideas for belonging
prompt: What one change would help students belong?
"""
NOW = datetime(2026, 3, 3, 9, 0)
PEOPLE, IDEAS = 60, 12


@pytest.fixture
def run(db_url: str, engine: Engine):  # type: ignore[no-untyped-def]
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_SUPPRESSION_THRESHOLD": "5",
        "ENGAGE_PSEUDONYM_SECRET": "s" * 32,
    }

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    migrate(engine)
    store_activity(engine, parse_activity(EXCHANGE, "x.yaml"), EXCHANGE, NOW)
    seed_exchange(engine, KEY, PEOPLE, IDEAS)
    return invoke


def test_the_report_finds_the_groups_and_writes_polis_files_pandas_reads(
    run, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "report"
    result = run("ideas", "report", KEY, "-o", str(folder))
    assert result.exit_code == 0, result.output
    assert "720 reactions from 60 people to 12 ideas; 2 opinion groups" in result.output
    assert "consensus: Idea" in result.output
    comments = pd.read_csv(folder / "polis" / "comments.csv")
    votes = pd.read_csv(folder / "polis" / "votes.csv")
    people = pd.read_csv(folder / "polis" / "participants-votes.csv")
    summary = pd.read_csv(folder / "polis" / "summary.csv", header=None)
    assert list(comments.columns) == [
        "timestamp",
        "datetime",
        "comment-id",
        "author-id",
        "agrees",
        "disagrees",
        "moderated",
        "comment-body",
    ]
    assert list(votes.columns) == ["timestamp", "datetime", "comment-id", "voter-id", "vote"]
    assert len(votes) == 720 and sorted(comments["comment-id"]) == list(range(IDEAS))
    assert set(people["group-id"].dropna()) == {0, 1}
    assert {"topic", "voters", "comments", "groups"} <= set(summary[0])
    assert (folder / "ideas.xlsx").exists()
    # The spread between the groups is kept for the next-idea rule: wide on the ideas
    # that split them, narrow on those every group likes.
    with engine.connect() as connection:
        splits = dict(connection.execute(select(models.Idea.number, models.Idea.group_split)).all())
    assert all(splits[n] is not None and splits[n] < 0.3 for n in range(4))
    assert all(splits[n] is not None and splits[n] > 0.5 for n in range(4, IDEAS))


def test_the_public_pack_of_an_exchange_hides_small_cells_and_has_no_row_level_files(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "pack"
    result = run("export", KEY, "--pack", str(folder), "--public")
    assert result.exit_code == 0, result.output
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not any(name.startswith("polis/") for name in files)
    assert {"README.md", "ideas.xlsx", "ideas-ideas.csv"} <= files
    assert "PUBLIC" in (folder / "README.md").read_text("utf-8")
    by_language = pd.read_csv(folder / "ideas-by_language.csv", dtype=str)
    assert not by_language.empty


def test_a_row_level_export_of_an_exchange_points_to_its_report(run) -> None:  # type: ignore[no-untyped-def]
    from bot.errors import EngageError

    with pytest.raises(EngageError, match="engage ideas report belonging"):
        run("export", KEY, "--format", "csv")
