"""``store.reading.snapshot``: the reads of one trace (its access check, its walk, its visibility
check) see one state of the registry on both back ends, even while another connection commits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from raretrace.store import db
from raretrace.store.reading import snapshot


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = db.make_engine(db_url)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE seen (n INTEGER)"))
    yield made
    made.dispose()


def count(conn: Connection) -> int:
    value = conn.execute(text("SELECT count(*) FROM seen")).scalar_one()
    assert isinstance(value, int)
    return value


def test_a_commit_between_two_reads_is_not_seen_inside_the_snapshot(engine: Engine) -> None:
    with engine.connect() as conn, snapshot(conn):
        before = count(conn)
        with engine.begin() as other:  # another client commits while the trace is under way
            other.execute(text("INSERT INTO seen VALUES (1)"))
        assert count(conn) == before == 0
    with engine.connect() as conn:  # the next read sees it
        assert count(conn) == 1


def test_the_connection_goes_back_to_the_pool_at_its_usual_level(engine: Engine) -> None:
    with engine.connect() as conn:
        usual = conn.get_isolation_level()
    with engine.connect() as conn, snapshot(conn):
        count(conn)
    with engine.connect() as conn:
        assert conn.get_isolation_level() == usual
