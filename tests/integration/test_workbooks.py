"""Every workbook a committee gets reads as it is: About first, formats, filters, widths."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine

from bot.authoring.activities import parse_activity
from bot.synthesis.pack import write_pack
from storage.export import ExportFormat, export_activity
from storage.synthesis import SqlSynthesisStore
from tests.integration.round_data import Round, enroll, seed_round

SECRET = "district-secret"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)


@pytest.fixture
def round_(engine: Engine) -> Round:
    survey = seed_round(engine)
    for index in range(12):
        person = survey.person(phone=f"+1555030{index:04d}")
        survey.full_survey(person, why="The bus is late" if index % 2 else None)
    for index in range(3):
        person = survey.person(language="es", school="adams-ms", phone=f"+1555040{index:04d}")
        survey.full_survey(person, "es", why="El autobús llega tarde")
    enroll(engine, {("lincoln-es", "en", "parent"): 30, ("adams-ms", "es", "parent"): 40})
    return survey


def columns(sheet: Worksheet) -> dict[str, int]:
    return {str(c.value): c.column for c in sheet[1]}


def about_rows(path: Path) -> list[tuple[object, ...]]:
    book = load_workbook(path)
    return [r for r in book["About"].iter_rows(values_only=True) if any(r)]


def assert_readable(path: Path) -> None:
    """About first and listing every sheet with its rows; each sheet frozen and filtered."""
    book = load_workbook(path)
    assert book.sheetnames[0] == "About", path.name
    about = book["About"]
    # The title runs on unwrapped; a text longer than a line gets the height it needs.
    assert not about["A1"].alignment.wrap_text, path.name
    for row in about.iter_rows(min_col=3, max_col=3):
        said = row[0].value
        if isinstance(said, str) and len(said) > 100:
            assert (about.row_dimensions[row[0].row].height or 0) >= 30, (path.name, said)
    listed = {r[0]: r[1] for r in about_rows(path)}
    for sheet in book.worksheets[1:]:
        assert not sheet.title.startswith("Sheet"), path.name
        assert listed[sheet.title] == sheet.max_row - 1, (path.name, sheet.title)
        assert sheet.freeze_panes == "A2", (path.name, sheet.title)
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.endswith(str(sheet.max_row))
        for letter, dimension in sheet.column_dimensions.items():
            assert 8 <= dimension.width <= 60, (path.name, sheet.title, letter)


def test_every_workbook_of_the_pack_reads_as_it_is(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    write_pack(SqlSynthesisStore(engine), "priorities", parse_activity, SECRET, ZONE, folder, NOW)

    books = sorted(folder.glob("*.xlsx"))
    assert {p.name for p in books} >= {"summary.xlsx", "tidy.xlsx", "wide.xlsx", "themes.xlsx"}
    for path in books:
        assert_readable(path)
    facts = {r[0]: r[2] for r in about_rows(folder / "summary.xlsx")}
    assert facts["People"] == "15" and facts["Times in"] == ZONE
    assert "INTERNAL" in str(facts["Suppression"])
    assert str(facts["First answer"]).startswith("2026-09-")

    summary = load_workbook(folder / "summary.xlsx")
    overall = summary["overall"]
    share = overall.cell(2, columns(overall)["share"])
    assert isinstance(share.value, int | float) and share.number_format == "0.0%"
    scales = summary["scales"]
    mean = scales.cell(2, columns(scales)["mean"])
    assert mean.value == 4 and mean.number_format == "0.00"
    assert isinstance(scales.cell(2, columns(scales)["n"]).value, int)
    wide = load_workbook(folder / "wide.xlsx")["participants"]
    assert wide.cell(2, columns(wide)["safe"]).value == 4  # a scale answer is a number
    tidy = load_workbook(folder / "tidy.xlsx")["answers"]
    index = columns(tidy)
    values = {
        row[index["question"] - 1].value: row[index["value"] - 1].value
        for row in tidy.iter_rows(min_row=2)
    }
    assert values["safe"] == 4 and values["top"] == "safety"


def test_the_public_pack_says_its_suppression_rule_and_keeps_markers_as_text(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "public"
    write_pack(
        SqlSynthesisStore(engine),
        "priorities",
        parse_activity,
        SECRET,
        ZONE,
        folder,
        NOW,
        public=True,
        threshold=10,
    )

    for path in folder.glob("*.xlsx"):
        assert_readable(path)
    facts = {r[0]: r[2] for r in about_rows(folder / "summary.xlsx")}
    assert "PUBLIC" in str(facts["Suppression"]) and "<10" in str(facts["Suppression"])
    overall = load_workbook(folder / "summary.xlsx")["by_language"]
    shares = [overall.cell(r, columns(overall)["share"]) for r in range(2, overall.max_row + 1)]
    assert {c.value for c in shares if c.data_type == "s"} == {"<10"}
    assert all(c.number_format == "0.0%" for c in shares if c.data_type == "n")


@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_an_xlsx_export_has_an_about_sheet_and_numbers_as_numbers(
    engine: Engine, round_: Round, tmp_path: Path, wide: bool
) -> None:
    path = tmp_path / "answers.xlsx"
    export_activity(
        engine, "priorities", parse_activity, SECRET, ZONE, path, ExportFormat.XLSX, NOW, wide=wide
    )

    assert_readable(path)
    book = load_workbook(path)
    assert book.sheetnames == ["About", "participants" if wide else "answers"]
    facts = {r[0]: r[2] for r in about_rows(path)}
    assert facts["People"] == "15" and facts["Activity"] == "priorities"
    assert facts["Exported"] == "2026-09-30 07:00"  # district time
    sheet = book.worksheets[1]
    index = columns(sheet)
    if wide:
        assert {sheet.cell(r, index["safe"]).value for r in range(2, sheet.max_row + 1)} == {4}
    else:
        scale = [
            row[index["value"] - 1].value
            for row in sheet.iter_rows(min_row=2)
            if row[index["question"] - 1].value == "safe"
        ]
        assert scale == [4] * 15
        received = sheet.cell(2, index["received_at"])
        assert isinstance(received.value, datetime)
        assert received.number_format == "yyyy-mm-dd hh:mm"
