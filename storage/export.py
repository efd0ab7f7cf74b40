"""Exports for the synthesis stage: one row per answer, participants pseudonymized."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, select

from bot.core.activity import Activity, QuestionType
from bot.core.texts import text as system_text
from storage import models

__all__ = ["ExportFormat", "participant_key", "tidy_responses", "write_table"]

responses = models.Response.__table__
participants = models.Participant.__table__
activities = models.Activity.__table__

TIDY_COLUMNS = [
    "participant",
    "activity",
    "activity_version",
    "kind",
    "scope_school",
    "question",
    "question_type",
    "question_text",
    "value",
    "label_en",
    "label_seen",
    "text",
    "status",
    "language",
    "detected_language",
    "channel",
    "role",
    "school",
    "grade",
    "received_at",
]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def participant_key(secret: str, participant_id: int) -> str:
    """A keyed hash: stable across exports, meaningless without the district's secret."""
    digest = hmac.new(secret.encode(), str(participant_id).encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def _value_keys(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _label(activity: Activity, question_key: str, value: Any, language: str) -> str:
    question = activity.question(question_key)
    if question is None or value is None:
        return ""
    if question.type in (QuestionType.SCALE, QuestionType.FREE_TEXT):
        return str(value)
    if question.type is QuestionType.YES_NO:
        return system_text(str(value), language) if value in ("yes", "no") else str(value)
    labels = []
    for key in _value_keys(value):
        option = question.option(key)
        labels.append(option.label.get(language, activity.default_language) if option else key)
    return "; ".join(labels)


def tidy_responses(
    engine: Engine,
    activity_key: str,
    parse: Callable[[str, str], Activity],
    secret: str,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Every answer to every version of `activity_key`, one row each (see TIDY_COLUMNS)."""
    query = (
        select(
            responses.c.participant_id,
            responses.c.activity_id,
            responses.c.question,
            responses.c.value,
            responses.c.text,
            responses.c.status,
            responses.c.language,
            responses.c.detected_language,
            responses.c.channel,
            responses.c.created_at,
            participants.c.role,
            participants.c.school,
            participants.c.grade,
        )
        .join(participants, participants.c.id == responses.c.participant_id)
        .join(activities, activities.c.id == responses.c.activity_id)
        .where(activities.c.key == activity_key)
        .order_by(responses.c.id)
    )
    with engine.connect() as connection:
        versions = {
            row.id: (row.version, parse(row.source, f"{row.key}@v{row.version}"))
            for row in connection.execute(
                select(
                    activities.c.id, activities.c.key, activities.c.version, activities.c.source
                ).where(activities.c.key == activity_key)
            )
        }
        rows = connection.execute(query).all()
    zone = ZoneInfo(timezone)
    records: list[dict[str, Any]] = []
    for row in rows:
        version, activity = versions[row.activity_id]
        question = activity.question(row.question)
        free = question is not None and question.type is QuestionType.FREE_TEXT
        records.append(
            {
                "participant": participant_key(secret, row.participant_id),
                "activity": activity.key,
                "activity_version": version,
                "kind": activity.kind.value,
                "scope_school": activity.school or "",
                "question": row.question,
                "question_type": question.type.value if question else "",
                "question_text": question.prompt.get(activity.default_language) if question else "",
                "value": "" if free else ";".join(_value_keys(row.value)),
                "label_en": "" if free else _label(activity, row.question, row.value, "en"),
                "label_seen": ""
                if free
                else _label(activity, row.question, row.value, row.language),
                "text": row.text if (free or row.status == "unparsed") else "",
                "status": row.status,
                "language": row.language,
                "detected_language": row.detected_language or "",
                "channel": row.channel,
                "role": row.role or "",
                "school": row.school or "",
                "grade": row.grade or "",
                "received_at": row.created_at.replace(tzinfo=ZoneInfo("UTC"))
                .astimezone(zone)
                .isoformat(timespec="seconds"),
            }
        )
    return pd.DataFrame.from_records(records, columns=TIDY_COLUMNS)


def write_table(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> Path:
    """Write `frame` as `fmt`; written to a temporary name first, so nothing is half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    match fmt:
        case ExportFormat.CSV:
            frame.to_csv(temporary, index=False, encoding="utf-8")
        case ExportFormat.XLSX:
            frame.to_excel(temporary, index=False, engine="openpyxl")
        case ExportFormat.PARQUET:
            frame.to_parquet(temporary, index=False, engine="pyarrow")
    temporary.replace(path)
    return path
