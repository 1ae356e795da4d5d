"""Alembic migrations and the SQLAlchemy schema describe the same database on both back ends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from raretrace.store.db import make_engine, migrate
from raretrace.store.schema import metadata


def test_migrations_match_the_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, metadata)
        assert diff == [], diff
        assert context.get_current_revision() is not None
    migrate(engine)  # running again is a no-op
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)
