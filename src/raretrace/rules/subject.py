"""What a regime judges (a ``Subject``) and the share figures rules compute over it.

A subject is one lot, or several lots taken as one item (a shipment, a product's bill of material):
its rare-earth masses, its origin vector, its declared value and where it was made and is held.
The service layer builds subjects from the registry; rules only read them, so they stay pure.

Origin vectors are marginal per stage: they say what share of an element was separated in China and
what share was mined in China, not how the two overlap. A share "at any of several stages" is therefore
known only within bounds: at least the largest stage's share, at most the sum (and at most 1). Material
of untraced history (``unknown``) counts towards the upper bound only. Rules decide on the bounds and say
"insufficient data" when the threshold falls between them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from raretrace.pricing import PriceTable
from raretrace.provenance import NOT_PERFORMED, UNKNOWN, LotOrigin, at_stage
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

    def stages(self, aspect: str = "location") -> set[str]:
        """Stages in the subject's history, and always mining: material whose history does not reach
        a mine has an unknown mining stage, not none."""
        return {"mining"} | {s for o in self.origin.values() for s in o[aspect]}  # type: ignore[literal-required]

    def performed(self, stage: str) -> bool:
        """Some of the subject's rare earths went through ``stage`` (somewhere, by someone)."""
        return any(
            any(c != NOT_PERFORMED for c in o["location"].get(stage, {})) for o in self.origin.values()
        )


@dataclass(frozen=True)
class Context:
    """When and for what the subject is judged."""

    as_of: date
    end_use: str | None = None
    prices: PriceTable = field(default_factory=PriceTable.load)


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
) -> ShareFigure:
    """Share of the subject (by mass or value, of the chosen elements or of the whole item) whose
    ``stages`` were done in ``countries`` (``aspect="technology"``: with their technology)."""
    wanted = set(countries)
    gaps: list[str] = []
    evidence: list[Evidence] = []
    num_lo = num_hi = 0.0
    weight_total = 0.0
    for element in select_elements(subject, elements):
        kg = subject.element_kg[element]
        weight: float | None = kg
        if basis == "value":
            price = prices.prices.get(element) if prices else None
            weight = kg * price.usd_per_kg_element if price else None
        origin = subject.origin.get(element)
        history = origin[aspect] if origin else {}  # type: ignore[literal-required]
        lo = hi = 0.0
        for stage in _stage_list(subject, stages, aspect):
            shares = at_stage(history, stage)
            if not wanted:  # no countries named: the elements' content, wherever they come from
                lo = hi = 1.0
                break
            inside = sum(v for c, v in shares.items() if c in wanted)
            unknown = shares.get(UNKNOWN, 0.0)
            lo = max(lo, inside)
            hi += inside + unknown
            for country in sorted(wanted & shares.keys()):
                if shares[country] > 0:
                    evidence.append(Evidence(subject.lots, shares[country], element, stage, country))
            if unknown > 0:
                evidence.append(Evidence(subject.lots, unknown, element, stage, UNKNOWN, "history untraced"))
                gaps.append(f"{element} {stage}: {unknown:.4g} of its mass has untraced history")
        hi = min(1.0, hi)
        if weight is None:
            if hi > 0:
                gaps.append(f"{element} has no price in the price table: its value share cannot be bounded")
                num_hi = UNBOUNDED
            continue
        weight_total += weight
        num_lo += weight * lo
        num_hi += weight * hi
    unit = "USD" if basis == "value" else "kg"
    denominator: float | None = weight_total
    if of == "item":
        denominator = subject.mass_kg if basis == "mass" else subject.declared_value_usd
        if denominator is None:
            gaps.append(subject.value_note or "the item has no declared value")
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
