"""The import templates' columns: one definition that the CSV templates, the Excel template, the
readers and the documentation all come from.

Headers may carry a unit in parentheses, as the fingerprint assay CSV does: ``mass (t)``,
``Nd (wt%)``. A column whose definition has units must state one, and only a unit it knows: a mass
given in pounds is refused rather than guessed. Values are converted to the registry's units (kg,
mass fractions) as they are read.

The facilities columns follow the smelter list of the RMI's supplier-declaration templates (CMRT
"Smelter List": Smelter Identification, Smelter Name, Smelter Country …; see docs/import-export.md);
the events columns describe one line of an event (an input, an output, an addition, a shipped lot) so
that a supplier's production ledger fits one row per lot movement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from raretrace.elements import TRADED
from raretrace.errors import ValidationError

#: Mass units a header may state, with their factor to kilograms.
MASS_UNITS: Mapping[str, float] = {"kg": 1.0, "t": 1000.0}
#: Composition units, with their factor to a mass fraction.
FRACTION_UNITS: Mapping[str, float] = {"fraction": 1.0, "wt%": 0.01, "%": 0.01, "ppm": 1e-6}

KINDS = ("facilities", "events")


@dataclass(frozen=True)
class Column:
    """One template column: its header name, whether a row must fill it, its unit family, and what it
    holds (the text the Excel template's README sheet and the docs show)."""

    name: str
    required: bool
    description: str
    units: Mapping[str, float] | None = None
    default_unit: str | None = None  # the unit the shipped template states
    cmrt: str | None = None  # the RMI CMRT Smelter List column it corresponds to, if any

    def header(self) -> str:
        return f"{self.name} ({self.default_unit})" if self.default_unit else self.name


FACILITY_COLUMNS: tuple[Column, ...] = (
    Column("facility_id", True, "Facility id, e.g. the RMI smelter id (CID…)", cmrt="Smelter Identification"),
    Column("facility_name", True, "Facility name", cmrt="Smelter Name"),
    Column("operator", True, "Operating company"),
    Column("country", True, "ISO 3166-1 alpha-2 code or English country name", cmrt="Smelter Country"),
    Column("stages", True, "Stages performed, separated by ';' (mining;separation …) or 'assay'"),
    Column("technology", False, "Technology origin per stage: STAGE=CC separated by ';'"),
    Column("accreditation", False, "Accreditation (required for a lab that assays)"),
    Column("public_key", True, "The facility's Ed25519 public key(s) in base64, separated by ';'"),
    Column("key_valid_from", False, "RFC 3339 time the key(s) may sign from (default: now)"),
    Column("key_valid_until", False, "RFC 3339 time the key(s) stop signing (default: open)"),
)

EVENT_KIND_NAMES = ("extract", "process", "assemble", "recycle", "transfer", "receive", "assay")
ROLES = ("output", "input", "addition", "lot")

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("event_id", True, "Event id; the rows of one event are consecutive and share it"),
    Column("kind", True, f"One of {', '.join(EVENT_KIND_NAMES)}"),
    Column("time", True, "RFC 3339 time with offset, e.g. 2026-01-05T08:00:00Z"),
    Column(
        "facility_id", True, "The acting facility (its key signs the event)", cmrt="Smelter Identification"
    ),
    Column("role", True, "What the row is: output, input, addition (non-REE feed) or lot (shipped/assayed)"),
    Column("lot_id", False, "Lot URN (output, input and lot rows)"),
    Column("form", False, "Form of an output lot: ore, concentrate, separated_oxide, metal, magnet …"),
    Column("mass", False, "Mass produced (output), consumed (input) or added", MASS_UNITS, "kg"),
    Column("units", False, "Number of pieces of an assembled output"),
    Column("declared_value", False, "Declared value of an output lot"),
    Column("currency", False, "ISO 4217 currency of the declared value (USD for value-based rules)"),
    Column("stage", False, "Stage of a process/assemble event: beneficiation, separation, metallization …"),
    Column("deposit", False, "Deposit of an extract event", cmrt="Name of Mine(s)"),
    Column("material", False, "Name of an addition (e.g. iron and boron)"),
    Column("to_facility", False, "Receiving facility of a transfer"),
    Column("transfer_event", False, "The transfer a receive acknowledges"),
    Column("hs_code", False, "HS code of a transfer"),
    Column("details", False, "Other transfer details as a JSON object"),
    Column("method", False, "Assay method (ICP-MS …)"),
    Column("results", False, "Assay results as a JSON object (units, element values)"),
    Column("envelope", False, "The event's signed DSSE envelope (base64), when the row is already signed"),
)

#: Composition columns the template ships: every traded rare earth, the usual magnet metals, other.
COMPOSITION_COMPONENTS: tuple[str, ...] = (*(e.value for e in TRADED), "Fe", "B", "Co", "Cu", "other")
COMPOSITION_UNIT = "fraction"


def columns_for(kind: str) -> tuple[Column, ...]:
    if kind == "facilities":
        return FACILITY_COLUMNS
    if kind == "events":
        return EVENT_COLUMNS
    raise ValidationError(f"{kind!r} is not one of {', '.join(KINDS)}", field="kind")


def template_headers(kind: str) -> list[str]:
    """The header row of a kind's template, exactly as the shipped CSV and the Excel sheet have it."""
    headers = [c.header() for c in columns_for(kind)]
    if kind == "events":
        headers += [f"{c} ({COMPOSITION_UNIT})" for c in COMPOSITION_COMPONENTS]
    return headers


_HEADER_RE = re.compile(r"^\s*(?P<name>[^()]*?)\s*(?:\((?P<unit>[^()]*)\))?\s*$")


@dataclass(frozen=True)
class Field:
    """A column found in a file's header: where it is, its canonical name and its factor."""

    index: int
    name: str  # canonical: a column name, or a composition component symbol
    header: str  # as written in the file
    factor: float = 1.0
    component: bool = False


@dataclass(frozen=True)
class Header:
    fields: tuple[Field, ...]

    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields if not f.component}

    def components(self) -> list[Field]:
        return [f for f in self.fields if f.component]


def parse_header(kind: str, cells: Sequence[object]) -> tuple[Header, list[tuple[str | None, str]]]:
    """The columns of a header row, and (column, reason) for everything wrong with it: unknown or
    repeated columns, a missing required column, a unit absent or not of the column's kind."""
    from raretrace.elements import parse_component

    known = {c.name: c for c in columns_for(kind)}
    problems: list[tuple[str | None, str]] = []
    fields: list[Field] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        text = "" if cell is None else str(cell)
        if not text.strip():
            continue
        match = _HEADER_RE.match(text)
        name = (match.group("name") if match else text).strip()
        unit = match.group("unit").strip() if match and match.group("unit") is not None else None
        key = name.lower()
        column = known.get(key)
        component = False
        if column is None and kind == "events":
            try:
                key = parse_component(name)
                component = True
            except ValidationError:
                key = ""
        if column is None and not component:
            problems.append((text, f"unknown column; expected one of {', '.join(template_headers(kind))}"))
            continue
        if key in seen:
            problems.append((text, "column given twice"))
            continue
        seen.add(key)
        units = FRACTION_UNITS if component else (column.units if column else None)
        factor = 1.0
        if units is not None:
            if unit is None:
                problems.append(
                    (
                        text,
                        f"state the unit in the header, e.g. '{name} ({next(iter(units))})': one of "
                        f"{', '.join(units)}",
                    )
                )
                continue
            if unit.lower() not in {u.lower() for u in units}:
                problems.append((text, f"unit {unit!r} is not one of {', '.join(units)}"))
                continue
            factor = next(v for u, v in units.items() if u.lower() == unit.lower())
        elif unit is not None:
            problems.append((text, "this column takes no unit"))
            continue
        fields.append(Field(index, key, text, factor, component))
    missing = [c.name for c in columns_for(kind) if c.required and c.name not in seen]
    for name in missing:
        problems.append((name, "required column is missing"))
    return Header(tuple(fields)), problems


def describe(kind: str) -> Iterable[tuple[str, str, str, str]]:
    """(header, required, unit choices, description) for each column: the README sheet and docs table."""
    for c in columns_for(kind):
        units = ", ".join(c.units) if c.units else ""
        yield c.header(), "yes" if c.required else "", units, c.description
    if kind == "events":
        yield (
            "<component> (fraction)",
            "",
            ", ".join(FRACTION_UNITS),
            "Share of the lot's mass: a rare earth as element (Nd), a non-REE component (Fe, B, Co …) "
            "or other; one column per component",
        )
