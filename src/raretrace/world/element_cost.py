"""Element-true economics: a platform's rare earths priced element by element, each on its own basis.

``element_costs.json`` gives the magnet composition, element prices (oxide quotes), the allied price
ratio per element, the magnet-stage premium, same-day oxide/metal/alloy quotes and the observed crisis
multipliers. For a platform whose published content is ``M`` kg of "rare earth materials":

    reading "magnet":   element kg e = M x fraction of magnet e                 (M is NdFeB mass)
    reading "element":  element kg e = M x fraction e / sum of the fractions    (M is rare-earth mass)
    oxide kg e          = element kg e / oxide factor (Nd2O3 for Nd+Pr, Dy2O3, Tb4O7)
    value at China prices          = sum_e oxide kg e x oxide price e
    allied premium                 = sum_e oxide kg e x oxide price e x (ratio e - 1)
                                     (+ magnet kg x magnet premium per kg, in the magnet reading only)
    crisis sensitivity (m)         = sum_e oxide kg e x oxide price e x (m - 1)

Why: the old figure priced a platform's whole content at the NdPr premium per kg, mixing magnet, element
and oxide mass. Metal and alloy stay apart: ``basis_spreads`` reports, from quotes of one day and one
market, what a kg of element costs as metal or alloy against the same kg in oxide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from raretrace.elements import oxide_factor
from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.world.data import WorldData, _Doc

READINGS = ("magnet", "element")


@dataclass(frozen=True)
class ElementLine:
    element: str
    element_kg: float
    oxide_kg: float
    china_usd: tuple[float, float]
    allied_premium_usd: tuple[float, float]


@dataclass(frozen=True)
class PlatformElementCost:
    platform: str
    content_kg: float
    reading: str
    lines: tuple[ElementLine, ...]
    magnet_premium_usd: tuple[float, float]

    @property
    def china_usd(self) -> tuple[float, float]:
        return (sum(x.china_usd[0] for x in self.lines), sum(x.china_usd[1] for x in self.lines))

    @property
    def premium_usd(self) -> tuple[float, float]:
        lo = sum(x.allied_premium_usd[0] for x in self.lines) + self.magnet_premium_usd[0]
        hi = sum(x.allied_premium_usd[1] for x in self.lines) + self.magnet_premium_usd[1]
        return lo, hi


@dataclass(frozen=True)
class CrisisRow:
    id: str
    label: str
    multiplier: tuple[float, float]
    platform: str
    reading: str
    premium_usd: tuple[float, float]


@dataclass(frozen=True)
class BasisSpread:
    element: str
    form: str  # metal or alloy
    product: str
    ratio: tuple[float, float]  # per kg of element, against the oxide per kg of element, same day
    date: str
    source: str


@dataclass(frozen=True)
class Quote:
    """One same-day price quote, restated per kg of contained element so oxide, metal and alloy compare."""

    element: str
    product: str
    form: str  # oxide, metal or alloy
    per_element: tuple[float, float]  # CNY per kg of contained element, low and high
    date: str
    source: str


@dataclass(frozen=True)
class ElementTables:
    composition: dict[str, tuple[float, str]]  # element -> (fraction of magnet, basis)
    oxide: dict[str, tuple[str, float, float, str]]  # element -> (oxide_of, low, high, source)
    ratio: dict[str, tuple[float, float, str]]
    magnet_premium: tuple[float, float]
    quotes: tuple[Quote, ...]
    crises: tuple[tuple[str, str, float, float, str], ...]

    @classmethod
    def from_dict(cls, data: object, name: str = "element_costs.json") -> ElementTables:
        doc = _Doc(name, data)
        composition = {
            r.text("element"): (r.fraction("fraction_of_magnet"), r.text("basis"))
            for r in doc.rows("composition")
        }
        oxide = {}
        for r in doc.rows("oxide_prices"):
            lo, hi = r.range("usd_per_kg")
            oxide[r.text("element")] = (r.text("oxide_of"), lo, hi, r.text("source"))
        ratio = {}
        for r in doc.rows("allied_ratio"):
            lo, hi = r.range("ratio", 1.0)
            ratio[r.text("element")] = (lo, hi, r.text("source"))
        for element in composition:
            if element not in oxide or element not in ratio:
                raise ValidationError(
                    f"element {element!r} needs an oxide price and an allied ratio",
                    field=f"{name}: composition",
                )
        magnet = doc.object("magnet_premium_usd_per_kg")
        quotes = []
        for r in doc.rows("same_day_quotes"):
            lo, hi = r.range("cny_per_kg")
            form = r.choice("form", ("oxide", "metal", "alloy"))
            fraction = oxide_factor(r.text("oxide_of")) if form == "oxide" else r.fraction("element_fraction")
            quotes.append(
                Quote(
                    r.text("element"),
                    r.text("product"),
                    form,
                    (lo / fraction, hi / fraction),
                    r.text("date"),
                    r.text("source"),
                )
            )
        crises = tuple(
            (r.text("id"), r.text("label"), *r.range("multiplier", 1.0), r.text("source"))
            for r in doc.rows("crises")
        )
        return cls(
            composition, oxide, ratio, (magnet.number("low"), magnet.number("high")), tuple(quotes), crises
        )

    @classmethod
    def load(cls) -> ElementTables:
        return cls.from_dict(read_package_json("data/world/element_costs.json"))


def element_kg(tables: ElementTables, content_kg: float, reading: str) -> dict[str, float]:
    """Element masses in a platform's content under one reading (see the module docstring)."""
    if reading not in READINGS:
        raise ValidationError(f"must be one of {', '.join(READINGS)}", field="reading")
    fractions = {e: f for e, (f, _) in tables.composition.items()}
    if reading == "magnet":
        return {e: content_kg * f for e, f in fractions.items()}
    total = sum(fractions.values())
    return {e: content_kg * f / total for e, f in fractions.items()}


def platform_element_cost(
    tables: ElementTables, platform: str, content_kg: float, reading: str
) -> PlatformElementCost:
    lines = []
    for element, kg in element_kg(tables, content_kg, reading).items():
        oxide_of, lo, hi, _ = tables.oxide[element]
        oxide_kg = kg / oxide_factor(oxide_of)
        r_lo, r_hi, _ = tables.ratio[element]
        lines.append(
            ElementLine(
                element,
                kg,
                oxide_kg,
                (oxide_kg * lo, oxide_kg * hi),
                (oxide_kg * lo * (r_lo - 1.0), oxide_kg * hi * (r_hi - 1.0)),
            )
        )
    magnet = (
        (content_kg * tables.magnet_premium[0], content_kg * tables.magnet_premium[1])
        if reading == "magnet"
        else (0.0, 0.0)
    )
    return PlatformElementCost(platform, content_kg, reading, tuple(lines), magnet)


def platform_element_costs(data: WorldData, tables: ElementTables) -> list[PlatformElementCost]:
    return [
        platform_element_cost(tables, p.platform, p.kg, reading)
        for p in data.platforms
        for reading in READINGS
    ]


def crisis_sensitivity(costs: list[PlatformElementCost], tables: ElementTables) -> list[CrisisRow]:
    """Every platform and reading at every observed crisis multiplier (and the seed's claim)."""
    out = []
    for cid, label, m_lo, m_hi, _ in tables.crises:
        for c in costs:
            china = c.china_usd
            out.append(
                CrisisRow(
                    cid,
                    label,
                    (m_lo, m_hi),
                    c.platform,
                    c.reading,
                    (china[0] * (m_lo - 1), china[1] * (m_hi - 1)),
                )
            )
    return out


def basis_spreads(tables: ElementTables) -> list[BasisSpread]:
    """Per kg of element: each metal or alloy quote against the oxide quote of the same element and day."""
    oxides = {(q.element, q.date): q for q in tables.quotes if q.form == "oxide"}
    out = []
    for q in tables.quotes:
        oxide = oxides.get((q.element, q.date))
        if q.form == "oxide" or oxide is None:
            continue
        ratio = (q.per_element[0] / oxide.per_element[1], q.per_element[1] / oxide.per_element[0])
        out.append(BasisSpread(q.element, q.form, q.product, ratio, q.date, q.source))
    return out


@dataclass(frozen=True)
class ElementEconomics:
    """The element-true tables one answer carries (CLI ``economics --json``, ``/api/v1/world/economics``,
    the report): cost per platform and reading, the crisis multipliers on it, and the basis spreads."""

    costs: tuple[PlatformElementCost, ...]
    crises: tuple[CrisisRow, ...]
    bases: tuple[BasisSpread, ...]

    def to_dict(self) -> dict[str, list[dict[str, object]]]:
        return {
            "element_costs": [
                {**asdict(c), "china_usd": list(c.china_usd), "premium_usd": list(c.premium_usd)}
                for c in self.costs
            ],
            "crises": [asdict(r) for r in self.crises],
            "bases": [asdict(b) for b in self.bases],
        }


def element_economics(data: WorldData, tables: ElementTables | None = None) -> ElementEconomics:
    """Every platform priced element by element, with the crisis rows and the same-day basis spreads."""
    t = tables or ElementTables.load()
    costs = platform_element_costs(data, t)
    return ElementEconomics(tuple(costs), tuple(crisis_sensitivity(costs, t)), tuple(basis_spreads(t)))
