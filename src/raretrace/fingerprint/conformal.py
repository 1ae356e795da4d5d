"""The open-set threshold of a library built from samples, calibrated on those samples (cross-conformal).

The model sets its novelty threshold at the (1 - ALPHA) quantile of novelty on its own simulator's draws.
A library built from certified samples then wrongly rejects more of its own kind than ALPHA (2.8% against 1%,
leave-one-sample-out on 320 simulated certified samples): the simulator's noise is not the labs' (their bias,
heavy tails, outliers, rounding). The samples themselves say how novel real reports of the library's deposits
look, so the threshold is calibrated on them, without scoring any sample with a model fitted to it:

1. the samples are split into folds by lab (each lab in turn held out; ten groups of samples where there are
   fewer than ``MIN_LABS`` labs), and a library and model are built from the other folds (cross-fitting: a
   held-out lab's bias is as new to that model as a new lab's will be);
2. each held-out sample whose deposit stays in the fold's library gets its *excess*: its novelty under the
   fold model less that model's threshold (novelty is on the same scale in every fold: each model scales
   its statistics by their median and 99th percentile on its own calibration draws);
3. the final threshold is the full model's own plus the conformal quantile of the n excesses, the
   ceil((n + 1)(1 - ALPHA))-th smallest (split-conformal, Vovk, Gammerman & Shafer 2005; Angelopoulos &
   Bates 2021, "A gentle introduction to conformal prediction", eq. 1). Pooled over folds this is
   cross-conformal prediction (Vovk 2015), whose false-rejection rate stays near ALPHA and within 2 ALPHA
   in the worst case (the jackknife+ bound, Barber et al. 2021, Ann. Stat. 49:486).

The shift (possibly negative: a threshold set on simulated draws can also be too strict) is stored in the
library file under ``calibration`` with how it was obtained, and ``build_model`` adds it to the threshold.
With fewer than 1 / ALPHA - 1 held-out samples the quantile does not exist at ALPHA; the largest excess is
used and the file says so (``attained_level`` below 1 - ALPHA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.fingerprint.build import LibraryFile, build_library
from raretrace.fingerprint.features import FeatureSpace, Observed, pattern_vector
from raretrace.fingerprint.library import library_from_dict
from raretrace.fingerprint.model import ALPHA, build_model
from raretrace.fingerprint.samples import ReferenceSample

#: Fewest labs for lab folds; below, the samples are split into ``SAMPLE_FOLDS`` groups.
MIN_LABS: Final = 3
SAMPLE_FOLDS: Final = 10


def observe_samples(space: FeatureSpace, samples: Sequence[ReferenceSample]) -> Observed:
    """The samples' features as the model reads an assay: censored values at their limits, reported
    uncertainties, and epsilon-Nd / 87Sr/86Sr where given."""
    ppm = np.array([pattern_vector(s.assay.ppm) for s in samples])
    limits = np.array([pattern_vector(s.assay.detection_limits) for s in samples])
    sd = np.array([pattern_vector(s.assay.uncertainties) for s in samples])
    iso = np.array([[s.assay.isotopes.get(k, math.nan) for k in ("eNd", "87Sr/86Sr")] for s in samples])
    cens = ~np.isnan(limits)
    return space.observe(
        np.nan_to_num(ppm), censored=cens, limits=np.nan_to_num(limits), sd_ppm=sd, isotopes=iso
    )


def folds(samples: Sequence[ReferenceSample]) -> tuple[str, list[list[int]]]:
    """(how, the held-out index lists): one fold per lab, or ``SAMPLE_FOLDS`` groups of samples."""
    labs = sorted({s.lab for s in samples})
    if len(labs) >= MIN_LABS:
        return f"leave-one-lab-out ({len(labs)} labs)", [
            [i for i, s in enumerate(samples) if s.lab == lab] for lab in labs
        ]
    k = min(SAMPLE_FOLDS, len(samples))
    return f"{k} groups of samples", [list(range(f, len(samples), k)) for f in range(k)]


def excesses(samples: Sequence[ReferenceSample]) -> tuple[str, NDArray[np.float64]]:
    """(how the folds were made, each held-out sample's novelty less its fold model's threshold)."""
    how, held_out = folds(samples)
    out: list[NDArray[np.float64]] = []
    for f, held in enumerate(held_out):
        held_set = set(held)
        train = [s for i, s in enumerate(samples) if i not in held_set]
        counts: dict[str, int] = {}
        for s in train:
            counts[s.deposit] = counts.get(s.deposit, 0) + 1
        train = [s for s in train if counts[s.deposit] >= 3]  # a deposit needs 3 samples to be fitted
        if not train:
            continue
        model = build_model(library_from_dict(build_library(train, "fold", b"fold", "fold"), f"fold {f}"))
        ids = set(model.library.ids())
        scored = [samples[i] for i in held if samples[i].deposit in ids]
        if not scored:
            continue
        novelty = model.scores(observe_samples(model.space, scored)).novelty
        out.append(novelty - model.novelty_threshold)
    return how, np.concatenate(out) if out else np.zeros(0)


def conformal_shift(excess: NDArray[np.float64], alpha: float = ALPHA) -> tuple[float, float]:
    """(shift, attained level): the ceil((n + 1)(1 - alpha))-th smallest excess, or the largest where
    n is too small for that rank (the level then attained is n / (n + 1))."""
    n = len(excess)
    if n == 0:
        return 0.0, math.nan
    rank = math.ceil((n + 1) * (1 - alpha))
    ordered = np.sort(excess)  # a sample no deposit can compare (+inf) ranks last
    if rank > n:
        return float(ordered[-1]), n / (n + 1)
    return float(ordered[rank - 1]), 1 - alpha


@dataclass(frozen=True)
class Calibration:
    """How a library's open-set threshold was calibrated on its samples (the file's ``calibration``)."""

    novelty_shift: float
    held_out: int
    attained_level: float  # NaN: nothing held out
    folds: str
    alpha: float = ALPHA

    def entry(self) -> dict[str, object]:
        return {
            "novelty_shift": round(self.novelty_shift, 6),
            "alpha": self.alpha,
            "held_out": self.held_out,
            "attained_level": None if math.isnan(self.attained_level) else round(self.attained_level, 6),
            "folds": self.folds,
            "method": "cross-conformal: each held-out sample's novelty less its fold model's threshold; the "
            "ceil((n + 1)(1 - alpha))-th smallest of the n is added to the model's threshold",
        }


def calibrated_library(
    samples: Sequence[ReferenceSample], file_name: str, data: bytes, built_at: str
) -> tuple[LibraryFile, Calibration]:
    """``build_library``'s file with the open-set threshold calibrated on the samples (``calibration``)."""
    library = build_library(samples, file_name, data, built_at)
    how, excess = excesses(samples)
    shift, level = conformal_shift(excess)
    calibration = Calibration(shift, len(excess), level, how)
    library["calibration"] = calibration.entry()
    return library, calibration


__all__ = [
    "MIN_LABS",
    "Calibration",
    "calibrated_library",
    "conformal_shift",
    "excesses",
    "folds",
    "observe_samples",
]
