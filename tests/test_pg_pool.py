"""The PostgreSQL connection pool (``store.db.make_engine``): as many connections as the server's threads
keep open, a ping only for a connection idle a while or spoken to by its server since, and a connection
that no longer answers replaced rather than handed out (the server's answers when PostgreSQL drops its
connections: ``test_pg_lost_connections.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from raretrace.server.app import POOLED_CONNECTIONS, WORKER_THREADS
from raretrace.store import db
from raretrace.store.reading import reading

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_database: str) -> Iterator[Engine]:
    made = db.make_engine(pg_database, connections=POOLED_CONNECTIONS)
    yield made
    made.dispose()


def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that gets one item per ping the engine sends."""
    seen: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert isinstance(pid, int)
    return pid


def test_the_server_keeps_a_connection_per_thread_open(engine: Engine) -> None:
    assert POOLED_CONNECTIONS > WORKER_THREADS
    held = [engine.connect() for _ in range(WORKER_THREADS)]
    pids = set()
    for conn in held:
        pids.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        conn.close()
    # every one went back to the pool open: the same backends serve the next round
    again = [engine.connect() for _ in range(WORKER_THREADS)]
    assert {conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in again} == pids
    for conn in again:
        conn.close()


def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = pings(engine, monkeypatch)
    first = backend_pid(engine)
    assert backend_pid(engine) == first
    assert seen == []


def test_an_idle_connection_that_no_longer_answers_is_replaced(
    engine: Engine, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = pings(engine, monkeypatch)
    dead = backend_pid(engine)
    other = db.make_engine(pg_database)
    with other.connect() as conn:  # as a server restart or an idle timeout would
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead}).scalar_one()
    other.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    replaced = backend_pid(engine)  # no error: the ping failed and the pool opened another
    assert replaced != dead
    assert len(seen) == 1


def test_a_connection_used_a_moment_ago_whose_server_ended_it_is_replaced(
    engine: Engine, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart or ``pg_terminate_backend`` within the second: the server's FATAL message waiting on
    the socket gets the connection pinged (and replaced) instead of handed out to fail a request."""
    seen = pings(engine, monkeypatch)
    dead = backend_pid(engine)
    other = db.make_engine(pg_database)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": dead}).scalar_one()
    other.dispose()
    replaced = backend_pid(engine)  # no error, though used a moment ago
    assert replaced != dead
    assert len(seen) == 1
    assert backend_pid(engine) == replaced and len(seen) == 1  # and a live one is not pinged


def test_a_one_statement_read_is_autocommit_and_leaves_the_pool_transactional(engine: Engine) -> None:
    with reading(engine, one_statement=True) as conn:
        assert conn.connection.driver_connection.autocommit  # type: ignore[union-attr]  # psycopg's
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # the same connection,
        assert not conn.connection.driver_connection.autocommit  # type: ignore[union-attr]  # back as it was
        conn.execute(text("CREATE TEMPORARY TABLE t (x int)"))
        conn.commit()
        with conn.begin():
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
