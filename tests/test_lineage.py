"""Lineage: shares per source and path up to the mines, and the recall list down to end items."""

from __future__ import annotations

import json
import math

import pytest

from raretrace.errors import NotFoundError
from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.scripted import ScriptedChain, lot
from tests.chain_fixtures import new_registry

COMP = {"Nd": 0.01, "Pr": 0.003}


def _blend(db_url: str) -> ScriptedChain:
    """Ore A (AU) 300 kg and ore B (CN) 100 kg blended into a concentrate, split into two oxides."""
    chain = ScriptedChain(new_registry(db_url))
    chain.add_facility("MINE-AU", country="AU", stages=["mining"])
    chain.add_facility("MINE-CN", country="CN", stages=["mining"])
    chain.add_facility("SEP-MY", country="MY", stages=["beneficiation", "separation"])
    for mine, name, kg in (("MINE-AU", "ore-a", 1000.0), ("MINE-CN", "ore-b", 1000.0)):
        chain.record(
            mine, "extract", deposit=name, outputs=[lot(f"urn:raretrace:lot:{name}", "ore", kg, COMP)]
        )
        chain.ship(mine, "SEP-MY", [f"urn:raretrace:lot:{name}"])
    chain.record(
        "SEP-MY",
        "process",
        stage="beneficiation",
        inputs=[
            {"lot": "urn:raretrace:lot:ore-a", "mass_kg": 300.0},
            {"lot": "urn:raretrace:lot:ore-b", "mass_kg": 100.0},
        ],
        outputs=[lot("urn:raretrace:lot:conc", "concentrate", 40.0, {"Nd": 0.1, "Pr": 0.03})],
    )
    chain.record(
        "SEP-MY",
        "process",
        stage="separation",
        inputs=[{"lot": "urn:raretrace:lot:conc", "mass_kg": 40.0}],
        outputs=[
            lot("urn:raretrace:lot:ox-1", "separated_oxide", 3.0, {"Nd": 0.6, "Pr": 0.2}),
            lot("urn:raretrace:lot:ox-2", "separated_oxide", 1.0, {"Nd": 0.6, "Pr": 0.2}),
        ],
    )
    return chain


def test_trace_up_gives_shares_by_path(db_url: str) -> None:
    registry = _blend(db_url).registry
    result = trace_up(registry, "urn:raretrace:lot:ox-1")
    shares = {s["lot"]: s["share"] for s in result["sources"]}
    assert math.isclose(shares["urn:raretrace:lot:ore-a"], 0.75)
    assert math.isclose(shares["urn:raretrace:lot:ore-b"], 0.25)
    source_a = next(s for s in result["sources"] if s["lot"] == "urn:raretrace:lot:ore-a")
    assert source_a["deposit"] == "ore-a" and source_a["producer"] == "MINE-AU"
    (path,) = source_a["paths"]
    assert path["lots"] == ["urn:raretrace:lot:ox-1", "urn:raretrace:lot:conc", "urn:raretrace:lot:ore-a"]
    assert path["input_kg"] == pytest.approx([30.0, 300.0])  # 3/4 of the 40 kg concentrate went to ox-1
    json.dumps(result)  # the --json form is one JSON object


def test_trace_down_is_a_recall_list(db_url: str) -> None:
    registry = _blend(db_url).registry
    result = trace_down(registry, "urn:raretrace:lot:ore-b")
    assert result["reached"] == ["urn:raretrace:lot:conc", "urn:raretrace:lot:ox-1", "urn:raretrace:lot:ox-2"]
    assert result["end_items"] == ["urn:raretrace:lot:ox-1", "urn:raretrace:lot:ox-2"]
    assert trace_down(registry, "urn:raretrace:lot:ox-2")["reached"] == []
    with pytest.raises(NotFoundError):
        trace_up(registry, "urn:raretrace:lot:nothing")
