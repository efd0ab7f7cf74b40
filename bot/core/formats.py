"""File formats the exports write."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ExportFormat"]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
