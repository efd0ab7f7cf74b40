"""Files holding families' data are readable by their owner only: 0600 files, 0700
folders, whatever the umask of the shell that ran the command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.authoring.activities import parse_activity
from bot.core.formats import ExportFormat
from bot.core.messages import Channel, InboundMessage
from bot.synthesis.pack import write_pack
from storage.database import connect, migrate
from storage.export import export_activity
from storage.spool import Spool
from storage.synthesis import SqlSynthesisStore
from tests.integration.round_data import seed_round

SECRET = "district-secret-of-some-length"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)
ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The umask most shells have: without care, files come out 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'engage.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_the_database_and_its_wal_are_private(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        connection.execute(text("create table probe (x integer)"))
        connection.execute(text("insert into probe values (1)"))

    database = tmp_path / "engage.db"
    assert mode(database) == 0o600
    assert mode(tmp_path / "engage.db-wal") == 0o600


@pytest.mark.parametrize("fmt", list(ExportFormat))
@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_every_export_is_private(
    engine: Engine, tmp_path: Path, fmt: ExportFormat, wide: bool
) -> None:
    survey = seed_round(engine)
    survey.full_survey(survey.person(phone="+15550100001"), why="more buses")
    path = tmp_path / f"out.{fmt.value}"

    export_activity(
        engine, "priorities", parse_activity, SECRET, ZONE, path, fmt, NOW,
        wide=wide, include_contacts=True,
    )  # fmt: skip

    assert mode(path) == 0o600


def test_a_stale_temporary_does_not_lend_its_mode(engine: Engine, tmp_path: Path) -> None:
    survey = seed_round(engine)
    survey.full_survey(survey.person(phone="+15550100001"), why="more buses")
    path = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.partial"
    stale.write_text("left by a crash")
    stale.chmod(0o644)

    export_activity(engine, "priorities", parse_activity, SECRET, ZONE, path, ExportFormat.CSV, NOW)

    assert mode(path) == 0o600


def test_the_pack_folder_is_private(engine: Engine, tmp_path: Path) -> None:
    survey = seed_round(engine)
    survey.full_survey(survey.person(phone="+15550100001"), why="more buses")
    folder = tmp_path / "pack"

    write_pack(SqlSynthesisStore(engine), "priorities", parse_activity, SECRET, ZONE, folder, NOW)

    assert mode(folder) == 0o700


def test_the_spool_is_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")

    parked = spool.put(InboundMessage(Channel.SMS, "+15550100001", "hola"))

    assert mode(tmp_path / "spool") == 0o700
    assert mode(parked) == 0o600


def test_the_command_keeps_what_it_writes_private(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in list(environment):
        if name.startswith(("ENGAGE_", "TWILIO_", "TELEGRAM_", "SLACK_")):
            del environment[name]

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "init"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert tmp_path / "engage.db" in written
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}
