"""Tidy and wide exports on SQLite and PostgreSQL: columns, labels, contacts, bad input."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.authoring.activities import parse_activity
from bot.cli import app
from storage import models
from storage.export import (
    CONTACTS_COLUMN,
    TIDY_COLUMNS,
    ExportError,
    ExportFormat,
    export_activity,
    participant_key,
    tidy_responses,
    wide_responses,
    write_tidy,
)
from tests.conftest import EXAMPLES
from tests.integration.round_data import Round, seed_round

SECRET = "district-secret-2026"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder for exports only (the SQLite database lives in tmp_path)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def round_(engine: Engine) -> Round:
    survey = seed_round(engine)
    maria = survey.person(language="es", school="adams-ms", grade="7", phone="+15550100101")
    survey.full_survey(maria, "es", why="Más autobuses por la mañana")
    john = survey.person(phone="+15550100102")
    survey.full_survey(john)
    survey.answer(john, "top", None, "banana", status="unparsed")
    return survey


def key_of(engine: Engine, person: int) -> str:
    """The key exports print for `person`: the keyed hash of their random salt."""
    with engine.connect() as connection:
        salt = connection.execute(
            select(models.Participant.export_salt).where(models.Participant.id == person)
        ).scalar_one()
    return participant_key(SECRET, salt)


def tidy(engine: Engine, **options: object) -> pd.DataFrame:
    return tidy_responses(engine, "priorities", parse_activity, SECRET, ZONE, **options)  # type: ignore[arg-type]


def test_tidy_has_one_row_per_answer_with_the_documented_columns(
    engine: Engine, round_: Round
) -> None:
    frame = tidy(engine)

    assert list(frame.columns) == TIDY_COLUMNS
    assert len(frame) == 13
    maria = frame[frame["participant"] == key_of(engine, round_.people[0])]
    rows = maria.set_index("question")
    assert rows.loc["top", ["value", "label_en", "label_seen"]].tolist() == [
        "safety",
        "Safety",
        "Seguridad",
    ]
    assert rows.loc["many", ["value", "label_en", "label_seen"]].tolist() == [
        "tutoring;meals",
        "Tutoring; Meals",
        "Tutoría; Comidas",
    ]
    assert rows.loc["news", ["value", "label_en", "label_seen"]].tolist() == ["no", "No", "No"]
    assert rows.loc["rank", "label_en"] == "Reading; Safety"
    assert rows.loc["safe", ["value", "label_en"]].tolist() == ["4", "4"]
    assert rows.loc["why", ["value", "text", "detected_language"]].tolist() == [
        "",
        "Más autobuses por la mañana",
        "es",
    ]
    assert rows.loc["top", ["activity", "kind", "round", "scope_school"]].tolist() == [
        "priorities",
        "survey",
        "v1",
        "",
    ]
    assert rows.loc["top", ["role", "school", "grade", "language", "channel"]].tolist() == [
        "parent",
        "adams-ms",
        "7",
        "es",
        "sms",
    ]
    assert rows.loc["top", "question_text"] == "What matters most?"
    assert rows.loc["top", "text"] == ""  # a parsed choice keeps its value, not the digits


def test_received_time_is_in_the_district_time_zone(engine: Engine, round_: Round) -> None:
    frame = tidy(engine)

    first = frame["received_at"].iloc[0]
    assert str(first.tz) == ZONE
    # September in Chicago is UTC-5; seeding starts at 15:00 UTC (+7 minutes a step).
    assert first.tz_convert("UTC").tz_localize(None) > datetime(2026, 9, 1, 15, 0)
    assert first.utcoffset().total_seconds() == -5 * 3600


def test_unparsed_replies_keep_what_was_said(engine: Engine, round_: Round) -> None:
    frame = tidy(engine)

    unparsed = frame[frame["status"] == "unparsed"]
    assert unparsed[["question", "value", "text"]].values.tolist() == [["top", "", "banana"]]


def test_participant_key_is_stable_across_exports_and_secret_bound(
    engine: Engine, round_: Round
) -> None:
    first, second = tidy(engine), tidy(engine)
    other = tidy_responses(engine, "priorities", parse_activity, "other-secret", ZONE)

    assert first["participant"].tolist() == second["participant"].tolist()
    assert set(first["participant"]).isdisjoint(set(other["participant"]))
    assert first["participant"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_a_key_does_not_reverse_to_an_id_even_with_the_secret(
    engine: Engine, round_: Round
) -> None:
    keys = set(tidy(engine)["participant"])
    by_id = {
        hmac.new(SECRET.encode(), str(n).encode(), hashlib.sha256).hexdigest()[:16]
        for n in range(1, 10_000)
    }

    assert len(keys) == 2 and keys.isdisjoint(by_id)


def test_contacts_appear_only_when_asked(engine: Engine, round_: Round) -> None:
    plain = tidy(engine)
    with_contacts = tidy(engine, include_contacts=True)

    assert CONTACTS_COLUMN not in plain.columns
    assert not plain.astype(str).apply(lambda c: c.str.contains("5550100")).any().any()
    assert set(with_contacts[CONTACTS_COLUMN]) == {"sms:+15550100101", "sms:+15550100102"}


def test_streamed_chunks_equal_the_whole_table(engine: Engine, round_: Round, out: Path) -> None:
    path = out / "tidy.parquet"
    rows = write_tidy(
        engine, "priorities", parse_activity, SECRET, ZONE, path, ExportFormat.PARQUET, chunk_rows=4
    )

    written = pd.read_parquet(path)
    assert rows == 13
    pd.testing.assert_frame_equal(written, tidy(engine), check_dtype=False)


def test_wide_table_has_one_row_per_participant_and_a_column_per_question(
    engine: Engine, round_: Round
) -> None:
    frame = wide_responses(
        tidy(engine), [("top", "single_choice"), ("safe", "scale"), ("why", "free_text")]
    )

    assert len(frame) == 2
    maria = frame.set_index("participant").loc[key_of(engine, round_.people[0])]
    assert maria["top"] == "safety"
    assert maria["top__label_en"] == "Safety"
    assert maria["safe"] == 4
    assert maria["why"] == "Más autobuses por la mañana"
    assert maria["many__label_en"] == "Tutoring; Meals"
    assert (maria["answered"], maria["skipped"]) == (6, 0)
    john = frame.set_index("participant").loc[key_of(engine, round_.people[1])]
    # The later, unparsed reply to `top` is kept as said.
    assert john["top"] == "banana"
    assert (john["answered"], john["skipped"], john["unparsed"]) == (5, 1, 1)


@pytest.mark.parametrize("fmt", list(ExportFormat), ids=lambda f: f.value)
def test_every_format_round_trips(
    engine: Engine, round_: Round, out: Path, fmt: ExportFormat
) -> None:
    path = out / f"answers.{fmt.value}"
    result = export_activity(
        engine, "priorities", parse_activity, SECRET, ZONE, path, fmt, NOW, wide=True
    )
    read = {
        ExportFormat.CSV: pd.read_csv,
        ExportFormat.XLSX: lambda p: pd.read_excel(p, sheet_name="participants"),
        ExportFormat.PARQUET: pd.read_parquet,
    }[fmt](path)

    assert result.rows == len(read) == 2
    assert "top__label_en" in read.columns
    assert list(out.iterdir()) == [path]


def test_every_export_is_audited(engine: Engine, round_: Round, out: Path) -> None:
    path = out / "answers.csv"
    export_activity(
        engine,
        "priorities",
        parse_activity,
        SECRET,
        ZONE,
        path,
        ExportFormat.CSV,
        NOW,
        include_contacts=True,
        actor="cli:ana",
    )

    with engine.connect() as connection:
        entry = connection.execute(
            select(models.AuditEntry.__table__).where(models.AuditEntry.action == "export")
        ).one()
    assert entry.actor == "cli:ana"
    assert entry.created_at == NOW
    assert entry.detail["activity"] == "priorities"
    assert entry.detail["rows"] == 13
    assert entry.detail["include_contacts"] is True
    assert entry.detail["path"] == str(path.resolve())


def test_an_unknown_activity_is_a_clear_error_and_writes_nothing(
    engine: Engine, round_: Round, out: Path
) -> None:
    path = out / "x.csv"
    with pytest.raises(ExportError, match="no activity named 'nope'"):
        export_activity(engine, "nope", parse_activity, SECRET, ZONE, path, ExportFormat.CSV, NOW)
    assert list(out.iterdir()) == []


def test_an_empty_round_is_a_clear_error_and_writes_nothing(engine: Engine, out: Path) -> None:
    seed_round(engine)
    for fmt in ExportFormat:
        with pytest.raises(ExportError, match="no answers yet"):
            export_activity(
                engine,
                "priorities",
                parse_activity,
                SECRET,
                ZONE,
                out / f"x.{fmt.value}",
                fmt,
                NOW,
            )
    assert list(out.iterdir()) == []


def test_a_path_that_cannot_be_written_is_a_clear_error(
    engine: Engine, round_: Round, out: Path
) -> None:
    blocker = out / "file"
    blocker.write_text("not a folder")

    with pytest.raises(ExportError, match="cannot write"):
        export_activity(
            engine,
            "priorities",
            parse_activity,
            SECRET,
            ZONE,
            blocker / "answers.csv",
            ExportFormat.CSV,
            NOW,
        )
    with pytest.raises(ExportError, match="cannot write"):
        export_activity(
            engine, "priorities", parse_activity, SECRET, ZONE, out, ExportFormat.CSV, NOW
        )
    assert sorted(p.name for p in out.iterdir()) == ["file"]


# -- the command --------------------------------------------------------------------


def run(db_url: str, *args: str) -> object:
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_PSEUDONYM_SECRET": SECRET,
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)


def test_the_command_exports_and_warns_about_contacts(
    db_url: str, engine: Engine, round_: Round, out: Path
) -> None:
    path = out / "out.parquet"
    result = run(
        db_url,
        "export",
        "priorities",
        "-f",
        "parquet",
        "-o",
        str(path),
        "--include-contacts",
    )

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "warning" in result.stderr  # type: ignore[attr-defined]
    assert "13 answers written" in result.stderr  # type: ignore[attr-defined]
    assert CONTACTS_COLUMN in pd.read_parquet(path).columns


def test_the_command_refuses_a_public_row_level_table(
    db_url: str, engine: Engine, round_: Round, out: Path
) -> None:
    result = run(db_url, "export", "priorities", "--public", "-o", str(out / "x"))

    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "never public" in str(result.exception)  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []
