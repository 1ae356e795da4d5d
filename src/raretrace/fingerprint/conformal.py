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

The declared-origin test is calibrated the same way, on the same fold models (no extra builds). Its
per-deposit thresholds (fit p-value, and likelihood ratio against the best other deposit; ALPHA / 2 each of
the simulator's draws) called 2.2% of truthful declarations inconsistent on the samples themselves
(leave-one-lab-out, 320 simulated certified samples). Each held-out sample's *declared excess* is how far it
lies past its own deposit's two thresholds (``FingerprintModel.declared_excess``: > 0 = the truthful
declaration fails). Both thresholds of a deposit move down by a shift, the conformal quantile of the excesses
at ``DECLARED_ALPHA``: Mondrian (class-conditional: the deposit's own excesses only, a per-deposit
guarantee; Mondrian conformal prediction, Vovk, Gammerman & Shafer 2005) where the deposit has at least
``mondrian_min`` held-out samples, pooled over all deposits (a guarantee over the mixture of deposits in the
samples) where it has fewer. A truthful declaration then fails with probability near DECLARED_ALPHA = 1%
and, cross-conformal, at most 2% in the worst case: the issue's target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from raretrace.fingerprint.build import LibraryFile, build_library
from raretrace.fingerprint.features import FeatureSpace, Observed, pattern_vector
from raretrace.fingerprint.library import library_from_dict
from raretrace.fingerprint.model import ALPHA, build_model
from raretrace.fingerprint.samples import ReferenceSample
from raretrace.fingerprint.trace_ratios import log_ratio_rows

#: Fewest labs for lab folds; below, the samples are split into ``SAMPLE_FOLDS`` groups.
MIN_LABS: Final = 3
SAMPLE_FOLDS: Final = 10


def observe_samples(space: FeatureSpace, samples: Sequence[ReferenceSample]) -> Observed:
    """The samples' features as the model reads an assay: censored values at their limits, reported
    uncertainties, and epsilon-Nd / 87Sr/86Sr and the space's trace ratios where given."""
    ppm = np.array([pattern_vector(s.assay.ppm) for s in samples])
    limits = np.array([pattern_vector(s.assay.detection_limits) for s in samples])
    sd = np.array([pattern_vector(s.assay.uncertainties) for s in samples])
    iso = np.array([[s.assay.isotopes.get(k, math.nan) for k in ("eNd", "87Sr/86Sr")] for s in samples])
    cens = ~np.isnan(limits)
    ratios = log_ratio_rows([(s.assay.ppm, s.assay.uncertainties) for s in samples], space.ratios)
    return space.observe(
        np.nan_to_num(ppm),
        censored=cens,
        limits=np.nan_to_num(limits),
        sd_ppm=sd,
        isotopes=iso,
        ratios=ratios,
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


@dataclass(frozen=True)
class HeldOut:
    """What the folds measured on their held-out samples."""

    folds: str  # how the folds were made
    novelty: NDArray[np.float64]  # each held-out sample's novelty less its fold model's threshold
    declared: NDArray[np.float64]  # each held-out sample's declared excess (its own deposit's test)
    deposits: tuple[str, ...]  # the deposit of each declared excess


def held_out(samples: Sequence[ReferenceSample]) -> HeldOut:
    """Novelty and declared excesses of every sample, each scored by a model built without its fold."""
    how, held_lists = folds(samples)
    novelty: list[NDArray[np.float64]] = []
    declared: list[NDArray[np.float64]] = []
    deposits: list[str] = []
    for f, held in enumerate(held_lists):
        held_set = set(held)
        train = [s for i, s in enumerate(samples) if i not in held_set]
        counts: dict[str, int] = {}
        for s in train:
            counts[s.deposit] = counts.get(s.deposit, 0) + 1
        train = [s for s in train if counts[s.deposit] >= 3]  # a deposit needs 3 samples to be fitted
        if not train:
            continue
        model = build_model(library_from_dict(build_library(train, "fold", b"fold", "fold"), f"fold {f}"))
        ids = list(model.library.ids())
        scored = [samples[i] for i in held if samples[i].deposit in ids]
        if not scored:
            continue
        scores = model.scores(observe_samples(model.space, scored))
        novelty.append(scores.novelty - model.novelty_threshold)
        own = np.array([ids.index(s.deposit) for s in scored])
        excess = model.declared_excess(scores.log_p, model.lr_against_others(scores.score))
        vouching = model.vouch[own]
        declared.append(excess[np.arange(len(own)), own][vouching])
        deposits += [s.deposit for s, v in zip(scored, vouching, strict=True) if v]
    return HeldOut(how, _joined(novelty), _joined(declared), tuple(deposits))


def _joined(parts: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.concatenate(parts) if parts else np.zeros(0)


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


#: Level of the declared-origin test's calibration: a truthful declaration fails with probability near it, and
#: at most twice it in the worst case of cross-conformal prediction (the issue's target is 2%).
DECLARED_ALPHA: Final = ALPHA


def mondrian_min(alpha: float) -> int:
    """Fewest calibration scores for which the conformal quantile at ``alpha`` exists: ceil((n + 1)(1 -
    alpha)) <= n."""
    return math.ceil((1 - alpha) / alpha - 1e-9)


@dataclass(frozen=True)
class DeclaredCalibration:
    """How a library's declared-origin thresholds were calibrated on its samples (the file's
    ``calibration.declared``)."""

    pooled_shift: float
    pooled_level: float  # NaN: nothing held out
    shifts: Mapping[str, float]  # per deposit: its own quantile (Mondrian) or the pooled one
    own_quantile: tuple[str, ...]  # deposits with enough held-out samples for their own quantile
    held_out: int
    alpha: float = DECLARED_ALPHA

    def entry(self) -> dict[str, object]:
        return {
            "shift": {k: round(v, 6) for k, v in sorted(self.shifts.items())},
            "pooled_shift": round(self.pooled_shift, 6),
            "alpha": self.alpha,
            "held_out": self.held_out,
            "attained_level": None if math.isnan(self.pooled_level) else round(self.pooled_level, 6),
            "own_quantile": list(self.own_quantile),
            "method": "each held-out sample's excess past its own deposit's two declared-origin thresholds "
            "under its fold model; both thresholds of a deposit move down by the ceil((n + 1)(1 - alpha))-th "
            "smallest excess: of that deposit's own (Mondrian) where it has at least "
            f"{mondrian_min(self.alpha)}, "
            "else of all deposits' (pooled)",
        }


def declared_calibration(
    excess: NDArray[np.float64], deposits: Sequence[str], alpha: float = DECLARED_ALPHA
) -> DeclaredCalibration:
    """Per-deposit shifts of the declared-origin thresholds from the held-out excesses (``HeldOut``). A
    quantile that is not finite (a sample no test applies to, or one infinitely far) is replaced by the
    nearest finite excess: an infinite shift would switch a deposit's test off, or fail every declaration."""
    pooled, level = conformal_shift(excess, alpha)
    pooled = _finite(pooled, excess)
    labels = np.array(deposits, dtype=object)
    shifts: dict[str, float] = {}
    own: list[str] = []
    for d in sorted(set(deposits)):
        mine = excess[labels == d]
        if len(mine) >= mondrian_min(alpha):
            shifts[d] = _finite(conformal_shift(mine, alpha)[0], mine)
            own.append(d)
        else:
            shifts[d] = pooled
    return DeclaredCalibration(pooled, level, shifts, tuple(own), len(excess), alpha)


def _finite(shift: float, excess: NDArray[np.float64]) -> float:
    """``shift`` where finite, else the finite excess nearest to it (0 where there is none)."""
    if math.isfinite(shift):
        return shift
    finite = excess[np.isfinite(excess)]
    if not finite.size:
        return 0.0
    return float(finite.max() if shift > 0 else finite.min())


@dataclass(frozen=True)
class Calibration:
    """How a library's thresholds were calibrated on its samples (the file's ``calibration``)."""

    novelty_shift: float
    held_out: int
    attained_level: float  # NaN: nothing held out
    folds: str
    declared: DeclaredCalibration | None = None
    alpha: float = ALPHA

    def entry(self) -> dict[str, object]:
        out: dict[str, object] = {
            "novelty_shift": round(self.novelty_shift, 6),
            "alpha": self.alpha,
            "held_out": self.held_out,
            "attained_level": None if math.isnan(self.attained_level) else round(self.attained_level, 6),
            "folds": self.folds,
            "method": "cross-conformal: each held-out sample's novelty less its fold model's threshold; the "
            "ceil((n + 1)(1 - alpha))-th smallest of the n is added to the model's threshold",
        }
        if self.declared is not None:
            out["declared"] = self.declared.entry()
        return out


def calibrated_library(
    samples: Sequence[ReferenceSample], file_name: str, data: bytes, built_at: str
) -> tuple[LibraryFile, Calibration]:
    """``build_library``'s file with the open-set and declared-origin thresholds calibrated on the samples
    (``calibration``)."""
    library = build_library(samples, file_name, data, built_at)
    measured = held_out(samples)
    shift, level = conformal_shift(measured.novelty)
    declared = declared_calibration(measured.declared, measured.deposits)
    calibration = Calibration(shift, len(measured.novelty), level, measured.folds, declared)
    library["calibration"] = calibration.entry()
    return library, calibration


__all__ = [
    "DECLARED_ALPHA",
    "MIN_LABS",
    "Calibration",
    "DeclaredCalibration",
    "HeldOut",
    "calibrated_library",
    "conformal_shift",
    "declared_calibration",
    "folds",
    "held_out",
    "mondrian_min",
    "observe_samples",
]
