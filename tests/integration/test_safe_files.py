"""Every file an export writes is safe to open: a family's words never run as a formula.

A family who texts `=HYPERLINK(…)` gets those words in the tidy and wide
tables, the pack's Let's Talk threads and its themes. Each CSV cell that a
spreadsheet would run starts with `'`; each XLSX cell is text (never a
formula) marked with a quote prefix; Parquet keeps the words as said.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, insert

from bot.authoring.activities import parse_activity
from bot.core.cells import is_formula_like
from bot.core.formats import ExportFormat
from bot.synthesis.pack import write_pack
from storage import models
from storage.database import connect, migrate
from storage.export import export_activity
from storage.synthesis import SqlSynthesisStore
from tests.integration.round_data import Round, seed_round

SECRET = "district-secret"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)
PAYLOADS = [
    '=HYPERLINK("http://x","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
    "\t=1+1",
    "=1+1\r\n=2+2",
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: what reaches the file does not depend on the database."""
    engine = connect(f"sqlite:///{tmp_path / 'engage.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def round_(engine: Engine) -> Round:
    survey = seed_round(engine)
    for index, payload in enumerate(PAYLOADS):
        person = survey.person(phone=f"+1555010{index:04d}")
        survey.full_survey(person, why=payload)
        survey.answer(person, "top", None, payload, status="unparsed")
        with engine.begin() as connection:
            connection.execute(
                insert(models.LetsTalk.__table__),
                {
                    "participant_id": person,
                    "contact_id": survey.contacts[person],
                    "text": payload,
                    "language": "en",
                    "status": "open",
                    "created_at": NOW,
                },
            )
    return survey


def csv_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def xlsx_cells(path: Path) -> list[object]:
    book = load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_safe_to_open(path: Path) -> None:
    """No CSV cell and no XLSX cell under `path` would run; every payload is still there."""
    files = [path] if path.is_file() else sorted(path.rglob("*"))
    checked = 0
    for file in files:
        if file.suffix == ".csv":
            cells = csv_cells(file)
            assert [c for c in cells if is_formula_like(c)] == [], file.name
            checked += 1
        elif file.suffix == ".xlsx":
            cells = xlsx_cells(file)
            assert [c.value for c in cells if c.data_type == "f"] == [], file.name  # type: ignore[attr-defined]
            texts = [c for c in cells if isinstance(c.value, str) and is_formula_like(c.value)]  # type: ignore[attr-defined]
            assert all(c.quotePrefix for c in texts), file.name  # type: ignore[attr-defined]
            checked += 1
    assert checked


def export(engine: Engine, path: Path, fmt: ExportFormat, *, wide: bool = False) -> Path:
    export_activity(engine, "priorities", parse_activity, SECRET, ZONE, path, fmt, NOW, wide=wide)
    return path


@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_csv_exports_quote_every_formula(
    engine: Engine, round_: Round, tmp_path: Path, wide: bool
) -> None:
    path = export(engine, tmp_path / "out.csv", ExportFormat.CSV, wide=wide)

    assert_safe_to_open(path)
    cells = csv_cells(path)
    assert {"'" + p for p in PAYLOADS} <= set(cells)


@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_xlsx_exports_write_text_never_formulas(
    engine: Engine, round_: Round, tmp_path: Path, wide: bool
) -> None:
    path = export(engine, tmp_path / "out.xlsx", ExportFormat.XLSX, wide=wide)

    assert_safe_to_open(path)
    # XML reads a line end as "\n", whatever was written.
    said = {p.replace("\r\n", "\n") for p in PAYLOADS}
    assert said <= {c.value for c in xlsx_cells(path)}  # type: ignore[attr-defined]


def test_parquet_keeps_the_words_as_said(engine: Engine, round_: Round, tmp_path: Path) -> None:
    path = export(engine, tmp_path / "out.parquet", ExportFormat.PARQUET)

    assert set(PAYLOADS) <= set(pd.read_parquet(path)["text"])


def test_every_file_of_the_pack_is_safe_to_open(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    write_pack(SqlSynthesisStore(engine), "priorities", parse_activity, SECRET, ZONE, folder, NOW)

    assert_safe_to_open(folder)
    for name in ("tidy.csv", "wide.csv", "lets_talk.csv"):
        assert {"'" + p for p in PAYLOADS} <= set(csv_cells(folder / name)), name
    assert set(PAYLOADS) <= set(pd.read_parquet(folder / "tidy.parquet")["text"])
    themes = pd.read_csv(folder / "themes.csv", keep_default_na=False)
    quotes = set(themes[["quote_1", "quote_2", "quote_3"]].to_numpy().ravel())
    assert quotes & {"'" + p for p in PAYLOADS}
