"""Control by plant owner at separation and magnets: a control row moves a country's published share to
its owners' country; what the shares leave unallocated is never credited to anyone."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.world.control import stage_control
from raretrace.world.data import WorldData


def _control() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        resources.files("raretrace").joinpath("data/world/control.json").read_text("utf-8")
    )
    return doc


def test_a_chinese_owned_plant_abroad_counts_for_china_by_control() -> None:
    doc = _control()
    for row in doc["control"]:
        if row["stage"] == "separation" and row["country"] == "MY":
            row["controller"] = "CN"  # what-if: the Malaysian plant under Chinese ownership
    got = stage_control(WorldData.load(), "separation", ("CN",), 2023, doc=doc)
    assert got.by_location == pytest.approx(0.92)
    assert got.by_control == pytest.approx(0.92 + 0.05)
    assert got.not_known == pytest.approx(0.03)


def test_partial_ownership_splits_the_share() -> None:
    doc = _control()
    for row in doc["control"]:
        if row["stage"] == "separation" and row["country"] == "MY":
            row.update(controller="CN", share=0.4)
    got = stage_control(WorldData.load(), "separation", ("CN",), 2023, doc=doc)
    assert got.by_control == pytest.approx(0.92 + 0.4 * 0.05)


def test_a_stage_without_published_shares_is_refused() -> None:
    with pytest.raises(ValidationError, match="metallization"):
        stage_control(WorldData.load(), "metallization", ("CN",))
