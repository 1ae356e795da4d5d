"""The demo world's package data: plants, routes, components and systems, each row checked on load.

The files live in ``raretrace/data/demoworld/`` and every row names its source; a row whose figure (or
whose very existence, for aggregates and the case plants) is chosen for the demo says so with
``illustrative: true``. Loading checks every field the builder relies on, so a bad edit fails here with
the file, the row and the field named (``facilities.json: facilities[3].country: ...``) rather than
half way through building a registry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.model import Stage

FOLDER = "data/demoworld"
ROLES = ("mine", "cracker", "separator", "metal", "magnet", "component", "system", "lab", "case")
PRODUCTS = ("NdPr", "LaCe", "Sm", "Dy", "Tb")
MAGNETS = ("NdFeB", "SmCo")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_STAGES = frozenset(s.value for s in Stage) | {"assay"}


class _Row:
    """One JSON object of a data file, read one checked field at a time."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise ValidationError("must be an object", field=where)
        self.data: dict[str, Any] = value
        self.where = where

    def error(self, name: str, message: str) -> ValidationError:
        return ValidationError(message, field=f"{self.where}.{name}")

    def text(self, name: str, *, optional: bool = False) -> str:
        value = self.data.get(name, "" if optional else None)
        if not isinstance(value, str) or (not optional and not value.strip()):
            raise self.error(name, "missing or not a non-empty string")
        return value

    def number(
        self, name: str, *, low: float = 0.0, high: float = float("inf"), default: float | None = None
    ) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.error(name, f"missing or not a number from {low:g} to {high:g}")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self.error(name, "missing or not true/false")
        return value

    def strings(self, name: str, choices: Sequence[str] | frozenset[str] | None = None) -> tuple[str, ...]:
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings")
        for v in value:
            if choices is not None and v not in choices:
                raise self.error(name, f"{v!r} is not one of {', '.join(sorted(choices))}")
        return tuple(value)

    def country(self, name: str) -> str:
        value = self.text(name)
        if not _COUNTRY.match(value):
            raise self.error(name, f"{value!r} is not an ISO 3166-1 alpha-2 code")
        return value

    def weights(self, name: str) -> dict[str, float]:
        value = self.data.get(name, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            for k, v in value.items()
        ):
            raise self.error(name, "must map names to non-negative numbers")
        return {k: float(v) for k, v in value.items()}


@dataclass(frozen=True)
class Plant:
    """A facility of the world: a real plant, an aggregate of unnamed producers, or a case plant."""

    id: str
    name: str
    operator: str
    country: str
    role: str
    stages: tuple[str, ...]
    source: str
    illustrative: bool
    note: str = ""
    technology: Mapping[str, str] = field(default_factory=dict)
    accreditation: str | None = None
    capacity: Mapping[str, Any] | None = None
    # mines
    deposit: str = ""
    pattern: str = ""
    country_share: float = 0.0
    ore_grade: float = 0.0
    concentrate_grade: float = 0.0
    # separators, magnet makers, component and system makers
    products: tuple[str, ...] = ()
    magnet: str = ""
    dy_share: float = 0.0
    makes: Mapping[str, float] = field(default_factory=dict)

    def facility_spec(self) -> dict[str, Any]:
        """Keyword arguments for ``ScriptedChain.facility_event``."""
        spec: dict[str, Any] = {
            "name": self.name,
            "operator": self.operator,
            "country": self.country,
            "stages": list(self.stages),
            "technology": dict(self.technology),
        }
        if self.accreditation:
            spec["accreditation"] = self.accreditation
        return spec


@dataclass(frozen=True)
class Route:
    """Where a plant sends a stream, as shares of its output by mass."""

    source: str  # plant id
    stream: str
    to: Mapping[str, float]
    basis: str
    cited: str


@dataclass(frozen=True)
class ComponentType:
    id: str
    name: str
    magnet: str
    units_per_lot: int
    unit_mass_kg: float
    magnet_kg_per_unit: float | None  # None: sized by the platform's published rare-earth content
    platform: str | None
    source: str
    illustrative: bool


@dataclass(frozen=True)
class SystemType:
    id: str
    name: str
    component: str
    unit_mass_kg: float
    military: bool
    source: str
    illustrative: bool


@dataclass(frozen=True)
class DemoData:
    plants: tuple[Plant, ...]
    routes: tuple[Route, ...]
    components: tuple[ComponentType, ...]
    systems: tuple[SystemType, ...]

    def plant(self, plant_id: str) -> Plant:
        for p in self.plants:
            if p.id == plant_id:
                return p
        raise ValidationError(f"no plant {plant_id!r} in facilities.json", field="plant")

    def by_role(self, role: str) -> list[Plant]:
        return [p for p in self.plants if p.role == role]

    def route(self, source: str, stream: str) -> Route | None:
        return next((r for r in self.routes if r.source == source and r.stream == stream), None)

    def component(self, component_id: str) -> ComponentType:
        return next(c for c in self.components if c.id == component_id)

    def system_for(self, component_id: str) -> SystemType:
        return next(s for s in self.systems if s.component == component_id)

    @classmethod
    def from_dicts(cls, docs: Mapping[str, object]) -> DemoData:
        """Check the three parsed files; an error names the file, the row and the field."""
        plants = tuple(
            _plant(_Row(r, f"facilities.json: facilities[{i}]"))
            for i, r in enumerate(_rows(docs, "facilities.json", "facilities"))
        )
        ids = [p.id for p in plants]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValidationError(f"plant id {dupes[0]!r} appears twice", field="facilities.json: facilities")
        components = tuple(
            _component(_Row(r, f"products.json: components[{i}]"))
            for i, r in enumerate(_rows(docs, "products.json", "components"))
        )
        systems = tuple(
            _system(_Row(r, f"products.json: systems[{i}]"))
            for i, r in enumerate(_rows(docs, "products.json", "systems"))
        )
        routes = tuple(
            _route(_Row(r, f"flows.json: routes[{i}]"), set(ids))
            for i, r in enumerate(_rows(docs, "flows.json", "routes"))
        )
        known_components = {c.id for c in components}
        for i, s in enumerate(systems):
            if s.component not in known_components:
                raise ValidationError(
                    f"unknown component {s.component!r}", field=f"products.json: systems[{i}].component"
                )
        for i, p in enumerate(plants):
            for made in p.makes:
                if made not in known_components | {s.id for s in systems}:
                    raise ValidationError(
                        f"unknown product {made!r}", field=f"facilities.json: facilities[{i}].makes"
                    )
        return cls(plants, routes, components, systems)


def _rows(docs: Mapping[str, object], name: str, key: str) -> list[object]:
    doc = docs.get(name)
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise ValidationError(f"must be an object with a list {key!r}", field=name)
    rows: list[object] = doc[key]
    return rows


def _plant(r: _Row) -> Plant:
    role = r.text("role")
    if role not in ROLES:
        raise r.error("role", f"{role!r} is not one of {', '.join(ROLES)}")
    stages = r.strings("stages", _STAGES)
    if not stages:
        raise r.error("stages", "a plant performs at least one stage")
    technology = r.data.get("technology", {})
    if not isinstance(technology, dict) or not all(
        k in _STAGES and isinstance(v, str) and _COUNTRY.match(v) for k, v in technology.items()
    ):
        raise r.error("technology", "must map stages to ISO 3166-1 alpha-2 codes")
    makes_raw = r.data.get("makes", {})
    makes = dict.fromkeys(makes_raw, 0.0) if isinstance(makes_raw, list) else r.weights("makes")
    plant = Plant(
        id=r.text("id"),
        name=r.text("name"),
        operator=r.text("operator"),
        country=r.country("country"),
        role=role,
        stages=stages,
        source=r.text("source"),
        illustrative=r.flag("illustrative"),
        note=r.text("note", optional=True),
        technology=dict(technology),
        accreditation=r.data.get("accreditation"),
        capacity=r.data.get("capacity"),
        deposit=r.text("deposit", optional=True),
        pattern=r.text("pattern", optional=True),
        country_share=r.number("country_share", high=1.0, default=0.0),
        ore_grade=r.number("ore_grade", high=1.0, default=0.0),
        concentrate_grade=r.number("concentrate_grade", high=1.0, default=0.0),
        products=r.strings("products", PRODUCTS),
        magnet=r.text("magnet", optional=True),
        dy_share=r.number("dy_share", high=1.0, default=0.0),
        makes=makes,
    )
    if "mining" in plant.stages and not (
        plant.pattern and plant.deposit and plant.ore_grade > 0 < plant.concentrate_grade
    ):
        raise r.error("pattern", "a mine needs deposit, pattern, ore_grade and concentrate_grade")
    if plant.magnet and plant.magnet not in MAGNETS:
        raise r.error("magnet", f"{plant.magnet!r} is not one of {', '.join(MAGNETS)}")
    return plant


def _route(r: _Row, plants: set[str]) -> Route:
    source = r.text("from")
    if source not in plants:
        raise r.error("from", f"no plant {source!r} in facilities.json")
    to = r.weights("to")
    if not to or sum(to.values()) <= 0:
        raise r.error("to", "a route needs at least one destination with a positive weight")
    for target in to:
        if target not in plants:
            raise r.error("to", f"no plant {target!r} in facilities.json")
    basis = r.text("basis")
    if basis not in ("published", "derived", "illustrative"):
        raise r.error("basis", f"{basis!r} is not one of published, derived, illustrative")
    return Route(source, r.text("stream"), to, basis, r.text("source"))


def _component(r: _Row) -> ComponentType:
    magnet = r.text("magnet")
    if magnet not in MAGNETS:
        raise r.error("magnet", f"{magnet!r} is not one of {', '.join(MAGNETS)}")
    platform = r.data.get("platform")
    per_unit = r.data.get("magnet_kg_per_unit")
    if (platform is None) == (per_unit is None):
        raise r.error("platform", "give either a platform (published content) or magnet_kg_per_unit")
    return ComponentType(
        id=r.text("id"),
        name=r.text("name"),
        magnet=magnet,
        units_per_lot=int(r.number("units_per_lot", low=1)),
        unit_mass_kg=r.number("unit_mass_kg", low=0.001),
        magnet_kg_per_unit=None if per_unit is None else r.number("magnet_kg_per_unit", low=0.0001),
        platform=None if platform is None else r.text("platform"),
        source=r.text("source"),
        illustrative=r.flag("illustrative"),
    )


def _system(r: _Row) -> SystemType:
    return SystemType(
        id=r.text("id"),
        name=r.text("name"),
        component=r.text("component"),
        unit_mass_kg=r.number("unit_mass_kg", low=0.001),
        military=r.flag("military"),
        source=r.text("source"),
        illustrative=r.flag("illustrative"),
    )


@cache
def load_demo_data() -> DemoData:
    """The shipped world (package data only: domain code opens no other file)."""
    names = ("facilities.json", "flows.json", "products.json")
    return DemoData.from_dicts({name: read_package_json(f"{FOLDER}/{name}") for name in names})
