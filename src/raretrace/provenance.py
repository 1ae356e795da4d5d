"""Origin vectors (DESIGN §4): for each element of a lot, where each stage of its history was performed.

For every element and every stage already performed on it, a lot carries the share of that element's
mass whose stage happened in each country (``location``) and with whose process technology
(``technology``); ``unknown`` holds the share whose history is untraced. A process pools its inputs
per element, weighted by the element mass each input contributes (ISO 22095 controlled blending),
gives the pooled vector to every output, and then records its own stage as done in the facility's
country with the facility's technology. Pure functions over plain values: no I/O.

The vectors are plain JSON-shaped dicts — the stored form is the working form — because they are
computed for every lot on the append path, where building and converting objects would cost more
than the arithmetic. Treat them as immutable: functions here return new dicts and share untouched
parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypedDict

UNKNOWN = "unknown"
#: Share of an element whose traced history skipped the stage (ore separated without beneficiation,
#: a bare magnet built into a system with no component stage). Not a country, and not unknown.
NOT_PERFORMED = "none"
#: Chain order of stages, for output that people read.
STAGE_ORDER = (
    "mining",
    "beneficiation",
    "separation",
    "metallization",
    "magnet",
    "component",
    "system",
    "recycling",
)

#: stage -> country (or ``unknown``) -> share of the element's mass
StageShares = dict[str, dict[str, float]]


class ElementOrigin(TypedDict):
    """One element's history: location and technology shares per stage."""

    location: StageShares
    technology: StageShares


#: element symbol -> its origin
LotOrigin = dict[str, ElementOrigin]


def _empty() -> ElementOrigin:
    return {"location": {}, "technology": {}}


@dataclass(frozen=True)
class Contribution:
    """What one input brings to a pool: its origin and the mass of each element it contributes."""

    origin: Mapping[str, ElementOrigin]
    element_kg: Mapping[str, float]


def extracted(elements: Iterable[str], country: str, technology: str) -> LotOrigin:
    """A freshly mined lot: every element's mining stage done where and as the mine does it."""
    return {
        e: {"location": {"mining": {country: 1.0}}, "technology": {"mining": {technology: 1.0}}}
        for e in elements
    }


def untraced(elements: Iterable[str]) -> LotOrigin:
    """Material with no registry history (untraced scrap, external feed): nothing known."""
    return {e: _empty() for e in elements}


_ALL_UNKNOWN = {UNKNOWN: 1.0}
_ALL_SKIPPED = {NOT_PERFORMED: 1.0}


def at_stage(shares: StageShares, stage: str) -> dict[str, float]:
    """Where ``stage`` was done, also for material that lacks it.

    History traced back to a mine that lacks a stage skipped it; history that does not reach a mine
    (untraced feed, untraced scrap) may have had the stage anywhere: ``unknown``.
    """
    found = shares.get(stage)
    if found is not None:
        return found
    return _ALL_SKIPPED if "mining" in shares else _ALL_UNKNOWN


def _mix(parts: list[tuple[float, StageShares]], total: float) -> StageShares:
    """Weighted mixture of stage shares; a part that lacks a stage others have counts per ``at_stage``."""
    stages = {stage for _, shares in parts for stage in shares}
    mixed: StageShares = {}
    for stage in stages:
        acc: dict[str, float] = {}
        for weight, shares in parts:
            by_country = at_stage(shares, stage)
            for country, share in by_country.items():
                acc[country] = acc.get(country, 0.0) + weight * share / total
        mixed[stage] = acc
    return mixed


def pooled(
    contributions: Iterable[Contribution], untraced_kg: Mapping[str, float] | None = None
) -> LotOrigin:
    """Pool inputs per element, weighted by the element mass each contributes.

    ``untraced_kg`` is element mass entering with no history (it is ``unknown`` at every stage any
    traced input has been through).
    """
    weights: dict[str, list[tuple[float, ElementOrigin]]] = {}
    for contribution in contributions:
        for element, kg in contribution.element_kg.items():
            if kg > 0:
                weights.setdefault(element, []).append((kg, contribution.origin.get(element) or _empty()))
    for element, kg in (untraced_kg or {}).items():
        if kg > 0:
            weights.setdefault(element, []).append((kg, _empty()))
    out: LotOrigin = {}
    for element, parts in weights.items():
        if len(parts) == 1:  # nothing to mix: the single input's history carries over as it is
            out[element] = parts[0][1]
            continue
        total = sum(kg for kg, _ in parts)
        out[element] = {
            "location": _mix([(kg, o["location"]) for kg, o in parts], total),
            "technology": _mix([(kg, o["technology"]) for kg, o in parts], total),
        }
    return out


def performed(origin: Mapping[str, ElementOrigin], stage: str, country: str, technology: str) -> LotOrigin:
    """The same origin with ``stage`` done, for every element, in ``country`` with ``technology``."""
    return {
        e: {
            "location": {**o["location"], stage: {country: 1.0}},
            "technology": {**o["technology"], stage: {technology: 1.0}},
        }
        for e, o in origin.items()
    }


def ordered(origin: Mapping[str, ElementOrigin]) -> LotOrigin:
    """For people: elements alphabetically, stages in chain order, countries by falling share."""
    rank = {stage: i for i, stage in enumerate(STAGE_ORDER)}

    def sort(shares: StageShares) -> StageShares:
        return {
            stage: dict(sorted(shares[stage].items(), key=lambda kv: -kv[1]))
            for stage in sorted(shares, key=lambda s: rank.get(s, len(rank)))
        }

    return {
        e: {"location": sort(o["location"]), "technology": sort(o["technology"])}
        for e, o in sorted(origin.items())
    }
