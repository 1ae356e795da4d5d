"""The SQL of a lot's own history: the inputs it was made from, its shipments and its assays.

Why here: ``lot show`` (``Registry.lot_details``), the compliance check and the demo read these rows;
the services keep the transaction and build the answer, this module only reads. Rows come back as
frozen dataclasses so a caller cannot misspell a column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from raretrace.jsontypes import JSONValue
from raretrace.store import schema as t
from raretrace.store.raw import fetch_in


@dataclass(frozen=True)
class InputRow:
    """One lot the child was made from: how much of it, and the leaf index of the event that used it."""

    parent: str
    mass_kg: float
    seq: int


@dataclass(frozen=True)
class ShipmentRow:
    """One transfer of the lot; ``received_seq`` is None while it is in transit."""

    seq: int
    sender: str
    receiver: str
    received_seq: int | None


@dataclass(frozen=True)
class AssayRow:
    """One assay of the lot: the lab and the measurement as recorded (a JSON object)."""

    seq: int
    lab: str
    data: dict[str, JSONValue]


def inputs_of(conn: Connection, lot_id: str) -> list[InputRow]:
    """The lots ``lot_id`` was made from, in the order the database keeps them."""
    rows = conn.execute(
        select(t.lot_inputs.c.parent, t.lot_inputs.c.mass_kg, t.lot_inputs.c.seq).where(
            t.lot_inputs.c.child == lot_id
        )
    ).all()
    return [InputRow(r.parent, r.mass_kg, r.seq) for r in rows]


def shipments_of(conn: Connection, lot_id: str) -> list[ShipmentRow]:
    """The transfers of ``lot_id``, oldest first."""
    moves = t.transfers.c
    rows = conn.execute(
        select(moves.seq, moves.sender, moves.receiver, moves.received_seq)
        .where(moves.lot_id == lot_id)
        .order_by(moves.seq)
    ).all()
    return [ShipmentRow(r.seq, r.sender, r.receiver, r.received_seq) for r in rows]


def assays_of(conn: Connection, lot_id: str) -> list[AssayRow]:
    """The assays of ``lot_id``, in the order the database keeps them."""
    rows = conn.execute(
        select(t.assays.c.seq, t.assays.c.lab, t.assays.c.data).where(t.assays.c.lot_id == lot_id)
    ).all()
    return [AssayRow(r.seq, r.lab, json.loads(r.data)) for r in rows]


def assay_results(conn: Connection, lot_ids: Sequence[str]) -> list[tuple[str, dict[str, JSONValue]]]:
    """``(lot id, measurement)`` of every assay of ``lot_ids`` (IN queries on the fast DB-API path)."""
    rows = fetch_in(conn, [t.assays.c.lot_id, t.assays.c.data], t.assays.c.lot_id, list(lot_ids))
    return [(str(r.lot_id), json.loads(r.data)) for r in rows]


def first_lot_made_by(conn: Connection, producer: str, form: str) -> str | None:
    """The id of the first lot of ``form`` that ``producer`` made (None: it made none)."""
    lots = t.lots.c
    query = (
        select(lots.id)
        .where(lots.producer == producer, lots.form == form)
        .order_by(lots.produced_seq)
        .limit(1)
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def transfer_events_of(conn: Connection, lot_ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(transfer event id, lot id)`` of every shipment of ``lot_ids``, oldest first."""
    query = (
        select(t.events.c.event_id, t.transfers.c.lot_id)
        .join(t.events, t.events.c.seq == t.transfers.c.seq)
        .where(t.transfers.c.lot_id.in_(list(lot_ids)))
        .order_by(t.transfers.c.seq)
    )
    return [(str(r.event_id), str(r.lot_id)) for r in conn.execute(query)]


class SqlLotHistory:
    """``store.protocol.LotHistory``'s reads of a lot's history, as methods of ``store.store.Store``
    (its ``lots`` is the append path's)."""

    inputs_of = staticmethod(inputs_of)
    shipments_of = staticmethod(shipments_of)
    assays_of = staticmethod(assays_of)
    assay_results = staticmethod(assay_results)
