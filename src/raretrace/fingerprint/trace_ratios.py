"""Trace-element ratios outside the rare earths: Th/U and Nb/Ta, a signature the REE pattern does not carry.

A look-alike of a library deposit can share its REE pattern within the natural spread (docs/fingerprint.md);
the ratios of elements the REE minerals carry besides the REE (thorium and uranium in monazite, bastnasite
and xenotime; niobium and tantalum in loparite, pyrochlore and the Fe-Nb ores of carbonatites) come from
other fractionation processes and are reported by the same ICP-MS runs. Each is compared as the log of its
mass ratio, a Gaussian per deposit like every other feature:

* a reference gives it only where a source publishes it (``ratios`` of a deposit, basis ``mass``) or a
  library is built from samples that report both elements; nothing is imputed, and a feature no deposit of
  the library has a figure for does not exist in the model (``FeatureSpace`` has no column for it);
* an assay gives it only where both elements are measured (a value below detection, or a missing one,
  leaves the ratio unreported); its variance on the log scale is the two elements' relative variances added
  (delta method), with the lab-bias nuisance of both elements;
* the alternative "any rare-earth material" (the model's background) is centred on the upper continental
  crust (Th/U 3.8 from Th 11.1 and U 2.9 ppm, McLennan, Nance & Taylor 1980, Geochim. Cosmochim. Acta
  44:1833; Nb/Ta 12.5, the middle of 12-13, Barth, McDonough & Rudnick 2000, Chem. Geol. 165:197) with a
  log-sd of 1.0 (an assumption: REE ores differ from the crust by large factors either way).

Only ore and concentrate are compared: chemical processing separates Th, U, Nb and Ta from the rare earths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

#: The ratios compared, each as (numerator, denominator) element symbols.
TRACE_RATIOS: Final[dict[str, tuple[str, str]]] = {"Th/U": ("Th", "U"), "Nb/Ta": ("Nb", "Ta")}
TRACE_ELEMENTS: Final = frozenset(e for pair in TRACE_RATIOS.values() for e in pair)
#: Background ("any rare-earth material") of each log ratio: (mean, sd), see the module docstring.
TRACE_BACKGROUND: Final[dict[str, tuple[float, float]]] = {
    "Th/U": (math.log(11.1 / 2.9), 1.0),
    "Nb/Ta": (math.log(12.5), 1.0),
}
#: Within-deposit log-sd of a ratio a source gives as a single figure: no published within-deposit spread was
#: found (an assumption, a factor of about 1.65 either way); a range gives its own spread.
SINGLE_FIGURE_LOG_SD: Final = 0.5
#: Smallest spread a library built from samples keeps for a ratio (its REE shares keep the same floor).
MIN_LOG_SD: Final = 0.02
_Z95: Final = 1.959963984540054


def ratio_feature(name: str) -> str:
    """The feature name of a ratio: ``ln(Th/U)``."""
    return f"ln({name})"


def log_ratios(
    ppm: Mapping[str, float], sd_ppm: Mapping[str, float], names: Sequence[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(log mass ratio, its variance from the reported 1-sigma) of each named ratio of one assay; NaN where
    either element is not measured (absent, zero, or below detection: not in ``ppm``)."""
    values = np.full(len(names), np.nan)
    var = np.zeros(len(names))
    for i, name in enumerate(names):
        top, bottom = TRACE_RATIOS[name]
        a, b = ppm.get(top, 0.0), ppm.get(bottom, 0.0)
        if a > 0 and b > 0:
            values[i] = math.log(a / b)
            var[i] = (sd_ppm.get(top, 0.0) / a) ** 2 + (sd_ppm.get(bottom, 0.0) / b) ** 2
    return values, var


def log_ratio_rows(
    assays: Sequence[tuple[Mapping[str, float], Mapping[str, float]]], names: Sequence[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """``log_ratios`` of many assays ((ppm, 1-sigma ppm) of each), stacked: (n x ratios, n x ratios); None
    when no ratio is asked for."""
    if not names:
        return None
    rows = [log_ratios(ppm, sd, names) for ppm, sd in assays]
    return np.array([r[0] for r in rows]).reshape(len(rows), len(names)), np.array(
        [r[1] for r in rows]
    ).reshape(len(rows), len(names))


def fitted_ratios(
    assays: Sequence[Mapping[str, float]], source: str, min_samples: int
) -> list[dict[str, object]]:
    """A library's ``ratios`` entries fitted to reference samples (the measured ppm of each): per ratio that
    at least ``min_samples`` of them measure, the geometric mean and the 95% range of the spread of the log
    ratio (sample sd, at least ``MIN_LOG_SD``), so that the library reads back centre and spread."""
    out: list[dict[str, object]] = []
    for name in TRACE_RATIOS:
        logs = np.array([log_ratios(ppm, {}, [name])[0][0] for ppm in assays])
        logs = logs[np.isfinite(logs)]
        if logs.size < min_samples:
            continue
        centre, spread = float(logs.mean()), max(float(logs.std(ddof=1)), MIN_LOG_SD)
        out.append(
            {
                "ratio": name,
                "range": [
                    round(math.exp(centre - _Z95 * spread), 8),
                    round(math.exp(centre + _Z95 * spread), 8),
                ],
                "basis": "mass",
                "material": f"{logs.size} reference samples",
                "source": source,
                "status": "measured",
            }
        )
    return out


__all__ = [
    "MIN_LOG_SD",
    "SINGLE_FIGURE_LOG_SD",
    "TRACE_BACKGROUND",
    "TRACE_ELEMENTS",
    "TRACE_RATIOS",
    "fitted_ratios",
    "log_ratio_rows",
    "log_ratios",
    "ratio_feature",
]
