"""A reference library from certified reference samples, as verification labs build their own.

For each deposit and REY element the log share of TREO (oxide basis, the literature library's basis) is fitted
as a censored Gaussian by maximum likelihood: a measured value contributes its density, a value below its
detection limit the normal CDF at its bound (Tobit). Inter-laboratory bias is estimated from the spread of
each lab's mean residual (between-lab variance less the within-lab variance of a mean, pooled over deposits
and elements, method of moments) and stored as the library's ``lab_bias_sd``; the model adds it back as its
nuisance term, so each deposit keeps only its within-lab spread. The result is a library file in the shipped
library's format, whose figures have status ``measured`` and whose single source is the sample file itself
(name, SHA-256, counts of samples, labs and methods, and when it was built). Where the samples report
present-day epsilon-Nd and 87Sr/86Sr, their mean and spread per deposit become the deposit's isotope figures;
where they report Th and U, or Nb and Ta, the log ratios' mean and spread become its trace-ratio figures.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from raretrace.errors import ValidationError
from raretrace.fingerprint.features import FeatureSpace, pattern_vector
from raretrace.fingerprint.isotopes import sm147_nd144
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.samples import ReferenceSample
from raretrace.fingerprint.trace_ratios import fitted_ratios

MIN_SAMPLES: Final = 3
#: A library file as JSON data (the shipped library's format), before ``library_from_dict`` checks it.
LibraryFile: TypeAlias = dict[str, Any]
_MIN_SD: Final = 0.02
_Z95: Final = 1.959963984540054
_LOG_SD_FLOOR: Final = math.log(_MIN_SD / 100)


def censored_fit(x: NDArray[np.float64], censored: NDArray[np.bool_]) -> tuple[float, float]:
    """Maximum-likelihood (mean, sd) of a Gaussian from values and upper bounds (``censored``)."""
    measured, bounds = x[~censored], x[censored]
    if measured.size == 0:
        raise ValueError("no measured value")
    mu0 = float(measured.mean())
    sd0 = max(float(measured.std()), _MIN_SD)
    if bounds.size == 0:
        return mu0, sd0

    def nll(p: NDArray[np.float64]) -> float:
        # the search may try a log-sd so negative that exp() underflows to 0 (a division by zero); any sd
        # below the floor kept in the end (_MIN_SD) is clamped to it anyway, so the search stops far below it
        mu, sd = p[0], math.exp(max(p[1], _LOG_SD_FLOOR))
        zm, zc = (measured - mu) / sd, (bounds - mu) / sd
        return float(np.sum(0.5 * zm**2 + math.log(sd)) - np.sum(special.log_ndtr(zc)))

    res = optimize.minimize(nll, np.array([mu0, math.log(sd0)]), method="Nelder-Mead")
    return float(res.x[0]), max(float(math.exp(res.x[1])), _MIN_SD)


def _features(samples: Sequence[ReferenceSample]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Log oxide shares of TREO (n x 15) and the censored mask, per sample."""
    space = FeatureSpace(())
    ppm = np.array([pattern_vector(s.assay.ppm) for s in samples])
    limits = np.array([pattern_vector(s.assay.detection_limits) for s in samples])
    cens = ~np.isnan(limits)
    obs = space.observe(np.nan_to_num(ppm), censored=cens, limits=np.nan_to_num(limits))
    return obs.x[:, : len(REY)], obs.censored[:, : len(REY)]


#: Isotope quantities a library fits from its samples, with the smallest spread it keeps (a typical TIMS /
#: MC-ICP-MS 1-sigma; a spread below it would be an artefact of few samples).
ISOTOPE_FITS: Final = {"eNd": 0.1, "87Sr/86Sr": 0.00001}


@dataclass(frozen=True)
class IsotopeFigure:
    """A deposit's isotope figure fitted to its reference samples (the library file's ``isotopes`` entry)."""

    quantity: str
    value: float
    sd: float
    samples: int
    slope: float | None = None  # epsilon-Nd per unit 147Sm/144Nd (its isochron), where fitted
    at_atoms: float | None = None  # the 147Sm/144Nd at which ``value`` holds

    def entry(self, source: str) -> dict[str, object]:
        out: dict[str, object] = {
            "quantity": self.quantity,
            "value": round(self.value, 6),
            "sd": round(self.sd, 6),
            "source": source,
            "status": "measured",
            "material": f"{self.samples} reference samples",
        }
        if self.slope is not None and self.at_atoms is not None:
            out["isochron"] = {
                "per_147Sm_144Nd": round(self.slope, 6),
                "at_147Sm_144Nd": round(self.at_atoms, 6),
            }
        return out


def isotope_figures(rows: Sequence[ReferenceSample]) -> list[IsotopeFigure]:
    """The deposit's present-day epsilon-Nd and 87Sr/86Sr where at least ``MIN_SAMPLES`` of its samples report
    them (a quantity fewer samples report is left out: no figure). 87Sr/86Sr: mean and sample sd. Epsilon-Nd:
    the least-squares line on the samples' own 147Sm/144Nd (their Sm-Nd isochron, ``isochron``) where at
    least ``MIN_SAMPLES`` + 2 samples give both, the value at their mean 147Sm/144Nd and the spread about the
    line; else mean and sample sd."""
    out: list[IsotopeFigure] = []
    for quantity, floor in ISOTOPE_FITS.items():
        have = [r for r in rows if quantity in r.assay.isotopes]
        values = np.array([r.assay.isotopes[quantity] for r in have])
        if values.size < MIN_SAMPLES:
            continue
        atoms = np.array([_atoms(r) for r in have])
        ok = np.isfinite(atoms)
        if quantity == "eNd" and ok.sum() >= MIN_SAMPLES + 2 and np.var(atoms[ok]) > 0:
            slope, intercept = np.polyfit(atoms[ok], values[ok], 1)
            at = float(atoms[ok].mean())
            resid = values[ok] - (intercept + slope * atoms[ok])
            spread = max(float(np.std(resid, ddof=2)), floor)
            out.append(
                IsotopeFigure(quantity, float(intercept + slope * at), spread, values.size, float(slope), at)
            )
        else:
            spread = max(float(values.std(ddof=1)), floor)
            out.append(IsotopeFigure(quantity, float(values.mean()), spread, values.size))
    return out


def _atoms(sample: ReferenceSample) -> float:
    """147Sm/144Nd of a reference sample from its measured Sm and Nd (NaN where either is below detection)."""
    sm, nd = sample.assay.ppm.get("Sm"), sample.assay.ppm.get("Nd")
    if not sm or not nd:
        return math.nan
    return float(sm147_nd144(sm / nd))


def lab_bias_sd(samples: Sequence[ReferenceSample], centres: dict[str, NDArray[np.float64]]) -> float:
    """Between-lab log-sd of each lab's mean residual, less the within-lab sampling variance of a mean."""
    x, cens = _features(samples)
    groups: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for s, row, c in zip(samples, x, cens, strict=True):
        for j in range(len(REY)):
            if not c[j] and np.isfinite(row[j]):
                groups[(s.deposit, j, s.lab)].append(float(row[j] - centres[s.deposit][j]))
    per: dict[tuple[str, int], list[tuple[float, float, int]]] = defaultdict(list)
    for (deposit, j, _), r in groups.items():
        if len(r) >= 2:
            per[(deposit, j)].append((float(np.mean(r)), float(np.var(r, ddof=1)), len(r)))
    terms = []
    for labs in per.values():
        if len(labs) < 2:
            continue
        means = np.array([m for m, _, _ in labs])
        within = np.mean([v / n for _, v, n in labs])
        terms.append(float(np.var(means, ddof=1)) - within)
    return math.sqrt(max(float(np.mean(terms)), 0.0)) if terms else 0.0


def build_library(
    samples: Sequence[ReferenceSample], file_name: str, data: bytes, built_at: str
) -> LibraryFile:
    """The library file (a dict in the shipped library's format) fitted to ``samples``."""
    by_deposit = _by_deposit(samples)
    source = _SampleFile(file_name, hashlib.sha256(data).hexdigest(), built_at)
    fits = {deposit: _share_fits(rows) for deposit, rows in by_deposit.items()}
    centres = {d: np.array([f[0] if f else np.nan for f in fs]) for d, fs in fits.items()}
    tau = lab_bias_sd(samples, centres)
    deposits = [_deposit_entry(d, rows, fits[d], tau, source.key) for d, rows in by_deposit.items()]
    return _library_file(samples, source, tau, deposits)


@dataclass(frozen=True)
class _SampleFile:
    """The file a library is built from: the library's one source, named by its digest."""

    name: str
    sha256: str
    built_at: str

    @property
    def key(self) -> str:
        return f"samples-{self.sha256[:12]}"


def _by_deposit(samples: Sequence[ReferenceSample]) -> dict[str, list[ReferenceSample]]:
    """The samples per deposit, in file order; refused when a deposit has fewer than ``MIN_SAMPLES`` or is
    given more than one country."""
    by_deposit: dict[str, list[ReferenceSample]] = defaultdict(list)
    for s in samples:
        by_deposit[s.deposit].append(s)
    for deposit, rows in by_deposit.items():
        if len(rows) < MIN_SAMPLES:
            raise ValidationError(
                f"deposit {deposit!r} has {len(rows)} sample(s); at least {MIN_SAMPLES} are needed",
                field="deposit",
                context=f"row {rows[0].assay.row}",
            )
        countries = {r.country for r in rows}
        if len(countries) > 1:
            raise ValidationError(
                f"deposit {deposit!r} is given more than one country ({', '.join(sorted(countries))})",
                field="country",
                context=f"row {rows[-1].assay.row}",
            )
    return by_deposit


def _share_fits(rows: Sequence[ReferenceSample]) -> list[tuple[float, float] | None]:
    """Per REY element, the censored fit (mean, sd) of one deposit's log shares; None where every value is
    below detection (no figure)."""
    x, cens = _features(rows)
    fits: list[tuple[float, float] | None] = []
    for j in range(len(REY)):
        ok = np.isfinite(x[:, j])
        try:
            fits.append(censored_fit(x[ok, j], cens[ok, j]))
        except ValueError:
            fits.append(None)
    return fits


def _deposit_entry(
    deposit: str,
    rows: Sequence[ReferenceSample],
    fits: Sequence[tuple[float, float] | None],
    tau: float,
    key: str,
) -> dict[str, object]:
    """One deposit of the library file: its share ranges (the within-lab spread, lab bias taken out: the
    model adds it back), and its isotope and trace-ratio figures where its samples report them."""
    distribution: dict[str, list[float]] = {}
    for e, fit in zip(REY, fits, strict=True):
        if fit is None:
            continue
        mu, sd = fit
        sd = math.sqrt(max(sd**2 - tau**2, _MIN_SD**2))  # the model adds the lab bias back
        centre = math.exp(mu) * 100.0
        distribution[e] = [
            round(centre * math.exp(-_Z95 * sd), 8),
            round(centre * math.exp(_Z95 * sd), 8),
        ]
    labs = sorted({r.lab for r in rows})
    entry: dict[str, object] = {
        "id": deposit,
        "name": rows[0].name,
        "countries": [rows[0].country],
        "type": "from reference samples",
        "mineral": "from reference samples",
        "approximate": False,
        "status": "measured",
        "source": key,
        "distribution": distribution,
        "notes": f"{len(rows)} samples from {len(labs)} lab(s): {', '.join(labs)}; each figure is "
        "the "
        "censored maximum-likelihood centre, its range the 95% interval of the within-lab spread",
        "samples": len(rows),
        "labs": labs,
    }
    figures = isotope_figures(rows)
    if figures:
        entry["isotopes"] = [f.entry(key) for f in figures]
    ratios = fitted_ratios([r.assay.ppm for r in rows], key, MIN_SAMPLES)
    if ratios:
        entry["ratios"] = ratios
    return entry


def _library_file(
    samples: Sequence[ReferenceSample], source: _SampleFile, tau: float, deposits: list[dict[str, object]]
) -> LibraryFile:
    """The library file around its deposits: basis, lab bias, and the sample file as its one source."""
    methods = sorted({s.method for s in samples})
    file_name, sha = source.name, source.sha256
    return {
        "title": f"Reference library built from certified reference samples ({file_name})",
        "note": "Built by 'raretrace fingerprint library build'. Percent of TREO, oxide basis. Every figure "
        "is "
        "fitted to the samples of the source below; nothing is taken from the literature.",
        "basis": "percent of TREO, oxide basis (CeO2, Pr6O11, Tb4O7, R2O3 otherwise)",
        "variability": {
            "source": "measured: each figure's range is the 95% interval of its fitted within-lab spread",
            "log_sd_major": 0.0,
            "log_sd_minor": 0.0,
            "log_sd_trace": 0.0,
            "approximate_scale": 1.0,
            "low_confidence_scale": 1.0,
        },
        "lab_bias_sd": round(tau, 6),
        "provenance": {
            "file": file_name,
            "sha256": sha,
            "samples": len(samples),
            "deposits": len(deposits),
            "labs": sorted({s.lab for s in samples}),
            "methods": methods,
            "built_at": source.built_at,
        },
        "sources": {
            source.key: {
                "citation": f"certified reference samples, file {file_name} (sha256 {sha}), {len(samples)} "
                f"samples, methods: {'; '.join(methods)}",
                "status": "measured: fitted by raretrace fingerprint library build",
            }
        },
        "deposits": deposits,
    }


__all__ = [
    "ISOTOPE_FITS",
    "MIN_SAMPLES",
    "IsotopeFigure",
    "LibraryFile",
    "build_library",
    "censored_fit",
    "isotope_figures",
    "lab_bias_sd",
]
