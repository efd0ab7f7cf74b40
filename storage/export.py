"""Exports for the synthesis stage: tidy and wide tables, participants pseudonymized.

Tidy: one row per answer (`TIDY_COLUMNS`). Wide: one row per participant ×
activity (`wide_responses`). docs/synthesis.md documents every column; the
tables' shape and the files they are written to are in bot/files/.

A round can hold a million answers, so rows are read in chunks straight off
the database cursor and turned into columns with numpy/pandas; anything that
needs Python (labels, keyed hashes) is computed once per distinct value, never
per row. `write_tidy` streams chunks to disk; every writer writes a temporary
file and renames it at the end, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, func, select

from bot.core.activity import Activity, QuestionType
from bot.core.formats import ExportFormat
from bot.core.keys import participant_key
from bot.core.texts import text as system_text
from bot.core.versions import Parse, Version, question_order
from bot.errors import ExportError
from bot.files.answers import CONTACTS_COLUMN, TIDY_COLUMNS, wide_responses
from bot.files.tables import (
    TableFacts,
    finish_writing,
    open_for_writing,
    write_csv,
    write_table,
    write_xlsx,
)
from storage import models
from storage.activities import record_audit
from storage.households import ties

__all__ = [
    "CONTACTS_COLUMN",
    "TIDY_COLUMNS",
    "ExportError",
    "ExportFormat",
    "ExportResult",
    "activity_versions",
    "export_activity",
    "iter_tidy",
    "participant_key",
    "snapshot",
    "tidy_responses",
    "wide_responses",
    "write_tidy",
]

responses = models.table(models.Response)
participants = models.table(models.Participant)
activities = models.table(models.Activity)
contacts = models.table(models.Contact)
conversations = models.table(models.Conversation)
households = models.table(models.Household)

CHUNK_ROWS = 100_000
# On SQLite, scanning the table in id order beats the activity index (which
# needs a sort of every row) once the activity holds this share of all answers.
SCAN_SHARE = 0.2


def activity_versions(connection: Connection, activity_key: str, parse: Parse) -> list[Version]:
    """Every stored version of `activity_key`, oldest first; ExportError when there is none."""
    rows = connection.execute(
        select(activities.c.id, activities.c.key, activities.c.version, activities.c.source)
        .where(activities.c.key == activity_key)
        .order_by(activities.c.version)
    ).all()
    if not rows:
        raise ExportError(f"no activity named {activity_key!r}: see `engage activity list`")
    return [
        Version(row.id, row.version, parse(row.source, f"{row.key}@v{row.version}")) for row in rows
    ]


# -- reading -------------------------------------------------------------------

_FETCH = [
    "participant_id",
    "activity_id",
    "question",
    "value",
    "text",
    "status",
    "language",
    "detected_language",
    "channel",
    "created_at",
    "conversation_id",
]


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: every query of one export sees the same data.

    SQLite's default here is BEGIN IMMEDIATE (for writers); a reader must not
    hold the write lock for the length of an export, so it begins DEFERRED.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="DEFERRED")
        else:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


def _responses_sql(connection: Connection, ids: Sequence[int]) -> str:
    marks = ", ".join(str(int(i)) for i in ids)
    table = "responses"
    if connection.dialect.name == "sqlite":
        mine = connection.execute(
            select(func.count()).select_from(responses).where(responses.c.activity_id.in_(ids))
        ).scalar_one()
        total = connection.execute(
            select(func.max(responses.c.id)).select_from(responses)
        ).scalar_one()
        if total and mine >= SCAN_SHARE * total:
            table = "responses NOT INDEXED"
    return (
        "SELECT participant_id, activity_id, question, CAST(value AS TEXT), text, status, "
        f"language, detected_language, channel, created_at, conversation_id FROM {table} "
        f"WHERE activity_id IN ({marks}) ORDER BY id"
    )


def _participant_table(connection: Connection, include_contacts: bool) -> pd.DataFrame:
    """export salt, role, school, grade (and contacts) of every participant, indexed by id.

    All of them: one scan of a table of at most some hundred thousand rows costs
    less than finding which of them answered this activity.
    """
    people = connection.execute(
        select(participants.c.id, participants.c.role, participants.c.export_salt)
    ).all()
    schools: dict[int, dict[str, set[str]]] = {}
    tie = ties()
    for pid, school, grade in connection.execute(
        select(tie.c.participant_id, tie.c.school, tie.c.grade)
    ):
        graded = schools.setdefault(pid, {}).setdefault(school, set())
        if grade is not None:
            graded.add(grade)
    rows = [
        (
            pid,
            role,
            ";".join(sorted(schools.get(pid, {}))),
            ";".join(
                g for _, grades in sorted(schools.get(pid, {}).items()) for g in sorted(grades)
            ),
        )
        for pid, role, _ in people
    ]
    salts = [salt for _, _, salt in people]
    columns: list[Sequence[Any]] = (
        [*zip(*rows, strict=True), salts] if rows else [(), (), (), (), ()]
    )
    frame = pd.DataFrame(
        {
            "role": pd.Series(columns[1], dtype=object).fillna("").to_numpy(),
            "school": pd.Series(columns[2], dtype=object).fillna("").to_numpy(),
            "grade": pd.Series(columns[3], dtype=object).fillna("").to_numpy(),
            "salt": pd.Series(columns[4], dtype=object).to_numpy(),
        },
        index=pd.Index(np.asarray(columns[0], dtype=np.int64), name="id"),
    )
    if include_contacts:
        found: dict[int, list[str]] = {}
        for row in connection.execute(
            select(
                contacts.c.participant_id,
                contacts.c.channel,
                contacts.c.address,
                contacts.c.opted_out_at,
            )
            .join(participants, participants.c.id == contacts.c.participant_id)
            .where(participants.c.forgotten_at.is_(None))
            .order_by(contacts.c.id)
        ):
            entry = f"{row.channel}:{row.address}"
            if row.opted_out_at is not None:
                entry += " (opted out)"
            found.setdefault(row.participant_id, []).append(entry)
        frame[CONTACTS_COLUMN] = ["; ".join(found.get(int(i), [])) for i in frame.index]
    return frame


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a conversation recorded when its round started: the household and the
    schools and grades it saw (None: recorded before households existed)."""

    household_salt: str | None
    school: str | None
    grade: str | None


def _conversation_table(connection: Connection, version_ids: Sequence[int]) -> dict[int, _Seen]:
    """Each conversation of the activity: its household's salt, and school and grade as
    `a;b` in school order (grades of the household's students there)."""
    rows = connection.execute(
        select(conversations.c.id, households.c.export_salt, conversations.c.schools)
        .outerjoin(households, households.c.id == conversations.c.household_id)
        .where(conversations.c.activity_id.in_(version_ids))
    )
    found: dict[int, _Seen] = {}
    for conversation_id, salt, schools in rows:
        if schools:
            ordered = sorted(schools.items())
            school = ";".join(code for code, _ in ordered)
            grade = ";".join(g for _, grades in ordered for g in grades)
            found[conversation_id] = _Seen(salt, school, grade)
        else:
            found[conversation_id] = _Seen(salt, None, None)
    return found


def _stream_rows(
    connection: Connection, sql: str, chunk_rows: int
) -> Iterator[Sequence[Sequence[Any]]]:
    """Raw DB-API rows in chunks: no per-row objects besides the driver's tuples."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    # psycopg streams from a named (server-side) cursor; sqlite3 steps lazily anyway.
    cursor = raw.cursor() if connection.dialect.name == "sqlite" else raw.cursor("engage_export")
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    finally:
        cursor.close()


# -- labels ----------------------------------------------------------------------


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
    if question.type is QuestionType.SCALE or question.type is QuestionType.FREE_TEXT:
        return str(value)
    if question.type is QuestionType.YES_NO:
        return system_text(str(value), language) if value in ("yes", "no") else str(value)
    labels = []
    for key in _value_keys(value):
        option = question.option(key)
        labels.append(option.label.get(language, activity.default_language) if option else key)
    return "; ".join(labels)


class _Labels:
    """Value, English label and label as seen, computed once per distinct answer."""

    def __init__(self, versions: dict[int, Version]) -> None:
        self.versions = versions
        self.cache: dict[tuple[int, str, str, str], tuple[str, str, str]] = {}

    def __call__(self, activity_id: int, question: str, raw: str, language: str) -> tuple[str, ...]:
        key = (activity_id, question, raw, language)
        found = self.cache.get(key)
        if found is None:
            activity = self.versions[activity_id].activity
            value = None if raw == "" else json.loads(raw)
            found = (
                ";".join(_value_keys(value)),
                _label(activity, question, value, "en"),
                _label(activity, question, value, language),
            )
            self.cache[key] = found
        return found


def _encode(values: list[Any] | np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes and distinct values of a column of ints or strings (None allowed)."""
    if not isinstance(values, np.ndarray):
        values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    # factorize turns None into NaN: give it back as None.
    distinct = [None if isinstance(u, float) and u != u else u for u in uniques]
    return codes.astype(np.int64, copy=False), distinct


def _take(values: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string()).take(pa.array(codes, type=pa.int64()))


def _strings(values: list[Any]) -> pa.Array:
    array = pa.array(values, type=pa.string())
    return pc.fill_null(array, "") if array.null_count else array


class _Chunker:
    """Turns raw response rows into tidy rows, column by column.

    Each distinct participant, question and answer is looked at once per chunk
    (and cached across chunks); the rows themselves only move through numpy
    and Arrow.
    """

    def __init__(
        self,
        versions: list[Version],
        people: pd.DataFrame,
        seen: dict[int, _Seen],
        secret: str,
        timezone: str,
        include_contacts: bool,
    ) -> None:
        self.versions = {v.id: v for v in versions}
        self.people = people
        self.seen = seen
        self.secret = secret
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.include_contacts = include_contacts
        self.labels = _Labels(self.versions)
        self.keys: dict[int, str] = {}
        self.salts = dict(zip(people.index.tolist(), people["salt"].tolist(), strict=True))
        if any(salt is None for salt in self.salts.values()):
            raise ExportError("some participants have no export salt: run `engage init`")
        # The same keyed hash as participant_key(), without re-keying per person.
        self.keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)
        self.questions: dict[tuple[int, str], tuple[str, str]] = {}
        self.household_keys: dict[str, str] = {}

    def _key(self, participant_id: int) -> str:
        key = self.keys.get(participant_id)
        if key is None:
            digest = self.keyed.copy()
            digest.update(str(self.salts[participant_id]).encode())
            key = self.keys[participant_id] = digest.hexdigest()[:16]
        return key

    def _household_key(self, salt: str) -> str:
        key = self.household_keys.get(salt)
        if key is None:
            digest = self.keyed.copy()
            digest.update(salt.encode())
            key = self.household_keys[salt] = digest.hexdigest()[:16]
        return key

    def _question(self, activity_id: int, question_key: str) -> tuple[str, str]:
        found = self.questions.get((activity_id, question_key))
        if found is None:
            activity = self.versions[activity_id].activity
            question = activity.question(question_key)
            found = (
                (question.type.value, question.prompt.get(activity.default_language))
                if question
                else ("", "")
            )
            self.questions[(activity_id, question_key)] = found
        return found

    def _as_the_round_saw(
        self,
        raw: dict[str, list[Any]],
        id_codes: np.ndarray,
        id_uniques: list[Any],
        today: dict[str, list[Any]],
        out: dict[str, pa.Array],
    ) -> None:
        """household, school and grade of each answer as its conversation recorded them.

        A person outside any household is a household of their own (the key is
        theirs); a conversation from before households were recorded shows the
        person's schools today.
        """
        width = len(id_uniques)
        pairs = np.asarray(raw["conversation_id"], dtype=np.int64) * width + id_codes
        p_codes, p_uniques = _encode(pairs)
        homes, schools, grades = [], [], []
        for pair in p_uniques:
            conversation, who = divmod(int(pair), width)
            seen = self.seen.get(conversation)
            if seen is not None and seen.household_salt is not None:
                homes.append(self._household_key(seen.household_salt))
            else:
                homes.append(self._key(int(id_uniques[who])))
            if seen is not None and seen.school is not None:
                schools.append(seen.school)
                grades.append(seen.grade or "")
            else:
                schools.append(today["school"][who])
                grades.append(today["grade"][who])
        out["household"] = _take(homes, p_codes)
        out["school"] = _take(schools, p_codes)
        out["grade"] = _take(grades, p_codes)

    def table(self, rows: Sequence[Sequence[Any]]) -> pa.Table:
        raw = dict(zip(_FETCH, (list(column) for column in zip(*rows, strict=True)), strict=True))
        out: dict[str, pa.Array] = {}

        id_codes, id_uniques = _encode(np.asarray(raw["participant_id"], dtype=np.int64))
        out["participant"] = _take([self._key(int(i)) for i in id_uniques], id_codes)

        act_codes, act_uniques = _encode(np.asarray(raw["activity_id"], dtype=np.int64))
        versions = [self.versions[int(a)] for a in act_uniques]
        out["activity"] = _take([v.activity.key for v in versions], act_codes)
        out["activity_version"] = pa.array(
            np.asarray([v.version for v in versions], dtype=np.int64)[act_codes]
        )
        out["kind"] = _take([v.activity.kind.value for v in versions], act_codes)
        out["round"] = _take([v.round for v in versions], act_codes)
        out["scope_school"] = _take([v.activity.school or "" for v in versions], act_codes)

        q_codes, q_uniques = _encode(raw["question"])
        pair_codes, pair_uniques = _encode(act_codes * len(q_uniques) + q_codes)
        pairs = [
            (int(act_uniques[int(p) // len(q_uniques)]), str(q_uniques[int(p) % len(q_uniques)]))
            for p in pair_uniques
        ]
        meta = [self._question(a, q) for a, q in pairs]
        out["question"] = _take([str(q) for q in q_uniques], q_codes)
        out["question_type"] = _take([m[0] for m in meta], pair_codes)
        out["question_text"] = _take([m[1] for m in meta], pair_codes)
        free = np.asarray([m[0] == QuestionType.FREE_TEXT.value for m in meta], dtype=bool)
        is_free = free[pair_codes]

        # Free text is its own label: leave it out so that distinct answers stay few.
        v_codes, v_uniques = _encode(raw["value"])
        v_codes = np.where(is_free, len(v_uniques), v_codes)
        v_uniques.append(None)
        l_codes, l_uniques = _encode(raw["language"])
        combined = (pair_codes * len(v_uniques) + v_codes) * len(l_uniques) + l_codes
        c_codes, c_uniques = _encode(combined)
        labelled = []
        for code in c_uniques:
            language = l_uniques[int(code) % len(l_uniques)] or ""
            rest = int(code) // len(l_uniques)
            activity_id, question_key = pairs[rest // len(v_uniques)]
            value = v_uniques[rest % len(v_uniques)]
            labelled.append(
                self.labels(activity_id, question_key, "" if value is None else value, language)
            )
        out["value"] = _take([x[0] for x in labelled], c_codes)
        out["label_en"] = _take([x[1] for x in labelled], c_codes)
        out["label_seen"] = _take([x[2] for x in labelled], c_codes)

        status = _strings(raw["status"])
        keep_text = pc.or_(pa.array(is_free), pc.equal(status, "unparsed"))
        out["text"] = pc.if_else(keep_text, _strings(raw["text"]), "")
        out["status"] = status
        out["language"] = _take([str(x or "") for x in l_uniques], l_codes)
        out["detected_language"] = _strings(raw["detected_language"])
        out["channel"] = _strings(raw["channel"])

        where = self.people.index.get_indexer(pd.Index(id_uniques, dtype=np.int64))
        missing = where < 0
        today: dict[str, list[Any]] = {}
        for column in ("role", "school", "grade") + (
            (CONTACTS_COLUMN,) if self.include_contacts else ()
        ):
            known = self.people[column].to_numpy(dtype=object)[where]
            known[missing] = ""
            today[column] = list(known)
            out[column] = _take(today[column], id_codes)
        self._as_the_round_saw(raw, id_codes, id_uniques, today, out)

        received = pd.to_datetime(pd.Series(raw["created_at"]), format="ISO8601", utc=True)
        out["received_at"] = pa.array(received.dt.tz_convert(self.zone).dt.floor("s"))
        columns = TIDY_COLUMNS + ([CONTACTS_COLUMN] if self.include_contacts else [])
        return pa.table({name: out[name] for name in columns})


def _iter_tables(
    engine: Engine,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    include_contacts: bool,
    chunk_rows: int,
) -> Iterator[pa.Table]:
    with snapshot(engine) as connection:
        versions = activity_versions(connection, activity_key, parse)
        people = _participant_table(connection, include_contacts)
        seen = _conversation_table(connection, [v.id for v in versions])
        chunker = _Chunker(versions, people, seen, secret, timezone, include_contacts)
        sql = _responses_sql(connection, [v.id for v in versions])
        for rows in _stream_rows(connection, sql, chunk_rows):
            yield chunker.table(rows)


def iter_tidy(
    engine: Engine,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str = "UTC",
    *,
    include_contacts: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """The tidy table of `activity_key` in chunks of at most `chunk_rows` rows, in arrival order.

    Raises ExportError when the activity is unknown. Contact details (the
    `contacts` column) only with `include_contacts`.
    """
    for table in _iter_tables(
        engine, activity_key, parse, secret, timezone, include_contacts, chunk_rows
    ):
        yield table.to_pandas()


def _empty(timezone: str, include_contacts: bool) -> pd.DataFrame:
    columns = TIDY_COLUMNS + ([CONTACTS_COLUMN] if include_contacts else [])
    frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})
    frame["activity_version"] = frame["activity_version"].astype(np.int64)
    frame["received_at"] = pd.Series([], dtype=f"datetime64[ns, {timezone}]")
    return frame


def tidy_responses(
    engine: Engine,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str = "UTC",
    *,
    include_contacts: bool = False,
) -> pd.DataFrame:
    """Every answer to every version of `activity_key`, one row each (see TIDY_COLUMNS)."""
    chunks = list(
        iter_tidy(engine, activity_key, parse, secret, timezone, include_contacts=include_contacts)
    )
    if not chunks:
        return _empty(timezone, include_contacts)
    if len(chunks) == 1:
        return chunks[0]
    return pd.concat(chunks, ignore_index=True)


def write_tidy(
    engine: Engine,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    path: Path,
    fmt: ExportFormat,
    *,
    include_contacts: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
) -> int:
    """Stream the tidy table of `activity_key` to `path`; returns the number of rows.

    Raises ExportError, leaving nothing at `path`, when the activity is unknown,
    has no answers yet, or `path` cannot be written.
    """
    temporary = open_for_writing(path)
    rows = 0
    try:
        tables = _iter_tables(
            engine, activity_key, parse, secret, timezone, include_contacts, chunk_rows
        )
        if fmt is ExportFormat.PARQUET:
            writer: pq.ParquetWriter | None = None
            try:
                for table in tables:
                    if writer is None:
                        writer = pq.ParquetWriter(temporary, table.schema)
                    writer.write_table(table)
                    rows += table.num_rows
            finally:
                if writer is not None:
                    writer.close()
        elif fmt is ExportFormat.CSV:
            for table in tables:
                write_csv(table.to_pandas(), temporary, append=rows > 0)
                rows += table.num_rows
        else:
            gathered = TableFacts(activity_key, "tidy", timezone, now)
            frames = (table.to_pandas() for table in tables)
            first = next(frames, None)
            if first is not None:
                write_xlsx(
                    itertools.chain([first], frames), list(first.columns), temporary, gathered
                )
            rows = gathered.rows
        if rows == 0:
            raise ExportError(f"{activity_key} has no answers yet: nothing to export")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finish_writing(temporary, path)
    return rows


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    table: str


def export_activity(
    engine: Engine,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    path: Path,
    fmt: ExportFormat,
    now: datetime,
    *,
    wide: bool = False,
    include_contacts: bool = False,
    actor: str = "cli",
) -> ExportResult:
    """Write the tidy (or, with `wide`, the wide) table of `activity_key` and audit it.

    Raises ExportError, leaving nothing at `path`, when the activity is
    unknown, has no answers yet, or `path` cannot be written.
    """
    if wide:
        open_for_writing(path).unlink()
        tidy = tidy_responses(
            engine, activity_key, parse, secret, timezone, include_contacts=include_contacts
        )
        if tidy.empty:
            raise ExportError(f"{activity_key} has no answers yet: nothing to export")
        with engine.connect() as connection:
            versions = activity_versions(connection, activity_key, parse)
        questions = [(key, kind) for key, kind, _ in question_order(versions)]
        frame = wide_responses(tidy, questions)
        write_table(frame, path, fmt, facts_=TableFacts(activity_key, "wide", timezone, now))
        rows = len(frame)
    else:
        rows = write_tidy(
            engine,
            activity_key,
            parse,
            secret,
            timezone,
            path,
            fmt,
            include_contacts=include_contacts,
            now=now,
        )
    table = "wide" if wide else "tidy"
    record_audit(
        engine,
        actor,
        "export",
        {
            "activity": activity_key,
            "table": table,
            "format": fmt.value,
            "rows": rows,
            "path": str(path.resolve()),
            "include_contacts": include_contacts,
        },
        now,
    )
    return ExportResult(path, rows, table)
