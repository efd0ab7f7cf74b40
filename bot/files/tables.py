"""Tables written to files a spreadsheet opens safely: CSV, XLSX and Parquet.

Every writer writes a temporary file (0600, bot.files.private) and renames it
at the end, so a failed export leaves nothing half-written. Text a
spreadsheet would run as a formula is written as text (bot.core.cells).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.core.cells import is_formula_like, quoted
from bot.core.formats import ExportFormat
from bot.core.workbook import About, Sheet, facts
from bot.core.workbook import write_workbook as write_book
from bot.errors import ExportError
from bot.files.answers import CONTACTS_COLUMN, scales_as_numbers
from bot.files.private import create_private

__all__ = [
    "TABLE_SHEETS",
    "XLSX_MAX_ROWS",
    "TableFacts",
    "finish_writing",
    "open_for_writing",
    "spreadsheet_safe",
    "write_csv",
    "write_table",
    "write_workbook",
    "write_xlsx",
]

# One header row, then data: Excel's sheet limit.
XLSX_MAX_ROWS = 1_048_575


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def open_for_writing(path: Path) -> Path:
    """Check `path` can be written before doing any work; returns the temporary name."""
    temporary = _temporary(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        # Writers open it again without changing its mode, and the rename keeps it.
        create_private(temporary, replace=True)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error
    return temporary


def finish_writing(temporary: Path, path: Path) -> Path:
    try:
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error
    return path


def _flagged(column: pd.Series, check: Callable[[str], bool]) -> np.ndarray:
    """Which cells of `column` hold a text `check` flags; each distinct text is checked once."""
    if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
        return np.zeros(len(column), dtype=bool)
    flagged = [v for v in column.dropna().unique() if isinstance(v, str) and check(v)]
    mask: np.ndarray = column.isin(flagged).to_numpy(dtype=bool)
    return mask


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as a CSV may hold it: every text a spreadsheet would run gets a leading `'`
    (bot.core.cells); numbers, dates and other text are unchanged."""
    safe = frame
    for name in frame.columns:
        mask = _flagged(frame[name], is_formula_like)
        if mask.any():
            if safe is frame:
                safe = frame.copy()
            column = safe[name].astype(object)
            column[mask] = column[mask].map(quoted)
            safe[name] = column
    return safe


def write_csv(frame: pd.DataFrame, path: Path, *, append: bool = False) -> None:
    """Write `frame` as UTF-8 CSV, formula-like text quoted (see `spreadsheet_safe`)."""
    spreadsheet_safe(frame).to_csv(
        path, index=False, encoding="utf-8", mode="a" if append else "w", header=not append
    )


def write_workbook(sheets: Sequence[Sheet], path: Path, about: About | Callable[[], About]) -> None:
    """Write `sheets` to the XLSX file `path` with the About sheet first
    (bot.core.workbook: named sheets, formats, filters, widths; text is never a
    formula). `about` may be a function, called once the rows are written."""
    with path.open("wb") as stream:
        write_book(stream, sheets, about)


TABLE_SHEETS = {
    "tidy": (
        "answers",
        "one row per answer: who (a pseudonymous key), which question, what they said",
    ),
    "wide": ("participants", "one row per participant and activity, a column per question"),
}


class TableFacts:
    """What the About sheet of an export says, gathered while its rows stream past."""

    def __init__(self, activity_key: str, table: str, timezone: str, now: datetime | None):
        self.activity_key = activity_key
        self.table = table
        self.timezone = timezone
        self.now = now
        self.rows = 0
        self.people: set[str] = set()
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None
        self.contacts = False

    def see(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        self.contacts = self.contacts or CONTACTS_COLUMN in frame.columns
        if "participant" in frame.columns:
            self.people.update(frame["participant"].dropna().unique().tolist())
        for column in ("received_at", "first_received_at", "last_received_at"):
            if column in frame.columns and len(frame):
                low, high = frame[column].min(), frame[column].max()
                if pd.notna(low):
                    self.first = low if self.first is None else min(self.first, low)
                if pd.notna(high):
                    self.last = high if self.last is None else max(self.last, high)

    def about(self) -> About:
        def day(moment: pd.Timestamp | None) -> str:
            return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")

        table = "answers (tidy)" if self.table == "tidy" else "participants (wide)"
        return About(
            title=f"Export of {self.activity_key}: {table}",
            facts=facts(
                {
                    "Activity": self.activity_key,
                    "Rows": f"{self.rows:,}",
                    "People": f"{len(self.people):,}",
                    "First answer": day(self.first),
                    "Last answer": day(self.last),
                    "Times in": self.timezone,
                    "Exported": ""
                    if self.now is None
                    else self.now.replace(tzinfo=ZoneInfo("UTC"))
                    .astimezone(ZoneInfo(self.timezone))
                    .strftime("%Y-%m-%d %H:%M"),
                    "Suppression": "none: an internal, row-level table. Share it only with "
                    "the planning committee; publish a public pack instead "
                    "(engage export pack --public).",
                    "Participants": "pseudonymous keys, stable across exports of this district",
                    "Contact details": "INCLUDED: personal data, keep it safe"
                    if self.contacts
                    else "",
                }
            ),
            notes=("Columns are described in docs/synthesis.md.",),
        )


def _xlsx_rows(frames: Iterable[pd.DataFrame], facts_: TableFacts) -> Iterator[tuple[Any, ...]]:
    for frame in frames:
        if facts_.rows + len(frame) > XLSX_MAX_ROWS:
            raise ExportError(
                f"{facts_.activity_key} has more answers than an Excel sheet holds "
                f"({XLSX_MAX_ROWS}): use --format parquet or csv"
            )
        facts_.see(frame)
        yield from scales_as_numbers(frame).itertuples(index=False, name=None)


def write_xlsx(
    frames: Iterable[pd.DataFrame], columns: Sequence[str], temporary: Path, facts_: TableFacts
) -> None:
    name, description = TABLE_SHEETS.get(facts_.table, (facts_.table, ""))
    sheet = Sheet(name, description, list(columns), _xlsx_rows(frames, facts_))
    write_workbook([sheet], temporary, facts_.about)


def _write(
    frame: pd.DataFrame, temporary: Path, fmt: ExportFormat, facts_: TableFacts | None = None
) -> None:
    match fmt:
        case ExportFormat.CSV:
            write_csv(frame, temporary)
        case ExportFormat.XLSX:
            if len(frame) > XLSX_MAX_ROWS:
                raise ExportError(
                    f"{len(frame)} rows do not fit in an Excel sheet "
                    f"({XLSX_MAX_ROWS} at most): use --format parquet or csv"
                )
            facts_ = facts_ or TableFacts("table", "table", "UTC", None)
            write_xlsx([frame], list(frame.columns), temporary, facts_)
        case ExportFormat.PARQUET:
            frame.to_parquet(temporary, index=False, engine="pyarrow")


def write_table(
    frame: pd.DataFrame,
    path: Path,
    fmt: ExportFormat,
    *,
    facts_: TableFacts | None = None,
) -> Path:
    """Write `frame` as `fmt`; written to a temporary name first, so nothing is half-written."""
    temporary = open_for_writing(path)
    try:
        _write(frame, temporary, fmt, facts_)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return finish_writing(temporary, path)
