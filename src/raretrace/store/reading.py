"""The event loop's own read connection: short SQLite reads share one connection instead of taking
one from the pool each time. (Kept in store/: the server handles no database connection itself.)

Why: on SQLite the server runs its short reads (the token lookup, visibility checks, a trace's access
check) on the event loop itself (``deps.quick``), and each ``engine.connect()`` costs a pool checkout
and a reset on return — three of them per trace request. The loop runs one read at a time, so one
connection, opened when the app starts serving and used only by the loop's thread, serves them all.

Nothing is cached and no snapshot is kept between requests: the raw statements (``store.raw``) run in
autocommit, so each one sees the latest commit (a token revoked by the CLI or another worker is refused
on the next request), and a transaction that SQLAlchemy begins on the connection is rolled back when
the outermost use ends, as the pool's reset on return would. Any other thread — the thread pool, a
server database's reads, tests without the app's lifespan — gets a pooled connection as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection, Engine

from raretrace.store.db import unavailable_errors

__all__ = ["Connection", "hold", "reading", "release", "reread_if_lost", "snapshot"]
#: ``Connection``: what ``reading`` yields. The server passes it on to store functions and names its
#: type from here, so no server module imports the database library itself.


@dataclass
class _Held:
    conn: Connection
    users: int = 1  # apps on this thread serving the same engine (tests may run two)
    depth: int = 0  # nested ``reading`` blocks in progress


_local = threading.local()
T = TypeVar("T")
P = ParamSpec("P")


def _held() -> dict[Engine, _Held]:
    held: dict[Engine, _Held] | None = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    return held


def hold(engine: Engine) -> None:
    """Give the calling thread (the event loop's, at start-up) its own connection to ``engine``.
    SQLite only: a server database's reads wait on the network and run in the thread pool."""
    if engine.dialect.name != "sqlite":
        return
    held = _held()
    if engine in held:
        held[engine].users += 1
    else:
        held[engine] = _Held(engine.connect())


def release(engine: Engine) -> None:
    """Undo ``hold`` (at shutdown, on the same thread)."""
    held = _held()
    entry = held.get(engine)
    if entry is None:
        return
    entry.users -= 1
    if entry.users == 0:
        del held[engine]
        entry.conn.close()


@contextmanager
def reading(engine: Engine, *, one_statement: bool = False) -> Iterator[Connection]:
    """A connection for a short read: the thread's own if it holds one, else one from the pool.

    ``one_statement``: the read is a single statement (the token lookup every request makes), so on a
    server database it runs in autocommit: one round trip instead of three (the driver's implicit
    BEGIN and the pool's ROLLBACK on return); a single statement sees one snapshot either way."""
    entry = _held().get(engine)
    if entry is None:
        with engine.connect() as conn:
            if one_statement and engine.dialect.name != "sqlite":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
        return
    conn = entry.conn
    entry.depth += 1
    try:
        yield conn
    finally:
        entry.depth -= 1
        if entry.depth == 0 and conn.in_transaction():
            try:
                conn.rollback()
            except Exception:
                conn.invalidate()  # a connection that cannot end its transaction is not reused
                raise


@contextmanager
def snapshot(conn: Connection) -> Iterator[Connection]:
    """``conn`` in one read transaction whose statements all see the same state of the registry.

    Why: a trace's access check, its walk and its visibility check must agree about which lots exist.
    SQLite's transactions give one snapshot already; PostgreSQL's default, READ COMMITTED, gives each
    statement its own, so there the transaction runs at REPEATABLE READ (the level is sent with the
    BEGIN, no extra round trip; a read-only transaction at that level never fails to serialize, and the
    pool resets the level when the connection goes back)."""
    if conn.dialect.name != "sqlite":
        conn.execution_options(isolation_level="REPEATABLE READ")
    with conn.begin():
        yield conn


def reread_if_lost(engine: Engine, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``read(*args, **kwargs)``, made once more if the database failed under it (a server database's
    read in the thread pool: the server's token lookup and its ``deps.quick`` reads).

    Why: the pool hands out no connection its server has already closed (``store.db._has_input``),
    but a server can end one between that check and the read's first statement (a restart, an
    administrator's ``pg_terminate_backend``): measured, 13 of 200 reads made right after
    ``pg_terminate_backend`` returned. A read can simply be made again: the dead connection is
    discarded as it goes back, and the second read gets another (if the database is down, it fails
    too, and that is the answer). Only reads: a write is never made twice blindly
    (``store.db.write_transaction`` says what became of it); and not on SQLite, which has no
    connection to lose (its failure, a busy timeout, would only be waited for again). The ``except``
    costs nothing until a read fails."""
    try:
        return read(*args, **kwargs)
    except unavailable_errors(engine):
        if engine.dialect.name == "sqlite":
            raise
        return read(*args, **kwargs)
