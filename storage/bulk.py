"""Many rows in few statements, for the paths that write a row per family.

SQLAlchemy's executemany prepares each row's parameters one by one (a dict,
its types' processors, the expanded statement), which at a district's scale
costs more than the database's own work. Here a statement is written once per
table and column list, each value goes through its column's processor once
(a value the rows share, such as one reply's choices, once in all), and the
rows go to the driver as plain tuples: a multi-row INSERT of a few hundred rows
a statement, or the driver's executemany for an UPDATE. The values stored are
the ones SQLAlchemy would have stored.

`among` says "one of these ids" with the ids in one parameter, where `in_()`
makes a parameter of each (which SQLAlchemy names, checks and expands one by one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Integer, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["among", "insert_rows", "update_rows"]

# Rows in one INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
PAGE = 500

Processor = Callable[[Any], Any]


def among(
    connection: Connection, column: ColumnElement[int], ids: Collection[int]
) -> ColumnElement[bool]:
    """SQL: `column` is one of `ids`, sent as one array (PostgreSQL) or JSON list (SQLite)."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    listed = func.json_each(bindparam(None, json.dumps(list(ids)))).table_valued("value")
    return column.in_(select(listed.c.value))


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    unless: str | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert `rows` (values in `columns` order); the `returning` column of each new row.

    With `unless`, a row whose `unless` value is taken already is left out
    (`ON CONFLICT (unless) DO NOTHING`) and returns nothing.
    """
    if not rows:
        return []
    columns, rows = _with_defaults(table, columns, rows)
    marks = "(" + ", ".join([_mark(connection)] * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    tail = f" ON CONFLICT ({unless}) DO NOTHING" if unless else ""
    tail += f" RETURNING {returning}" if returning else ""
    found: list[Any] = []
    ready = _ready(connection, table, columns, rows)
    for start in range(0, len(ready), PAGE):
        page = ready[start : start + PAGE]
        statement = head + ", ".join([marks] * len(page)) + tail
        result = connection.exec_driver_sql(statement, tuple(chain.from_iterable(page)))
        if returning:
            found.extend(result.scalars())
    return found


def update_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """Set `columns` on each row whose `key` is the row's last value (one executemany)."""
    if not rows:
        return
    mark = _mark(connection)
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    statement = f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}"
    connection.exec_driver_sql(statement, _ready(connection, table, [*columns, key], rows))


def _with_defaults(
    table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
    """`columns` and `rows` with the columns left out that have a default in the model
    (`default=list`, a new export salt), filled in per row as SQLAlchemy would."""
    missing = [
        column
        for column in table.columns
        if column.name not in columns and column.default is not None
    ]
    if not missing:
        return columns, rows
    fill: list[tuple[bool, Any]] = []
    for column in missing:
        default: Any = column.default
        if not (default.is_scalar or default.is_callable):
            raise ValueError(f"{table.name}.{column.name}: a default only SQL can compute")
        fill.append((default.is_callable, default.arg))
    return (
        [*columns, *(column.name for column in missing)],
        [(*row, *(arg(None) if call else arg for call, arg in fill)) for row in rows],
    )


def _mark(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _ready(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """The rows with each value as the driver takes it, converted as SQLAlchemy would."""
    dialect = connection.dialect
    processors = [
        (at, process)
        for at, process in enumerate(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
        )
        if process is not None
    ]
    if not processors or not rows:
        return [tuple(row) for row in rows]
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for at, process in processors:
        values[at] = _converted(process, values[at])
    return list(zip(*values, strict=True))


def _converted(process: Processor, column: Sequence[Any]) -> list[Any]:
    """`process` applied down a column, once per distinct value: by type and equality for
    hashable values (True and 1 stay apart), by identity for the rest (lists and dicts
    the rows share; alive while the rows are)."""
    try:
        keys: Iterable[Any] = list(zip(map(type, column), column, strict=True))
        distinct = dict.fromkeys(keys)
    except TypeError:  # a list or dict among them
        keys = list(map(id, column))
        distinct = dict(zip(keys, column, strict=True))
        done = {key: process(value) for key, value in distinct.items()}
    else:
        done = {key: process(key[1]) for key in distinct}
    return list(map(done.__getitem__, keys))
