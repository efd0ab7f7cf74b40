"""Workbooks a planning committee can read as they are: the one XLSX writer.

Every XLSX the project writes (exports, the synthesis pack, the ideas report)
goes through `write_workbook`, so every one looks alike:

- a first sheet, "About": what the file is, each sheet with its rows and what
  it holds, then the facts a reader needs (n, dates, the suppression rule);
- one named sheet per table, its header bold and frozen, with filters on;
- shares and rates shown as percentages (`0.143` shows `14.3%`), means with
  two decimals, counts and scale values as numbers, times as dates;
- columns as wide as what they hold (up to `MAX_WIDTH`, longer text wraps);
- a family's words always stay text: text that would start a formula is
  written as text with a quote prefix (bot.core.cells), and characters XLSX
  cannot hold are dropped.

Sheets are streamed (openpyxl's write-only mode), so a sheet of a million
rows needs no more memory than one row. The writer is handed an open binary
stream; the caller owns the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import IO, Any

from bot.core.cells import is_formula_like

__all__ = [
    "ABOUT",
    "MAX_WIDTH",
    "About",
    "Sheet",
    "facts",
    "frame_sheet",
    "is_percent_column",
    "rows_of",
    "sheet_name",
    "write_workbook",
]

ABOUT = "About"
MAX_WIDTH = 60
MIN_WIDTH = 8
# Widths are measured on the first rows; more would only cost time.
MEASURED_ROWS = 2_000
# Long text wraps in sheets up to this size (a style per cell costs time).
WRAP_ROWS = 20_000

PERCENT = "0.0%"
DECIMAL = "0.00"
DATETIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"

# Characters an XLSX file cannot hold (as openpyxl's ILLEGAL_CHARACTERS_RE).
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_INVALID_NAME = re.compile(r"[\[\]:*?/\\]")
_PERCENT_NAMES = frozenset({"share", "rate", "agreement", "spread", "lowest_group_agreement"})


def is_percent_column(name: str) -> bool:
    """Whether a column of this name holds a share (0.25 shown as 25.0%)."""
    return (
        name in _PERCENT_NAMES
        or name.endswith(("_share", "_rate", "_percent"))
        or name.startswith(("share_", "agreement_"))
    )


def sheet_name(name: str) -> str:
    """`name` as Excel allows a sheet name: no `[]:*?/\\`, at most 31 characters."""
    cleaned = _INVALID_NAME.sub("_", name).strip("'") or "Sheet"
    return cleaned[:31]


@dataclass(frozen=True, slots=True)
class Sheet:
    """One table: its name, what it holds (one line, shown on the About sheet), its
    columns and rows. `percent` names the columns holding shares; by default those
    `is_percent_column` recognises. `rows` may be any iterable (it is read once)."""

    name: str
    description: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    percent: Collection[str] | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class About:
    """The first sheet: a title, facts as (label, value) lines, and notes."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = field(default_factory=tuple)


def _plain(value: Any) -> Any:
    """A cell value openpyxl writes as it should: numpy scalars unwrapped, NaN and
    missing values empty, pandas timestamps as datetimes without a time zone."""
    if value is None:
        return None
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    to_datetime = getattr(value, "to_pydatetime", None)
    if to_datetime is not None:  # pandas Timestamp (NaT is caught below)
        try:
            value = to_datetime()
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, date):
        return value
    item = getattr(value, "item", None)
    if item is not None and callable(item):  # a numpy scalar
        try:
            return _plain(item())
        except (ValueError, TypeError):
            pass
    try:
        if value != value:  # NaT, pd.NA and friends
            return None
    except (TypeError, ValueError):
        return None
    return str(value)


def _shown_width(value: Any, percent: bool) -> int:
    """About how many characters `value` takes on screen."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float) and percent:
        return 7
    if isinstance(value, float):
        return len(f"{value:,.2f}")
    if isinstance(value, int):
        return len(str(value))
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0)


def _width(header: str, values: Iterable[Any], percent: bool) -> float:
    widest = max((_shown_width(v, percent) for v in values), default=0)
    # The header also holds its filter button: about four characters more.
    return float(min(MAX_WIDTH, max(MIN_WIDTH, len(header) + 4, widest + 2)))


class _Styles:
    """The few styles every workbook uses (openpyxl imported only when writing)."""

    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        self.bold = Font(bold=True)
        self.title = Font(bold=True, size=14)
        self.header_fill = PatternFill("solid", fgColor="DDE7F0")
        self.header_border = Border(bottom=Side(style="thin", color="7F9DB9"))
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.top = Alignment(vertical="top")


def _text_cell(sheet: Any, value: str, alignment: Any = None, font: Any = None) -> Any:
    """A cell that holds `value` as text: never a formula, shown as written."""
    from openpyxl.cell import WriteOnlyCell

    text = _ILLEGAL.sub("", value)
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # a text starting with "=" is not a formula
    if is_formula_like(text):
        cell.quotePrefix = True  # and stays text when someone edits it
    if alignment is not None:
        cell.alignment = alignment
    if font is not None:
        cell.font = font
    return cell


def _write_sheet(book: Any, name: str, spec: Sheet, styles: _Styles) -> int:
    """Stream `spec` into a new sheet `name` of `book`; the rows written."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(name)
    columns = [str(c) for c in spec.columns]
    percent = [
        (c in spec.percent) if spec.percent is not None else is_percent_column(c) for c in columns
    ]
    rows = iter(spec.rows)
    first = [[_plain(v) for v in row] for row in islice(rows, MEASURED_ROWS)]
    widths = [
        _width(header, (row[i] for row in first if i < len(row)), percent[i])
        for i, header in enumerate(columns)
    ]
    small = spec.count <= WRAP_ROWS if spec.count is not None else len(first) < MEASURED_ROWS
    aligned = [
        (styles.wrap if width >= MAX_WIDTH else styles.top) if small else None for width in widths
    ]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for title in columns:
        cell = _text_cell(sheet, title, styles.wrap, styles.bold)
        cell.fill = styles.header_fill
        cell.border = styles.header_border
        header.append(cell)
    sheet.append(header)

    def cells(values: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for i, value in enumerate(values):
            if isinstance(value, str):
                out.append(_text_cell(sheet, value, aligned[i] if i < len(aligned) else None))
            elif isinstance(value, bool) or value is None:
                out.append(value)
            elif isinstance(value, int | float):
                share = i < len(percent) and percent[i]
                if share or isinstance(value, float):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = PERCENT if share else DECIMAL
                    out.append(cell)
                else:
                    out.append(value)
            elif isinstance(value, datetime | date):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = DATETIME if isinstance(value, datetime) else DATE
                out.append(cell)
            else:
                out.append(value)
        return out

    written = 0
    for row in first:
        sheet.append(cells(row))
        written += 1
    for raw in rows:
        sheet.append(cells([_plain(v) for v in raw]))
        written += 1
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{written + 1}"
    return written


# About's third column: its width, and about how many characters fit a line of it.
ABOUT_WIDTH = 90
ABOUT_LINE = 80
LINE_HEIGHT = 15


def _write_about(
    sheet: Any, about: About, sheets: Sequence[tuple[str, Sheet, int]], styles: _Styles
) -> None:
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = ABOUT_WIDTH
    row = 0

    def text(value: str, font: Any = None) -> Any:
        return _text_cell(sheet, value, styles.wrap, font)

    def line(label: Any = None, rows: Any = None, said: str | None = None) -> None:
        """One row; a long text in the third column gets the height its lines need
        (spreadsheets do not all grow a row to fit wrapped text)."""
        nonlocal row
        row += 1
        if said is not None and len(said) > ABOUT_LINE:
            lines = -(-len(said) // ABOUT_LINE)
            sheet.row_dimensions[row].height = LINE_HEIGHT * lines
        if label is None and rows is None and said is None:
            sheet.append([])
        else:
            sheet.append([label, rows, text(said) if said is not None else None])

    # The title runs on across the empty cells beside it, unwrapped.
    sheet.append([_text_cell(sheet, about.title, styles.top, styles.title)])
    row += 1
    line()
    row += 1
    sheet.append(
        [text("Sheet", styles.bold), text("Rows", styles.bold), text("What it holds", styles.bold)]
    )
    for name, spec, rows in sheets:
        line(text(name), rows, spec.description)
    if about.facts:
        line()
        for label, value in about.facts:
            line(text(label, styles.bold), None, value)
    notes = [
        *about.notes,
        "Each sheet has filters on its header row. Shares show as percentages; "
        "what families wrote is kept exactly as written.",
    ]
    line()
    for note in notes:
        line(text("Note", styles.bold), None, note)


def write_workbook(
    stream: IO[bytes], sheets: Sequence[Sheet], about: About | Callable[[], About]
) -> dict[str, int]:
    """Write an About sheet, then `sheets`, to `stream`; the rows written, by sheet name.

    `about` may be a function: it is called after the rows are written, so facts
    gathered while they streamed past (n, dates) can go on the first sheet.
    """
    from openpyxl import Workbook

    styles = _Styles()
    book = Workbook(write_only=True)
    about_sheet = book.create_sheet(ABOUT)  # filled last: it lists the other sheets' rows
    written: list[tuple[str, Sheet, int]] = []
    used: set[str] = {ABOUT.lower()}
    for spec in sheets:
        name = sheet_name(spec.name)
        base, number = name, 2
        while name.lower() in used:  # Excel's names ignore case
            suffix = f" ({number})"
            name, number = base[: 31 - len(suffix)] + suffix, number + 1
        used.add(name.lower())
        written.append((name, spec, _write_sheet(book, name, spec, styles)))
    _write_about(about_sheet, about() if callable(about) else about, written, styles)
    book.save(stream)
    return {name: rows for name, _, rows in written}


def rows_of(frame: Any) -> Iterable[Sequence[Any]]:
    """The rows of a pandas DataFrame, without its index."""
    return frame.itertuples(index=False, name=None)  # type: ignore[no-any-return]


def frame_sheet(
    name: str, description: str, frame: Any, *, percent: Collection[str] | None = None
) -> Sheet:
    """A Sheet of a pandas DataFrame (imported by no one here: any frame-like works)."""
    return Sheet(
        name=name,
        description=description,
        columns=[str(c) for c in frame.columns],
        rows=rows_of(frame),
        percent=percent,
        count=len(frame),
    )


def facts(pairs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines for `About.facts`, empty values left out."""
    return [(label, str(value)) for label, value in pairs.items() if value not in (None, "")]
