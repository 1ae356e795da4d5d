"""Origin vectors (DESIGN §4): for each element of a lot, where each stage of its history was performed.

For every element and every stage already performed on it, a lot carries the share of that element's
mass whose stage happened in each country (``location``) and with whose process technology
(``technology``); ``unknown`` holds the share whose history is untraced. A process pools its inputs
per element, weighted by the element mass each input contributes (ISO 22095 controlled blending),
gives the pooled vector to every output, and then records its own stage as done in the facility's
country with the facility's technology. Pure functions over plain values: no I/O.

Marginals lose the pairing of stages as soon as lots are blended: from "half separated in China, half
separated in Japan with Chinese technology" the two marginals alone cannot tell whether the Chinese
technology was used in China or abroad, nor whether the share mined in China is the share separated
there. Rules that ask such questions (MOFCOM 61's technology clause counts Chinese technology only where
a stage was performed outside China; "any of several stages in China" counts each portion of material
once) read the joint history, ``paths``: for each distinct history of an element — every stage with the
place and the technology it was done with — the share of the element's mass that went that way. A path
key is ``CODE=PLACE`` parts (``CODE=PLACE@TECH`` where the technology's country differs from the place)
joined by ``|`` in chain order, with two-letter stage codes (``STAGE_CODES``): ``mi=AU|se=MY@AU|ma=JP``;
``""`` is material with no traced history. Paths mix by mass exactly as marginals do, so a fully traced
lot's figures are exact, and untraced feed is one portion however many stages it then passes through.

Stored form: an element with paths stores only its paths (the marginals are derived from them when a lot
is read, ``with_marginals``), which keeps the append path and the stored vectors small. A lot whose
history reached this registry without paths (an older import) keeps only marginals; rules then fall back
to bounds, and blends with it carry marginals only.

The vectors are plain JSON-shaped dicts — the stored form is the working form — because they are
computed for every lot on the append path, where building and converting objects would cost more
than the arithmetic. Treat them as immutable: functions here return new dicts and share untouched
parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from raretrace.errors import ValidationError

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


#: path key (``mi=AU|se=MY@AU|…``) -> share of the element's mass with that joint history
Paths = dict[str, float]


class ElementOrigin(TypedDict, total=False):
    """One element's history: location and technology shares per stage, and/or the joint paths."""

    location: StageShares
    technology: StageShares
    paths: Paths


#: element symbol -> its origin
LotOrigin = dict[str, ElementOrigin]

#: Two-letter codes of the stages in path keys (stored for every lot: short keys keep vectors small).
STAGE_CODES = {
    "mining": "mi",
    "beneficiation": "be",
    "separation": "se",
    "metallization": "me",
    "magnet": "ma",
    "component": "co",
    "system": "sy",
    "recycling": "re",
}
_CODE_STAGES = {code: stage for stage, code in STAGE_CODES.items()}
_STAGE_RANK = {stage: i for i, stage in enumerate(STAGE_ORDER)}


def _empty() -> ElementOrigin:
    return {"paths": {"": 1.0}}


def path_key(steps: Mapping[str, tuple[str, str]]) -> str:
    """The key of a joint history: ``CODE=PLACE[@TECH]`` parts in chain order."""
    ordered_stages = sorted(steps, key=lambda s: (_STAGE_RANK.get(s, len(_STAGE_RANK)), s))
    parts = []
    for stage in ordered_stages:
        place, technology = steps[stage]
        where = place if technology == place else f"{place}@{technology}"
        parts.append(f"{STAGE_CODES.get(stage, stage)}={where}")
    return "|".join(parts)


@lru_cache(maxsize=1 << 16)
def path_steps(key: str) -> Mapping[str, tuple[str, str]]:
    """stage -> (place, technology) of one joint history (the inverse of ``path_key``).

    Cached: the same histories recur across lots and checks. The mapping is shared; do not change it.
    """
    steps: dict[str, tuple[str, str]] = {}
    if not key:
        return steps
    for part in key.split("|"):
        code, _, where = part.partition("=")
        place, _, technology = where.partition("@")
        steps[_CODE_STAGES.get(code, code)] = (place, technology or place)
    return steps


def step_at(steps: Mapping[str, tuple[str, str]], stage: str) -> tuple[str, str]:
    """(place, technology) of ``stage`` on one path.

    A missing stage was skipped on a path traced to a mine. On an untraced path it may have happened
    before the registry saw the material only if a later stage was recorded: an untraced feed
    separated in Japan may have been mined anywhere, but it has not been made into magnets yet. A path
    with no stage at all (a lot with no history) may have been through any stage.
    """
    found = steps.get(stage)
    if found is not None:
        return found
    if "mining" in steps:
        return NOT_PERFORMED, NOT_PERFORMED
    rank = _STAGE_RANK.get(stage, len(_STAGE_RANK))
    if not steps or any(_STAGE_RANK.get(done, len(_STAGE_RANK)) > rank for done in steps):
        return UNKNOWN, UNKNOWN
    return NOT_PERFORMED, NOT_PERFORMED


def _marginals(paths: Paths) -> tuple[StageShares, StageShares]:
    """Per-stage location and technology shares of a path distribution."""
    parsed = [(path_steps(key), share) for key, share in paths.items()]
    # in chain order, never a set's: the same origin gives the same bytes whatever the hash seed
    stages = sorted(
        {stage for steps, _ in parsed for stage in steps},
        key=lambda s: (_STAGE_RANK.get(s, len(_STAGE_RANK)), s),
    )
    location: StageShares = {}
    technology: StageShares = {}
    for stage in stages:
        where: dict[str, float] = {}
        whose: dict[str, float] = {}
        for steps, share in parsed:
            place, tech = step_at(steps, stage)
            where[place] = where.get(place, 0.0) + share
            whose[tech] = whose.get(tech, 0.0) + share
        location[stage], technology[stage] = where, whose
    return location, technology


def with_marginals(origin: Mapping[str, ElementOrigin]) -> LotOrigin:
    """The origin with per-stage marginals for every element (derived from its paths where stored
    without them): the form people and marginal readers (prices, certificates) use."""
    out: LotOrigin = {}
    for element, o in origin.items():
        if "location" in o and "technology" in o:
            out[element] = o
            continue
        location, technology = _marginals(o.get("paths") or {"": 1.0})
        full: ElementOrigin = {"location": location, "technology": technology}
        if "paths" in o:
            full["paths"] = o["paths"]
        out[element] = full
    return out


def stored_form(origin: Mapping[str, ElementOrigin]) -> LotOrigin:
    """What is stored for a lot: paths alone where an element has them, marginals otherwise."""
    return {e: ({"paths": o["paths"]} if "paths" in o else o) for e, o in origin.items()}


def check_paths(paths: object, where: str) -> Paths:
    """Joint paths read from outside (an imported certificate): well formed, shares summing to one.

    Errors name ``where`` as the field.
    """
    if not isinstance(paths, dict) or not paths:
        raise ValidationError("must be a non-empty table of path -> share", field=where)
    total = 0.0
    for key, share in paths.items():
        if not isinstance(key, str) or (key and path_key(path_steps(key)) != key):
            raise ValidationError(
                f"{key!r} is not a path (CODE=PLACE[@TECH] parts in chain order)", field=where
            )
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValidationError(f"the share of {key!r} must be a number from 0 to 1", field=where)
        total += share
    if abs(total - 1.0) > 1e-6:
        raise ValidationError(f"shares add up to {total:.9g}, not 1", field=where)
    return {k: float(v) for k, v in paths.items()}


@dataclass(frozen=True)
class Contribution:
    """What one input brings to a pool: its origin and the mass of each element it contributes."""

    origin: Mapping[str, ElementOrigin]
    element_kg: Mapping[str, float]


def extracted(elements: Iterable[str], country: str, technology: str) -> LotOrigin:
    """A freshly mined lot: every element's mining stage done where and as the mine does it."""
    key = path_key({"mining": (country, technology)})
    return {e: {"paths": {key: 1.0}} for e in elements}


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
    stages = sorted(
        {stage for _, shares in parts for stage in shares},
        key=lambda s: (_STAGE_RANK.get(s, len(_STAGE_RANK)), s),
    )
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
        if all("paths" in o for _, o in parts):
            paths: Paths = {}
            for kg, o in parts:
                for key, share in o["paths"].items():
                    paths[key] = paths.get(key, 0.0) + kg * share / total
            out[element] = {"paths": paths}
            continue
        # a part without joint history (an older import): marginals only, derived where needed
        full = [(kg, with_marginals({element: o})[element]) for kg, o in parts]
        out[element] = {
            "location": _mix([(kg, o["location"]) for kg, o in full], total),
            "technology": _mix([(kg, o["technology"]) for kg, o in full], total),
        }
    return out


@lru_cache(maxsize=1 << 16)
def _stepped(key: str, stage: str, country: str, technology: str) -> str:
    """The key of history ``key`` followed (or with ``stage`` redone) in ``country`` with ``technology``.

    Cached: every process event re-keys each path of its inputs, and the same histories and facilities
    recur across the registry (on the ingest benchmark this was most of ``performed``'s cost)."""
    steps = dict(path_steps(key))
    steps[stage] = (country, technology)
    return path_key(steps)


def _with_step(paths: Paths, stage: str, country: str, technology: str) -> Paths:
    out: Paths = {}
    for key, share in paths.items():
        new = _stepped(key, stage, country, technology)
        out[new] = out.get(new, 0.0) + share
    return out


def performed(origin: Mapping[str, ElementOrigin], stage: str, country: str, technology: str) -> LotOrigin:
    """The same origin with ``stage`` done, for every element, in ``country`` with ``technology``."""
    out: LotOrigin = {}
    for e, o in origin.items():
        if "paths" in o:
            out[e] = {"paths": _with_step(o["paths"], stage, country, technology)}
        else:
            out[e] = {
                "location": {**o["location"], stage: {country: 1.0}},
                "technology": {**o["technology"], stage: {technology: 1.0}},
            }
    return out


def ordered(origin: Mapping[str, ElementOrigin]) -> LotOrigin:
    """For people: elements alphabetically, marginals with stages in chain order and countries by
    falling share, then the joint paths by falling share."""
    rank = {stage: i for i, stage in enumerate(STAGE_ORDER)}

    def sort(shares: StageShares) -> StageShares:
        return {
            stage: dict(sorted(shares[stage].items(), key=lambda kv: -kv[1]))
            for stage in sorted(shares, key=lambda s: rank.get(s, len(rank)))
        }

    out: LotOrigin = {}
    for e, o in sorted(with_marginals(origin).items()):
        item: ElementOrigin = {"location": sort(o["location"]), "technology": sort(o["technology"])}
        if "paths" in o:
            item["paths"] = dict(sorted(o["paths"].items(), key=lambda kv: (-kv[1], kv[0])))
        out[e] = item
    return out


def untraced_share(origin: ElementOrigin) -> float:
    """Share of an element whose history does not reach a mine (untraced feed or scrap)."""
    if "paths" in origin:
        return sum(share for key, share in origin["paths"].items() if "mining" not in path_steps(key))
    return at_stage(origin["location"], "mining").get(UNKNOWN, 0.0)
