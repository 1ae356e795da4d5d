"""Origin vectors computed at append time and stored with each lot (DESIGN §4), on both back ends."""

from __future__ import annotations

import math

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.provenance import UNKNOWN
from tests.chain_fixtures import new_registry

ORE, OXIDE, MAGNET = (
    namespaced("lot", maker, name)
    for maker, name in (("AU-MINE", "ore"), ("MY-SEP", "ox"), ("US-MAG", "mag"))
)


def test_us_magnet_from_australian_ore_separated_in_malaysia(db_url: str) -> None:
    chain = ScriptedChain(new_registry(db_url))
    chain.add_facility("AU-MINE", country="AU", stages=["mining"])
    chain.add_facility("MY-SEP", country="MY", stages=["separation"], technology={"separation": "AU"})
    chain.add_facility("US-MAG", country="US", stages=["magnet"], technology={"magnet": "JP"})
    chain.record(
        "AU-MINE",
        "extract",
        deposit="Mount Weld",
        outputs=[lot(ORE, "concentrate", 1000.0, {"Nd": 0.1, "Pr": 0.03})],
    )
    chain.ship("AU-MINE", "MY-SEP", [ORE])
    chain.record(
        "MY-SEP",
        "process",
        stage="separation",
        inputs=[{"lot": ORE, "mass_kg": 1000.0}],
        outputs=[lot(OXIDE, "separated_oxide", 150.0, {"Nd": 0.6, "Pr": 0.18})],
    )
    chain.ship("MY-SEP", "US-MAG", [OXIDE])
    # 30 kg of traced oxide brings 18 kg Nd; 6 kg of untraced NdPr alloy brings 6 kg Nd more
    chain.record(
        "US-MAG",
        "process",
        stage="magnet",
        inputs=[{"lot": OXIDE, "mass_kg": 30.0}],
        additions=[
            {"material": "iron", "mass_kg": 66.0, "composition": {"Fe": 1.0}},
            {"material": "untraced NdPr alloy", "mass_kg": 6.0, "composition": {"Nd": 1.0}},
        ],
        outputs=[lot(MAGNET, "magnet", 100.0, {"Nd": 0.24, "Pr": 0.054, "Fe": 0.66})],
    )
    nd = chain.registry.lot(MAGNET).origin()["Nd"]
    assert math.isclose(nd["location"]["mining"]["AU"], 0.75) and math.isclose(
        nd["location"]["mining"][UNKNOWN], 0.25
    )
    assert math.isclose(nd["location"]["separation"]["MY"], 0.75)
    assert math.isclose(nd["technology"]["separation"]["AU"], 0.75)
    assert nd["location"]["magnet"] == {"US": 1.0} and nd["technology"]["magnet"] == {"JP": 1.0}
    pr = chain.registry.lot(MAGNET).origin()["Pr"]
    assert pr["location"]["mining"] == {"AU": 1.0}
    assert "Fe" not in chain.registry.lot(MAGNET).origin()
