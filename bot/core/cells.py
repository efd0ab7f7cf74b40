"""Text a spreadsheet would run: a cell that starts like a formula.

A family's words go into CSV and XLSX files that staff open in Excel or
LibreOffice. A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return is read as a formula there (`=HYPERLINK(…)`, `+cmd|' /C calc'!A0`,
`-2+3`), so every export neutralises such text as OWASP advises: CSV cells
get a leading `'`; XLSX cells are written as text marked "quote prefix",
which shows the words unchanged and keeps them text when edited. A plain
number (`-2`, `+3.5`) runs nothing and is left as it is. Parquet is not a
spreadsheet and keeps the original text.
"""

from __future__ import annotations

import re

__all__ = ["FORMULA_PATTERN", "PLAIN_NUMBER_PATTERN", "is_formula_like", "quoted"]

# The first characters a spreadsheet reads as the start of a formula.
FORMULA_PATTERN = r"^[=+\-@\t\r]"
PLAIN_NUMBER_PATTERN = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_FORMULA = re.compile(FORMULA_PATTERN)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER_PATTERN)


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read `text` as a formula (a plain number is not one)."""
    return bool(_FORMULA.match(text)) and not _PLAIN_NUMBER.match(text)


def quoted(text: str) -> str:
    """`text` as a CSV cell may hold it: a leading `'` when it reads as a formula."""
    return "'" + text if is_formula_like(text) else text
