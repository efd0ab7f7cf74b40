"""Statements the inbound path runs with every message, handed straight to the driver.

SQLAlchemy spends 15–60 µs executing a statement here (finding its compiled form,
building the parameters, wrapping the cursor), several times what SQLite takes to
run it, and a message runs about a dozen. A `Prepared` statement is still written
with SQLAlchemy, so its SQL, types and dialects are SQLAlchemy's own; it is compiled
once per dialect, and each execution converts the parameters as SQLAlchemy would
and sends them on the connection's DBAPI cursor, inside the connection's transaction.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

__all__ = ["Prepared", "savepoint"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement compiled for one dialect, with what its executions need."""

    sql: str
    # Whether the driver takes the parameters in order (else by name).
    positional: bool
    # Each parameter (in the markers' order, when positional): its name, the value the
    # statement itself binds (`.values(status="received")`) if any, what makes its
    # column's Python-side default when it is not given (`default=new_export_salt`),
    # its conversion.
    slots: tuple[tuple[str, Any, Callable[[], Any] | None, Processor | None], ...]
    row: Callable[..., Any] | None
    read: tuple[Processor | None, ...]


class Prepared:
    """One statement, compiled once per dialect and run on the DBAPI cursor.

    `keys` names the columns an `insert(table)` without `.values()` sets.
    """

    def __init__(self, statement: ClauseElement, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = list(keys) if keys is not None else None
        self._forms: dict[str, _Form] = {}

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = self._compile(dialect)
        return form

    def _compile(self, dialect: Dialect) -> _Form:
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.keys)
        fixed = compiled.construct_params(_check=False)
        convert = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in compiled.bind_names.items()
        }
        order = compiled.positiontup if compiled.positional else fixed
        made = _python_defaults(compiled)
        slots = tuple((name, fixed.get(name), made.get(name), convert.get(name)) for name in order)
        row = None
        read: tuple[Processor | None, ...] = ()
        columns = getattr(self.statement, "selected_columns", None)
        if columns is None:
            columns = list(getattr(self.statement, "_returning", None) or ())
            names = [c.key for c in columns]
        else:
            names = list(columns.keys())
        if names:
            row = namedtuple("Row", names)._make  # type: ignore[attr-defined]
            read = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
        return _Form(compiled.string, bool(compiled.positional), slots, row, read)

    @staticmethod
    def _parameters(form: _Form, params: Mapping[str, Any]) -> Any:
        values = []
        for name, fixed, make, convert in form.slots:
            if name in params:
                value = params[name]
            elif make is not None:
                value = make()
            else:
                value = fixed
            values.append(value if convert is None else convert(value))
        if form.positional:
            return values
        return {slot[0]: value for slot, value in zip(form.slots, values, strict=True)}

    def _run(self, connection: Connection, params: Any, many: bool = False) -> tuple[_Form, Any]:
        form = self._form(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            if many:
                cursor.executemany(form.sql, [self._parameters(form, p) for p in params])
            else:
                cursor.execute(form.sql, self._parameters(form, params))
        except connection.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                form.sql, params, error, connection.dialect.loaded_dbapi.Error
            ) from error
        return form, cursor

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run it; how many rows it changed."""
        _, cursor = self._run(connection, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if len(rows) == 1:  # psycopg sends a batch as a pipeline, with a sync of its own
            self.execute(connection, rows[0])
        elif rows:
            self._run(connection, rows, many=True)[1].close()

    def all(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row, its values converted as SQLAlchemy would, by name or position."""
        form, cursor = self._run(connection, params)
        found = cursor.fetchall()
        cursor.close()
        return [self._row(form, values) for values in found]

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Any | None:
        form, cursor = self._run(connection, params)
        values = cursor.fetchone()
        cursor.close()
        return None if values is None else self._row(form, values)

    def scalar(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(connection, params)
        return None if row is None else row[0]

    @staticmethod
    def _row(form: _Form, values: Sequence[Any]) -> Any:
        assert form.row is not None, "the statement returns no rows"
        return form.row(
            [v if read is None else read(v) for v, read in zip(values, form.read, strict=True)]
        )


def _python_defaults(compiled: Any) -> dict[str, Callable[[], Any]]:
    """What makes each Python-side column default (or on-update value) the statement
    fills in when its parameters leave the column out, by bound name."""
    made: dict[str, Callable[[], Any]] = {}
    for columns, attribute in (
        (compiled.insert_prefetch, "default"),
        (compiled.update_prefetch, "onupdate"),
    ):
        for column in columns:
            default = getattr(column, attribute)
            if default is None:
                continue
            if default.is_callable:
                made[column.key] = partial(default.arg, None)
            elif default.is_scalar:
                made[column.key] = partial(copy, default.arg)
            else:
                raise NotImplementedError(f"{column}: only Python-side defaults are prepared")
    return made


class savepoint:  # noqa: N801 - used as a context manager, like contextlib's
    """A savepoint on the DBAPI connection, beneath SQLAlchemy's notice: kept (released)
    when the block ends, or `keep()` earlier; rolled back when the block raises, or
    ends without being kept when `keep_on_exit` is False."""

    __slots__ = ("_connection", "_kept", "_name", "keep_on_exit")

    def __init__(self, connection: Connection, name: str, *, keep_on_exit: bool = True) -> None:
        self._connection = connection
        self._name = name
        self._kept = False
        self.keep_on_exit = keep_on_exit

    def _send(self, sql: str) -> None:
        cursor = self._connection.connection.cursor()
        try:
            cursor.execute(sql)
        except self._connection.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                sql, None, error, self._connection.dialect.loaded_dbapi.Error
            ) from error
        finally:
            cursor.close()

    def __enter__(self) -> savepoint:
        self._send(f"SAVEPOINT {self._name}")
        return self

    def rollback(self) -> None:
        """Undo what was written since the savepoint, which stays (to be kept or undone)."""
        self._send(f"ROLLBACK TO SAVEPOINT {self._name}")

    def keep(self) -> None:
        if not self._kept:
            self._kept = True
            self._send(f"RELEASE SAVEPOINT {self._name}")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if self._kept:
            return
        if exc_type is None and self.keep_on_exit:
            self.keep()
            return
        self._kept = True
        self._send(f"ROLLBACK TO SAVEPOINT {self._name}")
        self._send(f"RELEASE SAVEPOINT {self._name}")
