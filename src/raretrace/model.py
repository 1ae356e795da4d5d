"""Domain objects: stages, forms, compositions, facilities and lots.

Every object checks its invariants when it is constructed, so an invalid ``Lot`` or ``Composition``
cannot exist anywhere in the program; errors name the field. Encodings stay out of these classes
except ``to_dict``/``from_dict`` with plain JSON values (DESIGN §7).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from typing import TypeVar

import pycountry

from raretrace.elements import REE_SYMBOLS, parse_component
from raretrace.errors import ValidationError
from raretrace.fields import Fields, table_of
from raretrace.jsontypes import JSONObject
from raretrace.origin_text import decode_origin
from raretrace.provenance import LotOrigin, ordered, untraced, with_marginals

#: The rare-earth symbols whose mass balance and origin the registry tracks.

#: Component names repeat in every lot of every event; only accepted names are cached (bounded).
_component = lru_cache(maxsize=512)(parse_component)

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

#: Relative slack allowed on sums of mass fractions (rounding in declarations).
FRACTION_SLACK = 1e-9

#: The largest mass (kg) and count of units a lot or an input may declare: 1 Gt, more than ten times
#: the world's rare-earth oxide reserves (>90 Mt REO, USGS Mineral Commodity Summaries 2025), so no
#: real lot comes near it, while a 1e308 kg lot cannot turn every share into nonsense.
MAX_MASS_KG = 1e12
#: The largest declared value, in any currency: 1e15, above the world's whole 2024 rare-earth mine
#: output (390,000 t REO, USGS MCS 2025) priced at the dearest oxide (Tb, 2,051 $/kg in 2022, Argus)
#: — about 8e11 USD — even in a currency worth a thousandth of a dollar.
MAX_VALUE = 1e15

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#@+-]{0,199}$")
_LOT_ID_RE = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]{1,160}$")


class Stage(StrEnum):
    """Stages of the chain, in order; ``recycling`` starts a new feed from scrap."""

    MINING = "mining"
    BENEFICIATION = "beneficiation"
    SEPARATION = "separation"
    METALLIZATION = "metallization"
    MAGNET = "magnet"
    COMPONENT = "component"
    SYSTEM = "system"
    RECYCLING = "recycling"


#: Stages a ``process`` event may perform (mining is ``extract``, component/system are ``assemble``).
PROCESS_STAGES = frozenset({Stage.BENEFICIATION, Stage.SEPARATION, Stage.METALLIZATION, Stage.MAGNET})
ASSEMBLE_STAGES = frozenset({Stage.COMPONENT, Stage.SYSTEM})

#: What a facility may do besides the material stages: an accredited lab attaches assays.
ASSAY_ACTIVITY = "assay"


class Form(StrEnum):
    ORE = "ore"
    CONCENTRATE = "concentrate"
    MIXED_OXIDE = "mixed_oxide"
    SEPARATED_OXIDE = "separated_oxide"
    METAL = "metal"
    ALLOY = "alloy"
    MAGNET = "magnet"
    COMPONENT = "component"
    PRODUCT = "product"
    SCRAP = "scrap"


def parse_enum(enum: type[E], value: object, field_name: str) -> E:
    if not isinstance(value, str):
        raise ValidationError(
            f"must be a string, one of {', '.join(e.value for e in enum)}", field=field_name
        )
    try:
        return enum(value)
    except ValueError as e:
        raise ValidationError(
            f"{value!r} is not one of {', '.join(m.value for m in enum)}", field=field_name
        ) from e


@cache
def _known_countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def parse_country(value: object, field_name: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case; anything else is an error naming the field."""
    if not isinstance(value, str) or value.upper() not in _known_countries():
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code", field=field_name)
    return value.upper()


def parse_id(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValidationError(
            f"{value!r} is not a valid identifier (1-200 characters: letters, digits, . _ : / # @ + -)",
            field=field_name,
        )
    return value


def parse_lot_id(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not _LOT_ID_RE.match(value):
        raise ValidationError(f"{value!r} is not a URN (urn:<nid>:<nss>)", field=field_name)
    return value


def parse_positive(
    value: object, field_name: str, *, allow_zero: bool = False, at_most: float = MAX_MASS_KG
) -> float:
    """A finite number above zero (or zero, if allowed) and at most ``at_most`` (a mass in kg unless
    told: fractions and remaining masses are bounded further by their own checks)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("must be a number", field=field_name)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise ValidationError("must be a finite number", field=field_name)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(f"must be {'>= 0' if allow_zero else '> 0'}, got {value}", field=field_name)
    if number > at_most:
        raise ValidationError(
            f"must be at most {at_most:g} (the registry's bound: docs/security.md), got {number:g}",
            field=field_name,
        )
    return number


def trusted(cls: type[T], **fields: object) -> T:
    """An object rebuilt from a row this registry validated when it wrote it, without re-checking.

    Loading state is on the append path of every batch; re-validating what the registry itself
    stored would double the cost of each lot it reads. Never use it for input from outside.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)  # frozen dataclasses forbid setattr, not filling their __dict__
    return obj


@dataclass(frozen=True)
class Composition:
    """Mass fractions of each component (REE as element, not oxide), summing to at most 1."""

    fractions: Mapping[str, float]

    def __post_init__(self) -> None:
        clean: dict[str, float] = {}
        for key, value in self.fractions.items():
            where = f"composition.{key}"
            try:
                symbol = _component(key)
            except ValidationError as e:
                raise ValidationError(e.message, field=where) from e
            fraction = parse_positive(value, where, allow_zero=True)
            if fraction > 1:
                raise ValidationError(f"a mass fraction must be <= 1, got {value}", field=where)
            if symbol in clean:
                raise ValidationError("component given twice", field=where)
            clean[symbol] = fraction
        total = sum(clean.values())
        if total > 1 + FRACTION_SLACK:
            raise ValidationError(f"mass fractions sum to {total:.6g}, above 1", field="composition")
        object.__setattr__(self, "fractions", clean)

    def fraction(self, component: str) -> float:
        return self.fractions.get(component, 0.0)

    def to_dict(self) -> JSONObject:
        return dict(self.fractions.items())

    @classmethod
    def from_dict(cls, value: object, field_name: str = "composition") -> Composition:
        fractions = table_of(value, field_name, "must be an object of component: mass fraction")
        try:
            return cls(fractions)  # type: ignore[arg-type]  # each fraction is checked in __post_init__
        except ValidationError as e:
            raise ValidationError(
                e.message, field=e.field.replace("composition", field_name, 1) if e.field else field_name
            ) from e


@dataclass(frozen=True)
class Facility:
    """A site that performs stages of the chain (or assays), in a country, with some technology."""

    id: str
    name: str
    operator: str
    country: str
    activities: frozenset[str]
    technology: Mapping[str, str] = field(default_factory=dict)
    accreditation: str | None = None

    def __post_init__(self) -> None:
        parse_id(self.id, "facility.id")
        for name in ("name", "operator"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError("must be a non-empty string", field=f"facility.{name}")
        object.__setattr__(self, "country", parse_country(self.country, "facility.country"))
        if not self.activities:
            raise ValidationError(
                "a facility performs at least one stage or 'assay'", field="facility.stages"
            )
        for activity in self.activities:
            if activity != ASSAY_ACTIVITY:
                parse_enum(Stage, activity, "facility.stages")
        tech: dict[str, str] = {}
        for stage, country in self.technology.items():
            parse_enum(Stage, stage, f"facility.technology.{stage}")
            if stage not in self.activities:
                raise ValidationError(
                    "technology given for a stage the facility does not perform",
                    field=f"facility.technology.{stage}",
                )
            tech[stage] = parse_country(country, f"facility.technology.{stage}")
        object.__setattr__(self, "technology", tech)
        if ASSAY_ACTIVITY in self.activities and not self.accreditation:
            raise ValidationError(
                "a facility that assays must name its accreditation", field="facility.accreditation"
            )

    def technology_origin(self, stage: str) -> str:
        """Whose process technology the facility uses for a stage; its own country unless declared."""
        return self.technology.get(stage, self.country)

    def to_dict(self) -> JSONObject:
        out: JSONObject = {
            "id": self.id,
            "name": self.name,
            "operator": self.operator,
            "country": self.country,
            "stages": [*sorted(self.activities)],
            "technology": dict(sorted(self.technology.items())),
        }
        if self.accreditation:
            out["accreditation"] = self.accreditation
        return out

    @classmethod
    def from_dict(cls, value: object, field_name: str = "facility") -> Facility:
        f = Fields(value, field_name, shape="must be an object")
        stages = f.raw("stages", None)
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            raise f.error("stages", "must be a list of stage names")
        technology = f.raw("technology", {})
        if not isinstance(technology, dict):
            raise f.error("technology", "must be an object of stage: country")
        accreditation = f.raw("accreditation", None)
        if accreditation is not None and not isinstance(accreditation, str):
            raise f.error("accreditation", "must be a string")
        name, operator = (f.raw(n, None) for n in ("name", "operator"))
        return cls(
            id=parse_id(f.raw("id", None), f.field("id")),
            # anything but a non-empty string is refused by __post_init__, naming the field
            name=name if isinstance(name, str) else "",
            operator=operator if isinstance(operator, str) else "",
            country=parse_country(f.raw("country", None), f.field("country")),
            activities=frozenset(stages),
            technology=technology,
            accreditation=accreditation,
        )


@dataclass(frozen=True)
class LotSpec:
    """A lot as an event declares it: what comes out of an extract, process, assemble or recycle."""

    id: str
    form: Form
    mass_kg: float
    composition: Composition
    units: int | None = None
    declared_value: float | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        parse_lot_id(self.id, "lot.id")
        parse_positive(self.mass_kg, "lot.mass_kg")
        if self.units is not None and (
            isinstance(self.units, bool)
            or not isinstance(self.units, int)
            or not 0 < self.units <= MAX_MASS_KG
        ):
            raise ValidationError(
                f"must be a positive whole number, at most {MAX_MASS_KG:g}", field="lot.units"
            )
        if self.declared_value is not None:
            parse_positive(self.declared_value, "lot.declared_value", allow_zero=True, at_most=MAX_VALUE)
            if not isinstance(self.currency, str) or not re.fullmatch(r"[A-Z]{3}", self.currency):
                raise ValidationError(
                    "a declared value needs an ISO 4217 currency code", field="lot.currency"
                )

    def element_mass(self, element: str) -> float:
        return self.mass_kg * self.composition.fraction(element)

    def to_dict(self) -> JSONObject:
        out: JSONObject = {
            "id": self.id,
            "form": self.form.value,
            "mass_kg": self.mass_kg,
            "composition": self.composition.to_dict(),
        }
        if self.units is not None:
            out["units"] = self.units
        if self.declared_value is not None:
            out["declared_value"] = {"amount": self.declared_value, "currency": self.currency}
        return out

    @classmethod
    def from_dict(cls, value: object, field_name: str) -> LotSpec:
        f = Fields(value, field_name, shape="must be an object describing a lot")
        amount, currency = _declared_value(f)
        form = f.checked("form", _parse_form)
        composition = f.checked("composition", Composition.from_dict)
        try:
            return cls(
                id=f.raw("id", None),  # type: ignore[arg-type]  # checked in __post_init__
                form=form,
                mass_kg=f.raw("mass_kg", None),  # type: ignore[arg-type]  # checked in __post_init__
                composition=composition,
                units=f.raw("units", None),  # type: ignore[arg-type]  # checked in __post_init__
                declared_value=amount,
                currency=currency,
            )
        except ValidationError as e:  # __post_init__ names the fields of "lot"; this one is field_name
            raise ValidationError(e.message, field=(e.field or "").replace("lot", field_name, 1)) from e


def _parse_form(value: object, field_name: str) -> Form:
    return parse_enum(Form, value, field_name)


def _declared_value(lot: Fields) -> tuple[float | None, str | None]:
    """A lot's ``declared_value`` as (amount, currency), both None when it declares none; the amount's
    range and the currency's form are checked by ``LotSpec.__post_init__``."""
    declared = lot.table("declared_value")
    if declared is None:
        return None, None
    amount = declared.raw("amount", None)
    if amount is None:
        raise declared.error("amount", "missing")
    return amount, declared.raw("currency", None)  # type: ignore[return-value]  # checked in __post_init__


@dataclass(frozen=True)
class Lot:
    """A lot as the registry holds it: its declaration plus custody and what remains of it."""

    spec: LotSpec
    custodian: str
    remaining_kg: float
    producer: str
    stage: Stage
    produced_seq: int
    created_time: str
    in_transit_to: str | None = None
    deposit: str | None = None
    void: bool = False
    #: The origin vector as stored (``origin_text``: a ``provenance.LotOrigin`` written compactly);
    #: parsed on demand, because most appends move lots without looking at their history.
    origin_text: str | None = None

    def __post_init__(self) -> None:
        parse_positive(self.remaining_kg, "lot.remaining_kg", allow_zero=True)
        if self.remaining_kg > self.spec.mass_kg * (1 + FRACTION_SLACK):
            raise ValidationError("remaining mass exceeds the lot's mass", field="lot.remaining_kg")

    @property
    def id(self) -> str:
        return self.spec.id

    def evolve(self, **changes: object) -> Lot:
        """A copy with some fields changed, checking the one invariant such changes can break.

        ``dataclasses.replace`` would re-run every check of the lot; on the append path the lot is
        already valid and only its custody, remaining mass or voidness move.
        """
        new = trusted(Lot, **{**self.__dict__, **changes})
        if not 0 <= new.remaining_kg <= new.spec.mass_kg * (1 + FRACTION_SLACK):
            raise ValidationError(
                f"remaining mass {new.remaining_kg:g} kg is outside 0 and the lot's mass",
                field="lot.remaining_kg",
            )
        return new

    def origin(self) -> LotOrigin:
        """Per element, the countries and technologies of each stage done (``unknown`` if untraced),
        with the joint paths where recorded."""
        return with_marginals(self.stored_origin())

    def stored_origin(self) -> LotOrigin:
        """The origin vector as stored (paths only where recorded): what the append path pools."""
        if self.origin_text is None:
            return untraced(e for e in self.spec.composition.fractions if e in REE_SYMBOLS)
        return decode_origin(self.origin_text)

    def to_dict(self) -> dict[str, object]:
        """The lot as JSON values (the origin vector as its TypedDicts, which are JSON objects)."""
        out: dict[str, object] = dict(self.spec.to_dict())
        out.update(
            {
                "custodian": self.custodian,
                "remaining_kg": self.remaining_kg,
                "producer": self.producer,
                "stage": self.stage.value,
                "produced_seq": self.produced_seq,
                "created_time": self.created_time,
                "in_transit_to": self.in_transit_to,
                "deposit": self.deposit,
                "void": self.void,
                "origin": ordered(self.origin()),
            }
        )
        return out
