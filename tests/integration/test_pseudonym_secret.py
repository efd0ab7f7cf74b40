"""The key of the pseudonymous keys: random, made by `engage init`, kept outside the
database, readable by its owner only; no export is made with a default or missing one."""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from bot.cli import app
from storage import models
from storage.database import connect, migrate
from tests.conftest import EXAMPLES
from tests.integration.round_data import seed_round


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A district's working folder: the database and, once `engage init` ran, the key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENGAGE_PSEUDONYM_SECRET", raising=False)
    return tmp_path


@pytest.fixture
def engine(folder: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{folder / 'engage.db'}")
    migrate(engine)
    survey = seed_round(engine)
    person = survey.person(phone="+15550100101")
    survey.full_survey(person)
    yield engine
    engine.dispose()


def engage(folder: Path, *args: str, **env: str) -> object:
    base = {
        "ENGAGE_DATABASE_URL": f"sqlite:///{folder / 'engage.db'}",
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
    }
    return CliRunner().invoke(app, list(args), env={**base, **env}, catch_exceptions=True)


def test_init_writes_a_random_secret_only_its_owner_can_read(folder: Path) -> None:
    result = engage(folder, "init")

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    key = folder / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert len(secret) >= 32 and secret not in result.output  # type: ignore[attr-defined]
    # Running init again keeps it: keys stay stable across exports.
    assert engage(folder, "init").exit_code == 0  # type: ignore[attr-defined]
    assert key.read_text().strip() == secret


@pytest.mark.parametrize(
    ("env", "key_mode", "problem"),
    [
        ({}, None, "run `engage init`"),
        ({"ENGAGE_PSEUDONYM_SECRET": "change-me"}, None, "default"),
        ({"ENGAGE_PSEUDONYM_SECRET": "short"}, None, "too short"),
        ({}, 0o644, "read by other users"),
    ],
    ids=["missing", "the-old-default", "too-short", "readable-by-others"],
)
@pytest.mark.parametrize(
    "export",
    [["--pack", "public", "--public"], ["--pack", "pack"], ["-o", "out.csv"]],
    ids=["public-pack", "pack", "table"],
)
def test_no_export_is_made_with_a_secret_anyone_could_know(
    folder: Path,
    engine: Engine,
    env: dict[str, str],
    key_mode: int | None,
    problem: str,
    export: list[str],
) -> None:
    if key_mode is not None:
        key = folder / "pseudonym.key"
        key.write_text("a-long-enough-random-looking-secret\n")
        key.chmod(key_mode)

    result = engage(folder, "export", "priorities", *export, **env)

    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert problem in str(result.exception)  # type: ignore[attr-defined]
    assert not (folder / export[1]).exists()


def test_exports_use_the_secret_init_wrote(folder: Path, engine: Engine) -> None:
    engage(folder, "init")
    secret = (folder / "pseudonym.key").read_text().strip()

    result = engage(folder, "export", "priorities", "-o", "out.csv")

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    with engine.connect() as connection:
        salt = connection.execute(select(models.Participant.export_salt)).scalar_one()
    expected = hmac.new(secret.encode(), salt.encode(), hashlib.sha256).hexdigest()[:16]
    assert set(pd.read_csv(folder / "out.csv")["participant"]) == {expected}


def test_existing_participants_get_a_random_salt_when_upgrading(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0005")
    with engine.begin() as connection:
        for number in range(3):  # as version 0005 stored them: no salt yet
            connection.execute(
                text(
                    "INSERT INTO participants (pseudonym, attempts, pending, onboarding_started,"
                    " created_at, updated_at) VALUES (:p, 0, '[]', false, :at, :at)"
                ),
                {"p": f"P-{number:010X}", "at": datetime(2026, 9, 1)},
            )
    migrate(engine)
    with engine.connect() as connection:
        salts = connection.execute(select(models.Participant.export_salt)).scalars().all()
    engine.dispose()

    assert len(set(salts)) == 3
    assert all(len(s) == 32 and int(s, 16) >= 0 for s in salts)
