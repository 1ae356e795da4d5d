"""The rare-earth elements as raretrace uses them everywhere: symbols, weights, oxides, groups, parsing.

Atomic weights are the IUPAC 2021 abridged standard atomic weights (CIAAW, "Standard atomic weights of
the elements 2021", Pure Appl. Chem. 94 (2022) 573). Promethium has no stable isotope and so no standard
atomic weight: it is not traded, is left out of ``TRADED`` and of every group, and has no oxide factor.

Oxide -> element mass factors are computed from those weights and the oxide stoichiometry, never typed
in, so a factor cannot disagree with its weights (Nd2O3 -> 2 x 144.24 / (2 x 144.24 + 3 x 15.999) = 0.857).

Chondrite normalization is not here (see the geochemistry module, which uses pyrolite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Final

from raretrace.errors import ValidationError

#: IUPAC 2021 abridged standard atomic weight of oxygen (the interval [15.99903, 15.99977] abridged).
OXYGEN_WEIGHT: Final = 15.999

#: The literal a composition uses for everything it does not name.
OTHER: Final = "other"


class Element(StrEnum):
    """A rare-earth element; the value is its symbol. ``.name`` is also the symbol (an Enum rule), so the
    English name is ``english_name``."""

    Sc = "Sc"
    Y = "Y"
    La = "La"
    Ce = "Ce"
    Pr = "Pr"
    Nd = "Nd"
    Pm = "Pm"
    Sm = "Sm"
    Eu = "Eu"
    Gd = "Gd"
    Tb = "Tb"
    Dy = "Dy"
    Ho = "Ho"
    Er = "Er"
    Tm = "Tm"
    Yb = "Yb"
    Lu = "Lu"

    @property
    def atomic_number(self) -> int:
        return _DATA[self].atomic_number

    @property
    def english_name(self) -> str:
        return _DATA[self].english_name

    @property
    def atomic_weight(self) -> float | None:
        """IUPAC 2021 abridged standard atomic weight; ``None`` for Pm, which has none."""
        return _DATA[self].atomic_weight

    @property
    def oxide(self) -> tuple[int, int]:
        """The usual traded oxide as (metal atoms, oxygen atoms), e.g. (2, 3) for Nd2O3."""
        return _DATA[self].oxide

    @property
    def traded(self) -> bool:
        return _DATA[self].atomic_weight is not None


@dataclass(frozen=True)
class _Data:
    atomic_number: int
    english_name: str
    atomic_weight: float | None
    oxide: tuple[int, int]


_RE2O3: Final = (2, 3)
_DATA: Final = MappingProxyType(
    {
        Element.Sc: _Data(21, "scandium", 44.956, _RE2O3),
        Element.Y: _Data(39, "yttrium", 88.906, _RE2O3),
        Element.La: _Data(57, "lanthanum", 138.91, _RE2O3),
        Element.Ce: _Data(58, "cerium", 140.12, (1, 2)),  # CeO2
        Element.Pr: _Data(59, "praseodymium", 140.91, (6, 11)),  # Pr6O11
        Element.Nd: _Data(60, "neodymium", 144.24, _RE2O3),
        Element.Pm: _Data(61, "promethium", None, _RE2O3),  # no stable isotope, not traded
        Element.Sm: _Data(62, "samarium", 150.36, _RE2O3),
        Element.Eu: _Data(63, "europium", 151.96, _RE2O3),
        Element.Gd: _Data(64, "gadolinium", 157.25, _RE2O3),
        Element.Tb: _Data(65, "terbium", 158.93, (4, 7)),  # Tb4O7
        Element.Dy: _Data(66, "dysprosium", 162.50, _RE2O3),
        Element.Ho: _Data(67, "holmium", 164.93, _RE2O3),
        Element.Er: _Data(68, "erbium", 167.26, _RE2O3),
        Element.Tm: _Data(69, "thulium", 168.93, _RE2O3),
        Element.Yb: _Data(70, "ytterbium", 173.05, _RE2O3),
        Element.Lu: _Data(71, "lutetium", 174.97, _RE2O3),
    }
)

#: The 16 elements that are mined and traded, in atomic-number order (every element but Pm).
TRADED: Final[tuple[Element, ...]] = tuple(e for e in Element if e.traded)

#: The traded elements' symbols in atomic-number order, and as a set: the one definition of "a rare earth"
#: for compositions (every other module imports these).
TRADED_SYMBOLS: Final[tuple[str, ...]] = tuple(e.value for e in TRADED)
REE_SYMBOLS: Final[frozenset[str]] = frozenset(TRADED_SYMBOLS)

# --- Groups (traded elements only; Pm would chemically sit with the light group) ------------------------
#
# Definitions differ between sources, so each set names its convention:
# * Two-group "cerium group / yttrium group" split (LREE, HREE): light La-Eu, heavy Gd-Lu plus Y, Sc in
#   neither (e.g. Barker & Pilbeam, Handbook of Plant Nutrition, ch. "Lanthanides"; Jha, Rare Earth
#   Materials, 2014). The USGS (Cordier, "Mineral Resource of the Month: Rare Earth Elements", 2018) draws
#   the line one element later instead: light La-Gd, heavy Tb-Lu plus Y.
# * Three-group split (MREE): Sm, Eu and Gd form a "medium" group, light is then La-Nd and heavy Tb-Lu
#   plus Y (LREE - MREE and HREE - MREE). MOFCOM No. 18's "medium and heavy rare earths" presumes it.
#   MREE therefore overlaps LREE and HREE on purpose; never add the three together.

#: Light REE, two-group convention: La, Ce, Pr, Nd, Sm, Eu.
LREE: Final = frozenset({Element.La, Element.Ce, Element.Pr, Element.Nd, Element.Sm, Element.Eu})
#: Heavy REE, two-group convention: Gd, Tb, Dy, Ho, Er, Tm, Yb, Lu and Y.
HREE: Final = frozenset(
    {
        Element.Gd,
        Element.Tb,
        Element.Dy,
        Element.Ho,
        Element.Er,
        Element.Tm,
        Element.Yb,
        Element.Lu,
        Element.Y,
    }
)
#: Medium REE, three-group convention: Sm, Eu, Gd.
MREE: Final = frozenset({Element.Sm, Element.Eu, Element.Gd})

#: MOFCOM Announcement No. 18 of 2025 (2025-04-04, in force on publication): 7 medium and heavy rare
#: earths under export control (control codes 1C902-1C908). Not suspended by No. 70.
MOFCOM_18_2025: Final = frozenset(
    {Element.Sm, Element.Gd, Element.Tb, Element.Dy, Element.Lu, Element.Sc, Element.Y}
)
#: MOFCOM Announcement No. 57 of 2025 (2025-10-09): 5 more. Suspended by No. 70 (2025-11-07) until
#: 2026-11-10; whether a regime applies it on a date is regime data, not this set.
MOFCOM_57_2025: Final = frozenset({Element.Ho, Element.Er, Element.Tm, Element.Eu, Element.Yb})
#: The 12 of 17 rare earths China controls under Nos. 18 and 57 (2025).
CHINA_CONTROLLED: Final = MOFCOM_18_2025 | MOFCOM_57_2025
#: Rare earths of permanent magnets: NdFeB (Pr, Nd, with Dy and Tb for coercivity) and SmCo (Sm).
#: Gd and Ho are sometimes used as partial substitutes in NdFeB and are deliberately not included.
MAGNET_ELEMENTS: Final = frozenset({Element.Pr, Element.Nd, Element.Dy, Element.Tb, Element.Sm})

# --- Non-REE components a composition may name ------------------------------------------------------------

_NON_REE_NAMES: Final = MappingProxyType(
    {
        "iron": "Fe", "boron": "B", "cobalt": "Co", "copper": "Cu", "aluminium": "Al", "aluminum": "Al",
        "gallium": "Ga", "niobium": "Nb", "zirconium": "Zr", "nickel": "Ni", "titanium": "Ti",
        "silicon": "Si", "calcium": "Ca", "magnesium": "Mg", "manganese": "Mn", "thorium": "Th",
        "uranium": "U", "oxygen": "O", "carbon": "C", "fluorine": "F", "phosphorus": "P", "barium": "Ba",
        "strontium": "Sr", "lead": "Pb", "zinc": "Zn", "tantalum": "Ta",
    }
)  # fmt: skip
#: Non-REE components (magnet alloying additions, ore gangue, radionuclides, O/C/F/P; Nb and Ta for the ore's
#: Nb/Ta, ``fingerprint.trace_ratios``) by symbol.
NON_REE_COMPONENTS: Final = frozenset(_NON_REE_NAMES.values())


@cache
def _element_table() -> dict[str, Element]:
    table = {e.value.lower(): e for e in Element}
    table.update({e.english_name: e for e in Element})
    return table


@cache
def _non_ree_table() -> dict[str, str]:
    table = {symbol.lower(): symbol for symbol in NON_REE_COMPONENTS}
    table.update(_NON_REE_NAMES)
    return table


def _valid_symbols() -> str:
    return ", ".join(e.value for e in Element)


def parse_element(text: str) -> Element:
    """The element named by ``text``: a symbol or English name in any case ("nd", "ND", "Neodymium")."""
    if not isinstance(text, str):
        raise ValidationError(
            f"expected an element symbol or name as text, got {text!r}; valid symbols: {_valid_symbols()}",
            field="element",
        )
    element = _element_table().get(text.strip().lower())
    if element is None:
        raise ValidationError(
            f"unknown rare-earth element {text!r}; valid symbols: {_valid_symbols()}", field="element"
        )
    return element


def parse_component(text: str) -> str:
    """The canonical symbol of a composition component: a traded rare earth ("Nd"), a non-REE component
    ("Fe", also by name: "iron") or ``"other"``. Pm is refused: it is not traded, so no composition holds it.
    """
    if not isinstance(text, str):
        raise ValidationError(f"expected a component symbol as text, got {text!r}", field="component")
    key = text.strip().lower()
    if key == OTHER:
        return OTHER
    element = _element_table().get(key)
    if element is not None:
        if not element.traded:
            raise ValidationError(
                f"{text!r} ({element.english_name}) is not traded and cannot be a composition component",
                field="component",
            )
        return element.value
    symbol = _non_ree_table().get(key)
    if symbol is not None:
        return symbol
    raise ValidationError(
        f"unknown component {text!r}; expected a rare earth ({', '.join(e.value for e in TRADED)}), "
        f"a non-REE component ({', '.join(sorted(NON_REE_COMPONENTS))}) or {OTHER!r}",
        field="component",
    )


def oxide_formula(symbol: str) -> str:
    """The usual traded oxide of an element, e.g. "Nd2O3", "CeO2", "Pr6O11", "Tb4O7"."""
    element = parse_element(symbol)
    metal, oxygen = element.oxide
    return f"{element.value}{metal if metal > 1 else ''}O{oxygen}"


@cache
def _factor(element: Element) -> float:
    weight = element.atomic_weight
    if weight is None:
        raise ValidationError(
            f"{element.value} ({element.english_name}) has no standard atomic weight and no oxide factor",
            field="element",
        )
    metal, oxygen = element.oxide
    metal_mass = metal * weight
    return metal_mass / (metal_mass + oxygen * OXYGEN_WEIGHT)


def oxide_factor(symbol: str) -> float:
    """Mass of element per unit mass of its usual oxide (Nd2O3 -> 0.857), from atomic weights."""
    return _factor(parse_element(symbol))


def _mass(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"a mass must be a number, got {value!r}", field=field)
    if not math.isfinite(value) or value < 0:
        raise ValidationError(f"a mass must be finite and >= 0, got {value!r}", field=field)
    return float(value)


def oxide_to_element(symbol: str, oxide_mass: float) -> float:
    """The mass of element held in ``oxide_mass`` of its usual oxide (any mass unit, kept as given)."""
    return _mass(oxide_mass, "oxide_mass") * oxide_factor(symbol)


def element_to_oxide(symbol: str, element_mass: float) -> float:
    """The mass of the usual oxide that holds ``element_mass`` of the element (any mass unit)."""
    return _mass(element_mass, "element_mass") / oxide_factor(symbol)
