"""File formats the exports write."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FORMULA_STARTS", "ExportFormat", "inert"]

# A cell that starts with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def inert(value: str) -> str:
    """A text a spreadsheet shows and never runs: one that starts like a formula gets a `'`."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
