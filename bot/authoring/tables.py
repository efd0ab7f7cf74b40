"""Tables organizers bring: a CSV or XLSX file read into (line, {column: text}) rows.

Used for rosters and enrollment figures from a student information system.
Files may be UTF-8 (with or without the BOM Excel writes), UTF-16 (Excel's
"Unicode text") or Windows-1252 (Excel's plain "CSV", read with a warning
naming the first line that is not UTF-8); comma, semicolon or tab separated.
Line numbers are where a record starts in the file, so problems can be
reported as `file:line: column: problem`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.core.roster import RosterError

__all__ = ["Table", "column_name", "read_table"]


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]
    warnings: tuple[str, ...] = ()


def read_table(
    path: Path,
    required: Sequence[str],
    known: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Open a CSV or XLSX file: normalized column names, then (line, {column: text}) rows.

    Column names are folded (case, spaces, `-./`) and renamed by `aliases`.
    Raises RosterError when the file cannot be read or lacks a required column.
    """
    if not path.is_file():
        raise RosterError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        header, rows = _read_xlsx(path)
        warnings: list[str] = []
    elif suffix in (".csv", ".txt", ".tsv", ""):
        header, rows, warnings = _read_csv(path)
    elif suffix == ".xls":
        raise RosterError(f"{path}: old Excel .xls files are not read; save it as .xlsx or CSV")
    else:
        raise RosterError(f"{path}: not a CSV or XLSX file")
    columns = tuple(column_name(name, aliases or {}) for name in header)
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            raise RosterError(f"{path}:1: column {name!r} appears twice")
        seen.add(name)
    missing = [name for name in required if name not in columns]
    if missing:
        found = ", ".join(c for c in columns if c) or "none"
        raise RosterError(
            f"{path}:1: missing column(s) {', '.join(missing)} (found: {found}); "
            f"the first row must name the columns"
        )
    ignored = [h for h, c in zip(header, columns, strict=True) if c and c not in known]
    if ignored:
        warnings.append(f"{path}: ignored column(s): {', '.join(ignored)}")

    def cells() -> Iterator[tuple[int, dict[str, str]]]:
        for line, values in rows:
            if not any(v.strip() for v in values):
                continue
            record = {
                name: (values[i].strip() if i < len(values) else "")
                for i, name in enumerate(columns)
                if name in known
            }
            yield line, record

    return Table(columns, cells(), tuple(warnings))


def column_name(raw: str, aliases: Mapping[str, str]) -> str:
    """A header as a column name: `Home Language` -> `home_language`, then its alias."""
    name = re.sub(r"[\s\-./#]+", "_", raw.strip().lower()).strip("_")
    return aliases.get(name, name)


def _decode(path: Path, raw: bytes) -> tuple[str, list[str]]:
    if raw.startswith(b"PK\x03\x04"):
        raise RosterError(f"{path}: this is a spreadsheet (XLSX) file; name it .xlsx")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export.
        return raw.decode("utf-16"), []
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise RosterError(
                f"{path}:{line}: the file is neither UTF-8 nor Windows-1252 text; "
                f"save it from Excel as 'CSV UTF-8'"
            ) from error
        warning = (
            f"{path}:{line}: the file is not UTF-8; read it as Windows-1252 (Excel's plain "
            f"'CSV'). Check names with accents, or save it as 'CSV UTF-8' next time"
        )
        return text, [warning]


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]], list[str]]:
    text, warnings = _decode(path, path.read_bytes())
    if "\x00" in text:
        raise RosterError(f"{path}: binary data in a CSV file; export the roster as CSV or XLSX")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError(f"{path}: the file is empty") from None
    except csv.Error as error:
        raise RosterError(f"{path}:1: {error}") from error

    def rows() -> Iterator[tuple[int, list[str]]]:
        # csv.reader counts physical lines; a record starts one after the last one ended.
        line = reader.line_num
        while True:
            start = line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise RosterError(f"{path}:{start}: {error}") from error
            line = reader.line_num
            yield start, values

    return header, rows(), warnings


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise RosterError(f"{path}: not a readable XLSX file ({error})") from error
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = [_cell(v) for v in next(values)]
    except StopIteration:
        book.close()
        raise RosterError(f"{path}: the first sheet is empty") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, row in enumerate(values, start=2):
                yield line, [_cell(v) for v in row]
        finally:
            book.close()

    return header, rows()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)
