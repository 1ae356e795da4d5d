"""What a regime judges (a ``Subject``) and the share figures rules compute over it.

A subject is one lot, or several lots taken as one item (a shipment, a product's bill of material):
its rare-earth masses, its origin vector, its declared value and where it was made and is held.
The service layer builds subjects from the registry; rules only read them, so they stay pure.

Origin vectors carry each element's joint paths (provenance.py): every portion's whole history, stage
by stage, with the place and the technology. A share "at any of several stages in China" is then exact
for traced material: each portion counts once, whichever stages it passed in China. Untraced history
(``unknown``) counts towards the upper bound only, and once per portion however many stages it missed.
Only a lot whose history arrived without paths (an older certificate) falls back to the marginals, where
the share is known within bounds: at least the largest stage's share, at most the sum (and at most 1).
Rules decide on the bounds and say "insufficient data" when the threshold falls between them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from raretrace.pricing import PriceTable
from raretrace.provenance import (
    NOT_PERFORMED,
    UNKNOWN,
    ElementOrigin,
    LotOrigin,
    StageShares,
    at_stage,
    path_steps,
    step_at,
    with_marginals,
)
from raretrace.rules.verdict import Evidence

#: Upper bound of a share that cannot be bounded (unpriced material, no declared value).
UNBOUNDED = math.inf


@dataclass(frozen=True)
class RawMaterial:
    """An ore or concentrate lot upstream of the subject, and what its assays say of its origin."""

    lot: str
    form: str
    #: ``consistent``, ``inconsistent``, ``indeterminate`` (the assay cannot tell) or ``unassayed``
    fingerprint: str


@dataclass(frozen=True)
class Subject:
    lots: tuple[str, ...]
    forms: frozenset[str]
    mass_kg: float
    element_kg: Mapping[str, float]
    origin: LotOrigin
    #: The item's value in USD, or None with the reason in ``value_note``.
    declared_value_usd: float | None = None
    value_note: str | None = None
    made_in: frozenset[str] = frozenset()
    held_in: frozenset[str] = frozenset()
    raw_materials: tuple[RawMaterial, ...] = ()
    #: Mass of finished magnets inside the item (the item itself if it is a magnet), None if unknown:
    #: DFARS's COTS exception turns on the covered material's share of the item's weight.
    magnet_kg: float | None = None

    def stages(self, aspect: str = "location") -> set[str]:
        """Stages in the subject's history, and always mining: material whose history does not reach
        a mine has an unknown mining stage, not none."""
        origin = with_marginals(self.origin)
        keyed: list[StageShares] = [
            o["location"] if aspect == "location" else o["technology"] for o in origin.values()
        ]
        return {"mining"} | {s for shares in keyed for s in shares}

    def performed(self, stage: str) -> bool:
        """Some of the subject's rare earths went through ``stage`` (somewhere, by someone)."""
        return any(any(c != NOT_PERFORMED for c in stage_shares(o, stage)) for o in self.origin.values())


@dataclass(frozen=True)
class Context:
    """When and for what the subject is judged."""

    as_of: date
    end_use: str | None = None
    prices: PriceTable = field(default_factory=PriceTable.load)
    #: Facts the user asserts that no record can show (``waiver``, ``cots``, ``electronic-device``…).
    assertions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ShareFigure:
    """A share with its bounds, and the figures and evidence behind them."""

    lower: float
    upper: float
    numerator_lower: float
    numerator_upper: float
    denominator: float | None
    unit: str
    evidence: tuple[Evidence, ...]
    gaps: tuple[str, ...]  # why the bounds are apart (untraced shares, unpriced elements, no value)

    def figures(self) -> dict[str, object]:
        return {
            "share_lower": self.lower,
            "share_upper": None if math.isinf(self.upper) else self.upper,
            "numerator_lower": self.numerator_lower,
            "denominator": self.denominator,
            "unit": self.unit,
        }


def stage_shares(origin: ElementOrigin | None, stage: str, aspect: str = "location") -> dict[str, float]:
    """Where (or with whose technology) ``stage`` was done, by share of the element's mass.

    From the joint paths when the history has them (an untraced portion is ``unknown`` only for stages
    before the first one recorded); from the marginals otherwise."""
    if origin is None:
        return {UNKNOWN: 1.0}
    if "paths" not in origin:
        return at_stage(origin[aspect], stage)  # type: ignore[literal-required]  # aspect is a Literal of the two keys
    column = 0 if aspect == "location" else 1
    out: dict[str, float] = {}
    for key, share in origin["paths"].items():
        country = step_at(path_steps(key), stage)[column]
        out[country] = out.get(country, 0.0) + share
    return out


def select_elements(subject: Subject, elements: Sequence[str]) -> list[str]:
    """The subject's rare earths among ``elements`` (``*`` = all of them)."""
    present = [e for e, kg in subject.element_kg.items() if kg > 0]
    if "*" in elements:
        return sorted(present)
    return sorted(e for e in present if e in elements)


def _stage_list(subject: Subject, stages: Sequence[str], aspect: str) -> list[str]:
    return sorted(subject.stages(aspect)) if "*" in stages else list(stages)


def share_at_stages(
    subject: Subject,
    *,
    elements: Sequence[str],
    stages: Sequence[str],
    countries: Iterable[str],
    aspect: str = "location",
    basis: str = "mass",
    of: str = "elements",
    prices: PriceTable | None = None,
    performed_outside: Iterable[str] = (),
) -> ShareFigure:
    """Share of the subject (by mass or value, of the chosen elements or of the whole item) whose
    ``stages`` were done in ``countries`` (``aspect="technology"``: with their technology).

    ``performed_outside``: with the technology aspect, a stage counts only where it was performed
    outside these countries (MOFCOM 61 clause (2): Chinese technology used abroad; Chinese technology
    used in China makes Chinese-origin content, which clause (1) judges by value).
    """
    wanted = frozenset(countries)
    outside = frozenset(performed_outside)
    gaps: list[str] = []
    evidence: list[Evidence] = []
    question: _Question | None = None  # made for the first element: listing the stages walks the origin
    num_lo = num_hi = 0.0
    weight_total = 0.0
    for element in select_elements(subject, elements):
        if question is None:
            stage_list = _stage_list(subject, stages, aspect)
            question = _Question(stage_list, wanted, aspect, outside, subject.lots, evidence, gaps)
        kg = subject.element_kg[element]
        weight: float | None = kg
        if basis == "value":
            price = prices.prices.get(element) if prices else None
            weight = kg * price.usd_per_kg_element if price else None
        lo, hi = _element_share(subject.origin.get(element), element, question)
        if weight is None:
            if hi > 0:
                gaps.append(f"{element} has no price in the price table: its value share cannot be bounded")
                num_hi = UNBOUNDED
            continue
        weight_total += weight
        num_lo += weight * lo
        num_hi += weight * hi
    denominator = weight_total if of != "item" else _item_denominator(subject, basis, gaps)
    return _share_figure(num_lo, num_hi, denominator, "USD" if basis == "value" else "kg", of, evidence, gaps)


def _element_share(origin: ElementOrigin | None, element: str, question: _Question) -> tuple[float, float]:
    """Bounds on the share of ``element`` that answers ``question`` (joint paths when the origin has
    them, else the stages' marginals); all of it when no countries are named."""
    if not question.wanted:  # no countries named: the elements' content, wherever they come from
        return 1.0, 1.0
    if origin is not None and "paths" in origin:
        return _joint_share(origin, element, question)
    return _marginal_share(origin, element, question)


def _item_denominator(subject: Subject, basis: str, gaps: list[str]) -> float | None:
    """The whole item's mass or declared value (None, with a gap noted, when it declares no value)."""
    denominator = subject.mass_kg if basis == "mass" else subject.declared_value_usd
    if denominator is None:
        gaps.append(subject.value_note or "the item has no declared value")
    return denominator


def _share_figure(
    num_lo: float,
    num_hi: float,
    denominator: float | None,
    unit: str,
    of: str,
    evidence: list[Evidence],
    gaps: list[str],
) -> ShareFigure:
    """The share's bounds from the numerator's bounds; unbounded above when there is no denominator
    but some content may count."""
    if not denominator:
        if num_hi == 0:
            return ShareFigure(0.0, 0.0, 0.0, 0.0, denominator, unit, tuple(evidence), tuple(gaps))
        return ShareFigure(0.0, UNBOUNDED, num_lo, num_hi, denominator, unit, tuple(evidence), tuple(gaps))
    return ShareFigure(
        num_lo / denominator,
        min(1.0, num_hi / denominator) if of == "elements" else num_hi / denominator,
        num_lo,
        num_hi,
        denominator,
        unit,
        tuple(evidence),
        tuple(gaps),
    )


def _stage_hit(
    place: str, technology: str, aspect: str, wanted: frozenset[str], outside: frozenset[str]
) -> tuple[bool, bool]:
    """(certainly, possibly) one stage of one portion counts."""
    if place == NOT_PERFORMED:
        return False, False
    if aspect == "location":
        return place in wanted, place in wanted or place == UNKNOWN
    abroad_known = place != UNKNOWN and place not in outside
    abroad_possible = place == UNKNOWN or place not in outside
    return (
        technology in wanted and abroad_known,
        (technology in wanted or technology == UNKNOWN) and abroad_possible,
    )


@dataclass(frozen=True)
class _Question:
    """What one share asks of an element's history, and where its evidence and gaps go."""

    stages: Sequence[str]
    wanted: frozenset[str]
    aspect: str
    outside: frozenset[str]
    lots: tuple[str, ...]
    evidence: list[Evidence]
    gaps: list[str]


def _joint_share(origin: ElementOrigin, element: str, q: _Question) -> tuple[float, float]:
    """Exact share from the joint paths: each portion counts once, certain or only possible."""
    lo = hi = 0.0
    untraced = 0.0
    hits: dict[tuple[str, str, str], float] = {}  # (stage, place, technology) -> share, for evidence
    for key, share in origin["paths"].items():
        if share <= 0:
            continue
        steps = path_steps(key)
        certain = possible = False
        for stage in q.stages:
            place, technology = step_at(steps, stage)
            yes, maybe = _stage_hit(place, technology, q.aspect, q.wanted, q.outside)
            if yes:
                hits[(stage, place, technology)] = hits.get((stage, place, technology), 0.0) + share
            certain, possible = certain or yes, possible or maybe
        if certain:
            lo += share
            hi += share
        elif possible:
            hi += share
            untraced += share
    for (stage, place, technology), share in sorted(hits.items()):
        country = technology if q.aspect == "technology" else place
        note = f"{technology} technology used in {place}" if q.aspect == "technology" else None
        q.evidence.append(Evidence(q.lots, share, element, stage, country, note))
    if untraced > 0:
        q.evidence.append(Evidence(q.lots, untraced, element, None, UNKNOWN, "history untraced"))
        q.gaps.append(f"{element}: {untraced:.4g} of its mass has untraced history at the stages checked")
    return min(1.0, lo), min(1.0, hi)


def _marginal_share(origin: ElementOrigin | None, element: str, q: _Question) -> tuple[float, float]:
    """Bounds from per-stage marginals only (history without joint paths)."""
    history = origin[q.aspect] if origin else {}  # type: ignore[literal-required]  # aspect is a Literal of the two keys
    places = origin["location"] if origin else {}
    lo = hi = 0.0
    for stage in q.stages:
        shares = at_stage(history, stage)
        inside = sum(v for c, v in shares.items() if c in q.wanted)
        unknown = shares.get(UNKNOWN, 0.0)
        if q.aspect == "technology" and q.outside:
            # Fréchet bounds on "wanted technology AND performed outside": the pairing is lost.
            where = at_stage(places, stage)
            in_excluded = sum(v for c, v in where.items() if c in q.outside)
            place_unknown = where.get(UNKNOWN, 0.0)
            lo = max(lo, inside - in_excluded - place_unknown)
            hi += min(inside + unknown, 1.0 - in_excluded)
        else:
            lo = max(lo, inside)
            hi += inside + unknown
        for country in sorted(q.wanted & shares.keys()):
            if shares[country] > 0:
                q.evidence.append(Evidence(q.lots, shares[country], element, stage, country))
        if unknown > 0:
            q.evidence.append(Evidence(q.lots, unknown, element, stage, UNKNOWN, "history untraced"))
            q.gaps.append(f"{element} {stage}: {unknown:.4g} of its mass has untraced history")
    return max(0.0, lo), min(1.0, max(0.0, hi))
