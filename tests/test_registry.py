"""The append pipeline on both back ends: a chain that works, and every invariant of DESIGN §3."""

from __future__ import annotations

import pytest

from raretrace.custody.namespaces import namespaced
from raretrace.errors import CustodyError, DuplicateError
from raretrace.ledger.audit import audit
from raretrace.ledger.scripted import lot
from raretrace.log.checkpoint import open_checkpoint
from tests.chain_fixtures import (
    NDPR_OXIDE,
    ORE_LOT,
    OXIDE_LOT,
    mine_and_separator,
    separation,
    snapshot,
)

METAL_LOT = namespaced("lot", "US-SEP", "ndpr-metal-1")
T1 = namespaced("event", "US-MINE", "t1")


def test_chain_from_mine_to_metal(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    registry = chain.registry
    chain.ship("US-MINE", "US-SEP", [ORE_LOT], hs_code="2530.90")
    registry.append([separation(chain)])
    chain.record(
        "US-SEP",
        "process",
        stage="metallization",
        inputs=[{"lot": OXIDE_LOT, "mass_kg": 10.0}],
        outputs=[lot(METAL_LOT, "metal", 8.4, {"Nd": 0.75, "Pr": 0.25})],
    )

    ore = registry.lot(ORE_LOT)
    assert ore.custodian == "US-SEP" and ore.remaining_kg == 0
    metal = registry.lot_details(METAL_LOT)
    assert [(i.lot, i.mass_kg, i.event_index) for i in metal.inputs] == [(OXIDE_LOT, 10.0, 7)]
    assert registry.tree_size() == 8
    result = audit(registry)
    assert result.ok, result.problems
    assert result.leaves_checked == 8 and result.signatures_verified == 8


def test_checkpoint_signed_by_registry_key(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    from raretrace.ledger.logview import latest_checkpoint

    checkpoint = open_checkpoint(
        latest_checkpoint(chain.registry), chain.registry.origin, chain.registry.public_key.raw
    )
    assert checkpoint.size == chain.registry.tree_size() == 4


def test_batch_is_all_or_nothing(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    before = snapshot(chain.registry)
    good = separation(
        chain, facility="US-MINE", event_id="ev-ok"
    )  # would be fine alone... but MINE lacks stage
    with pytest.raises(Exception):  # noqa: B017 - any rejection; the point is what stays unchanged
        chain.registry.append([good])
    transfer = chain.envelope("US-MINE", "transfer", event_id=T1, to="US-SEP", lots=[ORE_LOT])
    receive = chain.envelope("US-SEP", "receive", transfer_event=T1, lots=[ORE_LOT])
    too_much = separation(chain, consume=1001.0, event_id="ev-too-much")
    with pytest.raises(CustodyError, match="envelope 2 .*only 1000 kg remain"):
        chain.registry.append([transfer, receive, too_much])
    assert snapshot(chain.registry) == before


def test_lot_in_transit_cannot_be_spent_or_received_by_another(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    chain.record("US-MINE", "transfer", event_id=T1, to="US-SEP", lots=[ORE_LOT])
    before = snapshot(chain.registry)
    spend = chain.envelope(
        "US-MINE",
        "process",
        stage="beneficiation",
        inputs=[{"lot": ORE_LOT, "mass_kg": 1.0}],
        outputs=[lot(namespaced("lot", "US-MINE", "c1"), "concentrate", 1.0, {"Nd": 0.001})],
    )
    with pytest.raises(CustodyError, match="in transit to US-SEP"):
        chain.registry.append([spend])
    wrong = chain.envelope("CN-SEP", "receive", transfer_event=T1, lots=[ORE_LOT])
    with pytest.raises(CustodyError, match="was sent to US-SEP, not CN-SEP"):
        chain.registry.append([wrong])
    assert snapshot(chain.registry) == before


def test_two_spends_in_one_batch_are_a_double_spend(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    before = snapshot(chain.registry)
    first = separation(chain, consume=600.0, out_mass=5.0, event_id="a")
    second = chain.envelope(
        "US-SEP",
        "process",
        event_id=namespaced("event", "US-SEP", "b"),
        stage="separation",
        inputs=[{"lot": ORE_LOT, "mass_kg": 600.0}],
        outputs=[lot(namespaced("lot", "US-SEP", "other"), "separated_oxide", 5.0, NDPR_OXIDE)],
    )
    with pytest.raises(CustodyError, match="envelope 1 .*consumes 600 kg of lot .* only 400 kg remain"):
        chain.registry.append([first, second])
    assert snapshot(chain.registry) == before


def test_duplicate_lot_id_is_refused(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    before = snapshot(chain.registry)
    again = chain.envelope(
        "US-MINE", "extract", deposit="Mountain Pass", outputs=[lot(ORE_LOT, "ore", 5.0, {"Nd": 0.01})]
    )
    with pytest.raises(DuplicateError, match=f"lot {ORE_LOT} already exists"):
        chain.registry.append([again])
    assert snapshot(chain.registry) == before
