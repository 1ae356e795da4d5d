"""The reference library: deposits with their sourced rare-earth distributions and isotope signatures.

The library is package data (``data/deposits.json``). Every figure there names its source (the row's, or its
own ``figure_source``) and how it is known (``status``, or its own ``figure_status``); this module only reads
and checks it, and turns each row into the log-normal reference the model is built on. It never fills in a
figure a source does not give: an element without one is simply unknown for that deposit. What the figures
leave of the whole composition (``Deposit.remainders``: 100% less the published row, a group less its
published members) is computed, never split among elements, so simulated samples can be whole compositions.
Figures of an approximate row are modelled with a widened spread, except single figures read in a public
source (status ``published``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import pycountry

from raretrace.elements import parse_element
from raretrace.errors import ValidationError
from raretrace.fields import Fields
from raretrace.fingerprint.trace_ratios import SINGLE_FIGURE_LOG_SD, TRACE_ELEMENTS, TRACE_RATIOS
from raretrace.io import read_json_file, read_package_table

#: The 15 rare earths of a REY pattern (lanthanides without Pm, plus Y), in atomic-number order of the
#: lanthanides with Y last, as the sources tabulate them.
REY: Final[tuple[str, ...]] = (
    "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y",
)  # fmt: skip

#: A reference "vouches" for samples (open-set acceptance, likelihood-ratio verdicts) only if it gives
#: figures for at least this many single REY; sparser references can be matched but not relied on.
COMPLETE_MIN: Final = 9
#: Key of the remainder of a composition that no figure of the reference covers (``Deposit.remainders``).
REST: Final = "rest"
#: Isotope quantities a reference may hold: ``eNd_initial`` (a source's initial epsilon-Nd at ``age_ma``,
#: evolved to today by each sample's own Sm/Nd), ``eNd`` (present-day epsilon-Nd as measured on the material
#: itself, what ``library build`` fits to reference samples) and ``87Sr/86Sr``.
ISOTOPE_QUANTITIES: Final = frozenset({"eNd_initial", "eNd", "87Sr/86Sr"})
#: How a figure is known: read in a named public source; the Castor & Hedrick table as recalled; an
#: approximate secondary summary; computed here from published figures (the computation is stated); or
#: fitted to certified reference samples by ``library build`` (``measured``).
STATUSES: Final = frozenset({"published", "recalled", "secondary", "estimated", "measured"})
#: Setting: path of a library file (from ``raretrace fingerprint library build``) to use instead of the
#: shipped literature library, by every fingerprint command and the registry.
LIBRARY_SETTING: Final = "RARETRACE_FINGERPRINT_LIBRARY"


@dataclass(frozen=True)
class Share:
    """One sourced share of TREO (percent, oxide basis) as a log-normal: centre and natural log-sd."""

    centre_pct: float
    log_sd: float


@dataclass(frozen=True)
class IsotopeRef:
    quantity: str
    mean: float
    sd: float
    source: str
    age_ma: float | None = None
    material: str = ""
    #: a measured present-day ``eNd`` on its deposit's Sm-Nd isochron: ``mean`` at 147Sm/144Nd ``at_atoms``,
    #: changing by ``slope`` per unit 147Sm/144Nd (zero: no line given)
    slope: float = 0.0
    at_atoms: float = 0.0


@dataclass(frozen=True)
class RatioRef:
    """A trace-element ratio (mass basis): published (e.g. Ce/Yb of loparite) or fitted to samples."""

    ratio: str
    low: float
    high: float
    source: str
    status: str
    material: str = ""

    @property
    def log_centre(self) -> float:
        """Log of the geometric centre of the figure (a range's centre, or the single figure)."""
        return (math.log(self.low) + math.log(self.high)) / 2

    @property
    def log_sd(self) -> float:
        """Within-deposit log-sd: a range read as a 95% interval; a single figure the assumed spread."""
        if self.high > self.low:
            return math.log(self.high / self.low) / 3.92
        return SINGLE_FIGURE_LOG_SD


@dataclass(frozen=True)
class Deposit:
    id: str
    name: str
    countries: tuple[str, ...]
    type: str
    mineral: str
    approximate: bool
    source: str
    shares: Mapping[str, Share]  # keyed by element symbol or group name "Pr+Nd"
    isotopes: tuple[IsotopeRef, ...] = ()
    trace: tuple[str, ...] = ()
    notes: str = ""
    status: str = "recalled"
    ratios: tuple[RatioRef, ...] = ()
    figure_status: Mapping[str, str] = field(default_factory=dict)
    figure_source: Mapping[str, str] = field(default_factory=dict)
    remainders: Mapping[str, Share] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def status_of(self, key: str) -> str:
        """How one figure (a share key such as "Nd" or "Pr+Nd") is known: its own status where the library
        gives one (the text starts with a status word), else the distribution's."""
        return self.figure_status.get(key, self.status).split(":", 1)[0]

    def source_of(self, key: str) -> str:
        """The source key(s) of one figure: its own where the library gives one, else the row's."""
        return self.figure_source.get(key, self.source)

    @property
    def published_rey(self) -> tuple[str, ...]:
        """The single REY the reference gives a figure for, in REY order: what an assay simulated from
        it can report (the rest stay unreported, never filled in)."""
        return tuple(e for e in REY if e in self.shares)

    @property
    def full_pattern(self) -> bool:
        """Whether the reference gives a figure for every one of the 15 REY, so that a simulated assay is
        a complete assay of the kind a lab reports."""
        return len(self.published_rey) == len(REY)

    @property
    def pattern_group(self) -> str:
        """``full`` (all 15 REY), ``near-complete`` (at least ``COMPLETE_MIN``) or ``partial``."""
        if self.full_pattern:
            return "full"
        return "near-complete" if self.complete_pattern else "partial"

    @property
    def country(self) -> str:
        return self.countries[0]

    @property
    def complete_pattern(self) -> bool:
        """Whether the reference gives figures for at least ``COMPLETE_MIN`` single REY."""
        return sum(e in self.shares for e in REY) >= COMPLETE_MIN

    def isotope(self, quantity: str) -> IsotopeRef | None:
        return next((i for i in self.isotopes if i.quantity == quantity), None)

    def trace_ratio(self, name: str) -> RatioRef | None:
        """The reference's figure for a compared trace ratio (``trace_ratios.TRACE_RATIOS``), if any."""
        return next((r for r in self.ratios if r.ratio == name and name in TRACE_RATIOS), None)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class Library:
    deposits: tuple[Deposit, ...]
    sources: Mapping[str, Any]
    origin: str
    #: measured inter-laboratory bias (log-sd) of a library built from samples; None = the model's default
    lab_bias_sd: float | None = None
    #: deposits left out (``without``): still names a declaration may use, with no reference to test
    withheld: tuple[Deposit, ...] = ()
    #: what the library is, in a line (its file's title)
    title: str = ""
    #: added to the model's open-set threshold: calibrated on the library's own samples (``conformal``)
    novelty_shift: float = 0.0
    #: per deposit, subtracted from its declared-origin thresholds: calibrated on the samples (``conformal``)
    declared_shift: Mapping[str, float] = field(default_factory=dict)

    def get(self, deposit_id: str) -> Deposit:
        for d in self.deposits:
            if d.id == deposit_id:
                return d
        raise ValidationError(
            f"no deposit {deposit_id!r} in the library; known: {', '.join(self.ids())}", field="deposit"
        )

    def ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.deposits)

    def without(self, *deposit_ids: str) -> Library:
        """The same library with some deposits left out (open-set evaluation)."""
        kept = tuple(d for d in self.deposits if d.id not in deposit_ids)
        gone = self.withheld + tuple(d for d in self.deposits if d.id in deposit_ids)
        origin = f"{self.origin} without {', '.join(deposit_ids)}"
        return Library(
            kept,
            self.sources,
            origin,
            self.lab_bias_sd,
            gone,
            self.title,
            self.novelty_shift,
            self.declared_shift,
        )

    def resolve(self, declared: str) -> tuple[str, tuple[Deposit, ...]]:
        """What a declared origin names: ``("deposit", (d,))`` for a deposit id or name, or
        ``("country", deposits)`` for an ISO 3166-1 alpha-2 code (possibly no deposit in the library)."""
        if not isinstance(declared, str) or not declared.strip():
            raise ValidationError("a declared origin is a deposit id or a country code", field="declared")
        key = declared.strip()
        for d in self.deposits:
            if key.lower() in (d.id, d.name.lower()):
                return "deposit", (d,)
        for d in self.withheld:
            if key.lower() in (d.id, d.name.lower()):
                return "deposit", ()
        if len(key) == 2 and key.isalpha() and pycountry.countries.get(alpha_2=key.upper()) is not None:
            code = key.upper()
            return "country", tuple(d for d in self.deposits if code in d.countries)
        raise ValidationError(
            f"{declared!r} is neither a deposit of the library ({', '.join(self.ids())}) "
            "nor an ISO 3166-1 alpha-2 country code",
            field="declared",
        )


def _num(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError("must be a finite number", field=where)
    return float(value)


def _range(value: object, where: str) -> tuple[float, float]:
    """A figure as ``(low, high)``: a number gives ``(x, x)``."""
    if isinstance(value, list):
        if len(value) != 2:
            raise ValidationError("a range is [low, high]", field=where)
        low, high = _num(value[0], where), _num(value[1], where)
        if not 0 < low <= high:
            raise ValidationError("a range needs 0 < low <= high", field=where)
        return low, high
    x = _num(value, where)
    if x <= 0:
        raise ValidationError("a share must be > 0 (leave out elements without a figure)", field=where)
    return x, x


def _log_sd(centre: float, spread: float, var: Mapping[str, Any], scale: float) -> float:
    if centre >= 1.0:
        base = float(var["log_sd_major"])
    elif centre >= 0.1:
        base = float(var["log_sd_minor"])
    else:
        base = float(var["log_sd_trace"])
    return max(base * scale, spread)


def _group_members(name: str, where: str) -> tuple[str, ...]:
    members = tuple(parse_element(part).value for part in name.split("+"))
    if len(members) < 2 or any(m not in REY for m in members):
        raise ValidationError("a group is two or more REY symbols joined by '+'", field=where)
    return members


def group_members(name: str) -> tuple[str, ...]:
    return _group_members(name, "group")


def _widened(row: Mapping[str, Any], key: str) -> bool:
    """Whether a figure gets the approximate row's widened spread: every figure of an approximate row
    except those read in a named public source (figure status ``published``)."""
    if not row.get("approximate", True):
        return False
    text = (row.get("figure_status") or {}).get(key, row.get("status", "recalled"))
    return not str(text).startswith("published")


def _shares(row: Mapping[str, Any], var: Mapping[str, Any], where: str) -> dict[str, Share]:
    dist = row.get("distribution")
    if not isinstance(dist, dict) or not dist:
        raise ValidationError("every deposit has a non-empty distribution", field=f"{where}.distribution")
    low_conf = set(row.get("low_confidence", []))
    ranges: dict[str, tuple[float, float]] = {}
    for key, value in dist.items():
        symbol = parse_element(key).value
        if symbol not in REY:
            raise ValidationError(f"{symbol} is not one of the REY", field=f"{where}.distribution")
        ranges[symbol] = _range(value, f"{where}.distribution.{key}")
    if row.get("renormalize"):
        total = sum(math.sqrt(lo * hi) for lo, hi in ranges.values())
        ranges = {k: (lo * 100 / total, hi * 100 / total) for k, (lo, hi) in ranges.items()}
    for key, value in (row.get("groups") or {}).items():
        _group_members(key, f"{where}.groups.{key}")
        ranges[key] = _range(value, f"{where}.groups.{key}")
    shares = {}
    for key, (lo, hi) in ranges.items():
        centre = math.sqrt(lo * hi)
        factor = float(var["low_confidence_scale"]) if key in low_conf else 1.0
        scale = float(var["approximate_scale"]) if _widened(row, key) else 1.0
        shares[key] = Share(centre, _log_sd(centre, math.log(hi / lo) / 3.92, var, scale * factor))
    return shares


def _remainders(
    shares: Mapping[str, Share], row: Mapping[str, Any], var: Mapping[str, Any]
) -> dict[str, Share]:
    """The parts of the composition the reference gives no single figure for, so that a simulated sample
    can be a whole (closed) composition without a number being invented for any element.

    * a group's remainder (key: the group, e.g. "La+Ce" when only Ce has its own figure): the group's figure
      less the figures of its members and of the smaller groups inside it;
    * ``REST``: the elements neither a single nor a group figure covers, together: 100% less the sum of the
      figures (the closure of the published row). Nothing when every REY is covered or the row sums to
      100% or more (a rounded, complete row).

    Each is a share of its own size with the library's spread for that size (``_log_sd``); a remainder of
    zero or less (figures that already account for the group) is left out."""
    out: dict[str, Share] = {}
    covered: dict[str, float] = {e: s.centre_pct for e, s in shares.items() if "+" not in e}
    groups = sorted((k for k in shares if "+" in k), key=lambda k: len(group_members(k)))
    for key in groups:
        members = set(group_members(key))
        if members <= covered.keys():
            continue
        inner = sum(c for k, c in covered.items() if set(k.split("+")) <= members)
        centre = shares[key].centre_pct - inner
        scale = float(var["approximate_scale"]) if _widened(row, key) else 1.0
        if centre > 0:
            out[key] = Share(centre, _log_sd(centre, 0.0, var, scale))
        covered = {k: c for k, c in covered.items() if not set(k.split("+")) <= members}
        covered[key] = shares[key].centre_pct
    if set(REY) - {e for k in covered for e in k.split("+")}:
        rest = 100.0 - sum(covered.values())
        scale = float(var["approximate_scale"]) if row.get("approximate", True) else 1.0
        if rest > 0:
            out[REST] = Share(rest, _log_sd(rest, 0.0, var, scale))
    return out


def _isotopes(row: Mapping[str, Any], where: str) -> tuple[IsotopeRef, ...]:
    out = []
    for i, iso in enumerate(row.get("isotopes") or []):
        at = f"{where}.isotopes[{i}]"
        quantity = iso.get("quantity")
        if quantity not in ISOTOPE_QUANTITIES:
            raise ValidationError(f"quantity must be one of {sorted(ISOTOPE_QUANTITIES)}", field=at)
        if not isinstance(iso.get("source"), str) or not iso["source"]:
            raise ValidationError("every isotope figure names its source", field=at)
        if "range" in iso:
            lo, hi = _range(iso["range"], f"{at}.range")
            mean, sd = (lo + hi) / 2, (hi - lo) / 3.92
        else:
            mean, sd = _num(iso.get("value"), f"{at}.value"), _num(iso.get("sd"), f"{at}.sd")
        age = iso.get("age_ma")
        if quantity == "eNd_initial" and age is None:
            raise ValidationError("an initial epsilon-Nd needs age_ma", field=at)
        line = iso.get("isochron") or {}
        out.append(
            IsotopeRef(
                quantity, mean, sd, iso["source"], None if age is None else _num(age, f"{at}.age_ma"),
                str(iso.get("material", "")),
                _num(line["per_147Sm_144Nd"], f"{at}.isochron.per_147Sm_144Nd") if line else 0.0,
                _num(line["at_147Sm_144Nd"], f"{at}.isochron.at_147Sm_144Nd") if line else 0.0,
            )
        )  # fmt: skip
    return tuple(out)


def _source_keys(value: object, sources: Mapping[str, Any], where: str) -> str:
    """A source reference ("key" or "key1; key2"), every key present in the library's sources."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("every figure names its source", field=where)
    for key in (k.strip() for k in value.split(";")):
        if key not in sources:
            raise ValidationError(f"unknown source {key!r}", field=where)
    return value


def _status(value: object, where: str) -> str:
    if not isinstance(value, str) or value.split(":", 1)[0] not in STATUSES:
        raise ValidationError(f"status must start with one of {sorted(STATUSES)}", field=where)
    return value


def _ratios(row: Mapping[str, Any], sources: Mapping[str, Any], where: str) -> tuple[RatioRef, ...]:
    out = []
    for i, r in enumerate(row.get("ratios") or []):
        at = f"{where}.ratios[{i}]"
        name = r.get("ratio")
        parts = name.split("/") if isinstance(name, str) else []
        if len(parts) != 2:
            raise ValidationError("a ratio is two element symbols, 'Ce/Yb'", field=at)
        for part in parts:  # a rare earth, or an element of a compared trace ratio (Th, U, Nb, Ta)
            if part not in TRACE_ELEMENTS:
                parse_element(part)
        if r.get("basis") != "mass":
            raise ValidationError("only mass ratios are held (basis: mass)", field=at)
        lo, hi = _range(r.get("range", r.get("value")), f"{at}.value")
        out.append(
            RatioRef(
                name, lo, hi, _source_keys(r.get("source"), sources, f"{at}.source"),
                _status(r.get("status"), f"{at}.status"), str(r.get("material", "")),
            )
        )  # fmt: skip
    return tuple(out)


def _check_provenance(row: Mapping[str, Any], sources: Mapping[str, Any], where: str) -> None:
    """Every isotope, age and verification entry names known sources and a status where it holds a
    figure."""
    for i, iso in enumerate(row.get("isotopes") or []):
        _source_keys(iso.get("source"), sources, f"{where}.isotopes[{i}].source")
        _status(iso.get("status"), f"{where}.isotopes[{i}].status")
    for i, age in enumerate(row.get("ages") or []):
        _source_keys(age.get("source"), sources, f"{where}.ages[{i}].source")
        _status(age.get("status"), f"{where}.ages[{i}].status")
    for i, v in enumerate(row.get("verification") or []):
        _source_keys(v.get("against"), sources, f"{where}.verification[{i}].against")
        if not isinstance(v.get("result"), str) or not v["result"]:
            raise ValidationError("a verification states its result", field=f"{where}.verification[{i}]")
    figures = set(row.get("distribution") or {}) | set(row.get("groups") or {})
    for key, text in (row.get("figure_status") or {}).items():
        if key not in figures:
            raise ValidationError(f"no figure {key!r} to give a status to", field=f"{where}.figure_status")
        _status(text, f"{where}.figure_status.{key}")
    for key, ref in (row.get("figure_source") or {}).items():
        if key not in figures:
            raise ValidationError(f"no figure {key!r} to give a source to", field=f"{where}.figure_source")
        _source_keys(ref, sources, f"{where}.figure_source.{key}")


def library_from_dict(data: object, origin: str) -> Library:
    if not isinstance(data, dict) or not isinstance(data.get("deposits"), list):
        raise ValidationError("a deposit library is an object with a list 'deposits'", field="deposits")
    var = data.get("variability")
    if not isinstance(var, dict):
        raise ValidationError("the library states its variability model", field="variability")
    sources = data.get("sources") or {}
    deposits: list[Deposit] = []
    for i, row in enumerate(data["deposits"]):
        where = f"deposits[{i}]"
        deposit = Fields(row, where, shape="every deposit is an object")
        for name in ("id", "name", "type", "mineral", "source"):
            deposit.text(name)
        if row["source"] not in sources:
            raise ValidationError(f"unknown source {row['source']!r}", field=f"{where}.source")
        countries = row.get("countries")
        if not isinstance(countries, list) or not countries:
            raise ValidationError("at least one ISO 3166-1 alpha-2 code", field=f"{where}.countries")
        for c in countries:
            if not isinstance(c, str) or pycountry.countries.get(alpha_2=c) is None:
                raise ValidationError(f"{c!r} is not an ISO 3166-1 alpha-2 code", field=f"{where}.countries")
        if any(d.id == row["id"] for d in deposits):
            raise ValidationError(f"deposit {row['id']!r} appears twice", field=f"{where}.id")
        _check_provenance(row, sources, where)
        shares = _shares(row, var, where)
        deposits.append(
            Deposit(
                id=row["id"], name=row["name"], countries=tuple(countries), type=row["type"],
                mineral=row["mineral"], approximate=bool(row.get("approximate", True)),
                source=row["source"], shares=shares, isotopes=_isotopes(row, where),
                trace=tuple(row.get("trace", [])), notes=str(row.get("notes", "")),
                status=_status(row.get("status"), f"{where}.status"), ratios=_ratios(row, sources, where),
                figure_status=dict(row.get("figure_status") or {}),
                figure_source=dict(row.get("figure_source") or {}),
                remainders=_remainders(shares, row, var), raw=row,
            )
        )  # fmt: skip
    for i, check in enumerate(data.get("literature_checks") or []):
        where = f"literature_checks[{i}]"
        _source_keys(check.get("source"), sources, f"{where}.source")
        if not isinstance(check.get("result"), str) or not check["result"]:
            raise ValidationError("a literature check states its result", field=f"{where}.result")
    bias = data.get("lab_bias_sd")
    if bias is not None and (isinstance(bias, bool) or not isinstance(bias, int | float) or bias < 0):
        raise ValidationError("must be a number >= 0", field="lab_bias_sd")
    calibration = data.get("calibration") or {}
    if not isinstance(calibration, dict):
        raise ValidationError("must be an object", field="calibration")
    shift = _num(calibration.get("novelty_shift", 0.0), "calibration.novelty_shift")
    return Library(
        tuple(deposits),
        sources,
        origin,
        None if bias is None else float(bias),
        (),
        str(data.get("title", "")),
        shift,
        _declared_shifts(calibration.get("declared"), {d.id for d in deposits}),
    )


def _declared_shifts(entry: object, ids: set[str]) -> dict[str, float]:
    """``calibration.declared.shift`` of a library file: a number per deposit of the library."""
    if entry is None:
        return {}
    where = "calibration.declared.shift"
    shifts = entry.get("shift") if isinstance(entry, dict) else None
    if not isinstance(shifts, dict):
        raise ValidationError("an object of shifts per deposit", field=where)
    for key in shifts:
        if key not in ids:
            raise ValidationError(f"no deposit {key!r} in the library", field=where)
    return {str(k): _num(v, f"{where}.{k}") for k, v in shifts.items()}


def read_library_file(path: str) -> Library:
    """A library file (``library build``'s output, or a copy of the shipped one), checked like the
    shipped one: every figure with its source."""
    return library_from_dict(read_json_file(Path(path), "library"), path)


def library_data() -> dict[str, Any]:
    """The shipped library file as a dict (a fresh copy each call)."""
    return read_package_table("data/deposits.json")


@cache
def load_library() -> Library:
    """The library in use (read once per process): the file the ``RARETRACE_FINGERPRINT_LIBRARY`` setting
    names, else the shipped literature library."""
    path = os.environ.get(LIBRARY_SETTING, "").strip()
    return read_library_file(path) if path else literature_library()


@cache
def literature_library() -> Library:
    """The shipped reference library: literature figures, approximate."""
    return library_from_dict(library_data(), "raretrace/data/deposits.json")
