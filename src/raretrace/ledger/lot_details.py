"""The answer of ``lot show`` (``Registry.lot_details``): a lot with its inputs, shipments and assays.

Why a module of its own: the registry service reads the rows (``store.lots``) inside its connection;
this module says what the answer holds, as frozen dataclasses, so the CLI, the API and the exports
read named attributes instead of string keys. ``render.jsonable`` turns it into the JSON both send
(``LotShipment.sender`` is written ``from``, as before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from raretrace.elements import REE_SYMBOLS
from raretrace.model import Lot
from raretrace.pricing import PriceTable, value_shares
from raretrace.store.lots import AssayRow, InputRow, ShipmentRow


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
