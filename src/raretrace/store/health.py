"""Whether the database answers, for the server's readiness check (``server/health.py``).

Why here: the check must catch the database driver's own failures (a refused connection, a timeout)
and say them without raising; only store/ knows the driver's exception types.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from raretrace.store.db import schema_revision


class UnreachableError(Exception):
    """The database did not answer; ``kind`` names the driver's error (no message: it may hold a URL)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: none recorded), or ``UnreachableError``."""
    try:
        with engine.connect() as conn:
            return schema_revision(conn)
    except (SQLAlchemyError, OSError) as e:
        raise UnreachableError(type(e).__name__) from e
