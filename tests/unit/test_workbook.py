"""The one XLSX writer: an About sheet first, named sheets, formats, filters, widths, safe text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from bot.core.workbook import (
    ABOUT,
    MAX_WIDTH,
    About,
    Sheet,
    facts,
    frame_sheet,
    is_percent_column,
    sheet_name,
    write_workbook,
)


def written(sheets: list[Sheet], about: About | None = None) -> object:
    stream = io.BytesIO()
    write_workbook(stream, sheets, about or About("Test", facts({"n": "3"})))
    return load_workbook(io.BytesIO(stream.getvalue()))


def summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["top", "top", '=HYPERLINK("http://x")'],
            "label": ["Safety", "Reading", "-2+3"],
            "count": [np.int64(16), np.int64(1), np.int64(0)],
            "share": [16 / 17, 1 / 17, "<10"],
            "mean": [3.4285714, np.nan, 4.0],
            "when": pd.to_datetime(["2026-09-01 08:30", "2026-09-02 09:00", None]).tz_localize(
                "America/Chicago"
            ),
        }
    )


def test_the_about_sheet_comes_first_and_says_what_each_sheet_holds() -> None:
    book = written(
        [frame_sheet("overall", "counts and shares per option", summary())],
        About("Family priorities: summary", facts({"People": "17", "Empty": ""}), ["A note"]),
    )

    assert book.sheetnames == [ABOUT, "overall"]  # type: ignore[attr-defined]
    rows = [r for r in book[ABOUT].iter_rows(values_only=True) if any(r)]  # type: ignore[index]
    assert rows[0][0] == "Family priorities: summary"
    assert ("overall", 3, "counts and shares per option") in rows
    assert ("People", None, "17") in rows
    assert not any(r[0] == "Empty" for r in rows)  # empty facts are left out
    assert ("Note", None, "A note") in rows


def test_shares_are_percentages_means_decimals_counts_numbers_times_dates() -> None:
    sheet = written([frame_sheet("overall", "", summary())])["overall"]  # type: ignore[index]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}

    assert row["share"].value == 16 / 17 and row["share"].number_format == "0.0%"
    assert row["mean"].value == 3.4285714 and row["mean"].number_format == "0.00"
    assert row["count"].value == 16 and row["count"].data_type == "n"
    assert row["when"].value == datetime(2026, 9, 1, 8, 30)  # district wall-clock time
    assert row["when"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.cell(3, header.index("mean") + 1).value is None  # NaN is an empty cell
    hidden = sheet.cell(4, header.index("share") + 1)
    assert (hidden.value, hidden.data_type) == ("<10", "s")  # a suppressed share stays a marker


def test_the_header_is_bold_frozen_and_filtered_over_every_row() -> None:
    sheet = written([frame_sheet("overall", "", summary())])["overall"]  # type: ignore[index]

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    assert all(c.font.bold for c in sheet[1])


def test_columns_are_as_wide_as_what_they_hold_within_bounds() -> None:
    frame = pd.DataFrame({"id": [1, 2], "text": ["short", "x" * 500], "a_long_header_name": [1, 2]})
    sheet = written([frame_sheet("t", "", frame)])["t"]  # type: ignore[index]

    assert sheet.column_dimensions["A"].width < 10
    assert sheet.column_dimensions["B"].width == MAX_WIDTH
    assert sheet.column_dimensions["C"].width >= len("a_long_header_name")
    assert sheet["B3"].alignment.wrap_text  # the long text wraps


def test_text_that_looks_like_a_formula_stays_text_with_a_quote_prefix() -> None:
    sheet = written([frame_sheet("t", "", summary())])["t"]  # type: ignore[index]

    cell = sheet["A4"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == ('=HYPERLINK("http://x")', "s", True)
    assert (sheet["B4"].value, sheet["B4"].data_type) == ("-2+3", "s")
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_characters_a_workbook_cannot_hold_are_dropped() -> None:
    frame = pd.DataFrame({"text": ["bell\x07 here"]})
    sheet = written([frame_sheet("t", "", frame)])["t"]  # type: ignore[index]
    assert sheet["A2"].value == "bell here"


def test_sheet_names_are_what_excel_allows_and_never_clash() -> None:
    assert sheet_name("a/b:c?") == "a_b_c_"
    assert len(sheet_name("x" * 40)) == 31
    book = written(
        [
            Sheet("Data", "", ["a"], [[1]]),
            Sheet("data", "", ["a"], [[2]]),
            Sheet("about", "", [], []),
        ]
    )
    assert book.sheetnames == [ABOUT, "Data", "data (2)", "about (2)"]  # type: ignore[attr-defined]


def test_the_about_sheet_can_say_what_was_counted_while_streaming() -> None:
    seen: list[int] = []

    def rows() -> Iterator[list[int]]:
        for number in range(5000):
            seen.append(number)
            yield [number]

    stream = io.BytesIO()
    counts = write_workbook(
        stream,
        [Sheet("numbers", "n", ["number"], rows())],
        lambda: About("Streamed", facts({"Counted": f"{len(seen):,}"})),
    )

    book = load_workbook(io.BytesIO(stream.getvalue()))
    assert counts == {"numbers": 5000}
    assert ("Counted", None, "5,000") in list(book[ABOUT].iter_rows(values_only=True))
    assert book["numbers"].max_row == 5001


def test_share_columns_are_recognised_by_name() -> None:
    assert all(map(is_percent_column, ["share", "response_rate", "group_share", "agreement_A"]))
    assert not any(map(is_percent_column, ["count", "respondents", "mean", "shared_by"]))


def test_an_explicit_list_of_percent_columns_wins() -> None:
    sheet = written([Sheet("t", "", ["count", "part"], [[3, 0.5]], percent={"part"})])["t"]  # type: ignore[index]
    assert sheet["A2"].number_format == "General" and sheet["B2"].number_format == "0.0%"
