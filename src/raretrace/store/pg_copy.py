"""PostgreSQL's binary ``COPY`` for the append's bulk rows, with the writer's own work done while the
server inserts them. Imported only when a PostgreSQL database is written (``store.raw.insert_many``),
so a SQLite registry never loads the driver.

Why a writer of our own: PostgreSQL holds a binary ``COPY``'s rows (up to 1,000) and inserts them when
the ``COPY`` ends, so a client that waits there waits for every insert and index update: ~13 µs an
appended event over four tables (measured on the ingest benchmark; ``strace`` of the backend shows no
page written before the end). ``OverlappingWriter`` ends the ``COPY``, runs the caller's ``meanwhile``
while the server inserts, then reads the answer. It plugs into psycopg's documented extension point for
``COPY`` writers and uses only libpq's public calls (``put_copy_end``, ``flush``, ``consume_input``,
``is_busy``, ``get_result``).
"""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence

import psycopg
from psycopg import pq
from psycopg.copy import LibpqWriter
from psycopg.pq.abc import PGconn, PGresult
from psycopg.rows import TupleRow


def copy_rows(
    driver: psycopg.Connection[TupleRow],
    sql: str,
    types: Sequence[str],
    rows: Sequence[Sequence[object]],
    meanwhile: Callable[[], object] | None,
) -> None:
    """``rows`` through the binary ``COPY … FROM STDIN`` ``sql`` (columns of the PostgreSQL ``types``);
    ``meanwhile()``, if given, runs once they are sent and before the server's answer is read."""
    with driver.cursor() as cursor:
        writer = LibpqWriter(cursor) if meanwhile is None else OverlappingWriter(cursor, meanwhile)
        with cursor.copy(sql, writer=writer) as copy:
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)


class OverlappingWriter(LibpqWriter):
    """Ends the ``COPY`` without waiting, runs ``meanwhile()``, then reads the server's answer (also
    when ``meanwhile`` raises, so that the connection stays in step with its server)."""

    def __init__(self, cursor: psycopg.Cursor[TupleRow], meanwhile: Callable[[], object]) -> None:
        super().__init__(cursor)
        self.meanwhile = meanwhile

    def finish(self, exc: BaseException | None = None) -> None:
        if exc is not None:  # psycopg's own way: the COPY is failed with the error's text
            super().finish(exc)
            return
        pgconn = self._pgconn
        while pgconn.put_copy_end(None) == 0:
            _ready(pgconn, write=True)
        while pgconn.flush():
            _ready(pgconn, write=True)
        try:
            self.meanwhile()
        finally:
            answer = _answer(pgconn)
        if answer is None or answer.status != pq.ExecStatus.COMMAND_OK:
            raise _error(answer, pgconn)


def _ready(pgconn: PGconn, *, write: bool) -> None:
    """Wait until the connection's socket can be written (or read)."""
    if write:
        select.select([], [pgconn.socket], [])
    else:
        select.select([pgconn.socket], [], [])


def _answer(pgconn: PGconn) -> PGresult | None:
    """The first result of the command that was running, every result of it read."""
    answer: PGresult | None = None
    while True:
        pgconn.consume_input()
        while pgconn.is_busy():
            _ready(pgconn, write=False)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            return answer
        answer = answer or result


def _error(answer: PGresult | None, pgconn: PGconn) -> psycopg.Error:
    """The server's error as psycopg's own class for its SQLSTATE (e.g. ``UniqueViolation``)."""
    state = answer.error_field(pq.DiagnosticField.SQLSTATE) if answer is not None else None
    message = (answer.error_message if answer is not None else pgconn.error_message) or b""
    kind = psycopg.errors.lookup(state.decode()) if state else psycopg.DatabaseError
    return kind(message.decode(errors="replace").strip())
