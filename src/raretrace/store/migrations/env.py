"""Alembic environment: raretrace always passes its own connection (see store.db.migrate)."""

from __future__ import annotations

from alembic import context

from raretrace.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached if someone runs alembic by hand
    raise SystemExit("run migrations through raretrace (raretrace --db URL init), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
