"""A PostgreSQL server that drops the app's connections (a restart, an administrator's
``pg_terminate_backend``) or refuses new ones: reads answer as before once it is back, a write is
either made or answered 503 saying what became of it, never 500, and the log stays whole.

Each test serves a database of its own and terminates only that database's backends, as a restart
would (the shared server is never restarted). The pool's idle ping is put out of reach
(``PING_AFTER_IDLE_S``), so every pooled connection counts as "used a moment ago": the case the ping
does not cover.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from raretrace.ledger.audit import audit
from raretrace.ledger.registry import Registry
from raretrace.server.app import POOLED_CONNECTIONS, create_app
from raretrace.server.settings import Settings
from raretrace.store import db
from tests.conftest import PG_ADMIN_URL
from tests.test_server_support import JP_METAL, US_CHAIN, ServerWorld, build_chain

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_database(pg_database: str) -> Iterator[str]:
    """A database of this test's own (``pg_database`` only to skip, or fail under CI, as every
    PostgreSQL test does when no server answers)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"raretrace_lost_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_database.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def served(own_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerWorld]:
    """The reference chains served as ``raretrace serve`` serves them (its pool, its lifespan: single
    submissions go through the group commit), with no idle ping in the tests' time."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    chain, tokens = build_chain(own_database)
    chain.registry.engine.dispose()
    registry = Registry(db.make_engine(own_database, connections=POOLED_CONNECTIONS))
    chain.registry = registry
    with TestClient(create_app(Settings(), registry=registry), raise_server_exceptions=False) as client:
        yield ServerWorld(chain, tokens, client)
    registry.engine.dispose()


@dataclass
class Admin:
    """The administrator's connection (to the server's own database) and the test's database."""

    engine: Engine
    database: str


@pytest.fixture
def admin(own_database: str) -> Iterator[Admin]:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield Admin(engine, own_database.rsplit("/", 1)[1])
    engine.dispose()


def terminate_backends(admin: Admin, *, pid: int | None = None) -> int:
    """``pg_terminate_backend`` of every backend of the test's database (or of ``pid``), waiting
    until they are gone, as after a restart; how many there were."""
    where = "datname = :name AND pid <> pg_backend_pid()" + ("" if pid is None else f" AND pid = {int(pid)}")
    with admin.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}"),
            {"name": admin.database},
        )
        gone = [pid for pid, terminated in rows if terminated]
        deadline = time.monotonic() + 10
        while conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": gone}
        ).scalar_one():
            assert time.monotonic() < deadline, "the terminated backends did not go"
            time.sleep(0.01)
    return len(gone)


def allow_connections(admin: Admin, allowed: bool) -> None:
    with admin.engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{admin.database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))


def reads(world: ServerWorld) -> dict[str, httpx.Response]:
    """A token lookup and a trace, a lot, a listing and a log read, as an operator and the public."""
    jp = world.as_("jp")
    return {
        "trace": world.client.get(f"/api/v1/lots/{JP_METAL}/trace", headers=jp),
        "lot": world.client.get(f"/api/v1/lots/{JP_METAL}", headers=jp),
        "lots": world.client.get("/api/v1/lots?limit=5", headers=jp),
        "checkpoint": world.client.get("/checkpoint"),
    }


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    """A 503 problem that asks the client to come back."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert body["status"] == 503 and body["type"].endswith("/unavailable") and body["detail"]
    return body


def transfer(world: ServerWorld) -> bytes:
    """A valid write: US-MAG sends its magnet lot to JP-MAG."""
    return world.chain.envelope("US-MAG", "transfer", to="JP-MAG", lots=[US_CHAIN.magnet], details={})


def submit(world: ServerWorld, envelope: bytes) -> httpx.Response:
    return world.client.post("/api/v1/events", content=envelope, headers=world.as_("us"))


def test_reads_after_the_connections_are_terminated_answer_as_before(
    served: ServerWorld, admin: Admin
) -> None:
    before = reads(served)
    assert {name: r.status_code for name, r in before.items()} == dict.fromkeys(before, 200)
    assert terminate_backends(admin) >= 1  # the app's pooled connections, each used a moment ago
    after = reads(served)
    assert {name: (r.status_code, r.content) for name, r in after.items()} == {
        name: (200, r.content) for name, r in before.items()
    }


def test_a_read_whose_connection_is_ended_after_it_was_handed_out_is_made_again(
    served: ServerWorld, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the connection between the pool's check and the read's first statement (the
    check of the first connection handed out after the terminate sees nothing yet)."""
    before = reads(served)
    has_input = db._has_input
    blind = [True]

    def checked(dbapi_connection: Any) -> bool:
        return False if blind and blind.pop() else has_input(dbapi_connection)

    monkeypatch.setattr(db, "_has_input", checked)
    assert terminate_backends(admin) >= 1
    after = reads(served)
    assert not blind  # the race happened: a dead connection was handed out
    assert {name: (r.status_code, r.content) for name, r in after.items()} == {
        name: (200, r.content) for name, r in before.items()
    }


def test_a_write_after_the_connections_are_terminated_is_made(served: ServerWorld, admin: Admin) -> None:
    size = served.registry.tree_size()
    assert reads(served)["trace"].status_code == 200  # the pool's connections in use a moment ago
    assert terminate_backends(admin) >= 1
    response = submit(served, transfer(served))
    assert response.status_code == 201, response.text
    assert response.json()["tree_size"] == served.registry.tree_size() == size + 1
    assert audit(served.registry).ok


def test_a_database_that_refuses_connections_is_503_until_it_is_back(
    served: ServerWorld, admin: Admin
) -> None:
    before = reads(served)
    size = served.registry.tree_size()
    allow_connections(admin, False)
    try:
        terminate_backends(admin)  # down: its connections dropped, new ones refused
        for response in reads(served).values():
            assert_unavailable(response)
        assert_unavailable(submit(served, envelope := transfer(served)))  # at its token lookup
    finally:
        allow_connections(admin, True)
    assert {name: r.content for name, r in reads(served).items()} == {
        name: r.content for name, r in before.items()
    }
    assert served.registry.tree_size() == size and audit(served.registry).ok
    assert submit(served, envelope).status_code == 201  # "submit it again" holds


def lose_the_connection(
    world: ServerWorld, admin: Admin, monkeypatch: pytest.MonkeyPatch, when: str
) -> list[int]:
    """The next append's connection terminated ``when``: "writing" (as its rows are written), "commit"
    (just before the COMMIT is sent) or "answer" (just after it is made, before its answer is read);
    the backends it happened to."""
    registry = world.registry
    struck: list[int] = []

    def strike(conn: Any) -> None:
        struck.append(conn.info.backend_pid)
        terminate_backends(admin, pid=struck[-1])

    if when == "writing":
        insert_batch = registry.store.insert_batch  # the append's first write

        def writing(conn: Any, *args: Any) -> None:
            if not struck:  # once
                strike(conn.connection.driver_connection)
            insert_batch(conn, *args)

        monkeypatch.setattr(registry.store, "insert_batch", writing)
        return struck
    commit = registry.engine.dialect.do_commit

    def committing(proxied: Any) -> None:
        driver = proxied.driver_connection
        if struck:  # once
            commit(proxied)
        elif when == "commit":
            strike(driver)
            commit(proxied)
        else:
            commit(proxied)
            strike(driver)
            driver.execute("SELECT 1")  # the answer that never came

    monkeypatch.setattr(registry.engine.dialect, "do_commit", committing)
    return struck


@pytest.mark.parametrize(
    ("when", "written", "told", "again"),
    [
        ("writing", False, "nothing was written", 201),
        ("commit", False, "unknown", 201),
        ("answer", True, "unknown", 409),  # recorded: resubmitting it is refused, never appended twice
    ],
)
def test_a_connection_lost_under_an_append_is_503_saying_what_became_of_it(
    served: ServerWorld,
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
    written: bool,
    told: str,
    again: int,
) -> None:
    size = served.registry.tree_size()
    envelope = transfer(served)
    struck = lose_the_connection(served, admin, monkeypatch, when)
    body = assert_unavailable(submit(served, envelope))
    assert len(struck) == 1  # the append ran once: not re-run on another connection
    assert told in body["detail"]
    assert served.registry.tree_size() == size + written
    assert audit(served.registry).ok
    response = submit(served, envelope)
    assert response.status_code == again, response.text
    assert served.registry.tree_size() == size + 1 and audit(served.registry).ok
