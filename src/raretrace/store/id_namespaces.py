"""The ids facilities chose (tables ``events`` and ``lots``), for the switch to namespaced ids.

``raretrace require-namespaced-ids`` reports which ids already recorded lie outside their facility's
namespace; these statements give it every facility-chosen id with the facility that chose it. The
secretariat's own acts and imported lots are left out: their ids were never the facility's choice.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from raretrace.custody.events import SECRETARIAT_KINDS, Import
from raretrace.store.schema import events, lots


def facility_event_ids(conn: Connection) -> Iterator[tuple[str, str]]:
    """(facility, event id) of every event a facility signed, in log order."""
    query = (
        select(events.c.facility_id, events.c.event_id)
        .where(events.c.facility_id.is_not(None), events.c.kind.not_in(sorted(SECRETARIAT_KINDS)))
        .order_by(events.c.seq)
    )
    for facility, event_id in conn.execute(query):
        yield str(facility), str(event_id)


def produced_lot_ids(conn: Connection) -> Iterator[tuple[str, str]]:
    """(producer, lot id) of every lot a facility's own event made (imported lots left out), in log
    order."""
    query = (
        select(lots.c.producer, lots.c.id)
        .join(events, events.c.seq == lots.c.produced_seq)
        .where(events.c.kind != Import.kind)
        .order_by(lots.c.produced_seq, lots.c.id)
    )
    for producer, lot_id in conn.execute(query):
        yield str(producer), str(lot_id)
