"""Building blocks for registry tests: a registry on a back end and a small two-facility chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from raretrace.custody.namespaces import namespaced, owner
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store import schema as t
from raretrace.store.db import make_engine

ORE = {"La": 0.0222, "Ce": 0.0330, "Pr": 0.0029, "Nd": 0.0082, "Fe": 0.05, "other": 0.8}
NDPR_OXIDE = {"Nd": 0.63, "Pr": 0.21}
# ids in their makers' namespaces, as a registry requires by default (custody/namespaces.py)
ORE_LOT = namespaced("lot", "US-MINE", "ore-1")
OXIDE_LOT = namespaced("lot", "US-SEP", "ndpr-oxide-1")
EXTRACT_EVENT = namespaced("event", "US-MINE", "extract-1")
SEPARATION_EVENT = namespaced("event", "US-SEP", "sep-1")  # separation()'s, by default


def new_registry(url: str, *, open_ids: bool = False) -> Registry:
    """A fresh registry; ``open_ids`` for one made with ``init --open-ids`` (legacy ids accepted)."""
    return Registry.init(make_engine(url), "test.raretrace.example/log", namespaced_ids=not open_ids)


def own_event_id(facility: str, event_id: str) -> str:
    """``event_id`` as given when it is in a namespace already, else put in ``facility``'s."""
    return event_id if owner("event", event_id) else namespaced("event", facility, event_id)


def snapshot(registry: Registry) -> dict[str, Any]:
    """Row counts of every table, the tree size and the newest checkpoint: 'nothing written' means equal."""
    with registry.engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in t.metadata.tables.items()
        }
        tiles = conn.execute(
            select(t.log_tiles.c.level, t.log_tiles.c.idx, t.log_tiles.c.data).order_by(
                t.log_tiles.c.level, t.log_tiles.c.idx
            )
        ).all()
        lots = conn.execute(select(t.lots).order_by(t.lots.c.id)).all()
        size = registry.store.require_meta(conn, "tree_size")
    return {
        "counts": counts,
        "tree_size": size,
        "tiles": [tuple(r) for r in tiles],
        "lots": [tuple(r) for r in lots],
    }


def mine_and_separator(url: str, *, open_ids: bool = False) -> ScriptedChain:
    """A mine holding one ore lot, and a separator; both registered with keys (``open_ids``: in a
    registry made with ``init --open-ids``)."""
    chain = ScriptedChain(new_registry(url, open_ids=open_ids))
    chain.add_facility("US-MINE", country="US", stages=["mining", "beneficiation"])
    chain.add_facility("US-SEP", country="US", stages=["separation", "metallization"])
    chain.add_facility("CN-SEP", country="CN", stages=["separation"])
    chain.record(
        "US-MINE",
        "extract",
        event_id=EXTRACT_EVENT,
        deposit="Mountain Pass",
        outputs=[lot(ORE_LOT, "ore", 1000.0, ORE)],
    )
    return chain


def separation(
    chain: ScriptedChain,
    *,
    consume: float = 1000.0,
    out_mass: float = 10.0,
    composition: dict[str, float] | None = None,
    facility: str = "US-SEP",
    event_id: str = SEPARATION_EVENT,
    input_lot: str = ORE_LOT,
    **kw: Any,
) -> bytes:
    """The separator's process event: ``consume`` kg of the ore into one oxide lot (``event_id`` a
    local name is put in ``facility``'s namespace)."""
    return chain.envelope(
        facility,
        "process",
        event_id=own_event_id(facility, event_id),
        stage="separation",
        inputs=[{"lot": input_lot, "mass_kg": consume}],
        outputs=[lot(OXIDE_LOT, "separated_oxide", out_mass, composition or NDPR_OXIDE)],
        **kw,
    )
