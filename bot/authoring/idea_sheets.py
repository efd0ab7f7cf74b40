"""Translation sheets for an exchange's ideas: a row per approved idea, a column per language.

The rows come in the order translators should work (bot.core.moderation.
translation_order): ideas written in the languages the exchange hears least
first, so those families' ideas reach everyone soonest. Every cell is a
text, never a formula; reading back refuses a sheet made for another
exchange or with a language the district does not use, and skips empty cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.exceptions import InvalidFileException

from bot.core.moderation import TranslationTask
from bot.errors import SheetError

__all__ = ["export_idea_sheet", "read_idea_sheet"]

SHEET = "Ideas"
FIXED = ("exchange", "number", "written in", "idea")


def export_idea_sheet(
    activity: str, work: Sequence[TranslationTask], languages: Sequence[str], out: Path
) -> None:
    """Write `work` to `out`: the idea as written, its translations, empty cells to fill."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)

    def cell(value: object) -> WriteOnlyCell:
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.value = ILLEGAL_CHARACTERS_RE.sub("", value)
            made.data_type = "s"  # a text starting with "=" stays a text
        return made

    sheet.append([cell(title) for title in (*FIXED, *languages)])
    for task in work:
        card = task.card
        row = [activity, card.number, card.language, card.text]
        row += [card.text_in(language) or "" for language in languages]
        sheet.append([cell(value) for value in row])
    book.save(out)


def read_idea_sheet(
    path: Path, activity: str, languages: Sequence[str]
) -> list[tuple[int, str, str]]:
    """The (idea number, language, text) a filled-in sheet gives, empty cells left out."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as error:
        raise SheetError([f"{path}: not an XLSX workbook ({error})"]) from error
    if SHEET not in book.sheetnames:
        raise SheetError([f"{path}: no sheet named '{SHEET}'; export one first"])
    rows = list(book[SHEET].iter_rows(values_only=True))
    if not rows:
        raise SheetError([f"{path}: the sheet is empty"])
    header = [str(value or "").strip() for value in rows[0]]
    if tuple(header[: len(FIXED)]) != FIXED:
        raise SheetError([f"{path}: the first columns must be {', '.join(FIXED)}"])
    columns = header[len(FIXED) :]
    problems = [
        f"{path}: column '{code}' is not one of the district's languages ({', '.join(languages)})"
        for code in columns
        if code and code not in languages
    ]
    found: list[tuple[int, str, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        if str(row[0] or "").strip() != activity:
            problems.append(f"{path}:{line}: made for '{row[0]}', not '{activity}'")
            continue
        try:
            number = int(str(row[1]).strip())
        except ValueError:
            problems.append(f"{path}:{line}: number: '{row[1]}' is not an idea number")
            continue
        for offset, code in enumerate(columns, start=len(FIXED)):
            value = row[offset] if offset < len(row) else None
            words = str(value).strip() if value is not None else ""
            if code and words:
                found.append((number, code, words))
    if problems:
        raise SheetError(problems)
    return found
