"""Read assays from CSV, with the unit of every column stated in its header.

Header names (case-insensitive; the unit in parentheses, brackets or after an underscore):

* ``sample`` (or ``sample_id``, ``id``): optional, the sample's name; ``form``: required unless a default
  form is given (ore, concentrate, mixed_oxide, separated_oxide, metal, alloy, magnet, component, product,
  scrap);
* an element in ``ppm``, ``ppb``, ``mg/kg``, ``g/t``, ``wt%`` or ``%``: ``La (ppm)``, ``Nd [wt%]``,
  ``Th_ppm``;
* an oxide in ``wt%`` or ``%``, the element's usual traded oxide: ``La2O3 (wt%)``, ``CeO2 (wt%)``,
  ``Pr6O11 (wt%)``, ``Tb4O7 (wt%)``; converted to element ppm with stoichiometric factors;
* isotopes without a unit: ``eNd`` (present-day epsilon-Nd), ``143Nd/144Nd``, ``87Sr/86Sr``, ``206Pb/204Pb``,
  ``207Pb/204Pb``, ``208Pb/204Pb``.

A cell ``<0.05`` is below a detection limit of 0.05 (in the column's unit). Per-sample, per-element limits
and uncertainties may also have columns of their own: ``DL La (ppm)``, ``DL La2O3 (wt%)`` (the limit; a cell
``<DL`` or ``bdl`` then takes it) and ``U La (ppm)`` (the 1-sigma uncertainty of the value; ``U eNd``,
``U 143Nd/144Nd``, ``U 87Sr/86Sr`` for the isotope ratios, in their own units). A value is read at
its own precision: the rounding of its last digit (a uniform error of one unit, standard deviation unit /
sqrt(12)) adds to its uncertainty, and a value rounded to zero ("0.000") is below half a unit of its last
digit (censored there), so oxide wt% to three decimals and ppm to one are read for what they say. The 15 REY
(La-Lu without Pm,
plus Y) are required columns, and required cells for ore, concentrate and mixed oxide rows; processed forms
may leave them blank. Unknown columns, units that are not stated, negative values, a reported total above
100% and missing required values are errors that name the row (line number, header = row 1) and column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from raretrace.elements import OTHER, oxide_factor, oxide_formula, parse_component
from raretrace.errors import ValidationError
from raretrace.fingerprint.declared import ISOTOPE_KEYS, PATTERN_FORMS, FingerprintResult, check_assay
from raretrace.fingerprint.features import BELOW_DL_FRACTION, describe_many
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.model import FingerprintModel
from raretrace.model import Form, parse_enum

#: ppm per one unit of each accepted unit.
UNITS: Final = {"ppm": 1.0, "mg/kg": 1.0, "g/t": 1.0, "ppb": 1e-3, "wt%": 1e4, "%": 1e4}
#: A reported total may exceed 100% by this much (rounding of the individual values).
TOTAL_TOLERANCE_PCT: Final = 0.5
_ID_NAMES: Final = ("sample", "sample_id", "id")
_HEADER: Final = re.compile(
    r"^\s*(?P<name>[^\s(\[_]+?)\s*(?:[(\[]\s*(?P<u1>[^)\]]+?)\s*[)\]]|_(?P<u2>\S+)|\s(?P<u3>\S+))?\s*$"
)
_ISOTOPE_RANGES: Final = {
    "eNd": (-60.0, 60.0),
    "143Nd/144Nd": (0.50, 0.53),
    "87Sr/86Sr": (0.69, 1.2),
    "206Pb/204Pb": (9.0, 100.0),
    "207Pb/204Pb": (10.0, 40.0),
    "208Pb/204Pb": (28.0, 120.0),
}


@dataclass(frozen=True)
class AssaySample:
    row: int
    sample_id: str
    form: str
    ppm: Mapping[str, float]  # element -> ppm, as measured (below-detection elements are absent)
    isotopes: Mapping[str, float]
    detection_limits: Mapping[str, float] = field(default_factory=dict)  # element -> DL ppm, "< DL" cells
    uncertainties: Mapping[str, float] = field(default_factory=dict)  # element -> 1-sigma ppm (with rounding)

    def assay(self) -> dict[str, float]:
        return dict(self.ppm) | dict(self.isotopes)

    def check(self, declared: str | None = None, model: FingerprintModel | None = None) -> FingerprintResult:
        return check_assay(
            self.assay(), self.form, declared, detection_limits=self.detection_limits,
            uncertainties=self.uncertainties, model=model,
        )  # fmt: skip

    def pattern(self) -> dict[str, float]:
        """REY ppm with values below detection at 0.65 x DL, for the pyrolite descriptors only (the model
        censors them)."""
        limits = {e: BELOW_DL_FRACTION * dl for e, dl in self.detection_limits.items() if e in REY}
        return {e: v for e, v in self.ppm.items() if e in REY} | limits


def check_samples(
    samples: Sequence[AssaySample], declared: str | None = None, model: FingerprintModel | None = None
) -> list[FingerprintResult]:
    """``check`` for every sample, with the pyrolite descriptors computed in one batch."""
    results = [
        check_assay(
            s.assay(), s.form, declared, detection_limits=s.detection_limits,
            uncertainties=s.uncertainties, model=model, descriptors=False,
        )
        for s in samples
    ]  # fmt: skip
    with_pattern = [i for i, r in enumerate(results) if r.basis.startswith("rey_pattern")]
    described = describe_many([samples[i].pattern() for i in with_pattern])
    for i, d in zip(with_pattern, described, strict=True):
        results[i] = replace(results[i], descriptors=d)
    return results


@dataclass(frozen=True)
class _Column:
    header: str
    kind: str  # id | form | element | isotope | limit | uncertainty
    key: str = ""  # element symbol or isotope key
    to_ppm: float = 1.0  # factor from the cell's value to element ppm
    oxide: bool = False  # value is oxide mass (counts with its oxygen in the total)


def _column(header: str) -> _Column:
    text = header.strip()
    low = text.lower()
    for prefix, kind in (("dl ", "limit"), ("u ", "uncertainty")):
        if prefix == "u " and _unit_only(text[len(prefix) :]):
            break  # "U (ppm)", "U ppm": uranium itself, not the uncertainty of a column
        if low.startswith(prefix) and len(text) > len(prefix):
            try:
                inner = _column(text[len(prefix) :])
            except ValidationError as e:
                raise ValidationError(e.message, field=text, context="row 1") from None
            # an isotope ratio has an uncertainty ("U eNd", "U 87Sr/86Sr"), never a detection limit
            if inner.kind != "element" and not (kind == "uncertainty" and inner.kind == "isotope"):
                raise ValidationError(
                    f"{text!r}: a {kind} column names an element, e.g. '{prefix.strip().upper()} La (ppm)'"
                    + (" or an isotope ratio, 'U eNd'" if kind == "uncertainty" else ""),
                    field=text,
                    context="row 1",
                )
            return replace(inner, header=text, kind=kind)
    if low in _ID_NAMES:
        return _Column(text, "id")
    if low == "form":
        return _Column(text, "form")
    for key in ISOTOPE_KEYS:
        if low in (key.lower(), "epsilon_nd" if key == "eNd" else key.lower()):
            return _Column(text, "isotope", key)
    match = _HEADER.match(text)
    if match is None:
        raise ValidationError(f"unknown column {text!r}", field=text, context="row 1")
    name, unit = match["name"], (match["u1"] or match["u2"] or match["u3"] or "").strip().lower()
    symbol, oxide = _species(name, text)
    if not unit:
        raise ValidationError(
            f"state the unit of {text!r} in the header, e.g. '{name} (ppm)' or '{name} (wt%)'",
            field=text,
            context="row 1",
        )
    if unit not in UNITS:
        raise ValidationError(
            f"unknown unit {unit!r}; use one of {', '.join(UNITS)}", field=text, context="row 1"
        )
    if oxide and UNITS[unit] != 1e4:
        raise ValidationError("give oxides in wt% (or %)", field=text, context="row 1")
    factor = UNITS[unit] * (oxide_factor(symbol) if oxide else 1.0)
    return _Column(text, "element", symbol, factor, oxide)


def _unit_only(rest: str) -> bool:
    """Whether a header's remainder is only a unit ("(ppm)", "[wt%]", "ppm")."""
    r = rest.strip().lower()
    return r[:1] in ("(", "[") or r in UNITS


def _species(name: str, header: str) -> tuple[str, bool]:
    """(element symbol, is-oxide) of a column name such as 'La', 'lanthanum', 'La2O3', 'Th'."""
    try:
        symbol = parse_component(name)
        if symbol != OTHER:
            return symbol, False
    except ValidationError:
        pass
    m = re.match(r"^([A-Z][a-z]?)\d*O\d+$", name)
    if m:
        try:
            symbol = parse_component(m[1])
        except ValidationError:
            symbol = ""
        if symbol in REY and oxide_formula(symbol) == name:
            return symbol, True
        if symbol in REY:
            raise ValidationError(
                f"{name} is not the usual oxide of {symbol}; use {oxide_formula(symbol)}",
                field=header,
                context="row 1",
            )
    raise ValidationError(f"unknown column {header!r}", field=header, context="row 1")


def _half_unit(cell: str) -> float:
    """Half a unit of a number's last written digit ("0.012" -> 0.0005, "120" -> 0.5, "1.2e3" -> 50)."""
    text = cell.strip().lstrip("<").lower()
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent.lstrip("+-").isdigit() else 0))


def _number(cell: str, where: str, row: str) -> tuple[float, bool]:
    """(value, below-detection) of a cell."""
    text = cell.strip()
    below = text.startswith("<")
    try:
        value = float(text[1:] if below else text)
    except ValueError:
        raise ValidationError(f"not a number: {cell!r}", field=where, context=row) from None
    if not math.isfinite(value):
        raise ValidationError(f"not a finite number: {cell!r}", field=where, context=row)
    if value < 0:
        raise ValidationError(f"a concentration cannot be negative, got {value:g}", field=where, context=row)
    if below and value <= 0:
        raise ValidationError("a detection limit must be > 0", field=where, context=row)
    return value, below


def parse_assay_csv(text: str, *, default_form: str | None = None) -> list[AssaySample]:
    """Assays from CSV text; raises ``ValidationError`` naming the row and column of the first problem."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        rows = [(n, r) for n, r in enumerate(reader, start=1) if any(c.strip() for c in r)]
    except csv.Error as e:  # e.g. a cell beyond the csv module's field limit (128 KiB)
        raise ValidationError(
            f"not readable as CSV: {e}", field="csv", context=f"row {reader.line_num}"
        ) from e
    if not rows:
        raise ValidationError("the CSV is empty", field="header", context="row 1")
    header_line, header = rows[0]
    columns = [_column(h) for h in header]
    seen: dict[str, str] = {}
    for c in columns:
        key = c.kind if c.kind in ("id", "form") else c.key
        key = f"{c.kind} {key}" if c.kind in ("limit", "uncertainty") else key
        if key in seen:
            raise ValidationError(f"{c.header!r} repeats {seen[key]!r}", field=c.header, context="row 1")
        seen[key] = c.header
    if "form" not in seen and default_form is None:
        raise ValidationError("missing required column 'form'", field="form", context="row 1")
    absent = [e for e in REY if e not in seen]  # the values' own columns ("DL La" is not "La")
    if absent:
        raise ValidationError(
            f"missing required column(s) for {', '.join(absent)} (give each REY in ppm or as oxide wt%)",
            field=absent[0],
            context="row 1",
        )
    return [_row(n, r, columns, header_line, default_form) for n, r in rows[1:]]


def _row(
    n: int, cells: list[str], columns: list[_Column], header_line: int, default: str | None
) -> AssaySample:
    row = f"row {n}"
    if len(cells) != len(columns):
        raise ValidationError(
            f"has {len(cells)} cells, the header (row {header_line}) has {len(columns)}",
            field="row",
            context=row,
        )
    sample_id, form_text = f"row {n}", default
    ppm: dict[str, float] = {}
    limits: dict[str, float] = {}
    sds: dict[str, float] = {}
    isotopes: dict[str, float] = {}
    total_pct = 0.0
    given_limits, given_sds = _side_columns(cells, columns, row)
    for col, cell in zip(columns, cells, strict=True):
        text = cell.strip()
        if col.kind == "id":
            sample_id = text or sample_id
        elif col.kind == "form":
            form_text = text or default
        elif col.kind in ("limit", "uncertainty") or not text:
            continue
        elif col.kind == "isotope":
            isotopes[col.key] = _isotope(cell, col.key, col.header, row)
        elif text.lower() in ("<dl", "bdl", "<lod"):
            if col.key not in given_limits:
                raise ValidationError(
                    f"{text!r} needs a detection limit: give 'DL {col.key} (ppm)' or write '<0.05'",
                    field=col.header,
                    context=row,
                )
            limits[col.key] = given_limits[col.key]
        else:
            value, below = _number(cell, col.header, row)
            half = _half_unit(text) * col.to_ppm
            if below:
                limits[col.key] = value * col.to_ppm
            elif value == 0.0:
                limits[col.key] = given_limits.get(col.key, half)  # rounded to zero: below half a unit
            else:
                ppm[col.key] = value * col.to_ppm
                rounding = 2.0 * half / math.sqrt(12.0)
                sds[col.key] = math.hypot(given_sds.get(col.key, 0.0), rounding)
                total_pct += value * col.to_ppm / 1e4 / (oxide_factor(col.key) if col.oxide else 1.0)
    sds |= {key: given_sds[key] for key in isotopes if key in given_sds}  # 1-sigma of a reported ratio
    form = _form(form_text, row)
    if total_pct > 100.0 + TOTAL_TOLERANCE_PCT:
        raise ValidationError(
            f"the reported values add up to {total_pct:.2f}% of the sample, more than 100%",
            field="total",
            context=row,
        )
    if form in PATTERN_FORMS:
        _require_pattern(form, columns, ppm, limits, row)
    return AssaySample(n, sample_id, form.value, ppm, isotopes, limits, sds)


def _form(form_text: str | None, row: str) -> Form:
    """The sample's form (its cell, else the default given), required."""
    if form_text is None or not form_text:
        raise ValidationError("missing required value", field="form", context=row)
    try:
        return parse_enum(Form, form_text.strip().lower(), "form")
    except ValidationError as e:
        raise ValidationError(e.message, field="form", context=row) from e


def _require_pattern(
    form: Form, columns: list[_Column], ppm: Mapping[str, float], limits: Mapping[str, float], row: str
) -> None:
    """A form read by its REY pattern (ore, concentrate, mixed oxide) has all 15 REY: a value or a limit."""
    headers = {c.key: c.header for c in columns if c.kind == "element"}
    for symbol in REY:
        if symbol not in ppm and symbol not in limits:
            raise ValidationError(
                f"missing required value for {symbol} (a {form.value} needs all 15 REY; "
                "write values below detection as e.g. '<0.05')",
                field=headers[symbol],
                context=row,
            )


def _side_columns(
    cells: list[str], columns: list[_Column], row: str
) -> tuple[dict[str, float], dict[str, float]]:
    """(detection limits, uncertainties) in ppm from a row's 'DL ...' and 'U ...' columns."""
    limits: dict[str, float] = {}
    sds: dict[str, float] = {}
    for col, cell in zip(columns, cells, strict=True):
        if col.kind not in ("limit", "uncertainty") or not cell.strip():
            continue
        value, below = _number(cell, col.header, row)
        if below:
            raise ValidationError("write the number alone here, without '<'", field=col.header, context=row)
        if col.kind == "limit":
            if value <= 0:
                raise ValidationError("a detection limit must be > 0", field=col.header, context=row)
            limits[col.key] = value * col.to_ppm
        else:
            sds[col.key] = value * col.to_ppm
    return limits, sds


def _isotope(cell: str, key: str, header: str, row: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise ValidationError(f"not a number: {cell!r}", field=header, context=row) from None
    lo, hi = _ISOTOPE_RANGES[key]
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValidationError(
            f"{value:g} is not a possible {key} (expected {lo:g} to {hi:g})", field=header, context=row
        )
    return value
