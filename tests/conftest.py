"""Shared fixtures: a registry on each back end, and a small signed supply chain to act on.

PostgreSQL: one database is created per test run (named after the process, dropped at the end) and
each test gets its own schema in it, so tests never share state. The server URL comes from
RARETRACE_TEST_PG (default: postgres on 127.0.0.1:5432 with trust auth). When no server answers
the PostgreSQL cases skip with the reason shown — except under CI=true, where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.shared_files import UNDER_CI

PG_ADMIN_URL = os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test run's own; dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"raretrace_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        reason = (
            f"no PostgreSQL server answers at {PG_ADMIN_URL}: {type(e).__name__}: {str(e).splitlines()[0]}"
        )
        if UNDER_CI:
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    base: str = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"
