"""Builders for compliance tests: subjects with hand-written origin vectors, a test price table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from raretrace.elements import oxide_factor
from raretrace.pricing import PriceTable
from raretrace.provenance import STAGE_CODES, STAGE_ORDER, ElementOrigin
from raretrace.rules import Context, RawMaterial, Subject, Verdict, load_regimes

#: USD per kg of contained element, chosen round so expected figures can be worked out by hand.
ELEMENT_PRICES = {"Dy": 100.0, "Nd": 10.0, "Pr": 10.0, "Tb": 1000.0}


def hand_prices() -> PriceTable:
    rows = [
        {"element": e, "oxide_usd_per_kg": p * oxide_factor(e), "date": "2026", "source": "test"}
        for e, p in ELEMENT_PRICES.items()
    ]
    return PriceTable.from_dict({"prices": rows}, "test")


def history(**stages: Mapping[str, float]) -> dict[str, dict[str, float]]:
    return {stage: dict(shares) for stage, shares in stages.items()}


def element(
    location: dict[str, dict[str, float]], technology: dict[str, dict[str, float]] | None = None
) -> ElementOrigin:
    """An element's origin; technology defaults to the country that did each stage."""
    return {"location": location, "technology": technology if technology is not None else location}


def subject(
    origin: Mapping[str, ElementOrigin],
    element_kg: Mapping[str, float],
    *,
    value: float | None = None,
    made_in: str = "JP",
    held_in: str | None = None,
    form: str = "magnet",
    mass_kg: float | None = None,
    lot: str = "urn:test:item",
    raw: tuple[RawMaterial, ...] = (),
) -> Subject:
    return Subject(
        lots=(lot,),
        forms=frozenset({form}),
        mass_kg=mass_kg if mass_kg is not None else sum(element_kg.values()) * 3,
        element_kg=dict(element_kg),
        origin=dict(origin),
        declared_value_usd=value,
        value_note=None if value is not None else f"lot {lot} has no declared value",
        made_in=frozenset({made_in}),
        held_in=frozenset({held_in or made_in}),
        raw_materials=raw,
    )


def judge(regime_id: str, subjects: list[Subject] | Subject, day: str, **ctx: Any) -> Verdict:
    regimes = ctx.pop("regimes", None) or load_regimes()
    items = subjects if isinstance(subjects, list) else [subjects]
    context = Context(
        date.fromisoformat(day), ctx.pop("end_use", None), ctx.pop("prices", None) or hand_prices()
    )
    return regimes[regime_id].evaluate(items, context)


#: the documented stage codes of path keys
CODES = STAGE_CODES


def joint(*portions: tuple[float, dict[str, str]]) -> ElementOrigin:
    """An element's origin from its portions, each (share, {stage: "PLACE" or "PLACE@TECH"}).

    The marginals are summed here from the portions, independently of the code under test, and the
    joint paths are written in the documented key format (CODE=PLACE, CODE=PLACE@TECH when the
    technology's country differs; chain order; codes as docs/compliance.md lists them).
    """
    order = list(STAGE_ORDER)
    location: dict[str, dict[str, float]] = {}
    technology: dict[str, dict[str, float]] = {}
    paths: dict[str, float] = {}
    for share, stages in portions:
        parts = []
        for stage in sorted(stages, key=order.index):
            place, _, tech = stages[stage].partition("@")
            tech = tech or place
            location.setdefault(stage, {}).setdefault(place, 0.0)
            location[stage][place] += share
            technology.setdefault(stage, {}).setdefault(tech, 0.0)
            technology[stage][tech] += share
            code = CODES[stage]
            parts.append(f"{code}={place}" if tech == place else f"{code}={place}@{tech}")
        key = "|".join(parts)
        paths[key] = paths.get(key, 0.0) + share
    return {"location": location, "technology": technology, "paths": paths}
