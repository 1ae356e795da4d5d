"""The answer of ``lot show`` (``Registry.lot_details``): a lot with its inputs, shipments and assays.

Why a module of its own: it reads the rows through the ``store.protocol.LotHistory`` boundary (so its
tests can run on ``store.memory.MemoryStore``) and says what the answer holds, as frozen dataclasses, so
the CLI, the API and the exports read named attributes instead of string keys. ``render.jsonable``
turns it into the JSON both send (``LotShipment.sender`` is written ``from``, as before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from raretrace.elements import REE_SYMBOLS
from raretrace.errors import NotFoundError
from raretrace.model import Lot
from raretrace.pricing import PriceTable, value_shares
from raretrace.store.lots import AssayRow, InputRow, ShipmentRow
from raretrace.store.protocol import LotHistory

C = TypeVar("C")


@dataclass(frozen=True)
class LotInput:
    """A lot this one was made from, the mass of it used, and the leaf index of the event that used it."""

    lot: str
    mass_kg: float
    event_index: int


@dataclass(frozen=True)
class LotShipment:
    """A transfer of the lot; ``received_event_index`` is None while it is in transit."""

    event_index: int
    sender: str = field(metadata={"json": "from"})
    to: str
    received_event_index: int | None


@dataclass(frozen=True)
class LotDetails:
    """``lot``: the lot as ``Lot.to_dict`` writes it; ``origin_by_value``: the shares by value
    (``pricing.value_shares``) with the price table's source; each assay: its leaf index, lab and the
    measurement's own fields."""

    lot: Mapping[str, object]
    origin_by_value: Mapping[str, object]
    inputs: tuple[LotInput, ...]
    transfers: tuple[LotShipment, ...]
    assays: tuple[Mapping[str, object], ...]


def lot_details(
    lot: Lot,
    inputs: Sequence[InputRow],
    shipments: Sequence[ShipmentRow],
    assays: Sequence[AssayRow],
    table: PriceTable,
) -> LotDetails:
    """The answer for ``lot`` from its stored rows, its value shares priced with ``table``."""
    element_kg = {e: lot.spec.element_mass(e) for e in lot.spec.composition.fractions if e in REE_SYMBOLS}
    by_value = value_shares(lot.origin(), element_kg, table)
    return LotDetails(
        lot=lot.to_dict(),
        origin_by_value={**by_value, "price_table": table.origin},
        inputs=tuple(LotInput(r.parent, r.mass_kg, r.seq) for r in inputs),
        transfers=tuple(LotShipment(r.seq, r.sender, r.receiver, r.received_seq) for r in shipments),
        assays=tuple({"event_index": r.seq, "lab": r.lab, **r.data} for r in assays),
    )


def find_lot(store: LotHistory[C], conn: C, lot_id: str) -> Lot:
    """The lot as the registry holds it; an unknown id is not found, naming the field ``lot``."""
    lot = store.lots(conn, [lot_id]).get(lot_id)
    if lot is None:
        raise NotFoundError(f"lot {lot_id} does not exist", field="lot")
    return lot


def read_lot_details(store: LotHistory[C], conn: C, lot_id: str, table: PriceTable) -> LotDetails:
    """``lot show``'s answer for ``lot_id``, read in the caller's connection."""
    lot = find_lot(store, conn, lot_id)
    inputs = store.inputs_of(conn, lot_id)
    return lot_details(lot, inputs, store.shipments_of(conn, lot_id), store.assays_of(conn, lot_id), table)
