"""The tables of answers every export is made of: tidy (one row per answer) and wide.

Tidy: one row per answer (`TIDY_COLUMNS`). Wide: one row per participant ×
activity (`wide_responses`). docs/synthesis.md documents every column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bot.core.activity import QuestionType

__all__ = [
    "CHOICE_TYPES",
    "CONTACTS_COLUMN",
    "TIDY_COLUMNS",
    "WIDE_BASE_COLUMNS",
    "scales_as_numbers",
    "wide_responses",
]

TIDY_COLUMNS = [
    "participant",
    "household",
    "activity",
    "activity_version",
    "kind",
    "round",
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
CONTACTS_COLUMN = "contacts"


WIDE_BASE_COLUMNS = [
    "participant",
    "household",
    "activity",
    "kind",
    "round",
    "scope_school",
    "role",
    "school",
    "grade",
    "language",
    "channel",
    "first_received_at",
    "last_received_at",
    "answered",
    "skipped",
    "unparsed",
]


def wide_responses(tidy: pd.DataFrame, questions: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    """One row per participant × activity: who they are, then one column per question.

    `questions` is (key, type) in the order the activity asks them; questions
    answered only in older versions follow. A question answered twice (a later
    version, a retake) keeps the latest answer. Choice questions give the option
    keys in `<question>` and the English labels in `<question>__label_en`; a
    scale gives its number; free text its original words (and unparsed replies
    are kept as said).
    """
    group = ["participant", "activity"]
    extra = [CONTACTS_COLUMN] if CONTACTS_COLUMN in tidy.columns else []
    if tidy.empty:
        return pd.DataFrame(columns=WIDE_BASE_COLUMNS + extra)
    ordered = tidy.sort_values("received_at", kind="stable")
    grouped = ordered.groupby(group, sort=False)
    base = grouped.agg(
        household=("household", "last"),
        kind=("kind", "last"),
        round=("round", "last"),
        scope_school=("scope_school", "last"),
        role=("role", "last"),
        school=("school", "last"),
        grade=("grade", "last"),
        language=("language", "last"),
        channel=("channel", "last"),
        first_received_at=("received_at", "min"),
        last_received_at=("received_at", "max"),
    )
    counts = (
        pd.crosstab([ordered["participant"], ordered["activity"]], ordered["status"])
        .reindex(columns=["answered", "skipped", "unparsed"], fill_value=0)
        .astype(np.int64)
    )
    base = base.join(counts)
    if extra:
        base = base.join(grouped[CONTACTS_COLUMN].last())
    latest = ordered.drop_duplicates(group + ["question"], keep="last")
    types = dict(questions)
    for key, kind in latest.groupby("question", sort=False)["question_type"].last().items():
        types.setdefault(str(key), str(kind))
    free = latest["question_type"] == QuestionType.FREE_TEXT.value
    shown = latest["value"].where(~free & (latest["status"] != "unparsed"), latest["text"])
    cells = latest.assign(shown=shown).set_index(group + ["question"])
    values = cells["shown"].unstack("question")
    labels = cells["label_en"].unstack("question")
    columns: dict[str, pd.Series] = {}
    for key, kind in types.items():
        if key not in values.columns:
            continue
        column = values[key]
        if kind == QuestionType.SCALE.value:
            column = pd.to_numeric(column, errors="coerce").astype("Int64")
        columns[key] = column
        if kind in CHOICE_TYPES:
            columns[f"{key}__label_en"] = labels[key]
    answers = pd.DataFrame(columns, index=values.index)
    wide = base.join(answers).reset_index()
    ordered_columns = WIDE_BASE_COLUMNS + extra + list(answers.columns)
    return wide[ordered_columns]


CHOICE_TYPES = frozenset(
    {
        QuestionType.SINGLE_CHOICE.value,
        QuestionType.MULTIPLE_CHOICE.value,
        QuestionType.RANKING.value,
        QuestionType.YES_NO.value,
    }
)


def scales_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The tidy `value` of scale questions as numbers (other values stay text)."""
    if "value" not in frame.columns or "question_type" not in frame.columns:
        return frame
    scale = (frame["question_type"] == QuestionType.SCALE.value).to_numpy()
    if not scale.any():
        return frame
    numbers = pd.to_numeric(frame["value"].where(scale), errors="coerce")
    value = frame["value"].astype(object).copy()
    found = numbers.notna().to_numpy()
    value[found] = [int(n) if float(n).is_integer() else float(n) for n in numbers[found]]
    return frame.assign(value=value)
