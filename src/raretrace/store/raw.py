"""Running Core-built statements straight on the DB-API cursor of the caller's connection.

Why: on the append and proof paths SQLAlchemy's per-call execution context and per-row parameter
processing cost more than the database work itself (measured: ~80 µs per ``Connection.execute`` and
~12 µs per executemany row on SQLite). Statements are still built with SQLAlchemy Core, compiled
once per dialect and cached; only the execution bypasses the wrapper. It is the caller's
connection, so the statements run in the caller's transaction.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Float,
    Insert,
    Integer,
    LargeBinary,
    String,
    Table,
    Update,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeDecorator, TypeEngine

# (SQL text, a function from a parameter dict to what the DB-API driver takes for it)
_Compiled = tuple[str, Callable[[Mapping[str, Any]], Any]]
_CACHE: dict[tuple[ClauseElement, str, str, tuple[str, ...]], _Compiled] = {}


def _compile(conn: Connection, statement: ClauseElement, keys: tuple[str, ...]) -> _Compiled:
    dialect = conn.dialect
    cache_key = (statement, dialect.name, str(dialect.paramstyle), keys)
    found = _CACHE.get(cache_key)
    if found is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        order = getattr(compiled, "positiontup", None)  # set by SQLCompiler for positional paramstyles
        found = _CACHE[cache_key] = (compiled.string, _arguments(tuple(order) if order else ()))
    return found


def _arguments(positions: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """Named parameters as the driver wants them: the dict itself, or a tuple in SQL order (C-level)."""
    if not positions:
        return lambda params: params
    if len(positions) == 1:
        name = positions[0]
        return lambda params: (params[name],)
    return itemgetter(*positions)


def execute_many(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """executemany of an INSERT or UPDATE over rows that all have the same keys."""
    if not rows:
        return
    sql, arguments = _compile(conn, statement, tuple(rows[0]))
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, [arguments(row) for row in rows])
    finally:
        cursor.close()


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, object]],
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """INSERT ``rows`` (all with the same keys) into ``table``, in the caller's transaction; when there
    are rows, ``meanwhile()`` is called once they are sent and before waiting for the database to take
    them, so that on PostgreSQL the caller's work overlaps the server's.

    On PostgreSQL as one binary ``COPY … FROM STDIN``: psycopg's executemany sends a statement a row
    and spent ~20 µs of the writer's CPU a row doing it, three times SQLite's cost (measured on the
    ingest benchmark); COPY streams the rows in one command, adapted by psycopg's C code, and in the
    binary format neither side escapes or parses text (envelopes are bytea): half the CPU of a text
    COPY on both sides (``benchmarks`` figures in docs/speed-limits.md). A row that breaks a constraint
    fails the COPY as it would the INSERT. Elsewhere: ``execute_many`` of the INSERT."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        execute_many(conn, _INSERTS.setdefault(table, insert(table)), rows)
        if meanwhile is not None:
            meanwhile()
        return
    import psycopg  # only ever reached through the psycopg driver

    from raretrace.store.pg_copy import copy_rows

    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    names = tuple(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, names))}) FROM STDIN (FORMAT BINARY)"
    values = _arguments(names)  # a tuple in column order
    types = [_binary_type(table.c[name].type) for name in names]
    copy_rows(driver, sql, types, [values(row) for row in rows], meanwhile)


def _binary_type(column_type: TypeEngine[object]) -> str:
    """The PostgreSQL type whose binary form ``COPY … (FORMAT BINARY)`` sends for a column: each
    column type the registry's tables use, by width (an ``integer`` column takes 4 bytes, not 8)."""
    if isinstance(column_type, TypeDecorator):  # e.g. the envelope column: bytea underneath
        column_type = column_type.impl_instance
    for kind, name in _BINARY_TYPES:
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no binary COPY type for {column_type!r}")


# order matters: subclasses first (BigInteger is an Integer, Text a String)
_BINARY_TYPES: tuple[tuple[type, str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Float, "float8"),
    (Boolean, "bool"),
    (LargeBinary, "bytea"),
    (String, "text"),  # varchar's binary form is text's; the column still checks its length
)


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """The statements run inside are sent to PostgreSQL without waiting for each one's result (psycopg's
    pipeline mode), so the server executes them while this process goes on; leaving the block waits
    for them all and raises the first error. A read inside waits for everything sent before it, so
    the caller does its reads first. Elsewhere (SQLite runs in this process) it changes nothing.

    Why: on PostgreSQL the append's writes kept the writer waiting ~30 µs an event for the server
    (measured on the ingest benchmark), time in which it can verify the batch's signatures."""
    if conn.dialect.name != "postgresql":
        yield
        return
    import psycopg  # only ever reached through the psycopg driver

    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.pipeline():
        yield


_INSERTS: dict[Table, Insert] = {}


@dataclass(frozen=True)
class RowUpdate:
    """UPDATE of ``table``'s row matched on the ``match`` columns, setting the ``columns``; the rows
    given to ``update_many`` name each column ``v_<column>``."""

    table: Table
    match: tuple[str, ...]
    columns: tuple[str, ...]

    @cached_property
    def statement(self) -> Update:
        where = [self.table.c[name] == bindparam(f"v_{name}") for name in self.match]
        return update(self.table).where(*where).values({c: bindparam(f"v_{c}") for c in self.columns})

    @cached_property
    def joined(self) -> Update:
        """PostgreSQL: the same change for many rows at once, each column's values one array
        (parameter ``v_<column>``), joined to the table as ``unnest(…) AS v(…)``."""
        names = (*self.match, *self.columns)
        arrays = [cast(bindparam(f"v_{n}"), ARRAY(self.table.c[n].type)) for n in names]
        given = func.unnest(*arrays).table_valued(*names).render_derived(name="v")
        where = [self.table.c[name] == given.c[name] for name in self.match]
        return update(self.table).where(*where).values({c: given.c[c] for c in self.columns})


def update_many(conn: Connection, change: RowUpdate, rows: Sequence[Mapping[str, object]]) -> None:
    """``change`` applied to every row (each matching one table row, none twice), in the caller's
    transaction: on PostgreSQL as one statement (``RowUpdate.joined``), for the same reason as
    ``insert_many``; elsewhere ``execute_many``."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        execute_many(conn, change.statement, rows)
        return
    sql, arguments = _compile(conn, change.joined, ())
    names = (f"v_{name}" for name in (*change.match, *change.columns))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, arguments({name: [row[name] for row in rows] for name in names}))
    finally:
        cursor.close()


def execute_one(conn: Connection, statement: ClauseElement, params: Mapping[str, object]) -> int:
    """One INSERT, UPDATE or DELETE with bound parameters (no expanding IN lists): the rows it touched."""
    sql, arguments = _compile(conn, statement, ())
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, arguments(params))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def fetch_all(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Rows of a SELECT with bound parameters (no expanding IN lists)."""
    sql, arguments = _compile(conn, statement, ())
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, arguments(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


#: a column expression of any SQL type (one alias: tests/test_typing_budget.py counts each ``Any``)
Column = ColumnElement[Any]
#: A second table's rows for ``fetch_in``: its columns (as many as the first's) and its key.
Also = tuple[tuple[Column, ...], Column]


def fetch_in(
    conn: Connection,
    columns: Sequence[Column],
    key: Column,
    values: Sequence[Any],
    also: Also | None = None,
) -> list[Any]:
    """Rows (with attribute access by column name) whose ``key`` is one of ``values``; with ``also``,
    followed in the same statement (``UNION ALL``) by the rows of a second table whose key is one of
    them, named as the first's: one round trip for two lookups of the same set.

    On PostgreSQL as one ``key = ANY(array)`` statement: an ``IN`` list of 500 parameters is adapted
    one value at a time by the driver and planned anew by the server each time (measured on the ingest
    benchmark: ~15 µs of the writer's CPU and as much waiting an appended event for the two lookups of
    a batch); one array parameter is adapted in C and the plan is reused. Elsewhere in chunks of
    ``IN_CHUNK`` (SQLite has no arrays)."""
    names = tuple(c.key for c in columns if c.key is not None)
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        row_type = _ROW_TYPES[names] = namedtuple("Row", names)
    if not values:
        return []
    if conn.dialect.name == "postgresql":
        statement = _in_statement(tuple(columns), key, None, also)
        return [row_type(*row) for row in fetch_all(conn, statement, {"values": list(values)})]
    out: list[Any] = []
    for start in range(0, len(values), IN_CHUNK):
        part = values[start : start + IN_CHUNK]
        statement = _in_statement(tuple(columns), key, len(part), also)
        out.extend(
            row_type(*row) for row in fetch_all(conn, statement, {f"p{i}": v for i, v in enumerate(part)})
        )
    return out


IN_CHUNK = 500  # keeps IN (…) lists well inside every back end's parameter limit
_IN_STATEMENTS: dict[tuple[tuple[Column, ...], Column, int | None, Also | None], ClauseElement] = {}


def _in_statement(
    columns: tuple[Column, ...], key: Column, size: int | None, also: Also | None = None
) -> ClauseElement:
    """``SELECT columns WHERE key IN (:p0 … :p<size-1>)``, or with ``size`` None (PostgreSQL)
    ``key = ANY(:values)``, the array typed as the key's column; built once for each shape."""
    cache_key = (columns, key, size, also)
    statement = _IN_STATEMENTS.get(cache_key)
    if statement is None:
        if size is None:
            values = cast(bindparam("values"), ARRAY(key.type))
            statement = _matching(columns, key, also, lambda k: k == any_(values))
        else:
            params: list[BindParameter[Any]] = [bindparam(f"p{i}") for i in range(size)]
            statement = _matching(columns, key, also, lambda k: k.in_(params))
        _IN_STATEMENTS[cache_key] = statement
    return statement


def _matching(
    columns: tuple[Column, ...],
    key: Column,
    also: Also | None,
    match: Callable[[Column], ColumnElement[bool]],
) -> ClauseElement:
    first = select(*columns).where(match(key))
    if also is None:
        return first
    other_columns, other_key = also
    return union_all(first, select(*other_columns).where(match(other_key)))
