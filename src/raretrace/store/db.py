"""Opening a database: URL resolution, engine set-up per back end, and migrations.

``--db`` takes either a file path (SQLite, the embedded default) or a SQLAlchemy URL
(``postgresql://…`` is mapped to the psycopg 3 driver). SQLite runs in WAL mode with a busy timeout;
every write transaction (``write_transaction``) begins with ``BEGIN IMMEDIATE``, so there is exactly
one writer and a writer never reads state that another writer is about to change, while readers
begin deferred and never block it. On PostgreSQL the append pipeline
takes a row lock on the log head instead (see ``Store.lock_head``).
"""

from __future__ import annotations

import os
import select
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from raretrace.errors import StoreError, UnavailableError

DEFAULT_DB = "raretrace.db"
SCHEMA_REVISION = "0017"  # the newest Alembic revision this code expects (a test holds it to the scripts)
ENV_VAR = "RARETRACE_DB"


def resolve_url(db: str | None) -> str:
    """The SQLAlchemy URL for a ``--db`` value, ``$RARETRACE_DB`` or the default file."""
    value = db or os.environ.get(ENV_VAR) or DEFAULT_DB
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser()}"
    for prefix in ("postgresql://", "postgres://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoint the WAL every 64 MiB instead of 4 MiB: a batch of 1,000 events writes ~3 MiB, and each
    # checkpoint (the only fsync in WAL + synchronous=NORMAL) then serves many batches, not one.
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


#: A pooled PostgreSQL connection idle this long is pinged before it is handed out (one round trip),
#: and replaced if the server does not answer (a restart, a dropped connection). One in use more
#: recently is not: SQLAlchemy's ``pool_pre_ping`` pinged on every checkout, two of a trace request's
#: round trips, on connections that had answered milliseconds before. It is pinged only if the server
#: has sent something on it since it went back to the pool (``_has_input``), which an idle
#: connection's server does to say it is closing it. A connection that fails in use is discarded when
#: it comes back (the reset fails) or, if already closed, when it is next taken.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "raretrace_idle_since"


def _pg_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


class _HasSocket(Protocol):
    """A driver connection with its socket's descriptor (psycopg's)."""

    def fileno(self) -> int: ...


def _has_input(dbapi_connection: object) -> bool:
    """Whether the server has sent anything on an idle connection. It does so when it ends the
    connection: a restart, ``pg_terminate_backend``, an idle timeout each send a FATAL message and
    close. Asked of the socket without waiting (a ``poll`` system call, no round trip: +0.67 µs a
    checkout measured, docs/server.md), so the pool hands out no connection its server has already
    closed."""
    waiting = select.poll()
    waiting.register(cast(_HasSocket, dbapi_connection).fileno(), select.POLLIN)
    return bool(waiting.poll(0))


def _pg_checkout(
    dialect: Dialect,
    dbapi_connection: DBAPIConnection,
    record: ConnectionPoolEntry,
    _proxy: PoolProxiedConnection,
) -> None:
    """Refuse (so the pool opens another) a connection that is closed, or idle for a while or spoken
    to by its server since, and does not answer a ping."""
    if getattr(dbapi_connection, "closed", False):  # psycopg's (not part of the DB-API)
        raise DisconnectionError("the connection is closed")
    since = record.info.get(_IDLE_SINCE)
    if since is None:
        return  # new
    if time.monotonic() - since < PING_AFTER_IDLE_S and not _has_input(dbapi_connection):
        return  # answered a moment ago, and its server has said nothing since
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as e:  # whatever the driver raises for a connection that no longer answers
        raise DisconnectionError(f"the connection does not answer: {e}") from e


WRITE_OPTION = "raretrace_write"


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock up front; readers begin deferred and never block a writer (WAL).
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


NOTHING_WRITTEN = (
    "the registry's database failed before this write was committed (busy, restarting, or the "
    "connection lost): nothing was written; submit it again shortly"
)
OUTCOME_UNKNOWN = (
    "the connection to the registry's database was lost while this write was being committed: whether "
    "it was recorded is unknown. Check for it (its event, its lots, the log) before submitting it "
    "again; an event already recorded is refused as a duplicate"
)


def unavailable_errors(engine: Engine) -> tuple[type[Exception], ...]:
    """The exceptions by which ``engine``'s database says it cannot serve now: the DB-API's
    ``OperationalError`` (a connection refused or lost, a server shutting down, a cancelled statement,
    a deadlock, SQLite's busy timeout), raised as the driver's own (statements run on the DB-API
    cursor, ``store.raw``) or as SQLAlchemy's wrapper of it. The server answers them 503."""
    driver = engine.dialect.loaded_dbapi.OperationalError
    assert isinstance(driver, type)
    assert issubclass(driver, Exception)
    return (OperationalError, driver)


def as_unavailable(error: BaseException) -> UnavailableError | None:
    """``error`` as the ``UnavailableError`` it means when a database failed under a command (the
    server down or restarting, the connection lost, SQLite's busy timeout: the DB-API's
    ``OperationalError``, raw or wrapped by SQLAlchemy), else None. For the CLI, which has no engine
    at hand where it reports errors; the server uses ``unavailable_errors`` of its engine."""
    kinds: list[type[BaseException]] = [OperationalError, sqlite3.OperationalError]
    driver = sys.modules.get("psycopg")
    if driver is not None:
        kinds.append(driver.OperationalError)
    if not isinstance(error, tuple(kinds)):
        return None
    cause = getattr(error, "orig", None) or error
    return UnavailableError(
        f"the registry's database failed under this command ({type(cause).__name__}: "
        f"{str(cause).strip().splitlines()[0] if str(cause).strip() else 'no message'}); "
        "try again shortly",
        field="db",
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on any exception.

    A database failure under it (``unavailable_errors``) is an ``UnavailableError`` that says what
    became of the write, so that nobody re-runs one blindly: before the commit nothing was written
    (the transaction dies with its connection); while committing, the outcome is unknown (the commit
    may have been made and its answer lost)."""
    committing = False
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn
                committing = True
    except unavailable_errors(engine) as e:
        raise UnavailableError(OUTCOME_UNKNOWN if committing else NOTHING_WRITTEN, field="db") from e


def make_engine(db: str | None, *, must_exist: bool = False, connections: int = 5) -> Engine:
    """An engine for ``db``; with ``must_exist``, a missing SQLite file is an error, not a new empty file.
    ``connections``: how many pooled connections a server database keeps open (the server: one for
    each of its threads)."""
    url = resolve_url(db)
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"{url!r} is not a database URL or file path", field="db") from e
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            parent = Path(database).parent
            if not parent.exists():
                raise StoreError(f"folder {parent} does not exist", field="db")
            if must_exist and not Path(database).exists():
                raise StoreError(
                    f"no registry at {database}; create one with `raretrace --db {database} init --origin …`",
                    field="db",
                )
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # QueuePool keeps ``pool_size`` connections and closes every overflow connection when it comes
        # back; a server whose threads use more at once than that opened a new one (a PostgreSQL
        # backend fork, TCP, authentication) for a good share of its requests (measured in
        # docs/server.md), so the server asks for as many as its threads can hold.
        engine = create_engine(url, pool_size=connections)
        event.listen(engine, "checkin", _pg_checkin)
        event.listen(engine, "checkout", partial(_pg_checkout, engine.dialect))
        return engine
    raise StoreError(
        f"unsupported database back end {parsed.get_backend_name()!r} (use SQLite or PostgreSQL)", field="db"
    )


def owner_only(engine: Engine) -> None:
    """Make a SQLite database file readable and writable by its owner only (0600), creating it so if
    it does not exist yet: it is about to hold the registry's private key. SQLite creates the WAL and
    shared-memory files with the database file's permissions; any already there are restricted too.
    A server database (PostgreSQL) is guarded by its own roles instead (docs/security.md)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (database, database + "-wal", database + "-shm", database + "-journal"):
        if os.path.exists(path):
            os.chmod(path, 0o600)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at (None: no revision recorded)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def require_current_schema(conn: Connection) -> None:
    """Refuse a database whose schema is older or newer than this code's, saying what to do.

    Queries and indexes change between revisions; running on an old schema would be slow or wrong in
    ways nobody notices, so opening one fails until the operator upgrades it deliberately."""
    found = schema_revision(conn)
    if found == SCHEMA_REVISION:
        return
    if found is not None and found.isdigit() and int(found) > int(SCHEMA_REVISION):
        raise StoreError(
            f"this database's schema is at revision {found}, newer than this raretrace knows "
            f"({SCHEMA_REVISION}): use the raretrace release that wrote it, or a newer one",
            field="db",
        )
    raise StoreError(
        f"this database's schema is at revision {found or 'unknown'}; this raretrace needs "
        f"{SCHEMA_REVISION}: back the database up, then run `raretrace --db … upgrade`",
        field="db",
    )


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("meta")
