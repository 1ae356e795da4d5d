"""What each stage of the demo world makes from what it takes: compositions and masses, pure.

Every output holds no more of any rare earth, and no more mass, than its inputs and additions (the
registry rejects anything else), so each step keeps a recovery below one and rounds compositions down.
The recoveries and recipes below are illustrative process figures, typical of the industry and not
measured: they shape masses, not the stage shares by country, which come from the routes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raretrace.elements import REE_SYMBOLS, element_to_oxide, oxide_to_element

#: Elements of each separated product (the streams separators make).
PRODUCT_ELEMENTS: Mapping[str, tuple[str, ...]] = {
    "NdPr": ("Nd", "Pr"),
    "LaCe": ("La", "Ce"),
    "Sm": ("Sm",),
    "Dy": ("Dy",),
    "Tb": ("Tb",),
}
BENEFICIATION_RECOVERY = 0.75  # illustrative: share of the ore's rare earths reaching the concentrate
CRACKING_RECOVERY = 0.95  # illustrative: Kalgoorlie's concentrate to mixed carbonate
SEPARATION_RECOVERY = 0.95  # illustrative
METAL_RECOVERY = 0.97  # illustrative
METAL_PURITY = 0.995  # illustrative: the rest is unnamed impurities
MIXED_GRADE = 0.6  # illustrative: rare-earth element mass fraction of Kalgoorlie's mixed carbonate
MAGNET_YIELD = 0.97  # illustrative: sintering and machining losses
MAGNET_TOTAL_IN = 1.03  # illustrative: mass charged per kg of magnet made
#: Illustrative NdFeB recipes (element mass fractions): a standard grade, and a high-coercivity grade
#: for traction motors and defence with Dy (and Tb where the maker has it) replacing some NdPr.
NDFEB_NDPR = 0.30
NDFEB_HIGH_NDPR, NDFEB_HIGH_DY, NDFEB_HIGH_TB = 0.27, 0.03, 0.005
NDFEB_BORON = 0.01
FERROBORON_B = 0.18
#: Illustrative Sm2Co17-type SmCo: element mass fractions of what is added to the samarium.
SMCO_SM = 0.25
SMCO_ADDITIONS = {"Co": 0.50, "Fe": 0.15, "Cu": 0.07}


def floor7(x: float) -> float:
    """Round down to 7 decimals: a rounded-up fraction could push an element past what went in."""
    return math.floor(x * 1e7) / 1e7


def midpoint(value: Any) -> float:
    """A library figure as one number: ranges ``[low, high]`` give their midpoint."""
    if isinstance(value, list):
        return (float(value[0]) + float(value[1])) / 2
    return float(value)


def reo_pattern_fractions(distribution: Mapping[str, Any], grade: float) -> dict[str, float]:
    """Element mass fractions of material holding ``grade`` REO (mass fraction) with the given
    distribution (% of TREO, oxide basis, as the fingerprint library gives it)."""
    pct = {e: midpoint(v) for e, v in distribution.items() if e in REE_SYMBOLS}
    total = sum(pct.values())
    return {e: floor7(grade * p / total * oxide_to_element(e, 1.0)) for e, p in sorted(pct.items())}


@dataclass(frozen=True)
class Made:
    """An output: mass (kg) and composition (element mass fractions)."""

    mass_kg: float
    composition: dict[str, float]


def element_kg(items: Iterable[tuple[float, Mapping[str, float]]]) -> dict[str, float]:
    """Pooled kg of each component in (kg, composition) pairs."""
    out: dict[str, float] = {}
    for kg, comp in items:
        for element, fraction in comp.items():
            out[element] = out.get(element, 0.0) + kg * fraction
    return out


def ree_kg(composition: Mapping[str, float], mass_kg: float) -> float:
    return mass_kg * sum(f for e, f in composition.items() if e in REE_SYMBOLS)


def from_element_kg(kg: Mapping[str, float], mass_kg: float) -> Made:
    return Made(
        math.floor(mass_kg * 10) / 10, {e: floor7(m / mass_kg) for e, m in sorted(kg.items()) if m > 0}
    )


def concentrate(ore_mass_kg: float, ore: Mapping[str, float], grade: float) -> Made:
    """Beneficiation: the ore's rare earths, less losses, at the concentrate's REO grade."""
    kept = {e: f * ore_mass_kg * BENEFICIATION_RECOVERY for e, f in ore.items() if e in REE_SYMBOLS}
    reo = sum(element_to_oxide(e, m) for e, m in kept.items())
    return from_element_kg(kept, reo / grade)


def cracked(pooled: Mapping[str, float]) -> Made:
    """Cracking and leaching (Lynas Kalgoorlie): mixed rare-earth carbonate."""
    kept = {e: m * CRACKING_RECOVERY for e, m in pooled.items() if e in REE_SYMBOLS}
    return from_element_kg(kept, sum(kept.values()) / MIXED_GRADE)


def separated(pooled: Mapping[str, float], products: Iterable[str], min_kg: float = 1.0) -> dict[str, Made]:
    """Solvent extraction: one oxide per product the plant makes (skipped when the feed lacks it)."""
    out: dict[str, Made] = {}
    for product in products:
        kept = {e: pooled.get(e, 0.0) * SEPARATION_RECOVERY for e in PRODUCT_ELEMENTS[product]}
        if sum(kept.values()) < min_kg:
            continue
        oxide = sum(element_to_oxide(e, m) for e, m in kept.items())
        out[product] = from_element_kg(kept, oxide)
    return out


def metal(pooled: Mapping[str, float]) -> Made:
    """Reduction of an oxide to metal."""
    kept = {e: m * METAL_RECOVERY for e, m in pooled.items() if e in REE_SYMBOLS}
    return from_element_kg(kept, sum(kept.values()) / METAL_PURITY)


def ndfeb_plan(ndpr_kg: float, high_coercivity: bool) -> tuple[float, float, float]:
    """(magnet mass, Dy kg wanted, Tb kg wanted) for the NdPr (element kg) charged."""
    ndpr_share = NDFEB_HIGH_NDPR if high_coercivity else NDFEB_NDPR
    mass = ndpr_kg * MAGNET_YIELD / ndpr_share
    if not high_coercivity:
        return mass, 0.0, 0.0
    return mass, mass * NDFEB_HIGH_DY / MAGNET_YIELD, mass * NDFEB_HIGH_TB / MAGNET_YIELD


def ndfeb(
    charged: Mapping[str, float], charged_mass_kg: float, magnet_mass_kg: float
) -> tuple[list[dict[str, Any]], Made]:
    """Sintered NdFeB from the rare-earth metals charged (pooled kg, their total mass): the iron and
    ferroboron to add, and the magnet (rare earths and boron at the yield, iron the balance)."""
    ferroboron = magnet_mass_kg * NDFEB_BORON / FERROBORON_B
    iron = max(0.0, magnet_mass_kg * MAGNET_TOTAL_IN - charged_mass_kg - ferroboron)
    additions = [
        {"material": "electrolytic iron", "mass_kg": round(iron, 1), "composition": {"Fe": 1.0}},
        {
            "material": "ferroboron",
            "mass_kg": round(ferroboron, 1),
            "composition": {"B": FERROBORON_B, "Fe": 1 - FERROBORON_B},
        },
    ]
    kg = {e: m * MAGNET_YIELD for e, m in charged.items() if e in REE_SYMBOLS}
    kg["B"] = ferroboron * FERROBORON_B * MAGNET_YIELD
    kg["Fe"] = (iron + ferroboron * (1 - FERROBORON_B)) * MAGNET_YIELD
    return additions, from_element_kg(kg, magnet_mass_kg)


def smco(sm_kg: float) -> tuple[list[dict[str, Any]], Made]:
    """Sm2Co17-type SmCo from the samarium charged: cobalt, iron and copper added."""
    mass = sm_kg * MAGNET_YIELD / SMCO_SM
    additions = [
        {
            "material": f"{el} metal",
            "mass_kg": round(mass * share / MAGNET_YIELD, 1),
            "composition": {el: 1.0},
        }
        for el, share in SMCO_ADDITIONS.items()
    ]
    kg = {"Sm": sm_kg * MAGNET_YIELD, **{e: mass * s for e, s in SMCO_ADDITIONS.items()}}
    return additions, from_element_kg(kg, mass)


def assembled(charged: Mapping[str, float], mass_kg: float) -> Made:
    """A component or system: the rare earths of what went in (no loss), in the assembly's mass."""
    return from_element_kg({e: m for e, m in charged.items() if e in REE_SYMBOLS}, mass_kg)


def split(made: Made, parts: list[float]) -> list[Made]:
    """One output in several lots of the same composition, masses in the given proportions."""
    total = sum(parts)
    return [Made(math.floor(made.mass_kg * p / total * 10) / 10, made.composition) for p in parts]
