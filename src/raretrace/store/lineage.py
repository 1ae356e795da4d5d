"""Lineage reads: the edges and lot rows of a set of lots, one statement per question and back end.

A trace asks the same few questions of every generation it walks: the edges into (or out of) these
lots, and what it shows of these lots. The set goes to the database as one parameter — on SQLite a
JSON array read by ``json_each``, on PostgreSQL an array compared with ``= ANY`` — so each question
is one statement whatever the number of lots: compiled and prepared once, with no padding, no
parameter dictionary of hundreds of names and no chunking under a parameter limit.

Why not ``IN (:p0, …, :pN)``, as before: each distinct list length was its own statement, compiled
by SQLAlchemy the first time it appeared (0.2–3.4 ms for 16–512 values, measured on the loaded
2-core machine, landing inside the trace that met it), padded to a multiple of 16 and bound
through a dictionary of up to 512 names; on a 67k-lot synthetic graph the JSON array walked every
sampled lot's ancestry 20–28% faster than the same IN lists sent straight to sqlite3 (see
docs/lineage-performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal
from typing import cast as typed

import orjson
from sqlalchemy import Connection, String, any_, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ClauseElement

from raretrace.store import schema as t
from raretrace.store.raw import fetch_all

#: One ``lot_inputs`` row: (child, parent, mass_kg, seq) — ``mass_kg`` of ``parent`` went into
#: ``child`` at event ``seq``. Plain tuples: a trace handles thousands of them.
Edge = tuple[str, str, float, int]
#: What a trace shows of a lot: (id, form, mass_kg, producer, stage, deposit, custodian).
SummaryRow = tuple[str, str, float, str, str, str | None, str]
#: (id, composition JSON, stored origin text (``origin_text``) or None).
OriginRow = tuple[str, str, str | None]

SUMMARY_KEYS = t.LOT_SUMMARY_COLUMNS  # the summary's columns after the id, in this order
Query = Literal["up", "down", "lots", "origins"]

_EDGE_COLUMNS = ("child", "parent", "mass_kg", "seq")
# question -> (table, columns, the column the set is matched on)
_QUERIES: dict[Query, tuple[str, tuple[str, ...], str]] = {
    "up": (t.lot_inputs.name, _EDGE_COLUMNS, "child"),
    "down": (t.lot_inputs.name, _EDGE_COLUMNS, "parent"),
    "lots": (t.lots.name, ("id", *SUMMARY_KEYS), "id"),
    "origins": (t.lots.name, ("id", "composition", "origin"), "id"),
}
# SQLite answers the summaries from the covering index only when its statistics (ANALYZE) say so,
# and otherwise reads every lot's row, origin vector and all; INDEXED BY makes it use the index.
_SQLITE_FROM = {"lots": f"{t.lots.name} INDEXED BY ix_lots_summary"}
_STATEMENTS: dict[tuple[Query, str], ClauseElement] = {}


def _matches(key: str, dialect: str) -> ColumnElement[bool]:
    """``key`` is one of the ``ids`` parameter's values."""
    column: ColumnElement[str] = literal_column(key, String)
    if dialect == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids"))))
    return column == any_(bindparam("ids", type_=ARRAY(String)))


def _statement(query: Query, dialect: str) -> ClauseElement:
    found = _STATEMENTS.get((query, dialect))
    if found is None:
        table, columns, key = _QUERIES[query]
        source = _SQLITE_FROM.get(query, table) if dialect == "sqlite" else table
        found = select(*(literal_column(c) for c in columns)).select_from(text(source))
        found = _STATEMENTS[(query, dialect)] = found.where(_matches(key, dialect))
    return found


def _rows(conn: Connection, query: Query, ids: Sequence[str]) -> list[tuple[object, ...]]:
    """Rows (plain tuples, as the driver gives them: the callers name their shapes) of ``query`` for
    the lots ``ids``; none for an empty set."""
    if not ids:
        return []
    dialect = conn.dialect.name
    value: object = orjson.dumps(list(ids)).decode() if dialect == "sqlite" else list(ids)
    return fetch_all(conn, _statement(query, dialect), {"ids": value})


def edges_up(conn: Connection, children: Sequence[str]) -> list[Edge]:
    """Every edge into one of ``children``: what each was made from."""
    return typed("list[Edge]", _rows(conn, "up", children))


def edges_down(conn: Connection, parents: Sequence[str]) -> list[Edge]:
    """Every edge out of one of ``parents``: what was made from each."""
    return typed("list[Edge]", _rows(conn, "down", parents))


def _reachable_statement(up: bool) -> ClauseElement:
    """Every edge reachable from the lot ``start``, walking from each edge's ``near`` end to its ``far``
    end: one recursive statement (the same text on SQLite and PostgreSQL). ``UNION``, not ``UNION
    ALL``: each lot is reached once however many paths lead to it, and the walk ends even on a
    (corrupted) cyclic graph."""
    found = _REACHABLE.get(up)
    if found is None:
        near, far = ("child", "parent") if up else ("parent", "child")
        edges, step = t.lot_inputs, t.lot_inputs.alias("e")
        reached = select(cast(bindparam("start"), String(200)).label("id")).cte("reached", recursive=True)
        reached = reached.union(select(step.c[far]).join(reached, step.c[near] == reached.c.id))
        columns = (edges.c[c] for c in _EDGE_COLUMNS)
        found = _REACHABLE[up] = select(*columns).where(edges.c[near].in_(select(reached.c.id)))
    return found


_REACHABLE: dict[bool, ClauseElement] = {}


def edges_reachable(conn: Connection, start: str, *, up: bool) -> list[Edge]:
    """Every edge above ``start`` (``up``: what it was made from, and so on) or below it (what was made
    from it, and so on), in no particular order.

    On PostgreSQL the whole walk is one statement: a generation at a time cost a round trip each, and
    the statements were most of a trace request's CPU (docs/server.md, "A trace on PostgreSQL"). On
    SQLite a generation at a time, as before: its statements cost ~10 µs each, and one recursive
    query for the walk measured 5-10% slower there on the 1M-lot graph (docs/lineage-performance.md)."""
    if conn.dialect.name == "sqlite":
        query: Query = "up" if up else "down"
        return walk_generations(lambda lots: typed("list[Edge]", _rows(conn, query, lots)), start, up=up)
    return typed("list[Edge]", fetch_all(conn, _reachable_statement(up), {"start": start}))


def walk_generations(fetch: Callable[[Sequence[str]], list[Edge]], start: str, *, up: bool) -> list[Edge]:
    """``edges_reachable`` a generation at a time: ``fetch`` gives the edges into (``up``) or out of a
    set of lots; each lot's edges are asked for once, however many paths reach it."""
    edges: list[Edge] = []
    seen, frontier = {start}, [start]
    while frontier:
        rows = fetch(frontier)
        edges.extend(rows)
        frontier = sorted({parent if up else child for child, parent, _, _ in rows} - seen)
        seen.update(frontier)
    return edges


def summaries(conn: Connection, lot_ids: Sequence[str]) -> list[SummaryRow]:
    """The summary row of each lot of ``lot_ids`` that exists (from ``ix_lots_summary`` on SQLite)."""
    return typed("list[SummaryRow]", _rows(conn, "lots", lot_ids))


def origins(conn: Connection, lot_ids: Sequence[str]) -> list[OriginRow]:
    """Composition (JSON) and stored origin text of each lot of ``lot_ids`` that exists."""
    return typed("list[OriginRow]", _rows(conn, "origins", lot_ids))


class SqlLineage:
    """``store.protocol.LineageReads`` as methods of ``store.store.Store``: the same four statements.
    ``ledger.lineage`` reads through the Protocol, so a trace runs on ``MemoryStore`` as well."""

    edges_up = staticmethod(edges_up)
    edges_down = staticmethod(edges_down)
    edges_reachable = staticmethod(edges_reachable)
    summaries = staticmethod(summaries)
    origins = staticmethod(origins)
