"""``store.raw.insert_many``, the append's bulk write, on both back ends: what it writes is read back
as given (PostgreSQL: a binary COPY typed by the columns), ``meanwhile`` runs once the rows are sent
and the server's answer is still read after it (also when it raises), and a row that breaks a
constraint fails with the database's own error, leaving the transaction to roll back."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import Column, MetaData, Table, create_engine, select

from raretrace.store import raw

META = MetaData()
ROWS = Table(
    "bulk_rows",
    META,
    Column("seq", sqlalchemy.BigInteger, primary_key=True),
    Column("name", sqlalchemy.String(20), unique=True),
    Column("note", sqlalchemy.Text),
    Column("units", sqlalchemy.Integer),
    Column("mass", sqlalchemy.Float),
    Column("void", sqlalchemy.Boolean),
    Column("blob", sqlalchemy.LargeBinary),
)


def _rows(start: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "seq": start + i,
            "name": f"n-{start + i}",
            "note": "é ✓ \u2028" if i % 2 else None,
            "units": i,
            "mass": 0.1 * i if i % 3 else 1000,  # an int where the column is a float
            "void": bool(i % 2),
            "blob": bytes(range(256)) * (i % 5),
        }
        for i in range(count)
    ]


@pytest.fixture
def engine(db_url: str) -> sqlalchemy.Engine:
    made = create_engine(db_url)
    META.create_all(made)
    return made


def test_rows_read_back_as_written_and_meanwhile_runs_once(engine: sqlalchemy.Engine) -> None:
    calls: list[int] = []
    rows = _rows(0, 1500)
    with engine.begin() as conn:
        raw.insert_many(conn, ROWS, rows, lambda: calls.append(1))
        raw.insert_many(conn, ROWS, [], lambda: calls.append(2))  # no rows: not called
    with engine.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(select(ROWS).order_by(ROWS.c.seq))]
    assert calls == [1]
    assert got == [{**r, "mass": float(r["mass"])} for r in rows]  # type: ignore[arg-type]


def test_a_broken_constraint_is_the_databases_own_error_and_nothing_stays(engine: sqlalchemy.Engine) -> None:
    with engine.begin() as conn:
        raw.insert_many(conn, ROWS, _rows(0, 10))
    calls: list[int] = []
    clash = [*_rows(100, 5), {**_rows(200, 1)[0], "name": "n-3"}]  # a name already stored
    with pytest.raises(Exception) as caught, engine.begin() as conn:
        raw.insert_many(conn, ROWS, clash, lambda: calls.append(1))
    assert "unique" in str(caught.value).lower()
    if engine.dialect.name == "postgresql":  # the server's answer read after meanwhile, as its own class
        import psycopg

        assert isinstance(caught.value, psycopg.errors.UniqueViolation)
        assert calls == [1]
    else:  # executemany stops at the row
        assert calls == []
    with engine.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(ROWS)).scalar_one() == 10


def test_meanwhile_raising_leaves_the_connection_in_step(engine: sqlalchemy.Engine) -> None:
    def fails() -> None:
        raise RuntimeError("meanwhile failed")

    with pytest.raises(RuntimeError, match="meanwhile failed"), engine.begin() as conn:
        raw.insert_many(conn, ROWS, _rows(0, 20), fails)
    with engine.begin() as conn:  # the same pooled connection, usable and with nothing written
        assert conn.execute(select(sqlalchemy.func.count()).select_from(ROWS)).scalar_one() == 0
        raw.insert_many(conn, ROWS, _rows(0, 3))
    with engine.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(ROWS)).scalar_one() == 3
