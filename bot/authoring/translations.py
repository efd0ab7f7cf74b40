"""Translation sheets: an activity's texts in a workbook for the district's translators, and back.

`export_sheet` writes every text of an activity file on its own row, with a
column per district language: current translations filled in, missing ones
highlighted. Translators fill the empty cells in Excel or LibreOffice.
`import_sheet` reads the workbook back, checks it against the activity file,
and writes the new translations into that file, keeping its comments, order
and quoting, and replacing it only once the result is a valid activity.

A row is named by the keys on its way (`questions[priorities].options[safety].label`),
not by position, so reordering questions between export and import does no harm.

What import refuses, writing nothing (SheetError, every problem at once):
a file that is not a workbook, a sheet without an `id` column or a column
for the activity's default language, a column for a language the district
does not use, a language twice, a sheet made for another activity, and a
result that would not be a valid activity. What it skips and reports, while
the rest lands: a row whose id the activity no longer has, an id twice, and
a row whose source text differs from the file's (it changed since the export).
An empty cell never removes a translation.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from bot.authoring.activities import FieldPath, SourceError, parse_activity, read_source
from bot.core.activity import Activity, authored_text, is_authored_text
from bot.core.texts import language_name
from bot.core.vocabulary import spoken_languages
from bot.errors import ActivityError, SheetError

__all__ = ["SheetExport", "SheetImport", "SheetText", "export_sheet", "import_sheet", "sheet_texts"]

SHEET = "Translations"
ABOUT = "About"
ID, WHERE, NOTES = "id", "where", "notes"

# Each field that holds a text a family reads, and what translators are told about it.
_TEXT_FIELDS: Mapping[str, str] = {
    "title": "title of the activity",
    "intro": "sent before the first question",
    "closing": "sent after the last answer",
    "reminder": "reminder to those who have not finished",
    "message": "the update's message",
    "prompt": "question",
    "label": "answer option; also a button, so keep it short",
    "min_label": "what the lowest number of the scale means",
    "max_label": "what the highest number of the scale means",
    "summary": "summary of a section of the draft plan",
    "text": "an idea the organizers wrote, shown for agree / disagree / pass",
}
# Fields whose values are never texts to translate.
_NOT_TEXTS = frozenset(
    {
        "when",
        "start_keywords",
        "key",
        "type",
        "link",
        "school",
        "round",
        "scope",
        "moderation",
        "opens",
        "closes",
    }
)

_MISSING = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
_SOURCE = PatternFill("solid", start_color="EDEDED", end_color="EDEDED")
_HEADER = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True, slots=True)
class SheetText:
    """One text of an activity: its id, a hint for translators, and its texts by language."""

    id: str
    where: str
    path: FieldPath
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SheetExport:
    """What `export_sheet` wrote: how many texts, and how many lack each language."""

    path: Path
    texts: int
    missing: Mapping[str, int]


@dataclass(frozen=True)
class SheetImport:
    """What `import_sheet` did (or would do, on a dry run).

    `changes` counts the translations added or changed per language;
    `skipped` says which rows or cells were left out, and why.
    """

    path: Path
    changes: Mapping[str, int]
    unchanged: int
    skipped: list[str] = field(default_factory=list)
    written: bool = False


# -- reading the activity file ---------------------------------------------------------


def _yaml(source: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    _, sequence, offset = load_yaml_guess_indent(source)
    yaml.indent(mapping=_mapping_indent(source), sequence=sequence or 2, offset=offset or 0)
    return yaml


# The indentation of the first nested mapping key (ruamel guesses sequences only).
def _mapping_indent(source: str) -> int:
    lines = [
        line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for line, following in zip(lines, lines[1:], strict=False):
        stripped = following.lstrip()
        if line.rstrip().endswith(":") and not line.lstrip().startswith("- "):
            if not stripped.startswith("- "):
                step = len(following) - len(stripped) - (len(line) - len(line.lstrip()))
                if step > 0:
                    return step
    return 2


@dataclass(frozen=True, slots=True)
class _ActivityFile:
    """An activity file as text, as checked, and as ruamel's round-trip data."""

    source: str
    activity: Activity
    yaml: YAML
    data: CommentedMap


def _load(path: Path) -> _ActivityFile:
    try:
        source = read_source(path)
    except SourceError as error:
        raise SheetError([error.problem]) from error
    try:
        activity = parse_activity(source, str(path))
    except ActivityError as error:
        raise SheetError(
            [f"{path} is not a valid activity; fix it first:", *error.problems]
        ) from error
    yaml = _yaml(source)
    try:
        data = yaml.load(source)
    except YAMLError as error:
        raise SheetError([f"{path}: not valid YAML: {error}"]) from error
    return _ActivityFile(source, activity, yaml, data)


def sheet_texts(data: Mapping[str, Any], default: str) -> list[SheetText]:
    """Every text of an activity's YAML data, in file order; `default` is its default language."""
    return list(_walk(data, (), "", default, None))


def _walk(
    node: Any, path: FieldPath, name: str, default: str, question_type: str | None
) -> Iterator[SheetText]:
    if isinstance(node, Mapping):
        kind = node.get("type") if isinstance(node.get("type"), str) else question_type
        for key, value in node.items():
            key = str(key)
            if key in _NOT_TEXTS:
                continue
            here = f"{name}.{key}" if name else key
            if key in _TEXT_FIELDS and is_authored_text(value):
                yield SheetText(
                    here, _where(key, path, kind), (*path, key), authored_text(value, default)
                )
            elif isinstance(value, Mapping | list):
                yield from _walk(value, (*path, key), here, default, kind)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            key = item.get("key") if isinstance(item, Mapping) else None
            label = (
                str(key) if isinstance(key, str | int) and not isinstance(key, bool) else str(index)
            )
            yield from _walk(item, (*path, index), f"{name}[{label}]", default, question_type)


def _where(field_name: str, path: FieldPath, question_type: str | None) -> str:
    if path[:1] == ("sections",) and field_name == "title":
        return "title of a section of the draft plan"
    hint = _TEXT_FIELDS[field_name]
    if field_name == "prompt" and question_type:
        hint = f"question ({question_type.replace('_', ' ')})"
    return hint


# -- export --------------------------------------------------------------------------------


def export_sheet(activity: Path, languages: Sequence[str], out: Path) -> SheetExport:
    """Write the translation sheet of the activity file `activity` for `languages` to `out`.

    The activity's default language is the first text column (the source),
    then one column per other language, in the order given.
    Raises SheetError when the activity file is missing or invalid.
    """
    loaded = _load(activity)
    default = loaded.activity.default_language
    texts = sheet_texts(loaded.data, default)
    targets = [code for code in dict.fromkeys(languages) if code != default]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    columns = [ID, WHERE, default, *targets, NOTES]
    sheet.append([_header(column) for column in columns])
    for cell in sheet[1]:
        cell.font = _HEADER
    missing = dict.fromkeys(targets, 0)
    for row, text in enumerate(texts, 2):
        for column, name in enumerate(columns, 1):
            value = (
                text.id if name == ID else text.where if name == WHERE else text.values.get(name)
            )
            cell = sheet.cell(row, column)
            if value is not None:
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.data_type = "s"  # a text starting with "=" is not a formula
            cell.alignment = _WRAP
            if name == default:
                cell.fill = _SOURCE
            elif name in missing and value is None:
                cell.fill = _MISSING
                missing[name] += 1
    for column, name in enumerate(columns, 1):
        width = 36 if name == ID else 24 if name in (WHERE, NOTES) else 48
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "D2"
    sheet.auto_filter.ref = sheet.dimensions  # translators filter for what is still empty
    _about(book, loaded.activity, activity, targets)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return SheetExport(out, len(texts), missing)


def _header(column: str) -> str:
    if column in (ID, WHERE, NOTES):
        return column
    return f"{column} ({language_name(column)})"


def _about(book: Workbook, activity: Activity, path: Path, targets: list[str]) -> None:
    about = book.create_sheet(ABOUT)
    default = activity.default_language
    rows = [
        ("activity", activity.key),
        ("file", path.name),
        ("version", str(activity.version)),
        ("source language", default),
        ("languages", ", ".join(targets)),
        ("exported", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("", ""),
        ("how to", f"Fill the yellow cells of the {SHEET} sheet with the translation of the"),
        ("", f"'{default}' text on the same row. Do not change the id, where or '{default}'"),
        ("", "columns. Keep texts short: families read them by SMS. Leave a cell empty"),
        ("", "to keep what is there; write questions for the team in the notes column."),
    ]
    for row in rows:
        about.append(list(row))
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = 90


# -- import --------------------------------------------------------------------------------


@dataclass
class _Columns:
    id: int
    source: int
    languages: dict[str, int]


def import_sheet(
    sheet_path: Path, activity: Path, languages: Sequence[str], *, dry_run: bool = False
) -> SheetImport:
    """Read the translation sheet `sheet_path` into the activity file `activity`.

    `languages` are the district's. The file is replaced atomically, and only
    when something changed and the result is a valid activity; with `dry_run`
    it is left alone and the result says what would change.
    Raises SheetError listing every problem that stops the import.
    """
    loaded = _load(activity)
    default = loaded.activity.default_language
    rows = _read_rows(sheet_path, loaded.activity.key)
    columns = _columns(rows, default, languages, sheet_path.name)
    texts = {text.id: text for text in sheet_texts(loaded.data, default)}
    seen: dict[str, int] = {}
    changes: dict[str, int] = dict.fromkeys(columns.languages, 0)
    unchanged = 0
    skipped: list[str] = []
    for number, row in enumerate(rows[1:], 2):
        cells = {index: _cell_text(row, index) for index in range(len(row))}
        if not any(cells.values()):
            continue
        where = f"{sheet_path.name}: row {number}"
        text_id = cells.get(columns.id, "")
        if not text_id:
            skipped.append(f"{where}: no id; skipped")
            continue
        text = texts.get(text_id)
        if text is None:
            skipped.append(
                f"{where}: '{text_id}' is not a text of this activity "
                "(removed or renamed since the export?); skipped"
            )
            continue
        if text_id in seen:
            skipped.append(f"{where}: '{text_id}' is also row {seen[text_id]}; skipped")
            continue
        seen[text_id] = number
        if cells.get(columns.source, "") != _clean(text.values.get(default, "")):
            skipped.append(
                f"{where}: the '{default}' text differs from the activity's (it changed "
                "since the export); export a new sheet for this row; skipped"
            )
            continue
        for language, index in columns.languages.items():
            value = cells.get(index, "")
            if not value:
                continue
            if value == _clean(text.values.get(language, "")):
                unchanged += 1
                continue
            _set_text(loaded.data, text.path, language, value, default)
            changes[language] += 1
    result = SheetImport(activity, changes, unchanged, skipped)
    if not any(changes.values()):
        return result
    updated = _dump(loaded.yaml, loaded.data)
    try:
        parse_activity(updated, str(activity))
    except ActivityError as error:
        raise SheetError(
            [f"{sheet_path.name}: the translations would make {activity} invalid:", *error.problems]
        ) from error
    if dry_run:
        return result
    _replace(activity, updated, loaded.source)
    return replace(result, written=True)


def _read_rows(path: Path, activity_key: str) -> list[tuple[Any, ...]]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as error:
        raise SheetError([f"{path}: no such file"]) from error
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise SheetError(
            [f"{path}: not an Excel workbook (.xlsx); save the sheet as .xlsx"]
        ) from error
    try:
        if ABOUT in book.sheetnames:
            about = {
                str(row[0]).strip(): row[1]
                for row in book[ABOUT].iter_rows(max_col=2, values_only=True)
                if row and row[0]
            }
            made_for = str(about.get("activity") or "").strip()
            if made_for and made_for != activity_key:
                raise SheetError(
                    [f"{path}: this sheet is for the activity '{made_for}', not '{activity_key}'"]
                )
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        return [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _columns(
    rows: Sequence[Sequence[Any]], default: str, languages: Sequence[str], name: str
) -> _Columns:
    problems: list[str] = []
    found: dict[str, int] = {}
    spoken = spoken_languages()
    header = rows[0] if rows else ()
    for index in range(max((len(row) for row in rows), default=0)):
        title = _cell_text(header, index)
        letter = get_column_letter(index + 1)
        if not title:
            if any(_cell_text(row, index) for row in rows[1:]):
                problems.append(
                    f"{name}: column {letter} has texts but no title; name it as exported"
                )
            continue
        code = re.split(r"[\s(]", title, maxsplit=1)[0].lower()
        if code in (WHERE, NOTES):
            continue
        if code in found:
            problems.append(
                f"{name}: column {letter} '{title}': column {get_column_letter(found[code] + 1)} is '{code}' too"
            )
            continue
        if code != ID and code != default:
            if code not in spoken:
                problems.append(
                    f"{name}: column {letter} '{title}': not a language code the bot speaks "
                    f"({', '.join(spoken)}), nor id, where or notes"
                )
                continue
            if code not in languages:
                problems.append(
                    f"{name}: column {letter} '{title}': {language_name(code)} is not one of the "
                    f"district's languages ({', '.join(languages)}); add '{code}' to languages "
                    "in district.yaml, or delete the column"
                )
                continue
        found[code] = index
    if ID not in found:
        problems.append(f"{name}: no 'id' column; the first row must name the columns as exported")
    if default not in found:
        problems.append(
            f"{name}: no '{default}' column; rows are matched by the activity's "
            f"default language, '{default}'"
        )
    if problems:
        raise SheetError(problems)
    targets = {code: index for code, index in found.items() if code not in (ID, default)}
    return _Columns(found[ID], found[default], targets)


def _cell_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_text(row: Sequence[Any], index: int) -> str:
    return _clean(_cell_value(row[index]) if index < len(row) else "")


# What a spreadsheet does to text: Windows line ends, stray spaces, decomposed accents.
def _clean(value: str) -> str:
    value = value.replace("_x000D_", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in value.strip().split("\n")]
    return unicodedata.normalize("NFC", "\n".join(lines))


def _set_text(data: Any, path: FieldPath, language: str, value: str, default: str) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    name = path[-1]
    current = parent[name]
    if isinstance(current, CommentedMap):
        current[language] = value
        # One language per line once the file has more of them: short lines, clean diffs.
        current.fa.set_block_style()
    else:
        parent[name] = CommentedMap([(default, current), (language, value)])


def _dump(yaml: YAML, data: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


# Write beside the file, then rename over it: a crash leaves the old file or the new one.
def _replace(path: Path, text: str, old: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if "\r\n" in old:  # written on Windows: keep its line ends
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
