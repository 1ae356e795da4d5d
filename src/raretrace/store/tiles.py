"""Log tiles in the ``log_tiles`` table: the SQL side of ``raretrace.log.tiles.TileStorage``.

The storage never commits: the registry writes tiles, events, the tree size and the checkpoint in one
transaction, so a crash leaves either all of them or none. Reads batch every key of one tile level into
one ``IN`` list, so a proof costs one query however many tiles it touches. Partial tiles are rewritten
as they fill, hence an upsert (``ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL; delete then insert
elsewhere).

The one-tile read, which is what an inclusion proof usually needs once upper tiles are cached, goes
through ``store.raw`` (the Core statement on the connection's DB-API cursor): ``Connection.execute``
costs about four times the SQLite read of a 12 KB tile, and that decided the proof rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import ClauseElement

from raretrace.store.raw import execute_many, fetch_all
from raretrace.store.schema import log_tiles

TileKey = tuple[int, int]

_c = log_tiles.c
# Built once: constructing a statement costs more than running it on a warm SQLite page cache.
_SELECT_ONE = select(_c.level, _c.idx, _c.data).where(
    _c.level == bindparam("level"), _c.idx == bindparam("idx")
)
_SELECT_LEVEL = select(_c.level, _c.idx, _c.data).where(
    _c.level == bindparam("level"), _c.idx.in_(bindparam("idxs", expanding=True))
)
#: up to this many tiles are read one statement each (``store.raw``): an append reads the right edge of
#: a few levels, and building an ``OR`` of ``IN`` lists cost more than those few reads
_ONE_BY_ONE = 8


def _upsert(dialect: str) -> ClauseElement:
    """The tile upsert of ``dialect`` (SQLite or PostgreSQL), built once."""
    found = _UPSERTS.get(dialect)
    if found is None:
        upsert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(log_tiles)
        found = _UPSERTS[dialect] = upsert.on_conflict_do_update(
            index_elements=[_c.level, _c.idx], set_={"data": upsert.excluded.data}
        )
    return found


_UPSERTS: dict[str, ClauseElement] = {}


class SqlTileStorage:
    """TileStorage on one SQLAlchemy connection; the caller owns (begins and commits) the transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, index in dict.fromkeys(keys):
            by_level[level].append(index)
        if not by_level:
            return {}
        if sum(map(len, by_level.values())) <= _ONE_BY_ONE:
            return {
                (row[0], row[1]): bytes(row[2])
                for level, indexes in by_level.items()
                for index in indexes
                for row in self._read_one(level, index)
            }
        if len(by_level) == 1:
            ((level, indexes),) = by_level.items()
            result = self._conn.execute(_SELECT_LEVEL, {"level": level, "idxs": indexes})
        else:
            conditions = [
                (_c.level == level) & _c.idx.in_(bindparam(f"idx{level}", indexes, expanding=True))
                for level, indexes in by_level.items()
            ]
            result = self._conn.execute(select(_c.level, _c.idx, _c.data).where(or_(*conditions)))
        return {(row[0], row[1]): bytes(row[2]) for row in result}

    def _read_one(self, level: int, index: int) -> Sequence[Any]:
        return fetch_all(self._conn, _SELECT_ONE, {"level": level, "idx": index})

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        if not tiles:
            return
        rows: list[dict[str, Any]] = [
            {"level": level, "idx": index, "data": bytes(data)} for (level, index), data in tiles.items()
        ]
        dialect = self._conn.dialect.name
        if dialect in ("sqlite", "postgresql"):
            execute_many(self._conn, _upsert(dialect), rows)
            return
        self._conn.execute(delete(log_tiles).where(tuple_(_c.level, _c.idx).in_(list(tiles))))
        self._conn.execute(insert(log_tiles), rows)
