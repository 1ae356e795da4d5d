"""The world datasets: mine output, reserves, published stage shares, defense content, capacity, prices.

Every row of ``data/world/*.json`` names its ``source`` and ``date``; loading checks that and every other
field, and a bad row raises ``ValidationError`` naming the file, the row and the field
(``mining.json: production[3].t_reo: must be a non-negative number``). ``from_dicts`` takes already-parsed
JSON so tests and users can validate their own tables; ``load`` reads the shipped package data
(importlib.resources only — domain code opens no other file).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.provenance import STAGE_ORDER

FILES = (
    "mining.json",
    "stage_shares.json",
    "defense.json",
    "capacity.json",
    "prices.json",
    "imports.json",
    "demand.json",
    "premiums.json",
)
#: Demand segments. "industry" is industrial motors and other industrial uses; "appliances" (inverter air
#: conditioners, as ACREI counts them) is its own segment, so no appliance figure passes for industry.
SEGMENTS = ("all", "ev", "wind", "industry", "electronics", "appliances", "defense")
STAGES = STAGE_ORDER
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_START = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")


@dataclass(frozen=True)
class Sourced:
    source: str
    date: str


@dataclass(frozen=True)
class Production(Sourced):
    country: str  # ISO 3166-1 alpha-2, or "other" for USGS's aggregate of unnamed countries
    year: int
    t_reo: float
    estimate: bool


@dataclass(frozen=True)
class Reserve(Sourced):
    country: str
    t_reo: float


@dataclass(frozen=True)
class WorldTotal(Sourced):
    year: int
    t_reo: float


@dataclass(frozen=True)
class StageShare(Sourced):
    stage: str
    country: str
    share: float
    year: int
    kind: str  # "observed" or "projection"
    measure: str  # the source's own word: "refining", "separation", "sintered NdFeB production" ...


@dataclass(frozen=True)
class SeedFigure:
    stage: str
    country: str
    share: float


@dataclass(frozen=True)
class Seed(Sourced):
    tolerance_pp: float
    figures: tuple[SeedFigure, ...]


@dataclass(frozen=True)
class Platform(Sourced):
    platform: str
    kind: str
    kg: float


@dataclass(frozen=True)
class Project(Sourced):
    id: str
    name: str
    country: str
    stage: str
    capacity_t_per_year: float | None
    unit: str
    start: str | None  # "YYYY", "YYYY-Qn" or "YYYY-MM" as published; None for plants already operating
    status: str

    def start_month(self) -> str | None:
        """The first month the published start can mean ("2029-Q1" -> "2029-01", "2027" -> "2027-01")."""
        if self.start is None:
            return None
        if len(self.start) == 4:
            return f"{self.start}-01"
        if "-Q" in self.start:
            quarter = int(self.start[-1])
            return f"{self.start[:4]}-{3 * quarter - 2:02d}"
        return self.start


@dataclass(frozen=True)
class PricePoint(Sourced):
    product: str
    element: str
    basis: str
    period: str
    usd_per_kg_low: float
    usd_per_kg_high: float  # equal to low for a single quote


@dataclass(frozen=True)
class ImportReliance(Sourced):
    country: str
    period: str
    share: float
    at_least: bool  # published as ">x%"


@dataclass(frozen=True)
class ImportSource(Sourced):
    importer: str
    period: str
    country: str
    share: float


@dataclass(frozen=True)
class Demand(Sourced):
    """One published demand figure: tonnes a year, or a share of the demand named in ``of``."""

    segment: str
    commodity: str
    region: str  # ISO 3166-1 alpha-2 or "world"
    year: int
    kind: str  # observed, projection or bound
    low: float
    high: float
    unit: str  # "t/yr" or "share"
    of: str | None
    scenario: str | None = None  # the source's scenario of a projection ("STEPS", "APS"), if it names one


@dataclass(frozen=True)
class PriceSide:
    usd_per_kg_low: float
    usd_per_kg_high: float
    basis: str


@dataclass(frozen=True)
class Premium(Sourced):
    """A published price gap between Chinese and allied supply at one stage.

    Either both sides are priced (``china`` and ``allied``), or the premium is given as published: a ratio
    (Vietnam-made magnets at 15-20% over Chinese ones) or an amount per kg (Narva's $10-30/kg)."""

    id: str
    stage: str
    product: str
    comparison: str
    china: PriceSide | None
    allied: PriceSide | None
    ratio: tuple[float, float] | None
    usd_per_kg: tuple[float, float] | None
    thin_market: bool


@dataclass(frozen=True)
class Claim(Sourced):
    id: str
    claim: str
    ratio_low: float
    ratio_high: float


@dataclass(frozen=True)
class WorldData:
    production: tuple[Production, ...]
    reserves: tuple[Reserve, ...]
    world: tuple[WorldTotal, ...]
    shares: tuple[StageShare, ...]
    seed: Seed
    platforms: tuple[Platform, ...]
    projects: tuple[Project, ...]
    prices: tuple[PricePoint, ...]
    reliance: tuple[ImportReliance, ...]
    import_sources: tuple[ImportSource, ...]
    demand: tuple[Demand, ...] = ()
    premiums: tuple[Premium, ...] = ()
    claims: tuple[Claim, ...] = ()

    @classmethod
    def from_dicts(cls, docs: Mapping[str, object]) -> WorldData:
        """Validate parsed JSON documents keyed by file name (all of ``FILES``)."""
        for name in FILES:
            if name not in docs:
                raise ValidationError("missing world data file", field=name)
        production, reserves, world = _mining(_Doc("mining.json", docs["mining.json"]))
        stage_shares, seed = _stage_shares(_Doc("stage_shares.json", docs["stage_shares.json"]))
        platforms = tuple(
            Platform(r.text("source"), r.text("date"), r.text("platform"), r.text("kind"), r.number("kg"))
            for r in _Doc("defense.json", docs["defense.json"]).rows("platforms")
        )
        projects = _projects(_Doc("capacity.json", docs["capacity.json"]))
        price_points = tuple(_price(r) for r in _Doc("prices.json", docs["prices.json"]).rows("prices"))
        reliance, import_sources = _imports(_Doc("imports.json", docs["imports.json"]))
        demand = tuple(_demand(r) for r in _Doc("demand.json", docs["demand.json"]).rows("demand"))
        premiums, claims = _premiums(_Doc("premiums.json", docs["premiums.json"]))
        return cls(
            production,
            reserves,
            world,
            stage_shares,
            seed,
            platforms,
            projects,
            price_points,
            reliance,
            import_sources,
            demand,
            premiums,
            claims,
        )

    @classmethod
    def load(cls) -> WorldData:
        """The shipped datasets in ``raretrace/data/world/``."""
        return cls.from_dicts({name: read_package_json(f"data/world/{name}") for name in FILES})

    def world_total(self, year: int) -> WorldTotal:
        for total in self.world:
            if total.year == year:
                return total
        raise ValidationError(f"no world total for {year}", field="mining.json: world")


def _price(r: _Row) -> PricePoint:
    if "usd_per_kg" in r.data:
        low = high = r.positive("usd_per_kg")
    else:
        low, high = r.positive("usd_per_kg_low"), r.positive("usd_per_kg_high")
        if high < low:
            raise r.error("usd_per_kg_high", "must not be below usd_per_kg_low")
    return PricePoint(
        r.text("source"),
        r.text("date"),
        r.text("product"),
        r.text("element"),
        r.text("basis"),
        r.text("period"),
        low,
        high,
    )


def _demand(r: _Row) -> Demand:
    unit = r.choice("unit", ("t/yr", "share"))
    low, high = r.range("value")
    if unit == "share" and high > 1:
        raise r.error("value_high", "a share is a fraction between 0 and 1")
    region = r.data.get("region")
    return Demand(
        r.text("source"),
        r.text("date"),
        r.choice("segment", SEGMENTS),
        r.text("commodity"),
        "world" if region == "world" else r.country("region"),
        r.integer("year"),
        r.choice("kind", ("observed", "projection", "bound")),
        low,
        high,
        unit,
        r.text("of") if unit == "share" else None,
        r.text("scenario") if "scenario" in r.data else None,
    )


def _premium(r: _Row) -> Premium:
    sides = [r.side(name) for name in ("china", "allied")]
    ratio = r.range("premium_ratio", 1.0) if "premium_ratio_low" in r.data else None
    usd = r.range("premium_usd_per_kg") if "premium_usd_per_kg_low" in r.data else None
    priced = sides[0] is not None and sides[1] is not None
    if [priced, ratio is not None, usd is not None].count(True) != 1:
        raise r.error(
            None,
            "give exactly one of: china and allied prices, premium_ratio_low/high, "
            "premium_usd_per_kg_low/high",
        )
    flag = r.flag("thin_market")
    return Premium(
        r.text("source"),
        r.text("date"),
        r.text("id"),
        r.stage("stage"),
        r.text("product"),
        r.text("comparison"),
        sides[0],
        sides[1],
        ratio,
        usd,
        flag,
    )


def _reliance(r: _Row) -> ImportReliance:
    at_least = "share_min" in r.data
    share = r.fraction("share_min" if at_least else "share")
    return ImportReliance(
        r.text("source"), r.text("date"), r.country("country"), r.text("period"), share, at_least
    )


def _unique(doc: _Doc, section: str, keys: Sequence[Hashable]) -> None:
    seen: set[Hashable] = set()
    for i, key in enumerate(keys):
        if key in seen:
            raise ValidationError(f"duplicate row {key!r}", field=f"{doc.name}: {section}[{i}]")
        seen.add(key)


class _Doc:
    def __init__(self, name: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ValidationError("must be a JSON object", field=name)
        self.name = name
        self.data: dict[str, object] = data

    def rows(self, section: str) -> list[_Row]:
        items = self.data.get(section)
        if not isinstance(items, list) or not items:
            raise ValidationError(f"'{section}' must be a non-empty list", field=f"{self.name}: {section}")
        return [_Row(self.name, f"{section}[{i}]", item) for i, item in enumerate(items)]

    def object(self, section: str) -> _Row:
        return _Row(self.name, section, self.data.get(section))


class _Row:
    def __init__(self, file: str, where: str, data: object) -> None:
        self.file, self.where = file, where
        if not isinstance(data, dict):
            raise self.error(None, "must be an object")
        self.data: dict[str, object] = data

    def error(self, name: str | None, message: str) -> ValidationError:
        place = f"{self.where}.{name}" if name else self.where
        return ValidationError(message, field=f"{self.file}: {place}")

    def rows(self, section: str) -> list[_Row]:
        items = self.data.get(section)
        if not isinstance(items, list) or not items:
            raise self.error(section, "must be a non-empty list")
        return [_Row(self.file, f"{self.where}.{section}[{i}]", item) for i, item in enumerate(items)]

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not value.strip():
            message = "every row names its source and date" if name in ("source", "date") else ""
            raise self.error(name, message or "must be a non-empty string")
        return value

    def number(self, name: str) -> float:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(name, "must be a non-negative number")
        return float(value)

    def positive(self, name: str) -> float:
        value = self.number(name)
        if value <= 0:
            raise self.error(name, "must be positive")
        return value

    def optional_number(self, name: str) -> float | None:
        return None if self.data.get(name) is None else self.number(name)

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "must be an integer")
        return value

    def fraction(self, name: str) -> float:
        value = self.number(name)
        if value > 1:
            raise self.error(name, "must be a fraction between 0 and 1 (62% is 0.62)")
        return value

    def share(self, name: str) -> float:
        """A fraction given as ``name`` or, derived from two published figures, as ``name_num`` over
        ``name_den`` (kept apart so anyone can redo the division)."""
        if name in self.data:
            return self.fraction(name)
        num, den = self.number(f"{name}_num"), self.positive(f"{name}_den")
        if num > den:
            raise self.error(f"{name}_num", f"must not exceed {name}_den")
        return num / den

    def has_share(self, name: str) -> bool:
        return name in self.data or f"{name}_num" in self.data

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    def country(self, name: str, *, other: bool = False) -> str:
        value = self.data.get(name)
        if other and value == "other":
            return "other"
        if not isinstance(value, str) or not _COUNTRY.match(value):
            raise self.error(name, f"must be an ISO 3166-1 alpha-2 code, not {value!r}")
        return value

    def stage(self, name: str) -> str:
        return self.choice(name, STAGES)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.data.get(name)
        if value not in allowed:
            raise self.error(name, f"must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)

    def range(self, prefix: str, minimum: float = 0.0) -> tuple[float, float]:
        """``prefix_low`` and ``prefix_high``: numbers, low <= high, both at least ``minimum``."""
        low, high = self.number(f"{prefix}_low"), self.number(f"{prefix}_high")
        if low < minimum:
            raise self.error(f"{prefix}_low", f"must be at least {minimum:g}")
        if high < low:
            raise self.error(f"{prefix}_high", f"must not be below {prefix}_low")
        return low, high

    def side(self, name: str) -> PriceSide | None:
        """One priced side of a premium row (``china`` or ``allied``), or None when absent."""
        if name not in self.data:
            return None
        row = _Row(self.file, f"{self.where}.{name}", self.data[name])
        low, high = row.range("usd_per_kg")
        if low <= 0:
            raise row.error("usd_per_kg_low", "must be positive")
        return PriceSide(low, high, row.text("basis"))

    def optional_start(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not _START.match(value):
            raise self.error(name, f"must be YYYY, YYYY-Qn or YYYY-MM, not {value!r}")
        return value


def _mining(mining: _Doc) -> tuple[tuple[Production, ...], tuple[Reserve, ...], tuple[WorldTotal, ...]]:
    """mining.json: mine production by country and year, reserves by country, and world totals."""
    production = tuple(
        Production(
            r.text("source"),
            r.text("date"),
            r.country("country", other=True),
            r.integer("year"),
            r.number("t_reo"),
            r.flag("estimate"),
        )
        for r in mining.rows("production")
    )
    _unique(mining, "production", [(p.country, p.year) for p in production])
    reserves = tuple(
        Reserve(r.text("source"), r.text("date"), r.country("country"), r.number("t_reo"))
        for r in mining.rows("reserves")
    )
    _unique(mining, "reserves", [p.country for p in reserves])
    world = tuple(
        WorldTotal(r.text("source"), r.text("date"), r.integer("year"), r.number("t_reo"))
        for r in mining.rows("world")
    )
    return production, reserves, world


def _stage_shares(shares: _Doc) -> tuple[tuple[StageShare, ...], Seed]:
    """stage_shares.json: each stage's shares by country, and the seed figures they are checked against."""
    stage_shares = tuple(
        StageShare(
            r.text("source"),
            r.text("date"),
            r.stage("stage"),
            r.country("country"),
            r.fraction("share"),
            r.integer("year"),
            r.choice("kind", ("observed", "projection")),
            r.text("measure"),
        )
        for r in shares.rows("shares")
    )
    _unique(shares, "shares", [(s.stage, s.country, s.year, s.kind, s.source) for s in stage_shares])
    seed_row = shares.object("seed")
    seed = Seed(
        seed_row.text("source"),
        seed_row.text("date"),
        seed_row.number("tolerance_pp"),
        tuple(
            SeedFigure(f.stage("stage"), f.country("country"), f.fraction("share"))
            for f in seed_row.rows("figures")
        ),
    )
    return stage_shares, seed


def _projects(capacity: _Doc) -> tuple[Project, ...]:
    """capacity.json: announced and operating projects, each id once."""
    projects = tuple(
        Project(
            r.text("source"),
            r.text("date"),
            r.text("id"),
            r.text("name"),
            r.country("country"),
            r.stage("stage"),
            r.optional_number("capacity_t_per_year"),
            r.text("unit"),
            r.optional_start("start"),
            r.text("status"),
        )
        for r in capacity.rows("projects")
    )
    _unique(capacity, "projects", [p.id for p in projects])
    return projects


def _imports(imports: _Doc) -> tuple[tuple[ImportReliance, ...], tuple[ImportSource, ...]]:
    """imports.json: import reliance, and each importer's sources by country."""
    reliance = tuple(_reliance(r) for r in imports.rows("reliance"))
    import_sources = tuple(
        ImportSource(
            r.text("source"),
            r.text("date"),
            r.country("importer"),
            r.text("period"),
            r.country("country", other=True),
            r.fraction("share"),
        )
        for r in imports.rows("import_sources")
    )
    return reliance, import_sources


def _premiums(premium_doc: _Doc) -> tuple[tuple[Premium, ...], tuple[Claim, ...]]:
    """premiums.json: published price premiums (each id once) and the claims made about them."""
    premiums = tuple(_premium(r) for r in premium_doc.rows("premiums"))
    _unique(premium_doc, "premiums", [p.id for p in premiums])
    claims = tuple(
        Claim(r.text("source"), r.text("date"), r.text("id"), r.text("claim"), *r.range("ratio", 1.0))
        for r in premium_doc.rows("claims")
    )
    return premiums, claims
